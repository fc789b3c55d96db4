"""Writes under every fault, over real HTTP to the sandbox: a reply, an internal note, a status,
priority or assignee change, and a new ticket.

A write Zendesk never took (down, connection refused, 5xx, 429, a hang before it arrived) says
"not sent" and why, and keeps what the agent typed, in the form shown again and in the draft
saved on the server; Zendesk holds nothing of it. A write Zendesk took but whose answer was
lost (held past the deadline, or garbled) lands exactly once: never lost, never doubled.
"""

from __future__ import annotations

import re
import uuid
from html import unescape

import pytest
from django.core.cache import cache

from inbox.models import TicketCreateDraft, TicketDraft
from tests.inbox.conftest import signed_in_client
from tests.inbox.test_ticket_new import form_token, ticket_form, tickets_with_subject, token_in
from tests.inbox.test_ticket_views import SEEN, comment_bodies, new_ticket, open_page, show

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module", autouse=True)
def _seed_put_back(sandbox_session):
    """This module adds tickets the agent requested: the seed goes back after it, so modules
    after it read the seeded lists (an "opened" badge needs the list to fit one page)."""
    yield
    sandbox_session.reset()


DEADLINE_SECONDS = 0.5

# Faults a write never gets past (the sandbox carries nothing out), and what the agent is told.
NOT_SENT = {
    "down": ({"outage": True}, "Zendesk is not answering"),
    "refused": ({"outage": "refuse"}, "Zendesk is not answering"),
    "5xx": ({"error_rate": 1}, "Zendesk is not answering"),
    "429": ({"rate_limit_per_minute": 1}, "(Zendesk asked us to slow down|Zendesk is busy)"),
}
# Faults that lose the answer to a write Zendesk carried out.
ANSWER_LOST = {
    "held past the deadline": {"hang_after_write_rate": 1, "hang_seconds": 60},
    "html answer": {"garbage_after_write_rate": 1, "garbage_body": "html"},
    "cut JSON answer": {"garbage_after_write_rate": 1, "garbage_body": "cut_json"},
}
# The kinds of write on the ticket page: the form's fields, and how to see it landed.
WRITES = {
    "public reply": {"kind": "public"},
    "internal note": {"kind": "note"},
    "status change": {"kind": "note", "status": "pending"},
    "priority change": {"kind": "note", "priority": "urgent"},
    "assignee change": {"kind": "note", "assignee": "none"},
}


FIELD_CHANGED = {
    "status change": lambda ticket: ticket["status"] == "pending",
    "priority change": lambda ticket: ticket["priority"] == "urgent",
    "assignee change": lambda ticket: ticket["assignee_id"] is None,
}


def landed(ticket: dict, write: str) -> bool:
    """Did the write's field change reach the ticket? (Replies and notes: see the comments.)"""
    return FIELD_CHANGED.get(write, lambda ticket: True)(ticket)


@pytest.fixture
def short_deadline_until_reread(settings, monkeypatch, inbox_sandbox):
    """A short deadline for the write (a held answer costs half a second), and Zendesk healthy
    again, with the usual deadline, by the time the page reads the ticket to check."""
    from inbox import services

    usual = settings.ZENDESK_DEADLINE_SECONDS
    settings.ZENDESK_DEADLINE_SECONDS = DEADLINE_SECONDS
    original = services.ticket_reread

    def reread(**kwargs):
        inbox_sandbox.control("POST", "faults", json={}).raise_for_status()
        settings.ZENDESK_DEADLINE_SECONDS = usual
        return original(**kwargs)

    monkeypatch.setattr(services, "ticket_reread", reread)


@pytest.fixture
def zendesk_quick(inbox_sandbox, settings):
    settings.ZENDESK_RETRY_BACKOFF = 0.01
    yield inbox_sandbox
    inbox_sandbox.control("POST", "faults", json={}).raise_for_status()


def faults(sandbox, **values) -> None:
    sandbox.control("POST", "faults", json=values).raise_for_status()


def spend_the_minute(sandbox, email: str) -> None:
    """Someone else on the team used the window's one call: the next is a 429."""
    sandbox.get("/api/v2/users/me.json", as_email=email)


def post_write(client, ticket_id: int, seen: str, write: str, body: str):
    data = {"seen": seen, "kind": "public", "body": body, "assignee": "keep", **WRITES[write]}
    return client.post(f"/tickets/{ticket_id}/update", data)


# -- the ticket page ------------------------------------------------------------------------------
@pytest.fixture
def own_ticket(zendesk_quick, agent) -> int:
    return new_ticket(
        zendesk_quick, agent.email, assignee_id=agent.zendesk_user_id, priority="normal"
    )


