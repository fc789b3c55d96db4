"""The response cache: keys, TTLs, stale-while-error, single flight and generations.

Upstream is a fake `fetch` here (a counter the test can make fail or hold); the same behaviour
over real HTTP to the sandbox is in test_services*.py. Time is a fake clock: no timed asserts.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.core.cache import cache as django_cache

from inbox.zendesk import cache
from inbox.zendesk.errors import (
    InvalidResponse,
    NotFound,
    RateBudgetExhausted,
    RateLimited,
    UpstreamUnavailable,
    ZendeskUnavailable,
)
from tests.fakes import FakeClock

ROOT = Path(__file__).resolve().parents[2]
BASE = "https://acme.zendesk.com"


@pytest.fixture
def clock(monkeypatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(cache, "clock", fake)
    return fake


@pytest.fixture(autouse=True)
def empty_cache():
    django_cache.clear()
    yield
    django_cache.clear()


class Upstream:
    """A fake Zendesk operation: counts calls; can be told to fail."""

    def __init__(self) -> None:
        self.calls = 0
        self.failure: Exception | None = None
        self.lock = threading.Lock()

    def __call__(self) -> dict:
        with self.lock:
            self.calls += 1
            calls = self.calls
        if self.failure is not None:
            raise self.failure
        return {"answer": calls}


def call(upstream: Upstream, **overrides):
    arguments = {
        "kind": "list",
        "base_url": BASE,
        "operation": "tickets_list",
        "params": {"view": "assigned", "sort": "-updated_at"},
        "user_id": 7,
        "restricted": False,
        "fetch": upstream,
    }
    arguments.update(overrides)
    return cache.cached_call(**arguments)


# -- keys ------------------------------------------------------------------------------------
def key(**overrides) -> str:
    arguments = {
        "base_url": BASE,
        "operation": "tickets_list",
        "params": {"view": "all", "sort": "id"},
        "scope": "agent:7",
        "families": [],
    }
    arguments.update(overrides)
    return cache.build_key(**arguments)


def test_it_keys_by_the_whole_request():
    assert key() == key(params={"sort": "id", "view": "all"})
    assert key() == key(params={"view": "all", "sort": "id", "after": None})
    assert key() != key(base_url="https://other.zendesk.com")
    assert key() != key(operation="tickets_count")
    assert key() != key(params={"view": "all", "sort": "-id"})
    assert key() != key(params={"view": "all", "sort": "id", "include": "users"})
    assert key() != key(scope="agent:8")
    assert key() != key(families=["tickets"])


def test_it_shares_only_what_the_caller_marks_shareable_and_never_for_a_restricted_agent():
    shared = cache.scope_for(user_id=7, restricted=False, shareable=True)
    assert shared == cache.scope_for(user_id=8, restricted=False, shareable=True)
    assert cache.scope_for(user_id=7, restricted=True, shareable=True) == "agent:7"
    assert cache.scope_for(user_id=7, restricted=False, shareable=False) == "agent:7"
    assert cache.scope_for(user_id=7, restricted=True, shareable=True) != shared


def test_it_keeps_one_agents_answer_from_another(clock):
    upstream = Upstream()
    call(upstream, user_id=7)
    answer = call(upstream, user_id=8)
    assert upstream.calls == 2
    assert answer.value == {"answer": 2}


def test_a_restricted_agent_never_reads_the_shared_copy(clock):
    upstream = Upstream()
    call(upstream, user_id=7, shareable=True)
    call(upstream, user_id=8, shareable=True)
    assert upstream.calls == 1
    answer = call(upstream, user_id=9, restricted=True, shareable=True)
    assert upstream.calls == 2
    assert answer.value == {"answer": 2}


# -- TTL and stale-while-error -------------------------------------------------------------------
def test_a_repeat_within_the_ttl_makes_no_upstream_call(clock):
    upstream = Upstream()
    first = call(upstream)
    clock.advance(cache.ttl_for("list") - 1)
    again = call(upstream)
    assert upstream.calls == 1
    assert again.value == first.value
    assert not again.stale
    assert again.age_seconds == cache.ttl_for("list") - 1


def test_it_asks_again_once_the_ttl_has_passed(clock):
    upstream = Upstream()
    call(upstream)
    clock.advance(cache.ttl_for("list") + 1)
    answer = call(upstream)
    assert upstream.calls == 2
    assert answer.value == {"answer": 2}
    assert answer.age_seconds == 0


def test_ttls_differ_by_kind_and_settings_override_them(settings):
    assert cache.ttl_for("users") > cache.ttl_for("count")
    settings.ZENDESK_CACHE_TTL_SECONDS = {"count": 5}
    assert cache.ttl_for("count") == 5


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        (UpstreamUnavailable(), "upstream_unavailable"),
        (RateLimited(retry_after=30), "rate_limited"),
        (InvalidResponse(), "invalid_response"),
        (RateBudgetExhausted(retry_after=12), "budget_exhausted"),
    ],
)
def test_when_zendesk_fails_it_serves_the_last_good_answer_marked_stale_with_its_age(
    clock, failure, reason
):
    upstream = Upstream()
    call(upstream)
    clock.advance(3600)
    upstream.failure = failure
    answer = call(upstream)
    assert answer.value == {"answer": 1}
    assert answer.stale
    assert answer.stale_reason == reason
    assert answer.stale_message
    assert answer.age_seconds == 3600


def test_when_zendesk_fails_and_nothing_is_saved_it_raises_a_clear_error(clock):
    upstream = Upstream()
    upstream.failure = RateBudgetExhausted(retry_after=12)
    with pytest.raises(cache.ZendeskUnavailable, match="no saved copy") as raised:
        call(upstream)
    assert raised.value.reason == "budget_exhausted"
    assert raised.value.retry_after == 12


def test_it_recovers_as_soon_as_zendesk_answers_again(clock):
    upstream = Upstream()
    upstream.failure = UpstreamUnavailable()
    with pytest.raises(cache.ZendeskUnavailable):
        call(upstream)
    upstream.failure = None
    assert not call(upstream).stale


def test_a_not_found_is_the_answer_even_with_a_saved_copy(clock):
    upstream = Upstream()
    call(upstream)
    clock.advance(3600)
    upstream.failure = NotFound()
    with pytest.raises(NotFound):
        call(upstream)


# -- generations -------------------------------------------------------------------------------
def test_a_bump_after_a_write_makes_the_next_read_fetch_again(clock):
    upstream = Upstream()
    call(upstream, families=["tickets:7"])
    call(upstream, families=["tickets:7"])
    assert upstream.calls == 1
    cache.bump("tickets:7")
    assert call(upstream, families=["tickets:7"]).value == {"answer": 2}
    cache.bump("someone-else")
    call(upstream, families=["tickets:7"])
    assert upstream.calls == 2


def test_an_evicted_generation_never_brings_old_answers_back(clock):
    upstream = Upstream()
    call(upstream, families=["tickets:7"])
    cache.bump("tickets:7")
    call(upstream, families=["tickets:7"])
    django_cache.delete(cache._generation_key("tickets:7"))
    clock.advance(1)
    assert call(upstream, families=["tickets:7"]).value == {"answer": 3}


# -- single flight -----------------------------------------------------------------------------
class HeldUpstream(Upstream):
    """An upstream that holds every call until released, so callers pile up on the miss."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.entered = threading.Event()

    def __call__(self) -> dict:
        self.entered.set()
        assert self.release.wait(30)
        return super().__call__()


