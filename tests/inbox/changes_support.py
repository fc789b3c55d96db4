"""Helpers for the webhook and change-feed tests: signing as Zendesk does, Zendesk's envelope,
changing a ticket in the sandbox, and telling entry by entry what is still cached."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import uuid
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import requests

from inbox.services import activities, inbox, tickets
from inbox.zendesk import cache
from tests.inbox.conftest import agent_account

SECRET = "dGVzdHMtb25seS1zaWduaW5nLXNlY3JldC1mb3ItdGhlLWFwcA=="
OLD_SECRET = "b2xkLXRlc3RzLW9ubHktc2lnbmluZy1zZWNyZXQ="


def zendesk_signature(secret: str, timestamp: str, body: bytes) -> str:
    """Written here from Zendesk's reference, not imported from the app: base64(HMAC-SHA256
    keyed by the secret's text, over TIMESTAMP + BODY)."""
    digest = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def now_stamp(offset_seconds: float = 0) -> str:
    moment = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=offset_seconds)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def envelope(ticket: dict[str, Any], event_type: str = "ticket.status_changed") -> dict[str, Any]:
    """An event subscription's envelope as Zendesk sends it (ids as strings)."""

    def text(value: Any) -> str | None:
        return None if value is None else str(value)

    return {
        "type": f"zen:event-type:{event_type}",
        "account_id": 10000001,
        "id": str(uuid.uuid4()),
        "time": now_stamp(),
        "zendesk_event_version": "2022-11-06",
        "subject": f"zen:ticket:{ticket['id']}",
        "detail": {
            "id": str(ticket["id"]),
            "assignee_id": text(ticket.get("assignee_id")),
            "requester_id": text(ticket.get("requester_id")),
            "organization_id": text(ticket.get("organization_id")),
            "status": (ticket.get("status") or "").upper(),
        },
        "event": {"previous": "open", "current": "pending"},
    }


def post_webhook(
    client,
    payload: Any,
    *,
    secret: str = SECRET,
    timestamp: str | None = None,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
):
    body = json.dumps(payload).encode() if body is None else body
    timestamp = timestamp or now_stamp()
    signed = {
        "HTTP_X_ZENDESK_WEBHOOK_SIGNATURE": zendesk_signature(secret, timestamp, body),
        "HTTP_X_ZENDESK_WEBHOOK_SIGNATURE_TIMESTAMP": timestamp,
    }
    return client.post(
        "/webhooks/zendesk",
        data=body,
        content_type="application/json",
        **(signed if headers is None else headers),
    )


def all_tickets(sandbox) -> list[dict[str, Any]]:
    admin = sandbox.agent(role="admin")["email"]
    return sandbox.walk_cursor("tickets", admin, "tickets")


def sandbox_ticket(sandbox, ticket_id: int) -> dict[str, Any]:
    admin = sandbox.agent(role="admin")["email"]
    return sandbox.get(f"/api/v2/tickets/{ticket_id}", as_email=admin).json()["ticket"]


def change_ticket(sandbox, ticket_id: int, **fields: Any) -> dict[str, Any]:
    """What someone does in Zendesk behind the app's back (an admin, through the API)."""
    admin = sandbox.agent(role="admin")["email"]
    response = requests.put(
        f"{sandbox.base_url}/api/v2/tickets/{ticket_id}",
        headers=sandbox.basic_auth(admin),
        json={"ticket": fields},
        timeout=30,
    )
    assert response.status_code == 200, response.text[:300]
    return response.json()["ticket"]


def concerned_families(base_url: str, *tickets: dict[str, Any]) -> set[str]:
    """What a change of these copies of one ticket (before, after) must make stale, written
    out from Zendesk's JSON: ticket, "all", organizations, each concerned person's activities
    (assignee, requester, CCs, followers) and of their lists only the one of the part they
    play (assigned, requested, CC'd, followed; a collaborator is CC'd and following)."""
    families = {f"{base_url}|tickets"}
    for ticket in tickets:
        families.add(f"{base_url}|ticket|{ticket['id']}")
        if ticket.get("organization_id"):
            families.add(f"{base_url}|org-tickets|{ticket['organization_id']}")
        collaborators = ticket.get("collaborator_ids") or []
        parts = {
            "assigned": [ticket.get("assignee_id")],
            "requested": [ticket.get("requester_id")],
            "ccd": [*(ticket.get("email_cc_ids") or []), *collaborators],
            "followed": [*(ticket.get("follower_ids") or []), *collaborators],
        }
        for view, people in parts.items():
            for person in set(people) - {None}:
                families.add(f"{base_url}|agent-tickets|{person}")
                families.add(f"{base_url}|agent-tickets|{person}|{view}")
                families.add(f"{base_url}|activities|{person}")
    return families


