"""The change feed: with webhooks off, a change made in Zendesk invalidates exactly what it
touches at the feed's next run (the test runs it), and one process at a time runs it."""

from __future__ import annotations

import logging
import threading
import uuid

import pytest
from django.test import Client

from inbox.services import changes, tickets
from inbox.zendesk import cache
from tests.inbox.changes_support import (
    SECRET,
    all_tickets,
    assert_exactly_invalidated,
    bystander,
    change_ticket,
    concerned_families,
    open_inbox,
    post_webhook,
    the_agents_ticket,
)
from tests.inbox.conftest import api_calls, run_app_process

pytestmark = pytest.mark.django_db


@pytest.fixture
def feed(inbox_sandbox, settings):
    """Webhooks off in the sandbox, long lifetimes; returns a run function for one holder."""
    inbox_sandbox.control("POST", "webhooks", json={}).raise_for_status()
    settings.ZENDESK_CACHE_TTL_SECONDS = {"count": 3600, "list": 3600, "activities": 3600}
    token = uuid.uuid4().hex
    yield lambda: changes.change_feed_run(token=token)
    changes.feed_lease_release(token)


@pytest.mark.parametrize("change", ["status", "reassignment"])
def test_a_change_in_zendesk_invalidates_exactly_what_it_touches_at_the_next_run(
    change, feed, inbox_sandbox, agent, entries
):
    inbox_sandbox.reset()
    ticket = the_agents_ticket(inbox_sandbox, agent)
    other = bystander(inbox_sandbox, ticket)
    assert feed().baseline
    open_inbox(
        [agent, other], ticket_ids=[ticket["id"]], organization_ids=[ticket["organization_id"]]
    )
    entries.freeze()
    fields = {"status": "hold"} if change == "status" else {"assignee_id": other.zendesk_user_id}

    after = change_ticket(inbox_sandbox, ticket["id"], **fields)
    run = feed()

    assert run.changed == (ticket["id"],)
    # The reassignment is seen from both sides: the cached copy had the agent, Zendesk the other.
    assert_exactly_invalidated(entries, concerned_families(inbox_sandbox.base_url, ticket, after))
    assert inbox_sandbox.control("GET", "webhooks").json()["deliveries"] == []


def test_a_run_with_nothing_changed_invalidates_nothing(feed, inbox_sandbox, agent, bumps):
    feed()
    bumps.clear()

    run = feed()

    assert run.changed == ()
    assert not run.baseline
    assert bumps == []


def test_a_ticket_changed_twice_in_one_second_is_seen_both_times(feed, inbox_sandbox, agent):
    ticket = the_agents_ticket(inbox_sandbox, agent)
    feed()

    change_ticket(inbox_sandbox, ticket["id"], priority="low")
    first = feed()
    change_ticket(inbox_sandbox, ticket["id"], priority="high")
    second = feed()

    assert first.changed == (ticket["id"],)
    assert second.changed == (ticket["id"],)


def test_a_version_a_webhook_already_applied_is_not_invalidated_again(
    feed, inbox_sandbox, agent, settings, deferred, bumps, monkeypatch
):
    """Webhooks and the feed side by side (as deployed): one change moves each agent on once,
    so each asks Zendesk once; a version no webhook brought is still the feed's to apply."""
    # The re-read runs on the test's own thread here: closing the connection there (as its
    # own thread does) would end the test's transaction before the feed reads the agents.
    monkeypatch.setattr(changes, "close_old_connections", lambda: None)
    settings.ZENDESK_WEBHOOK_SECRET = SECRET
    ticket = the_agents_ticket(inbox_sandbox, agent)
    feed()
    change_ticket(inbox_sandbox, ticket["id"], priority="low")
    assert post_webhook(Client(), {"ticket_id": str(ticket["id"])}).status_code == 200
    deferred.run()  # the re-read after the webhook
    bumps.clear()

    seen_by_webhook = feed()
    moved_by_feed = list(bumps)
    change_ticket(inbox_sandbox, ticket["id"], priority="high")  # its webhook never comes
    missed_by_webhook = feed()

    assert seen_by_webhook.changed == (ticket["id"],)
    assert moved_by_feed == []
    assert missed_by_webhook.changed == (ticket["id"],)
    assert missed_by_webhook.invalidated
    assert f"{inbox_sandbox.base_url}|ticket|{ticket['id']}" in missed_by_webhook.invalidated