def run_concurrently(count: int, target) -> tuple[list[threading.Thread], list]:
    """Start `count` callers and return once every one of them is under way.

    Threads start asynchronously: without the barrier a slow-starting caller can arrive after
    the leader finished and, for a failure (which is not cached), rightly call again.
    """
    results: list = [None] * count
    arrived = threading.Barrier(count + 1)

    def run(index: int) -> None:
        arrived.wait(30)
        try:
            results[index] = target()
        except Exception as error:  # the test inspects it
            results[index] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    arrived.wait(30)
    # Every caller has passed the barrier; give them a moment to find the leader's lock.
    time.sleep(0.3)
    return threads, results


def assert_single_flight() -> None:
    upstream = HeldUpstream()
    threads, results = run_concurrently(8, lambda: call(upstream))
    assert upstream.entered.wait(30)
    upstream.release.set()
    for thread in threads:
        thread.join(30)
    assert upstream.calls == 1
    assert all(result.value == {"answer": 1} for result in results)


def test_concurrent_identical_misses_make_one_upstream_call():
    assert_single_flight()


@pytest.mark.redis
def test_concurrent_identical_misses_make_one_upstream_call_on_redis(redis_cache):
    assert_single_flight()


def test_a_caller_who_missed_just_as_a_leader_finished_makes_no_second_call(clock, monkeypatch):
    upstream = Upstream()
    call(upstream)
    real = cache._cache()

    class ReadBeforeTheLeaderFinished:
        """The cache as seen by a caller whose first read happened before the answer landed."""

        def __init__(self) -> None:
            self.first_read = True

        def get(self, key, default=None):
            if self.first_read:
                self.first_read = False
                return default
            return real.get(key, default)

        def __getattr__(self, name):
            return getattr(real, name)

    late_view = ReadBeforeTheLeaderFinished()
    monkeypatch.setattr(cache, "_cache", lambda: late_view)
    assert call(upstream).value == {"answer": 1}
    assert upstream.calls == 1


