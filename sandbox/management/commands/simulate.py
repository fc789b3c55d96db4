"""`python -m sandbox simulate`: a support team at work, for demos and for watching the inbox move.

Customers open tickets and reply; agents assign, answer, leave private notes, raise
priorities and solve. Every action goes through sandbox.domain, the same functions the API
uses, so audits, activities and webhooks follow exactly as they would for API writes.
One line per action; Ctrl-C stops it cleanly.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import close_old_connections
from django.utils import timezone

from sandbox import domain, ticket_fields
from sandbox.models import Ticket, User

SUBJECTS = [
    "Cannot log in after password reset",
    "Invoice shows the wrong VAT number",
    "Export to CSV times out",
    "Mobile app crashes on start",
    "Please add a second admin to our account",
    "Webhook deliveries are delayed",
    "Refund for a duplicate charge",
    "SSO redirect loops forever",
]
CUSTOMER_BODIES = [
    "Hi, this started this morning and blocks our whole team. Can you help?",
    "Hello, we tried again and it still fails. Screenshots attached.",
    "Any update on this? Our month-end close depends on it.",
    "Thanks, that worked for two of us, but not for the third user.",
]
AGENT_REPLIES = [
    "Thanks for the details. I can reproduce it and have asked engineering to look.",
    "Could you tell me which browser and version you are using?",
    "A fix is rolling out now; please try again in ten minutes.",
    "I have reset the setting on our side. Does it work for you now?",
]
PRIVATE_NOTES = [
    "Customer is on the Enterprise plan, handle with care.",
    "Same issue as last week's incident, linking the problem ticket.",
    "Engineering says a fix ships tomorrow.",
]


class Simulation:
    """Chooses believable actions on the live tickets and performs them through the domain."""

    def __init__(self, rng: random.Random, write: Callable[[str], None]):
        self.rng = rng
        self.write = write
        agents = User.objects.filter(role__in=("agent", "admin"), active=True, suspended=False)
        self.agents = list(agents.filter(restricted_agent=False))
        self.customers = list(User.objects.filter(role="end-user", active=True))
        if len(self.agents) < 2 or not self.customers:
            raise ValueError("the sandbox needs a seeded team: run `python -m sandbox seed` first")

    def step(self) -> None:
        actions = [
            (self.new_ticket, 3),
            (self.assign, 3),
            (self.agent_reply, 4),
            (self.customer_reply, 3),
            (self.private_note, 2),
            (self.raise_priority, 2),
            (self.change_status, 2),
        ]
        action = self.rng.choices([a for a, _ in actions], weights=[w for _, w in actions])[0]
        try:
            action()
        except domain.WriteError as refused:
            self.write(f"skipped {action.__name__}: {type(refused).__name__}")

    # -- picking -------------------------------------------------------------------------------

    def _live_ticket(self, **filters) -> Ticket | None:
        ids = list(
            Ticket.objects.filter(archived=False, **filters)
            .exclude(status__in=("closed", "solved"))
            .values_list("id", flat=True)
        )
        if not ids:
            return None
        return Ticket.objects.select_related("assignee", "requester").get(id=self.rng.choice(ids))

    def _other_agent(self, *not_these: User | None) -> User:
        excluded = {user.id for user in not_these if user is not None}
        return self.rng.choice([a for a in self.agents if a.id not in excluded] or self.agents)

    def _report(self, actor: User, what: str, write: domain.TicketWrite) -> None:
        told = ", ".join(f"{a.user.name} ({a.verb})" for a in write.activities) or "nobody"
        stamp = timezone.localtime().strftime("%H:%M:%S")
        self.write(f"{stamp}  {actor.name} {what} #{write.ticket.id}  -> tells {told}")

    # -- actions -------------------------------------------------------------------------------

    def new_ticket(self) -> None:
        customer = self.rng.choice(self.customers)
        fields = {
            "subject": self.rng.choice(SUBJECTS),
            "comment": {"body": self.rng.choice(CUSTOMER_BODIES)},
            "priority": self.rng.choice(["low", "normal", "normal", "high"]),
        }
        write = domain.ticket_create(actor=customer, fields=fields, via="web")
        self._report(customer, "opened", write)

    def assign(self) -> None:
        ticket = self._live_ticket(assignee__isnull=True) or self._live_ticket()
        if ticket is None:
            return
        dispatcher = self._other_agent()
        assignee = self._other_agent(dispatcher, ticket.assignee)
        write = domain.ticket_update(
            actor=dispatcher, ticket_id=ticket.id, fields={"assignee_id": assignee.id}, via="web"
        )
        self._report(dispatcher, f"assigned to {assignee.name}:", write)

    def agent_reply(self) -> None:
        ticket = self._live_ticket(assignee__in=self.agents)
        if ticket is None:
            return
        # Mostly the assignee; sometimes a colleague steps in (the assignee hears of it).
        author = ticket.assignee if self.rng.random() < 0.6 else self._other_agent(ticket.assignee)
        fields = {"comment": {"body": self.rng.choice(AGENT_REPLIES), "public": True}}
        if author.id == ticket.assignee_id and self.rng.random() < 0.5:
            fields["status"] = "pending"
        write = domain.ticket_update(actor=author, ticket_id=ticket.id, fields=fields, via="web")
        self._report(author, "replied on", write)

    def customer_reply(self) -> None:
        ticket = self._live_ticket(assignee__isnull=False, requester__role="end-user")
        if ticket is None:
            return
        # End users may only comment; their reply reopens a pending ticket (domain rule).
        fields = {"comment": {"body": self.rng.choice(CUSTOMER_BODIES), "public": True}}
        write = domain.ticket_update(
            actor=ticket.requester, ticket_id=ticket.id, fields=fields, via="web"
        )
        self._report(ticket.requester, "replied on", write)

    def private_note(self) -> None:
        ticket = self._live_ticket(assignee__isnull=False)
        if ticket is None:
            return
        author = self._other_agent(ticket.assignee)
        fields = {"comment": {"body": self.rng.choice(PRIVATE_NOTES), "public": False}}
        write = domain.ticket_update(actor=author, ticket_id=ticket.id, fields=fields, via="web")
        self._report(author, "left a private note on", write)

    def _required_values(self, ticket: Ticket) -> list[dict]:
        """What an agent fills in before solving: a choice in each required drop-down left
        empty (the other kinds are never required in the sandbox's runs)."""
        required = domain.required_field_ids()
        return [
            {"id": each.id, "value": self.rng.choice(each.options).value}
            for each in ticket_fields.TICKET_FIELDS
            if each.id in required
            and each.type == "tagger"
            and each.value_for(list(ticket.tags), ticket.custom_values) is None
        ]

    def raise_priority(self) -> None:
        ticket = self._live_ticket(assignee__isnull=False, priority__in=("low", "normal", "high"))
        if ticket is None:
            return
        higher = {"low": "normal", "normal": "high", "high": "urgent"}[ticket.priority]
        author = self._other_agent(ticket.assignee)
        write = domain.ticket_update(
            actor=author, ticket_id=ticket.id, fields={"priority": higher}, via="web"
        )
        self._report(author, f"raised priority to {higher} on", write)

    def change_status(self) -> None:
        ticket = self._live_ticket(assignee__in=self.agents)
        if ticket is None:
            return
        status = self.rng.choice(["open", "pending", "hold", "solved"])
        fields: dict = {"status": status}
        if status == "solved":
            fields["custom_fields"] = self._required_values(ticket)
        write = domain.ticket_update(
            actor=ticket.assignee, ticket_id=ticket.id, fields=fields, via="web"
        )
        self._report(ticket.assignee, f"set status {status} on", write)


class Command(BaseCommand):
    help = "Drive believable team activity through the same code the API uses (Ctrl-C stops)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--rate", type=float, default=10.0, help="actions per minute")
        parser.add_argument(
            "--duration", type=float, default=0.0, help="stop after this many seconds (0: never)"
        )
        parser.add_argument("--seed", type=int, default=None, help="random seed (repeatable runs)")

    def handle(self, *args, rate: float, duration: float, seed: int | None, **options) -> None:
        if rate <= 0:
            raise CommandError("--rate must be above 0 actions per minute")
        try:
            simulation = Simulation(random.Random(seed), self._line)
        except ValueError as problem:
            raise CommandError(str(problem)) from problem
        interval = 60.0 / rate
        deadline = time.monotonic() + duration if duration > 0 else None
        actions = 0
        try:
            # Announced inside the try: a Ctrl-C right after the announcement still stops cleanly.
            self._line(f"simulating {rate:g} actions a minute; Ctrl-C stops")
            while deadline is None or time.monotonic() < deadline:
                close_old_connections()
                simulation.step()
                actions += 1
                pause = interval
                if deadline is not None:
                    pause = min(pause, max(0.0, deadline - time.monotonic()))
                time.sleep(pause)
        except KeyboardInterrupt:
            self._line("stopped")
        self._line(f"{actions} actions")

    def _line(self, text: str) -> None:
        self.stdout.write(text)
        self.stdout.flush()
