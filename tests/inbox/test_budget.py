"""The team's shared rate budget: windows, priorities, Zendesk's own counts, 429 blocks.

A fake clock moves time; the Redis tests prove the budget is shared between processes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.cache import cache as django_cache

from inbox.zendesk import budget
from inbox.zendesk.errors import RateBudgetExhausted
from tests.fakes import FakeClock

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def clock(monkeypatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(budget, "clock", fake)
    return fake


@pytest.fixture(autouse=True)
def small_budget(settings):
    """20 a minute at the account, 50 % ours: 10 interactive, 7 background."""
    settings.ZENDESK_RATE_LIMIT_PER_MINUTE = 20
    settings.ZENDESK_RATE_BUDGET_SHARE = 0.5
    django_cache.clear()
    yield
    django_cache.clear()


def reserve_until_refused(lane: str = budget.INTERACTIVE) -> int:
    granted = 0
    while True:
        try:
            budget.reserve(lane)
        except RateBudgetExhausted:
            return granted
        granted += 1
        assert granted < 1000


def test_it_grants_the_deployments_share_of_a_minute_and_no_more(clock):
    assert reserve_until_refused() == 10


def test_a_refusal_says_when_the_window_ends(clock):
    clock.advance(45)
    reserve_until_refused()
    with pytest.raises(RateBudgetExhausted) as refused:
        budget.reserve()
    assert refused.value.retry_after == 15


def test_a_new_minute_brings_a_new_budget(clock):
    reserve_until_refused()
    clock.advance(60)
    assert reserve_until_refused() == 10


def test_background_work_leaves_room_for_agents(clock):
    assert reserve_until_refused(budget.BACKGROUND) == 7
    assert reserve_until_refused(budget.INTERACTIVE) == 3


def test_polls_that_spent_their_share_leave_the_change_feed_its_request(clock):
    assert reserve_until_refused(budget.BACKGROUND) == 7

    budget.reserve(budget.FEED)  # not refused: the feed keeps every other read cached


def test_with_stats_on_it_counts_what_refused_requests_were_for(clock, settings):
    from inbox.zendesk import request_cost

    settings.ZENDESK_CACHE_STATS = True
    with request_cost.counting("inbox_poll-revalidate"):
        reserve_until_refused(budget.BACKGROUND)
    with request_cost.counting("inbox_poll"):
        reserve_until_refused(budget.BACKGROUND)

    counted = {
        origin: django_cache.get(f"{budget.STATS_KEY}:refused-by:{origin}")
        for origin in ("inbox_poll-revalidate", "inbox_poll")
    }
    assert counted == {"inbox_poll-revalidate": 1, "inbox_poll": 1}


def test_with_stats_on_it_counts_what_each_lane_was_granted_and_refused(clock, settings):
    settings.ZENDESK_CACHE_STATS = True
    reserve_until_refused(budget.BACKGROUND)
    reserve_until_refused(budget.INTERACTIVE)

    counted = {
        (lane, outcome): django_cache.get(f"{budget.STATS_KEY}:{lane}:{outcome}")
        for lane in (budget.BACKGROUND, budget.INTERACTIVE)
        for outcome in ("granted", "refused")
    }

    assert counted == {
        (budget.BACKGROUND, "granted"): 7,
        (budget.BACKGROUND, "refused"): 1,
        (budget.INTERACTIVE, "granted"): 3,
        (budget.INTERACTIVE, "refused"): 1,
    }


def test_zendesks_lower_remaining_count_is_believed_in_every_spelling(clock):
    # Zendesk has 14 left of 20; 10 of the account's 20 are left to others: we may make 4.
    for header in ("X-Rate-Limit-Remaining", "ratelimit-remaining", "Rate-Limit-Remaining"):
        django_cache.clear()
        budget.record_response(200, {header: "14", "X-Rate-Limit": "20"})
        assert reserve_until_refused() == 4


def test_when_we_are_the_only_caller_zendesks_count_agrees_with_ours(clock):
    for _ in range(3):
        budget.reserve()
    budget.record_response(200, {"X-Rate-Limit-Remaining": "17"})
    assert reserve_until_refused() == 7


def test_others_spending_the_account_leaves_us_nothing_rather_than_a_429(clock):
    budget.record_response(200, {"ratelimit-remaining": "3"})
    assert reserve_until_refused() == 0


def test_zendesks_count_holds_only_until_its_window_resets(clock):
    budget.record_response(200, {"ratelimit-remaining": "12", "ratelimit-reset": "5"})
    assert reserve_until_refused() == 2
    clock.advance(5)  # Zendesk's window is new; ours still has 8 of its 10
    assert reserve_until_refused() == 8


def test_a_refusal_for_zendesks_count_says_when_its_window_resets(clock):
    budget.record_response(200, {"ratelimit-remaining": "10", "ratelimit-reset": "7"})
    with pytest.raises(RateBudgetExhausted) as refused:
        budget.reserve()
    assert refused.value.retry_after == 7


def test_a_higher_remaining_count_from_zendesk_does_not_raise_our_share(clock):
    budget.record_response(200, {"X-Rate-Limit-Remaining": "20"})
    budget.record_response(200, {"X-Rate-Limit-Remaining": "200"})
    assert reserve_until_refused() == 10


def test_after_a_429_no_call_is_made_until_retry_after_has_passed(clock):
    budget.record_response(429, {"Retry-After": "30"})
    with pytest.raises(RateBudgetExhausted) as refused:
        budget.reserve()
    assert refused.value.retry_after == 30
    clock.advance(29)
    with pytest.raises(RateBudgetExhausted):
        budget.reserve(budget.INTERACTIVE)
    clock.advance(1)
    budget.reserve()


def test_a_429_without_retry_after_blocks_for_a_minute(clock):
    budget.record_response(429, {})
    clock.advance(59)
    with pytest.raises(RateBudgetExhausted):
        budget.reserve()
    clock.advance(1)
    budget.reserve()


def test_a_used_up_endpoint_limit_blocks_until_it_resets(clock):
    budget.record_response(
        200, {"Zendesk-RateLimit-tickets-index": "total=100; remaining=0; resets=41"}
    )
    with pytest.raises(RateBudgetExhausted):
        budget.reserve()
    clock.advance(41)
    budget.reserve()


RESERVE_SCRIPT = """
import sys
import django
django.setup()
from inbox.zendesk import budget
from inbox.zendesk.errors import RateBudgetExhausted
if sys.argv[1] == "429":
    budget.record_response(429, {"Retry-After": "120"})
    print("blocked")