@dataclass
class Entries:
    """Every cached read the app made while recording, to ask later which are still cached."""

    calls: list[dict[str, Any]] = field(default_factory=list)
    recording: bool = True

    def freeze(self) -> None:
        """Stop recording: what the app reads from now on is not an entry to check."""
        self.recording = False

    def still_cached(self, call: dict[str, Any]) -> bool:
        return (
            cache.cached_value(
                base_url=call["base_url"],
                operation=call["operation"],
                params=call["params"],
                scope=cache.scope_for(
                    user_id=call["user_id"],
                    restricted=call["restricted"],
                    shareable=call["shareable"],
                ),
                families=call["families"],
            )
            is not None
        )

    def gone(self) -> list[dict[str, Any]]:
        return [call for call in self.calls if not self.still_cached(call)]

    def kept(self) -> list[dict[str, Any]]:
        return [call for call in self.calls if self.still_cached(call)]

    def touching(self, families: set[str]) -> list[dict[str, Any]]:
        return [call for call in self.calls if set(call["families"]) & families]


def _described(calls: list[dict[str, Any]]) -> list[str]:
    return sorted(f"{c['operation']} {c['params']} {c['families']}" for c in calls)


def assert_exactly_invalidated(entries: Entries, families: set[str]) -> None:
    """Entry by entry: gone are exactly the entries of these families; the rest are cached."""
    expected = entries.touching(families)
    assert expected, "the test cached nothing the change touches: it could not fail"
    assert len(expected) < len(entries.calls), "the test cached nothing else: it could not fail"
    gone, expected = _described(entries.gone()), _described(expected)
    assert gone == expected, {
        "stale but not touched": sorted(set(gone) - set(expected)),
        "touched but still cached": sorted(set(expected) - set(gone)),
    }


def entries_recorded(monkeypatch) -> Entries:
    """Record every cached read (cache.cached_call) the app makes (the `entries` fixture)."""
    recorded = Entries()
    original = cache.cached_call

    def recording(**kwargs: Any):
        call = {
            name: kwargs.get(name)
            for name in ("base_url", "operation", "params", "user_id", "restricted", "shareable")
        }
        call["families"] = sorted(kwargs.get("families") or ())
        if recorded.recording and call not in recorded.calls:
            recorded.calls.append(call)
        return original(**kwargs)

    monkeypatch.setattr(cache, "cached_call", recording)
    return recorded


class Deferred:
    """Stands in for the background executor: jobs wait until the test runs them."""

    def __init__(self) -> None:
        self.jobs: list[tuple[Future, Any, tuple]] = []

    def submit(self, function, *args) -> Future:
        future: Future = Future()
        self.jobs.append((future, function, args))
        return future

    def run(self) -> None:
        for future, function, args in self.jobs:
            future.set_result(function(*args))

    def cancel_the_rest(self) -> None:
        for future, _function, _args in self.jobs:
            future.cancel()


def the_agents_ticket(sandbox, agent) -> dict[str, Any]:
    """An open ticket assigned to the agent, in an organization."""
    return next(
        ticket
        for ticket in all_tickets(sandbox)
        if ticket["assignee_id"] == agent.zendesk_user_id
        and ticket["organization_id"]
        and ticket["status"] in ("new", "open", "pending")
    )


def bystander(sandbox, ticket: dict[str, Any]):
    """An unrestricted agent the ticket does not concern."""
    concerned = {ticket["assignee_id"], ticket["requester_id"], *ticket["collaborator_ids"]}
    concerned.update(ticket.get("follower_ids") or [])
    seeded = next(
        person
        for person in sandbox.agents(role="agent", restricted=False, suspended=False)
        if person["id"] not in concerned
    )
    return agent_account(sandbox, seeded)


def open_inbox(accounts, *, ticket_ids=(), organization_ids=()) -> None:
    """What open inboxes cache: badges, lists, unread counts, ticket pages, organizations."""
    for account in accounts:
        inbox.sidebar_counts(agent=account)
        tickets.ticket_list(agent=account, view="all")
        tickets.ticket_list(agent=account, view="requested")
        activities.activity_unread_count(agent=account)
        for organization_id in organization_ids:
            tickets.ticket_list(agent=account, view="organization", organization_id=organization_id)
    for ticket_id in ticket_ids:
        tickets.ticket_detail(agent=accounts[0], ticket_id=ticket_id)


def other_organization(sandbox, organization_id: int) -> int:
    return next(
        ticket["organization_id"]
        for ticket in all_tickets(sandbox)
        if ticket["organization_id"] and ticket["organization_id"] != organization_id
    )
