"""Redis as production runs it: one connection pool per process, whatever thread reads."""

from __future__ import annotations

import threading

import pytest
import redis
from django.core.cache import caches

from inbox.services import tickets


@pytest.fixture
def redis_counters(redis_cache):
    """Connections Redis accepted and HELLO handshakes it answered so far (read on one
    connection of its own, opened before the first reading)."""
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