def test_with_a_saved_copy_a_slow_refresh_does_not_keep_others_waiting(clock, settings):
    settings.ZENDESK_CACHE_STALE_WAIT_SECONDS = 0.05
    call(Upstream())
    clock.advance(3600)
    slow = HeldUpstream()
    leader = threading.Thread(target=lambda: call(slow))
    leader.start()
    assert slow.entered.wait(30)
    meanwhile = call(slow)
    assert (meanwhile.value, meanwhile.stale, meanwhile.stale_reason) == (
        {"answer": 1},
        True,
        "waiting",
    )
    slow.release.set()
    leader.join(30)
    assert slow.calls == 1
    assert not call(slow).stale


def test_waiters_share_the_leaders_failure_instead_of_calling_again(clock):
    upstream = HeldUpstream()
    upstream.failure = UpstreamUnavailable()
    threads, results = run_concurrently(6, lambda: call(upstream))
    assert upstream.entered.wait(30)
    upstream.release.set()
    for thread in threads:
        thread.join(30)
    assert upstream.calls == 1
    assert all(isinstance(result, cache.ZendeskUnavailable) for result in results)


CROSS_PROCESS_SCRIPT = """
import os, threading, time
import django
django.setup()
from django.core.cache import cache as shared
from inbox.zendesk import cache

def fetch():
    shared.incr("test:fetches")
    while not shared.get("test:release"):
        time.sleep(0.01)
    return {"answer": os.getpid()}

def ask(results):
    shared.incr("test:started")
    results.append(cache.cached_call(
        kind="list", base_url="https://acme.zendesk.com", operation="tickets_list",
        params={"view": "all"}, user_id=7, restricted=False, fetch=fetch,
    ).value["answer"])

results = []
threads = [threading.Thread(target=ask, args=(results,)) for _ in range(4)]
for thread in threads: thread.start()
for thread in threads: thread.join()
print(sorted(set(results)))
"""


@pytest.mark.redis
@pytest.mark.slow
def test_identical_misses_in_two_processes_make_one_upstream_call(redis_cache):
    django_cache.set("test:fetches", 0, timeout=None)
    django_cache.set("test:started", 0, timeout=None)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings_redis",
        "APP_TEST_REDIS_URL": redis_cache,
    }
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", CROSS_PROCESS_SCRIPT],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    while django_cache.get("test:started") < 8:
        assert all(process.poll() is None for process in processes)
        time.sleep(0.05)
    django_cache.set("test:release", 1, timeout=None)
    outputs = [process.communicate(timeout=60)[0] for process in processes]
    assert django_cache.get("test:fetches") == 1
    assert outputs[0] == outputs[1]  # both processes show the one leader's answer


@pytest.mark.redis
def test_answers_stale_copies_and_generations_work_the_same_on_redis(redis_cache, clock):
    upstream = Upstream()
    call(upstream, families=["tickets:7"])
    call(upstream, families=["tickets:7"])
    cache.bump("tickets:7")
    assert call(upstream, families=["tickets:7"]).value == {"answer": 2}
    clock.advance(600)
    upstream.failure = UpstreamUnavailable()
    stale = call(upstream, families=["tickets:7"])
    assert (stale.value, stale.stale, stale.age_seconds) == ({"answer": 2}, True, 600)


# -- the benchmark's switches ------------------------------------------------------------------
def test_the_naive_proxy_asks_zendesk_every_time(settings, clock):
    settings.ZENDESK_NAIVE_PROXY = True
    upstream = Upstream()
    assert call(upstream).value == {"answer": 1}
    assert call(upstream).value == {"answer": 2}
    assert upstream.calls == 2


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        (RateLimited(retry_after=30), "rate_limited"),
        (UpstreamUnavailable(), "upstream_unavailable"),
    ],
)
def test_the_naive_proxy_reports_a_refusal_as_the_views_expect(settings, clock, failure, reason):
    """Its 429s and outages reach the views as ZendeskUnavailable (a message, not a 500)."""
    settings.ZENDESK_NAIVE_PROXY = True
    upstream = Upstream()
    upstream.failure = failure
    with pytest.raises(ZendeskUnavailable) as raised:
        call(upstream)
    assert raised.value.reason == reason


def test_hits_and_misses_are_counted_only_when_asked(settings, clock):
    upstream = Upstream()
    call(upstream)
    assert django_cache.get(f"{cache.STATS_KEY}:miss") is None
    settings.ZENDESK_CACHE_STATS = True
    clock.advance(3600)  # past the TTL: the next call asks Zendesk
    call(upstream)
    call(upstream)
    call(upstream)
    assert django_cache.get(f"{cache.STATS_KEY}:miss") == 1
    assert django_cache.get(f"{cache.STATS_KEY}:hit") == 2
    clock.advance(3600)
    upstream.failure = UpstreamUnavailable("down")
    assert call(upstream).stale
    assert django_cache.get(f"{cache.STATS_KEY}:stale") == 1
    with pytest.raises(ZendeskUnavailable):
        call(upstream, user_id=8)  # nothing saved for this agent
    assert django_cache.get(f"{cache.STATS_KEY}:failed") == 1