@pytest.mark.parametrize("fault", list(NOT_SENT))
@pytest.mark.parametrize("write", list(WRITES))
def test_a_write_zendesk_never_took_keeps_the_text_and_says_why(
    zendesk_quick, agent, own_ticket, write, fault
):
    sandbox, client = zendesk_quick, signed_in_client(agent)
    _, seen = open_page(client, own_ticket)
    fault_set, reason = NOT_SENT[fault]
    faults(sandbox, **fault_set, path_prefix=f"/api/v2/tickets/{own_ticket}")
    if fault == "429":
        spend_the_minute(sandbox, agent.email)
    body = f"Still there? {uuid.uuid4().hex[:6]}"

    response = post_write(client, own_ticket, seen, write, body)

    html = unescape(response.content.decode())
    assert response.status_code in (429, 502, 503), response.status_code
    assert "Not sent" in html
    assert re.search(reason, html)
    assert f"{body}</textarea>" in html
    assert TicketDraft.objects.get(agent=agent, ticket_id=own_ticket).body == body
    faults(sandbox)
    assert body not in comment_bodies(sandbox, own_ticket, agent.email)
    if write in FIELD_CHANGED:
        assert not landed(show(sandbox, own_ticket, agent.email), write)


@pytest.mark.parametrize("write", list(WRITES))
def test_a_hang_before_the_write_arrived_keeps_the_text_and_offers_to_send_again(
    zendesk_quick, agent, own_ticket, write, request
):
    sandbox, client = zendesk_quick, signed_in_client(agent)
    _, seen = open_page(client, own_ticket)
    request.getfixturevalue("short_deadline_until_reread")
    faults(sandbox, hang_rate=1, hang_seconds=60, path_prefix=f"/api/v2/tickets/{own_ticket}")
    body = f"Lost on the way? {uuid.uuid4().hex[:6]}"

    response = post_write(client, own_ticket, seen, write, body)

    html = unescape(response.content.decode())
    assert response.status_code == 504
    assert "Send again" in html
    assert f"{body}</textarea>" in html
    assert TicketDraft.objects.get(agent=agent, ticket_id=own_ticket).body == body
    assert body not in comment_bodies(sandbox, own_ticket, agent.email)
    again = post_write(client, own_ticket, SEEN.search(html).group(1), write, body)
    assert again.status_code == 303
    assert comment_bodies(sandbox, own_ticket, agent.email).count(body) == 1
    assert landed(show(sandbox, own_ticket, agent.email), write)


@pytest.mark.parametrize("fault", list(ANSWER_LOST))
@pytest.mark.parametrize("write", list(WRITES))
def test_a_write_whose_answer_was_lost_lands_exactly_once(
    zendesk_quick, agent, own_ticket, write, fault, request
):
    sandbox, client = zendesk_quick, signed_in_client(agent)
    _, seen = open_page(client, own_ticket)
    request.getfixturevalue("short_deadline_until_reread")
    faults(sandbox, **ANSWER_LOST[fault], path_prefix=f"/api/v2/tickets/{own_ticket}")
    body = f"Did this arrive? {uuid.uuid4().hex[:6]}"

    response = post_write(client, own_ticket, seen, write, body)

    assert response.status_code == 303, unescape(response.content.decode())[:800]
    assert comment_bodies(sandbox, own_ticket, agent.email).count(body) == 1
    assert landed(show(sandbox, own_ticket, agent.email), write)
    assert not TicketDraft.objects.filter(agent=agent, ticket_id=own_ticket).exists()


# -- a new ticket ---------------------------------------------------------------------------------
@pytest.mark.parametrize("fault", list(NOT_SENT))
def test_a_create_zendesk_never_took_keeps_the_text_and_lands_once_when_sent_again(
    zendesk_quick, agent, agent_client, fault
):
    """Down or 429: "not created". Refused or a 500: the request may have reached Zendesk, so
    the page says it is not confirmed (202) and offers the same request again (same key)."""
    sandbox = zendesk_quick
    form = ticket_form(sandbox, form_token(agent_client))
    fault_set, reason = NOT_SENT[fault]
    faults(sandbox, **fault_set, path_prefix="/api/v2/tickets")
    if fault == "429":
        spend_the_minute(sandbox, agent.email)

    failed = agent_client.post("/tickets/new", form)

    page = unescape(failed.content.decode())
    assert failed.status_code in (202, 429, 502, 503)
    if failed.status_code == 202:
        assert "Zendesk has not confirmed the ticket" in page
    else:
        assert "The ticket was not created" in page
        assert re.search(reason, page)
    assert "Your text is kept" in page
    assert f'value="{form["subject"]}"' in page
    assert form["description"] in page
    draft = TicketCreateDraft.objects.get(agent=agent)
    assert draft.fields["subject"] == form["subject"]
    assert draft.fields["description"] == form["description"]
    faults(sandbox)
    cache.clear()  # the team's budget would otherwise wait out Zendesk's Retry-After
    assert tickets_with_subject(sandbox, form["subject"]) == []
    again = agent_client.post("/tickets/new", {**form, "form_token": token_in(failed)})
    assert again.status_code == 303, unescape(again.content.decode())[:600]
    assert len(tickets_with_subject(sandbox, form["subject"])) == 1
