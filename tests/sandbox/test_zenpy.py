"""Zenpy, the public Python client for Zendesk, creates a ticket against the sandbox.

Zenpy creates tickets with `description` and no `comment`; Zendesk answers 201 to that, so
the sandbox must too. Zenpy builds `https://{subdomain}.{domain}` URLs; its own overrides
ZENPY_FORCE_SCHEME and ZENPY_FORCE_NETLOC (read on every request, see zenpy.lib.api's
`_build_url`) point it at the sandbox's http://127.0.0.1:PORT instead.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from zenpy import Zenpy
from zenpy.lib.api_objects import Ticket

from tests.sandboxserver import SandboxServer


def zenpy_client(sandbox: SandboxServer, monkeypatch, email: str) -> Zenpy:
    monkeypatch.setenv("ZENPY_FORCE_SCHEME", "http")
    monkeypatch.setenv("ZENPY_FORCE_NETLOC", urlsplit(sandbox.base_url).netloc)
    return Zenpy(subdomain="acme-sandbox", email=email, token=sandbox.api_token, timeout=10)


def test_zenpy_creates_a_ticket_with_a_description(sandbox, monkeypatch):
    admin = sandbox.agent(role="admin")
    zenpy = zenpy_client(sandbox, monkeypatch, admin["email"])

    audit = zenpy.tickets.create(Ticket(subject="From zenpy", description="Made by zenpy"))

    created = audit.ticket
    assert created.id
    assert created.subject == "From zenpy"
    shown = sandbox.get(f"/api/v2/tickets/{created.id}.json", as_email=admin["email"]).json()
    assert shown["ticket"]["description"] == "Made by zenpy"
    assert shown["ticket"]["submitter_id"] == admin["id"]
    comments = zenpy.tickets.comments(ticket=created.id)
    assert [comment.body for comment in comments] == ["Made by zenpy"]
