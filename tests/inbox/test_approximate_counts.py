"""Zendesk's approximate counts of the organizations: kept until a change that can alter one (a
ticket of it created or deleted, or moved in or out), as a webhook or the change feed tells
it; a comment or a new status leaves them cached. The "all" count keeps its 30 s (tickets are
created too often for it to follow each), and so do a restricted agent's counts."""

from __future__ import annotations

import datetime as dt
import re
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


def asked_again(agent, reads: dict[Any, cache.CachedRead]) -> dict[Any, cache.CachedRead]:
    """The counts a change moved on, asked again (as the next sidebar drawn would)."""
    for read in reads.values():
        cache.cached_read_call(read, inbox_services.approximate_count_fetch(agent, read))
    assert all(still_cached(reads).values())
    return reads


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
    """Which reads are still cached when only these organizations' counts were moved on (the
    "all" count never is: it follows its own 30 s)."""
    return {key: key not in keys for key in reads}


# -- webhooks ------------------------------------------------------------------------------------
def test_a_new_ticket_moves_on_its_organizations_count_only(signed, agent, deferred):
    reads = approximate_reads(agent)
    organization = next(key for key in reads if key != "all")

    created = new_ticket_in(signed, organization)
    response = post_webhook(Client(), envelope(created, "ticket.created"))
    deferred.run()

    assert response.status_code == 200, response.content
    assert still_cached(reads) == only_these_moved_on(reads, organization)


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
    assert still_cached(reads) == only_these_moved_on(reads, organization)


def test_a_ticket_zendesk_no_longer_has_moves_its_organizations_count_on(
    signed, agent, deferred, monkeypatch
):
    """Deleted: the re-read finds nothing (404), and the count that held it is one less."""
    from inbox.services import tickets
    from inbox.zendesk.errors import NotFound

    reads = approximate_reads(agent)
    organization = next(key for key in reads if key != "all")
    ticket = an_old_ticket_in(signed, organization)
    tickets.ticket_detail(agent=agent, ticket_id=ticket["id"])  # the app's copy says where

    def deleted(**_):
        raise NotFound("Not found")

    monkeypatch.setattr(changes, "ticket_reread_in_background", deleted)
    post_webhook(Client(), {"ticket_id": str(ticket["id"])})
    deferred.run()

    assert still_cached(reads) == only_these_moved_on(reads, organization)


def test_a_ticket_moved_between_organizations_moves_both_counts_on(signed, agent, deferred):
    reads = approximate_reads(agent)
    first, second, _third, *_ = [key for key in reads if key != "all"]
    ticket = an_old_ticket_in(signed, first)
    event = envelope(ticket, "ticket.organization_changed")
    event["detail"]["organization_id"] = str(second)
    event["event"] = {"previous": str(first), "current": str(second)}

    response = post_webhook(Client(), event)

    assert response.status_code == 200, response.content
    assert still_cached(reads) == only_these_moved_on(reads, first, second)


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
    assert still_cached(reads) == only_these_moved_on(reads, first)


def test_once_the_counts_followed_a_new_ticket_its_later_changes_leave_them_cached(
    signed, feed, agent
):
    """A count moved on after a ticket was created holds it: the ticket's next changes (it is
    assigned, answered) are not a reason to ask Zendesk for the counts again."""
    feed()
    organization = next(key for key in approximate_reads(agent) if key != "all")
    created = new_ticket_in(signed, organization)
    feed()
    reads = asked_again(agent, approximate_reads(agent))  # now holding the new ticket

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

    # The "all" count has expired (it keeps 30 s); the organizations' are cached.
    assert still_cached(reads) == {key: key != "all" for key in reads}
    assert not any(still_cached(restricted_reads).values())
    clock.offset = cache.longest_lifetime("organization_count") + 10
    assert not any(still_cached(reads).values())


# -- what the agent sees -------------------------------------------------------------------------
def test_a_new_ticket_shows_in_its_organizations_badge_once_the_counts_are_looked_at(
    signed, agent, agent_client, deferred, clock
):
    """A kept poll answer looks at its approximate counts again when the "all" count expires
    (30 s): an organization's count moved on by a new ticket is asked again then."""
    cache.feed_alive_mark(3600)
    reads = approximate_reads(agent)
    organization = next(key for key in reads if key != "all")
    first = agent_client.get("/inbox/poll").content.decode()

    created = new_ticket_in(signed, organization)
    post_webhook(Client(), envelope(created, "ticket.created"))  # the event says it is new
    clock.offset = cache.ttl_for("approximate_count") + 1
    again = agent_client.get("/inbox/poll", {"version": version_of(first)})

    assert again.status_code == 200
    assert 'poll;desc="counts"' in again["Server-Timing"]
    assert organization_badge(again.content.decode(), organization) == (
        organization_badge(first, organization) + 1
    )


def organization_badge(html: str, organization_id: int) -> int:
    """The number an organization's link shows in a poll answer."""
    found = re.search(
        rf'href="/views/organizations/{organization_id}".*?'
        r'<span class="count-value[^"]*" title="[^"]*">(\d+)',
        html,
        re.S,
    )
    assert found, f"the poll answer shows no count for organization {organization_id}"
    return int(found.group(1))
