"""Zendesk's approximate counts ("All tickets", the organizations'): kept until a change that
can alter one (a ticket created, deleted or moved between organizations), as a webhook or the
change feed tells it; a comment or a new status leaves them cached. A restricted agent's
counts keep their short lifetime."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
import requests
from django.test import Client

from inbox.services import changes
from inbox.services import inbox as inbox_services
from inbox.zendesk import cache
from tests.inbox.changes_support import (
    SECRET,
    all_tickets,
    change_ticket,
    envelope,
    post_webhook,
)
from tests.inbox.test_inbox_badges import badge_text
from tests.inbox.test_inbox_poll import version_of

pytestmark = pytest.mark.django_db
AN_HOUR = dt.timedelta(hours=1)


@pytest.fixture
def signed(settings, inbox_sandbox):
    settings.ZENDESK_WEBHOOK_SECRET = SECRET
    settings.ZENDESK_WEBHOOK_SECRET_PREVIOUS = ""
    inbox_sandbox.reset()
    return inbox_sandbox


def approximate_reads(agent) -> dict[Any, cache.CachedRead]:
    """The agent's approximate counts, cached by drawing their sidebar: "all", and each
    organization's by its id."""
    sidebar = inbox_services.sidebar_counts(agent=agent)
    reads = {read.params.get("organization_id") or "all": read for read, _ in sidebar.approximate}
    assert len(reads) >= 3, "the seeded agent's sidebar shows two organizations at least"
    return reads


def still_cached(reads: dict[Any, cache.CachedRead]) -> dict[Any, bool]:
    hits = cache.cached_hits(list(reads.values()))
    return {key: hit is not None for key, hit in zip(reads, hits, strict=True)}


def new_ticket_in(sandbox, organization_id: int) -> dict[str, Any]:
    """A ticket created by an admin for a requester of that organization (it joins it)."""
    requester = next(
        ticket["requester_id"]
        for ticket in all_tickets(sandbox)
        if ticket["organization_id"] == organization_id
    )
    admin = sandbox.agent(role="admin")["email"]
    created = requests.post(
        f"{sandbox.base_url}/api/v2/tickets",
        headers=sandbox.basic_auth(admin),
        json={
            "ticket": {
                "subject": f"New in the organization {uuid.uuid4().hex[:6]}",
                "comment": {"body": "Hello."},
                "requester_id": requester,
            }
        },
        timeout=30,
    )
    assert created.status_code == 201, created.text[:300]
    ticket = created.json()["ticket"]
    assert ticket["organization_id"] == organization_id
    return ticket


def an_old_ticket_in(sandbox, organization_id: int) -> dict[str, Any]:
    return next(
        ticket
        for ticket in all_tickets(sandbox)
        if ticket["organization_id"] == organization_id
        and ticket["status"] in ("new", "open", "pending")
        and dt.datetime.fromisoformat(ticket["created_at"]) < dt.datetime.now(dt.UTC) - AN_HOUR
    )


def only_these_moved_on(reads, *keys) -> dict[Any, bool]:
    return {key: key not in keys for key in reads}


# -- webhooks ------------------------------------------------------------------------------------
def test_a_new_ticket_moves_on_the_all_count_and_its_organizations_count_only(
    signed, agent, deferred
):
    reads = approximate_reads(agent)
    organization = next(key for key in reads if key != "all")

    created = new_ticket_in(signed, organization)
    response = post_webhook(Client(), envelope(created, "ticket.created"))
    deferred.run()

    assert response.status_code == 200, response.content
    assert still_cached(reads) == only_these_moved_on(reads, "all", organization)


def test_a_new_status_or_a_comment_leaves_every_approximate_count_cached(signed, agent, deferred):
    reads = approximate_reads(agent)
    organization = next(key for key in reads if key != "all")
    ticket = an_old_ticket_in(signed, organization)

    change_ticket(signed, ticket["id"], status="pending", comment={"body": "On it."})
    response = post_webhook(Client(), envelope(ticket, "ticket.status_changed"))
    deferred.run()

    assert response.status_code == 200, response.content
    assert still_cached(reads) == only_these_moved_on(reads)


def test_a_trigger_naming_a_new_ticket_moves_the_counts_on_once_it_is_read(signed, agent, deferred):
    """A trigger's payload says only which ticket: the app cannot tell a new one from an old
    one until the re-read in the background says when it was created."""
    reads = approximate_reads(agent)
    organization = next(key for key in reads if key != "all")

    created = new_ticket_in(signed, organization)
    post_webhook(Client(), {"ticket_id": str(created["id"])})
    before_the_re_read = still_cached(reads)
    deferred.run()

    assert before_the_re_read == only_these_moved_on(reads)
    assert still_cached(reads) == only_these_moved_on(reads, "all", organization)


def test_a_trigger_naming_a_ticket_zendesk_no_longer_has_moves_the_counts_on(
    signed, agent, deferred
):
    """Deleted: the re-read finds nothing (404), and the counts that held it are one less."""
    reads = approximate_reads(agent)

    post_webhook(Client(), {"ticket_id": "987654321"})
    deferred.run()

    assert still_cached(reads) == only_these_moved_on(reads, "all")


