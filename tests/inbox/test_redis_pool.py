"""Redis as production runs it: one connection pool per process, whatever thread reads."""

from __future__ import annotations

import threading

import pytest
import redis
from django.core.cache import caches

from inbox.services import tickets


@pytest.fixture
def redis_counters(redis_cache, settings):
    """Connections Redis accepted and HELLO handshakes it answered so far (read on one
    connection of its own, opened before the first reading). The pool's alone: the near
    cache, whose listener is one more connection per process, is off."""
    settings.REDIS_NEAR_CACHE = False
    server = redis.Redis.from_url(redis_cache)

    def read() -> tuple[int, int]:
        connections = server.info("stats")["total_connections_received"]
        hello = server.info("commandstats").get("cmdstat_hello", {}).get("calls", 0)
        return connections, hello

    read()
    yield read
    server.close()


def test_new_threads_reuse_the_process_pool_instead_of_connecting(redis_counters):
    caches["default"].set("warm", 1)
    before = redis_counters()

    for _ in range(10):
        thread = threading.Thread(target=lambda: caches["default"].get("warm"))
        thread.start()
        thread.join()
    after = redis_counters()

    assert after == before  # the ten threads opened no connection, made no handshake


@pytest.mark.django_db
def test_counts_fetched_side_by_side_open_no_connection_once_warm(redis_counters, agent):
    tickets.ticket_counts(agent=agent)  # fills the cache, and the pool
    before = redis_counters()

    for _ in range(5):
        tickets.ticket_counts(agent=agent)  # three threads each time
    after = redis_counters()

    assert after == before


@pytest.mark.django_db
def test_a_poll_answered_from_cache_reads_the_cache_in_one_round_trip(agent, monkeypatch):
    from inbox.services import inbox

    inbox.sidebar_counts(agent=agent)  # fills the cache
    store = caches["default"]
    calls: list[str] = []
    depth = [0]

    def counted(name: str):
        original = getattr(store, name)

        def call(*args, **kwargs):
            if depth[0] == 0:  # local memory's get_many calls its own get: one round trip
                calls.append(name)
            depth[0] += 1
            try:
                return original(*args, **kwargs)
            finally:
                depth[0] -= 1

        return call

    for name in ("get", "get_many", "set", "add", "incr", "touch"):
        monkeypatch.setattr(store, name, counted(name))

    answer = inbox.sidebar_counts(agent=agent)

    assert answer.badges["assigned"].value is not None
    assert calls == ["get_many"]


# -- round trips -------------------------------------------------------------------------------
@pytest.fixture
def redis_commands(redis_cache, settings):
    """Commands Redis ran so far, by name (its own counters; the reading itself left out).
    The round trips of a read that asks Redis: the near cache is off (a hit that asks Redis
    nothing is in test_redis_near_cache.py)."""
    settings.REDIS_NEAR_CACHE = False
    server = redis.Redis.from_url(redis_cache)

    def read() -> dict[str, int]:
        stats = server.info("commandstats")
        return {
            name.removeprefix("cmdstat_"): int(row["calls"])
            for name, row in stats.items()
            if name != "cmdstat_info"
        }

    def since(before: dict[str, int]) -> dict[str, int]:
        after = read()
        return {
            name: calls - before.get(name, 0)
            for name, calls in after.items()
            if calls != before.get(name, 0)
        }

    read.since = since  # type: ignore[attr-defined]
    yield read
    server.close()


def cached_read(families: tuple[str, ...] = ("tickets", "agent-tickets:7"), user_id: int = 7):
    from inbox.zendesk import cache

    return cache.CachedRead(
        kind="count",
        base_url="https://acme.zendesk.com",
        operation="tickets_count",
        params={"view": "assigned", "user": user_id},
        user_id=user_id,
        restricted=False,
        families=families,
    )


def call_through(read, fetch):
    from inbox.zendesk import cache

    return cache.cached_read_call(read, fetch)


def test_a_cache_hit_is_one_round_trip_to_redis(redis_commands):
    read = cached_read()
    call_through(read, lambda: {"count": 3})
    before = redis_commands()

    answer = call_through(read, lambda: pytest.fail("a hit must not fetch"))

    assert answer.value == {"count": 3}
    assert redis_commands.since(before) == {"mget": 1}


def test_several_hits_are_read_in_one_round_trip_and_a_bump_makes_exactly_its_entries_miss(
    redis_commands,
):
    from inbox.zendesk import cache

    reads = [cached_read(user_id=7), cached_read(user_id=8, families=("tickets", "other"))]
    for number, read in enumerate(reads):
        call_through(read, lambda number=number: {"count": number})
    before = redis_commands()

    hits = cache.cached_hits(reads)

    assert [hit.value for hit in hits] == [{"count": 0}, {"count": 1}]
    assert redis_commands.since(before) == {"mget": 1}
    cache.bump("agent-tickets:7")
    assert [hit is None for hit in cache.cached_hits(reads)] == [True, False]
    assert call_through(reads[0], lambda: {"count": 9}).value == {"count": 9}
    assert [hit.value for hit in cache.cached_hits(reads)] == [{"count": 9}, {"count": 1}]


@pytest.mark.django_db
def test_the_three_counts_answered_from_cache_are_one_round_trip(redis_commands, agent):
    tickets.ticket_counts(agent=agent)  # fills the cache
    before = redis_commands()

    counts = tickets.ticket_counts(agent=agent)

    assert all(count.value is not None for count in counts.values())
    assert redis_commands.since(before) == {"mget": 1}
