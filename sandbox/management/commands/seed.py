"""`python -m sandbox seed [--seed N] [--tickets N] [--agents N]`: wipe and seed the account."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from sandbox.seeding import remember_seed_args, seed_account


class Command(BaseCommand):
    help = "Wipe the sandbox database and seed a deterministic support account."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seed", type=int, default=settings.SANDBOX_SEED)
        parser.add_argument("--tickets", type=int, default=settings.SANDBOX_TICKETS)
        parser.add_argument("--agents", type=int, default=settings.SANDBOX_AGENTS)

    def handle(self, *args, seed: int, tickets: int, agents: int, **options) -> None:
        counts = seed_account(seed=seed, tickets=tickets, agents=agents, now=timezone.now())
        remember_seed_args(seed=seed, tickets=tickets, agents=agents)
        summary = ", ".join(f"{value} {name}" for name, value in counts.items())
        self.stdout.write(f"Seeded {settings.SANDBOX_SUBDOMAIN} (seed {seed}): {summary}.")
