"""End to end: a change made in Zendesk reaches an open inbox (its badge, its list and its bell)
long before any cache lifetime runs out: through the sandbox's own signed webhooks, and
through the change feed alone."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from typing import Any

import pytest
import requests
from django.test import Client

from inbox.services import activities, changes
from tests.inbox.changes_support import SECRET, all_tickets, change_ticket, the_agents_ticket
from tests.inbox.conftest import signed_in_client
from tests.inbox.test_activity import bell_badge
from tests.inbox.test_inbox_badges import badge_text
from tests.inbox.test_inbox_poll import version_of
from tests.stubserver import StubServer

# Every lifetime far longer than the test: only an invalidation can show the change.
LONG = {"count": 3600, "list": 3600, "ticket": 3600, "comments": 3600, "activities": 3600}
DELIVERY_WAIT_SECONDS = 30


def someone_elses_open_ticket(sandbox, agent) -> dict[str, Any]:
    return next(
        ticket
        for ticket in all_tickets(sandbox)
        if ticket["status"] == "open" and ticket["assignee_id"] != agent.zendesk_user_id
    )


def ticket_link(ticket_id: int) -> str:
    return f'href="/tickets/{ticket_id}"'


def open_inbox_page(client) -> tuple[str, str]:
    """The poll's answer and the assigned list, as an open inbox shows them."""
    poll = client.get("/inbox/poll")
    listing = client.get("/views/assigned")
    assert poll.status_code == 200
    assert listing.status_code == 200
    return poll.content.decode(), listing.content.decode()


def delivered(sandbox, ticket_id: int) -> None:
    """Wait until the sandbox has delivered the ticket's events and the app accepted them."""
    deadline = time.monotonic() + DELIVERY_WAIT_SECONDS
    while True:
        shown = sandbox.control("GET", "webhooks").json()
        mine = [d for d in shown["deliveries"] if d["subject"] == f"zen:ticket:{ticket_id}"]
        if any(d["status"] == 200 for d in mine):
            # A retry of an event already applied (its answer was slow) is a refused replay.
            assert {d["status"] for d in mine} <= {200, 409}, mine
            return
        assert time.monotonic() < deadline, f"no delivery for ticket {ticket_id}: {shown}"
        time.sleep(0.05)


def assert_the_inbox_shows_it(client, first_poll: str, ticket_id: int) -> None:
    before = int(badge_text(first_poll, "assigned"))
    poll = client.get("/inbox/poll", {"version": version_of(first_poll)})
    listing = client.get("/views/assigned").content.decode()

    assert poll.status_code == 200  # not 204: the sidebar changed
    assert int(badge_text(poll.content.decode(), "assigned")) == before + 1
    assert ticket_link(ticket_id) in listing


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_change_reaches_an_open_inbox_through_zendesks_signed_webhook(
    live_server, inbox_sandbox, agent, settings
):
    settings.ZENDESK_WEBHOOK_SECRET = SECRET
    settings.ZENDESK_CACHE_TTL_SECONDS = LONG
    inbox_sandbox.reset()
    receiver = {
        "url": f"{live_server.url}/webhooks/zendesk",
        "secret": SECRET,
        "timeout_seconds": 30,  # a loaded test machine can be slow to answer
    }
    inbox_sandbox.control("POST", "webhooks", json=receiver).raise_for_status()
    try:
        client = signed_in_client(agent)
        first_poll, first_listing = open_inbox_page(client)
        ticket = someone_elses_open_ticket(inbox_sandbox, agent)
        assert ticket_link(ticket["id"]) not in first_listing

        change_ticket(inbox_sandbox, ticket["id"], assignee_id=agent.zendesk_user_id)
        delivered(inbox_sandbox, ticket["id"])
        changes.background_wait()

        assert_the_inbox_shows_it(client, first_poll, ticket["id"])
    finally:
        inbox_sandbox.control("POST", "webhooks", json={})
        inbox_sandbox.reset()


@pytest.mark.django_db
def test_a_change_reaches_an_open_inbox_through_the_change_feed_alone(
    inbox_sandbox, agent, agent_client, settings
):
    settings.ZENDESK_CACHE_TTL_SECONDS = LONG
    inbox_sandbox.reset()
    inbox_sandbox.control("POST", "webhooks", json={}).raise_for_status()
    token = uuid.uuid4().hex
    try:
        assert changes.change_feed_run(token=token).baseline
        first_poll, first_listing = open_inbox_page(agent_client)
        ticket = someone_elses_open_ticket(inbox_sandbox, agent)
        assert ticket_link(ticket["id"]) not in first_listing

        change_ticket(inbox_sandbox, ticket["id"], assignee_id=agent.zendesk_user_id)
        assert changes.change_feed_run(token=token).changed == (ticket["id"],)

        assert_the_inbox_shows_it(agent_client, first_poll, ticket["id"])
    finally:
        changes.feed_lease_release(token)
        inbox_sandbox.reset()


