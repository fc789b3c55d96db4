"""An answer that only aged is shown at once and refreshed behind it; one a change invalidated
is fetched again before anyone sees it. Against the sandbox, calls counted by the sandbox and
by the request's own count (what its Server-Timing says)."""

from __future__ import annotations

from concurrent.futures import wait

import pytest

from inbox import services
from inbox.models import AgentAccount
from inbox.services.freshness import agent_view_family
from inbox.zendesk import cache, request_cost
from tests.inbox.conftest import agent_account, api_calls, seeded_agent

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(on_sandbox) -> AgentAccount:
    account = agent_account(on_sandbox, seeded_agent(on_sandbox, role="agent", restricted=False))
    on_sandbox.control("POST", "stats/reset")
    return account


@pytest.fixture(autouse=True)
def revalidating(settings):
    settings.ZENDESK_CACHE_REVALIDATE_SECONDS = 30


def refreshed_in_background() -> None:
    _done, pending = wait(cache.revalidations(), timeout=30)
    assert not pending, "the background refresh did not finish"


def read_counted(agent) -> tuple[services.Fresh, request_cost.RequestCost]:
    with request_cost.counting() as cost:
        answer = services.ticket_list(agent=agent, view="assigned")
    return answer, cost


def test_an_aged_answer_is_shown_at_once_and_refreshed_behind_it(on_sandbox, alice, clock):
    first = services.ticket_list(agent=alice, view="assigned")
    clock.offset = cache.ttl_for("list") + 1

    aged, cost = read_counted(alice)
    refreshed_in_background()
    after, cost_after = read_counted(alice)

    assert cost.zendesk_calls == 0, "the reader did not wait on Zendesk"
    assert aged.fetched_at == first.fetched_at
    assert not aged.stale
    assert api_calls(on_sandbox) == 2, "one refresh, in the background"
    assert after.fetched_at > first.fetched_at
    assert cost_after.zendesk_calls == 0


def test_an_answer_a_change_invalidated_is_fetched_on_the_request(on_sandbox, alice, clock):
    services.ticket_list(agent=alice, view="assigned")
    cache.bump(agent_view_family(on_sandbox.base_url, alice.zendesk_user_id, "assigned"))

    _, cost = read_counted(alice)

    assert cost.zendesk_calls == 1
    assert cache.revalidations() == []
    assert api_calls(on_sandbox) == 2


def test_an_answer_aged_past_the_window_is_fetched_on_the_request(on_sandbox, alice, clock):
    services.ticket_list(agent=alice, view="assigned")
    clock.offset = cache.ttl_for("list") + cache.revalidate_seconds(cache.ttl_for("list")) + 1

    _, cost = read_counted(alice)

    assert cost.zendesk_calls == 1
    assert api_calls(on_sandbox) == 2


def test_turned_off_an_aged_answer_is_fetched_on_the_request(on_sandbox, alice, clock, settings):
    settings.ZENDESK_CACHE_REVALIDATE_SECONDS = 0
    services.ticket_list(agent=alice, view="assigned")
    clock.offset = cache.ttl_for("list") + 1

    _, cost = read_counted(alice)

    assert cost.zendesk_calls == 1


def test_a_failed_refresh_keeps_the_copy_and_says_so_once_past_the_window(on_sandbox, alice, clock):
    first = services.ticket_list(agent=alice, view="assigned")
    clock.offset = cache.ttl_for("list") + 1
    on_sandbox.control("POST", "faults", json={"outage": True})
    try:
        aged, _ = read_counted(alice)
        refreshed_in_background()
        clock.offset = 3 * cache.ttl_for("list")
        later, _ = read_counted(alice)
    finally:
        on_sandbox.control("POST", "faults", json={})

    assert aged.value == first.value
    assert not aged.stale
    assert later.value == first.value
    assert later.stale, "past the window the copy is shown marked stale, as before"


def test_a_poll_whose_approximate_counts_only_aged_keeps_its_answer_and_refreshes_them(
    on_sandbox, alice, clock
):
    """The "all" count (30 s) aged under a kept poll answer: the answer stands while it only
    aged, and it is asked again behind it, on the background lane (the organizations' counts,
    kept 5 minutes while a feed runs, are still fresh)."""
    from inbox.services import poll

    cache.feed_alive_mark(3600)  # the lists outlive the counts
    first = poll.poll_state(agent=alice)
    counts = len(first.sidebar.approximate)
    on_sandbox.control("POST", "stats/reset")
    clock.offset = cache.ttl_for("approximate_count") + 1

    with request_cost.counting() as cost:
        kept = poll.poll_state(agent=alice)
    refreshed_in_background()
    asked = api_calls(on_sandbox)
    with request_cost.counting() as after:
        poll.poll_state(agent=alice)

    assert kept == first
    assert cost.notes["poll"] == "kept"
    assert cost.zendesk_calls == 0
    assert counts >= 2  # "all" and at least one organization
    assert asked == 1, "the 'all' count asked once, in the background"
    assert after.notes["poll"] == "kept"
    assert api_calls(on_sandbox) == 1, "fresh again: nothing more asked"