def test_a_ticket_moved_between_organizations_moves_both_counts_on(signed, agent, deferred):
    reads = approximate_reads(agent)
    first, second, _third, *_ = [key for key in reads if key != "all"]
    ticket = an_old_ticket_in(signed, first)
    event = envelope(ticket, "ticket.organization_changed")
    event["detail"]["organization_id"] = str(second)
    event["event"] = {"previous": str(first), "current": str(second)}

    response = post_webhook(Client(), event)

    assert response.status_code == 200, response.content
    # "all" too: what moves every count on also tells the agents' sidebars to look again.
    assert still_cached(reads) == only_these_moved_on(reads, "all", first, second)


def test_the_cached_copy_says_where_a_moved_ticket_was():
    """The change feed sees only the ticket as it is now: the copy the app cached says where
    it was before, and both organizations' counts move on."""
    from inbox.zendesk.records import Ticket

    before = Ticket.from_api({"id": 7, "organization_id": 1, "created_at": "2020-01-02T03:04:05Z"})
    after = Ticket.from_api({"id": 7, "organization_id": 2, "created_at": "2020-01-02T03:04:05Z"})
    base_url = "https://acme.zendesk.com"

    moved = changes.TicketChange(7).including(after).including(before)
    stayed = changes.TicketChange(7).including(after).including(after)

    assert {family for family in changes.change_families(base_url, moved) if "count" in family} == {
        f"{base_url}|ticket-counts",
        f"{base_url}|org-count|1",
        f"{base_url}|org-count|2",
    }
    assert not [family for family in changes.change_families(base_url, stayed) if "count" in family]


# -- the change feed -----------------------------------------------------------------------------
@pytest.fixture
def feed(signed, settings):
    signed.control("POST", "webhooks", json={}).raise_for_status()
    token = uuid.uuid4().hex
    yield lambda: changes.change_feed_run(token=token)
    changes.feed_lease_release(token)


def test_the_feed_moves_the_counts_on_for_a_new_ticket_and_not_for_a_comment(signed, feed, agent):
    feed()  # the first run notes where the list stands
    reads = approximate_reads(agent)
    first, second, *_ = [key for key in reads if key != "all"]

    change_ticket(signed, an_old_ticket_in(signed, second)["id"], comment={"body": "Noted."})
    commented = feed()
    kept_after_a_comment = still_cached(reads)
    new_ticket_in(signed, first)
    created = feed()

    assert len(commented.changed) == 1
    assert len(created.changed) == 1
    assert kept_after_a_comment == only_these_moved_on(reads)
    assert still_cached(reads) == only_these_moved_on(reads, "all", first)


def test_once_the_counts_followed_a_new_ticket_its_later_changes_leave_them_cached(
    signed, feed, agent
):
    """A count moved on after a ticket was created holds it: the ticket's next changes (it is
    assigned, answered) are not a reason to ask Zendesk for the counts again."""
    feed()
    organization = next(key for key in approximate_reads(agent) if key != "all")
    created = new_ticket_in(signed, organization)
    feed()
    reads = approximate_reads(agent)  # asked again, holding the new ticket

    change_ticket(signed, created["id"], status="open", comment={"body": "Looking into it."})
    later = feed()

    assert later.changed == (created["id"],)
    assert still_cached(reads) == only_these_moved_on(reads)


def test_while_the_feed_runs_the_counts_live_minutes_but_a_restricted_agents_do_not(
    signed, agent, restricted_agent, clock
):
    """What a restricted agent may see changes with more than the changes the app follows
    (a ticket's group, its assignee): their counts keep the short lifetime."""
    cache.feed_alive_mark(3600)
    reads = approximate_reads(agent)
    restricted_reads = {
        read.params.get("organization_id") or "all": read
        for read, _ in inbox_services.sidebar_counts(agent=restricted_agent).approximate
    }
    assert restricted_reads

    clock.offset = cache.ttl_for("approximate_count") + 10

    assert still_cached(reads) == only_these_moved_on(reads)
    assert not any(still_cached(restricted_reads).values())
    clock.offset = cache.longest_lifetime("approximate_count") + 10
    assert not any(still_cached(reads).values())


# -- what the agent sees -------------------------------------------------------------------------
def test_a_new_ticket_shows_in_the_all_badge_at_the_next_poll(
    signed, agent, agent_client, deferred
):
    cache.feed_alive_mark(3600)
    reads = approximate_reads(agent)
    organization = next(key for key in reads if key != "all")
    first = agent_client.get("/inbox/poll").content.decode()

    created = new_ticket_in(signed, organization)
    post_webhook(Client(), envelope(created, "ticket.created"))  # the event says it is new
    again = agent_client.get("/inbox/poll", {"version": version_of(first)})

    assert again.status_code == 200
    assert 'poll;desc="moved"' in again["Server-Timing"]
    assert badge_text(again.content.decode(), "all") != badge_text(first, "all")
