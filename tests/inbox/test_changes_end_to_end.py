"""End to end: a change made in Zendesk reaches an open inbox (its badge and its list) long
before any cache lifetime runs out: through the sandbox's own signed webhooks over real HTTP,
and through the change feed alone."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from inbox.services import changes
from tests.inbox.changes_support import SECRET, all_tickets, change_ticket
from tests.inbox.conftest import signed_in_client
from tests.inbox.test_inbox_badges import badge_text
from tests.inbox.test_inbox_poll import version_of

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
