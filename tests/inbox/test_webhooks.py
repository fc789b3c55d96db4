"""POST /webhooks/zendesk: signed as Zendesk signs, refused when it should be (changing nothing),
and invalidating exactly the cache entries a ticket change touches."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from inbox.services import changes, tickets
from tests.inbox.changes_support import (
    OLD_SECRET,
    SECRET,
    assert_exactly_invalidated,
    bystander,
    concerned_families,
    envelope,
    now_stamp,
    open_inbox,
    other_organization,
    post_webhook,
    the_agents_ticket,
    zendesk_signature,
)

pytestmark = pytest.mark.django_db

VECTORS = json.loads(
    (
        Path(__file__).resolve().parent.parent
        / "fixtures/recorded/webhook_signature_test_vectors.json"
    ).read_text()
)["vectors"]


@pytest.fixture
def signed(settings, inbox_sandbox):
    settings.ZENDESK_WEBHOOK_SECRET = SECRET
    settings.ZENDESK_WEBHOOK_SECRET_PREVIOUS = ""
    settings.ZENDESK_CACHE_TTL_SECONDS = {"count": 3600, "list": 3600, "activities": 3600}
    return inbox_sandbox


# -- the signature -----------------------------------------------------------------------------
def test_the_signature_is_zendesks_timestamp_then_body():
    vector = VECTORS[1]
    made = changes.webhook_signature(vector["secret"], vector["timestamp"], vector["body"].encode())
    assert made == vector["signature_timestamp_then_body"]


def test_the_old_documentation_example_body_then_timestamp_does_not_verify():
    vector = VECTORS[0]
    made = changes.webhook_signature(vector["secret"], vector["timestamp"], vector["body"].encode())
    assert made == vector["computed_b64_hmac_sha256_timestamp_then_body"]
    assert made != vector["doc_signature"]


# -- a good event ------------------------------------------------------------------------------
def test_a_signed_event_invalidates_exactly_what_the_ticket_touches(
    signed, agent, entries, deferred
):
    signed.reset()
    ticket = the_agents_ticket(signed, agent)
    other = bystander(signed, ticket)
    open_inbox(
        [agent, other],
        ticket_ids=[ticket["id"], ticket["id"] + 1],
        organization_ids=[
            ticket["organization_id"],
            other_organization(signed, ticket["organization_id"]),
        ],
    )

    entries.freeze()

    response = post_webhook(Client(), envelope(ticket))

    assert response.status_code == 200, response.content
    assert response.json()["ticket_id"] == ticket["id"]
    # At once: the event and the app's cached copy of the ticket name everyone concerned.
    assert_exactly_invalidated(entries, concerned_families(signed.base_url, ticket))


def test_a_comment_leaves_its_authors_bell_and_moves_everyone_elses_on(
    signed, agent, entries, deferred
):
    """Zendesk gives nobody an activity for their own comment (the event names its author)."""
    signed.reset()
    ticket = the_agents_ticket(signed, agent)
    other = bystander(signed, ticket)
    open_inbox([agent, other], ticket_ids=[ticket["id"]])
    entries.freeze()
    event = envelope(ticket, "ticket.comment_added")
    event["event"] = {"comment": {"id": "1", "author": {"id": str(agent.zendesk_user_id)}}}

    response = post_webhook(Client(), event)

    assert response.status_code == 200, response.content
    authors_bell = f"{signed.base_url}|activities|{agent.zendesk_user_id}"
    everything = concerned_families(signed.base_url, ticket)
    assert authors_bell in everything
    assert_exactly_invalidated(entries, everything - {authors_bell})


def test_a_trigger_naming_only_the_ticket_invalidates_its_people_after_the_re_read(
    signed, agent, entries, deferred
):
    signed.reset()
    ticket = the_agents_ticket(signed, agent)
    other = bystander(signed, ticket)
    open_inbox([agent, other], organization_ids=[ticket["organization_id"]])
    assigned_to_agent = [
        call
        for call in entries.calls
        if call["families"] == [f"{signed.base_url}|agent-tickets|{agent.zendesk_user_id}|assigned"]
    ]
    entries.freeze()

    response = post_webhook(Client(), {"ticket_id": str(ticket["id"])})
    before_re_read = [call for call in assigned_to_agent if entries.still_cached(call)]
    deferred.run()

    assert response.status_code == 200, response.content
    assert before_re_read == assigned_to_agent  # the payload named nobody, no copy was cached
    assert_exactly_invalidated(entries, concerned_families(signed.base_url, ticket))


def test_an_event_for_another_kind_of_object_is_accepted_and_ignored(signed, bumps):
    payload = {"type": "zen:event-type:user.created", "id": "x1", "subject": "zen:user:5"}

    response = post_webhook(Client(), payload)

    assert response.status_code == 200
    assert "not a ticket event" in response.json()["ignored"]
    assert bumps == []


def test_the_webhook_needs_no_session_or_csrf_token_and_sets_no_cookie(signed, agent, deferred):
    browser = Client(enforce_csrf_checks=True)

    response = post_webhook(browser, {"ticket_id": "1"})

    assert response.status_code == 200, response.content
    assert not response.cookies
    assert "Cookie" not in response.get("Vary", "")


def test_the_previous_secret_is_accepted_while_rotating(signed, settings, deferred):
    settings.ZENDESK_WEBHOOK_SECRET_PREVIOUS = OLD_SECRET

    with_new = post_webhook(Client(), {"ticket_id": "1"}, secret=SECRET)
    with_old = post_webhook(Client(), {"ticket_id": "2"}, secret=OLD_SECRET)
    with_other = post_webhook(Client(), {"ticket_id": "3"}, secret="c29tZW9uZS1lbHNl")

    assert (with_new.status_code, with_old.status_code, with_other.status_code) == (200, 200, 401)


def test_after_the_rotation_the_old_secret_is_refused(signed, deferred):
    assert post_webhook(Client(), {"ticket_id": "1"}, secret=OLD_SECRET).status_code == 401


# -- refusals change nothing -------------------------------------------------------------------
def _refusals(ticket_payload: dict[str, Any]) -> dict[str, dict[str, Any]]:
    body = json.dumps(ticket_payload).encode()
    stamp = now_stamp()
    return {
        "bad signature": {
            "headers": {
                "HTTP_X_ZENDESK_WEBHOOK_SIGNATURE": zendesk_signature(SECRET, stamp, body + b" "),
                "HTTP_X_ZENDESK_WEBHOOK_SIGNATURE_TIMESTAMP": stamp,
            }
        },
        "not base64": {
            "headers": {
                "HTTP_X_ZENDESK_WEBHOOK_SIGNATURE": "%%%",
                "HTTP_X_ZENDESK_WEBHOOK_SIGNATURE_TIMESTAMP": stamp,
            }
        },
        "missing signature": {"headers": {"HTTP_X_ZENDESK_WEBHOOK_SIGNATURE_TIMESTAMP": stamp}},
        "missing timestamp": {
            "headers": {
                "HTTP_X_ZENDESK_WEBHOOK_SIGNATURE": zendesk_signature(SECRET, stamp, body),
            }
        },
        # Well past the tolerance: the stamp has whole seconds, and a busy machine may take
        # seconds between making it and the check.
        "old timestamp": {"timestamp": now_stamp(-(changes.WEBHOOK_TOLERANCE_SECONDS + 30))},
        "future timestamp": {"timestamp": now_stamp(changes.WEBHOOK_TOLERANCE_SECONDS + 30)},
        "timestamp not a time": {"timestamp": "yesterday"},
        "not json": {"body": b"{ticket_id: 1"},
        "a json array": {"body": b"[1, 2]"},
        "no ticket named": {"body": b'{"hello": "world"}'},
        "ticket id not a number": {"body": b'{"ticket_id": "one"}'},
        "oversized": {"body": json.dumps({"ticket_id": "1", "pad": "x" * 2000}).encode()},
    }


REFUSALS = list(_refusals({"ticket_id": "1"}))


@pytest.mark.parametrize("case", REFUSALS)
def test_a_refused_request_gets_a_4xx_and_changes_nothing(
    case, signed, settings, agent, entries, bumps, deferred
):
    settings.ZENDESK_WEBHOOK_MAX_BYTES = 1000
    ticket_id = tickets.ticket_list(agent=agent, view="assigned").value.items[0].id
    tickets.ticket_detail(agent=agent, ticket_id=ticket_id)
    entries.freeze()
    request = _refusals({"ticket_id": str(ticket_id)})[case]

    response = post_webhook(Client(), {"ticket_id": str(ticket_id)}, **request)

    assert 400 <= response.status_code < 500, (case, response.status_code)
    assert response.json()["error"]
    assert bumps == []
    assert deferred.jobs == []
    assert entries.gone() == []


def test_a_replayed_event_is_refused_and_changes_nothing_more(signed, agent, bumps, deferred):
    payload = envelope({"id": 1, "assignee_id": agent.zendesk_user_id})
    body = json.dumps(payload).encode()
    stamp = now_stamp()

    first = post_webhook(Client(), payload, body=body, timestamp=stamp)
    bumped = list(bumps)
    again = post_webhook(Client(), payload, body=body, timestamp=stamp)
    resent_later = post_webhook(Client(), payload, body=body, timestamp=now_stamp(-5))

    assert first.status_code == 200
    assert (again.status_code, resent_later.status_code) == (409, 409)
    assert bumps == bumped
    assert len(deferred.jobs) == 1


def test_a_replayed_trigger_without_an_id_is_refused_by_its_timestamp_and_body(
    signed, bumps, deferred
):
    stamp = now_stamp()

    first = post_webhook(Client(), {"ticket_id": "7"}, timestamp=stamp)
    again = post_webhook(Client(), {"ticket_id": "7"}, timestamp=stamp)
    the_next_change = post_webhook(Client(), {"ticket_id": "7"}, timestamp=now_stamp(1))

    assert (first.status_code, again.status_code, the_next_change.status_code) == (200, 409, 200)


def test_without_a_configured_secret_every_webhook_is_refused(signed, settings, bumps):
    settings.ZENDESK_WEBHOOK_SECRET = ""

    response = post_webhook(Client(), {"ticket_id": "1"})

    assert response.status_code == 403
    assert "ZENDESK_WEBHOOK_SECRET" in response.json()["error"]
    assert bumps == []


def test_only_post_is_answered(signed):
    assert Client().get("/webhooks/zendesk").status_code == 405


def test_the_answer_does_not_wait_for_zendesk(signed, agent, deferred):
    signed.control("POST", "stats/reset")

    response = post_webhook(Client(), {"ticket_id": "1"})

    assert response.status_code == 200
    assert signed.control("GET", "stats").json()["by_endpoint"] == {}
    assert len(deferred.jobs) == 1  # the re-read waits for the background