def test_the_feed_asks_on_its_own_lane_which_polls_cannot_spend(
    feed, inbox_sandbox, agent, monkeypatch
):
    from inbox.zendesk import budget

    lanes: list[str] = []
    reserve = budget.reserve

    def recording_reserve(priority: str = budget.INTERACTIVE) -> None:
        lanes.append(priority)
        reserve(priority)

    monkeypatch.setattr(budget, "reserve", recording_reserve)

    feed()

    assert lanes
    assert set(lanes) == {budget.FEED}


def test_without_a_signed_in_unrestricted_agent_the_feed_says_why(feed, restricted_agent):
    run = feed()

    assert run.skipped == "no unrestricted agent is signed in"


# -- one at a time -----------------------------------------------------------------------------
def test_while_one_holder_runs_the_feed_another_asks_nothing(inbox_sandbox, agent):
    holder, other = uuid.uuid4().hex, uuid.uuid4().hex
    try:
        assert changes.change_feed_run(token=holder) is not None
        inbox_sandbox.control("POST", "stats/reset")

        assert changes.change_feed_run(token=other) is None
        assert api_calls(inbox_sandbox) == 0
        changes.feed_lease_release(holder)
        assert changes.change_feed_run(token=other) is not None
    finally:
        changes.feed_lease_release(holder)
        changes.feed_lease_release(other)


