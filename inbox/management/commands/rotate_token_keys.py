"""Re-encrypt every stored agent token with the newest TOKEN_ENCRYPTION_KEYS key."""

from __future__ import annotations

from django.core.management.base import BaseCommand
from django.db import transaction

from inbox import crypto
from inbox.models import AgentAccount


class Command(BaseCommand):
    help = (
        "Re-encrypt agents' Zendesk tokens with the first key of TOKEN_ENCRYPTION_KEYS. "
        "Run after putting a new key first; then the old keys can be removed. Nobody is "
        "signed out."
    )

    def handle(self, *args, **options) -> None:
        rotated = unreadable = 0
        for account_id in AgentAccount.objects.values_list("id", flat=True):
            with transaction.atomic():
                account = AgentAccount.objects.select_for_update().get(pk=account_id)
                try:
                    for name in ("access_token_encrypted", "refresh_token_encrypted"):
                        if getattr(account, name):
                            setattr(account, name, crypto.rotate(getattr(account, name)))
                except crypto.UndecryptableToken:
                    unreadable += 1
                    self.stderr.write(
                        f"Agent account {account.pk}: no configured key reads its tokens; "
                        "they will have to sign in again."
                    )
                    continue
                account.save(update_fields=["access_token_encrypted", "refresh_token_encrypted"])
                rotated += 1
        self.stdout.write(f"Re-encrypted the tokens of {rotated} agent account(s).")
        if unreadable:
            self.stdout.write(f"{unreadable} account(s) could not be read with any key.")