else:
    granted = 0
    try:
        for _ in range(int(sys.argv[1])):
            budget.reserve()
            granted += 1
    except RateBudgetExhausted:
        pass
    print(granted)
"""


def run_in_another_process(redis_url: str, argument: str) -> str:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings_redis",
        "APP_TEST_REDIS_URL": redis_url,
        "ZENDESK_RATE_LIMIT_PER_MINUTE": "20",
        "ZENDESK_RATE_BUDGET_SHARE": "0.5",
    }
    completed = subprocess.run(
        [sys.executable, "-c", RESERVE_SCRIPT, argument],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return completed.stdout.strip()


@pytest.mark.redis
def test_processes_share_one_budget(redis_cache):
    for _attempt in range(2):  # a minute boundary between the two halves voids an attempt
        django_cache.clear()
        window = budget._window_key(budget.clock())
        granted_elsewhere = run_in_another_process(redis_cache, "3")
        granted_here = reserve_until_refused()
        if budget._window_key(budget.clock()) == window:
            break
    assert (granted_elsewhere, granted_here) == ("3", 7)


@pytest.mark.redis
def test_a_429_seen_by_one_process_stops_every_other(redis_cache):
    assert run_in_another_process(redis_cache, "429") == "blocked"
    with pytest.raises(RateBudgetExhausted) as refused:
        budget.reserve()
    assert 100 < refused.value.retry_after <= 120


def test_the_naive_proxy_has_no_budget_and_ignores_429s(clock, settings):
    """The page benchmark's baseline (ZENDESK_NAIVE_PROXY): nothing refuses, nothing learns."""
    settings.ZENDESK_NAIVE_PROXY = True
    for _ in range(50):
        budget.reserve()
    budget.record_response(429, {"Retry-After": "30"})
    budget.reserve()
    settings.ZENDESK_NAIVE_PROXY = False
    assert reserve_until_refused() == 10  # the real budget saw none of it