def test_threads_starting_together_run_the_feed_once(lease_cache):
    tokens = [uuid.uuid4().hex for _ in range(4)]
    start = threading.Barrier(len(tokens))
    took: list[bool] = []

    def attempt(token: str) -> None:
        start.wait()
        took.append(changes.feed_lease_take(token))

    threads = [threading.Thread(target=attempt, args=(token,)) for token in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for token in tokens:
        changes.feed_lease_release(token)

    assert sorted(took) == [False, False, False, True]


ONCE = """
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
call_command("change_feed", "--once")
"""


@pytest.mark.slow
def test_a_second_process_does_not_run_the_feed_while_one_holds_it(inbox_sandbox, redis_cache):
    # Another process: the same Redis and sandbox, a database of its own (in memory).
    elsewhere = {
        "redis_url": redis_cache,
        "sandbox": inbox_sandbox,
        "TEST_DATABASE_URL": "sqlite:///:memory:",
    }
    holder = uuid.uuid4().hex
    assert changes.feed_lease_take(holder)
    try:
        blocked = run_app_process(ONCE, **elsewhere)
        blocked_out, blocked_err = blocked.communicate(timeout=120)
    finally:
        changes.feed_lease_release(holder)
    free = run_app_process(ONCE, **elsewhere)
    free_out, free_err = free.communicate(timeout=120)

    assert "another process holds the change feed" in blocked_out, blocked_err[-2000:]
    # Free to run, it took the lease (and found no agent signed in in its empty database).
    assert "no unrestricted agent is signed in" in free_out, free_err[-2000:]


# -- long lifetimes while the feed runs --------------------------------------------------------
def test_while_the_feed_runs_counts_are_served_from_cache_past_their_short_lifetime(
    inbox_sandbox, agent, settings, monkeypatch
):
    settings.ZENDESK_CACHE_TTL_SECONDS = {"count": 30}
    tickets.ticket_counts(agent=agent)
    now = cache.clock()
    monkeypatch.setattr(cache, "clock", lambda: now + 120)

    inbox_sandbox.control("POST", "stats/reset")
    cache.feed_alive_mark(60)
    tickets.ticket_counts(agent=agent)
    with_feed = api_calls(inbox_sandbox)
    approximate = api_calls(inbox_sandbox, "GET /api/v2/tickets/count")
    cache.feed_alive_clear()
    tickets.ticket_counts(agent=agent)
    without_feed = api_calls(inbox_sandbox)

    # The assigned and CC'd counts come from the cache; the "all" count is Zendesk's
    # approximate one, which the feed does not invalidate: it keeps its short lifetime.
    assert (with_feed, approximate) == (1, 1)
    assert without_feed == 3


def test_a_feed_run_marks_the_feed_alive(feed, agent, settings):
    settings.ZENDESK_CACHE_TTL_SECONDS = {"list": 30}
    cache.feed_alive_clear()

    feed()

    assert cache.lifetime("list") == 600


def test_the_command_runs_once_and_says_what_changed(feed, inbox_sandbox, agent):
    from io import StringIO

    from django.core.management import call_command

    ticket = the_agents_ticket(inbox_sandbox, agent)
    first, second = StringIO(), StringIO()

    call_command("change_feed", "--once", stdout=first)
    change_ticket(inbox_sandbox, ticket["id"], priority="urgent")
    call_command("change_feed", "--once", stdout=second)

    assert "changes from now on will be picked up" in first.getvalue()
    assert f"Changed tickets: #{ticket['id']};" in second.getvalue()


def test_the_loop_runs_until_stopped_and_then_lets_another_process_take_over(
    feed, agent, monkeypatch
):
    stop = threading.Event()
    holders: list[str] = []

    def one_run(*, token: str):
        holders.append(token)
        assert changes.feed_lease_take(token)
        stop.set()

    monkeypatch.setattr(changes, "change_feed_run", one_run)

    changes.change_feed_forever(stop=stop)

    assert len(holders) == 1
    assert changes.feed_lease_take("another process")
    changes.feed_lease_release("another process")


# -- a bounded walk per run --------------------------------------------------------------------
def test_a_burst_larger_than_one_run_reads_is_read_over_several_runs_missing_nothing(
    feed, inbox_sandbox, agent, monkeypatch, caplog
):
    inbox_sandbox.reset()
    monkeypatch.setattr(changes, "FEED_MAX_TICKETS", 4)
    monkeypatch.setattr(changes, "FEED_PAGE_SIZE", 2)
    burst = [ticket["id"] for ticket in all_tickets(inbox_sandbox)[:6]]
    later = all_tickets(inbox_sandbox)[6]["id"]
    try:
        assert feed().baseline
        for ticket_id in burst:
            change_ticket(inbox_sandbox, ticket_id, subject=f"Burst change of #{ticket_id}")
        inbox_sandbox.control("POST", "stats/reset")

        with caplog.at_level(logging.INFO, logger="inbox.services.changes"):
            first = feed()
        first_reads = api_calls(inbox_sandbox, "GET /api/v2/tickets")
        change_ticket(inbox_sandbox, later, subject="Changed between two runs")
        second = feed()
        third = feed()

        assert first.more
        assert len(first.changed) == 4
        assert first_reads == 2  # one bounded walk: two pages of two
        assert "the next run carries on from there" in caplog.text
        assert not second.more
        assert sorted(first.changed + second.changed) == sorted(burst)
        assert third.changed == (later,)
        assert feed().changed == ()
    finally:
        inbox_sandbox.reset()


# -- the shared cache down -----------------------------------------------------------------------
@pytest.mark.slow
def test_the_feed_pauses_while_redis_is_down_says_so_once_and_catches_up_when_it_is_back(
    resilient_cache, feed, inbox_sandbox, agent, tmp_path, monkeypatch, caplog
):
    import redis

    from inbox.zendesk import sharedcache
    from tests.redisserver import start_redis

    now = [1000.0]
    monkeypatch.setattr(sharedcache, "clock", lambda: now[0])
    inbox_sandbox.reset()
    ticket = the_agents_ticket(inbox_sandbox, agent)
    assert feed().baseline
    redis.Redis.from_url(resilient_cache.url).save()  # what it holds is there when it comes back
    resilient_cache.stop()

    change_ticket(inbox_sandbox, ticket["id"], status="hold")
    inbox_sandbox.control("POST", "stats/reset")
    with caplog.at_level(logging.WARNING, logger="inbox.services.changes"):
        paused = [feed(), feed(), feed()]
    asked_while_down = api_calls(inbox_sandbox)

    port = int(resilient_cache.url.rsplit(":", 1)[1].split("/")[0])
    back = start_redis(tmp_path, port=port)
    try:
        now[0] += sharedcache.RETRY_SECONDS
        with caplog.at_level(logging.WARNING, logger="inbox.services.changes"):
            resumed = feed()
    finally:
        back.stop()
        inbox_sandbox.reset()

    assert [run.skipped for run in paused] == [changes.PAUSED] * 3
    assert asked_while_down == 0
    assert caplog.text.count("change feed paused") == 1
    assert caplog.text.count("change feed resumed") == 1
    assert resumed.changed == (ticket["id"],)  # the change made while Redis was down


# -- one holder, atomically ----------------------------------------------------------------------
@pytest.fixture(params=["local memory", "redis"])
def lease_cache(request):
    if request.param == "redis":
        request.getfixturevalue("redis_cache")
    return request.param


def test_a_holder_whose_lease_ran_out_cannot_renew_the_one_another_took(lease_cache):
    from django.core.cache import cache as django_cache

    assert changes.feed_lease_take("first")
    assert changes.feed_lease_take("first")  # renewing
    django_cache.delete(changes.LEASE_KEY)  # its lease runs out
    assert changes.feed_lease_take("second")

    assert not changes.feed_lease_take("first")
    changes.feed_lease_release("first")  # never lets go of another holder's lease
    assert django_cache.get(changes.LEASE_KEY) == "second"
    assert changes.feed_lease_take("second")
    changes.feed_lease_release("second")
    assert changes.feed_lease_take("third")
    changes.feed_lease_release("third")


def test_a_run_whose_lease_ran_out_while_it_asked_zendesk_leaves_the_change_to_the_new_holder(
    lease_cache, inbox_sandbox, agent, monkeypatch, bumps
):
    """The first holder's lease runs out while it waits for Zendesk and a second holder runs
    the feed meanwhile: the first acts on nothing it read, and writes no state."""
    from django.core.cache import cache as django_cache

    inbox_sandbox.reset()
    ticket = the_agents_ticket(inbox_sandbox, agent)
    taken_over: list[changes.FeedRun | None] = []
    started: list[str] = []
    original_round = changes._feed_round
    try:
        assert changes.change_feed_run(token="first").baseline
        change_ticket(inbox_sandbox, ticket["id"], status="hold")
        bumps.clear()

        def slow_round(credentials, state):
            answer = original_round(credentials, state)
            if not started:  # the first holder's walk: its lease runs out meanwhile
                started.append("second")
                django_cache.delete(changes.LEASE_KEY)
                taken_over.append(changes.change_feed_run(token="second"))
            return answer

        monkeypatch.setattr(changes, "_feed_round", slow_round)
        bumps_before_first_acts: list[int] = []
        original_apply = changes.ticket_change_apply

        def recording_apply(**kwargs):
            bumps_before_first_acts.append(len(bumps))
            return original_apply(**kwargs)

        monkeypatch.setattr(changes, "ticket_change_apply", recording_apply)
        first = changes.change_feed_run(token="first")
        second = taken_over[0]
        state_after = django_cache.get(changes._state_key(inbox_sandbox.base_url))
    finally:
        changes.feed_lease_release("first")
        changes.feed_lease_release("second")
        inbox_sandbox.reset()

    assert first.skipped == changes.LEASE_LOST
    assert first.invalidated == set()
    assert second.changed == (ticket["id"],)
    assert len(bumps_before_first_acts) == 1  # only the second holder applied the change
    assert state_after["resume"] is None
    assert state_after["since"] > 0