@pytest.mark.django_db
def test_without_webhooks_or_the_feed_the_open_inbox_keeps_its_cached_copy(
    inbox_sandbox, agent, agent_client, settings
):
    """The control: the same change, nobody told, and the long-lived copy still shows."""
    settings.ZENDESK_CACHE_TTL_SECONDS = LONG
    inbox_sandbox.reset()
    first_poll, _ = open_inbox_page(agent_client)
    ticket = someone_elses_open_ticket(inbox_sandbox, agent)

    change_ticket(inbox_sandbox, ticket["id"], assignee_id=agent.zendesk_user_id)
    again = agent_client.get("/inbox/poll", {"version": version_of(first_poll)})

    assert again.status_code == 204
    inbox_sandbox.reset()


# -- through the bell: another agent comments on the agent's ticket -------------------------------
def a_colleague(sandbox, agent) -> dict[str, Any]:
    """Another unrestricted agent, who may comment on any ticket."""
    return next(
        person
        for person in sandbox.agents(role="agent", restricted=False, suspended=False)
        if person["id"] != agent.zendesk_user_id
    )


def comment_as(sandbox, email: str, ticket_id: int) -> None:
    """An internal note written in Zendesk by someone else: an activity for the assignee."""
    response = requests.put(
        f"{sandbox.base_url}/api/v2/tickets/{ticket_id}",
        headers=sandbox.basic_auth(email),
        json={"ticket": {"comment": {"body": "Called the customer back.", "public": False}}},
        timeout=30,
    )
    assert response.status_code == 200, response.text[:300]


def unread(poll_html: str) -> int:
    badge = bell_badge(poll_html)
    assert badge != "99+", "the bell is full: the test could not see one more"
    return int(badge or 0)


def bell_open(agent, client) -> str:
    """An open inbox whose bell counts from a mark a second back: the poll's answer (now
    cached). Zendesk's times have whole seconds, so an activity made from now on is after
    the mark even within this second."""
    mark = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(seconds=1)
    activities.activity_mark_seen(agent=agent, seen_at=mark)
    agent.refresh_from_db()
    first = client.get("/inbox/poll")
    assert first.status_code == 200
    return first.content.decode()


def assert_the_bell_rings_only_once_told(client, first_poll: str, tell) -> None:
    """Before the app is told, the long-lived cached bell shows what it showed (the poll says
    "nothing new"); once told, the next poll shows one more unread activity."""
    assert client.get("/inbox/poll", {"version": version_of(first_poll)}).status_code == 204
    tell()
    poll = client.get("/inbox/poll", {"version": version_of(first_poll)})

    assert poll.status_code == 200
    assert unread(poll.content.decode()) == unread(first_poll) + 1


@pytest.mark.django_db
def test_a_colleagues_comment_rings_an_open_inboxs_bell_through_the_change_feed_alone(
    inbox_sandbox, agent, agent_client, settings
):
    settings.ZENDESK_CACHE_TTL_SECONDS = LONG
    inbox_sandbox.reset()
    inbox_sandbox.control("POST", "webhooks", json={}).raise_for_status()
    token = uuid.uuid4().hex
    try:
        ticket = the_agents_ticket(inbox_sandbox, agent)
        assert changes.change_feed_run(token=token).baseline
        first_poll = bell_open(agent, agent_client)

        comment_as(inbox_sandbox, a_colleague(inbox_sandbox, agent)["email"], ticket["id"])

        def feed_runs() -> None:
            assert changes.change_feed_run(token=token).changed == (ticket["id"],)

        assert_the_bell_rings_only_once_told(agent_client, first_poll, feed_runs)
    finally:
        changes.feed_lease_release(token)
        inbox_sandbox.reset()


@pytest.mark.django_db
def test_a_colleagues_comment_rings_an_open_inboxs_bell_through_zendesks_signed_webhook(
    inbox_sandbox, agent, agent_client, settings, deferred
):
    """The sandbox signs and sends the event as Zendesk does, to a receiver standing in for
    the app; the test hands that very request to the app (no waiting on delivery retries)."""
    settings.ZENDESK_WEBHOOK_SECRET = SECRET
    settings.ZENDESK_CACHE_TTL_SECONDS = LONG
    inbox_sandbox.reset()
    with StubServer() as receiver:
        inbox_sandbox.control(
            "POST",
            "webhooks",
            json={"url": f"{receiver.base_url}/webhooks/zendesk", "secret": SECRET},
        ).raise_for_status()
        try:
            ticket = the_agents_ticket(inbox_sandbox, agent)
            first_poll = bell_open(agent, agent_client)

            comment_as(inbox_sandbox, a_colleague(inbox_sandbox, agent)["email"], ticket["id"])
            sent = receiver.wait_for(1)[0]  # sent by the sandbox's process

            def webhook_arrives() -> None:
                answer = Client().post(
                    "/webhooks/zendesk",
                    data=sent.body,
                    content_type="application/json",
                    HTTP_X_ZENDESK_WEBHOOK_SIGNATURE=sent.headers["x-zendesk-webhook-signature"],
                    HTTP_X_ZENDESK_WEBHOOK_SIGNATURE_TIMESTAMP=sent.headers[
                        "x-zendesk-webhook-signature-timestamp"
                    ],
                )
                assert answer.status_code == 200, answer.content[:300]

            assert sent.json()["type"] == "zen:event-type:ticket.comment_added"
            assert sent.json()["subject"] == f"zen:ticket:{ticket['id']}"
            assert_the_bell_rings_only_once_told(agent_client, first_poll, webhook_arrives)
        finally:
            inbox_sandbox.control("POST", "webhooks", json={})
            inbox_sandbox.reset()
