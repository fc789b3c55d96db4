"""A cache hit on Redis answered from the process's near copy, kept exact by Redis's
invalidation messages (inbox/zendesk/nearcache.py), over a real redis-server.

"Another process" is a second, independent Redis client writing the keys as Django stores
them. Waits are on the near cache's own condition, with a timeout, never a fixed sleep.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import threading

import pytest
import redis
from django.core.cache import caches

from inbox.zendesk import cache as response_cache
from inbox.zendesk import nearcache

WAIT = 10.0  # seconds; only ever reached when something is wrong

ENTRY = f"{response_cache.ENTRY_PREFIX}:tickets_count:near-test"
GENERATION = f"{response_cache.GENERATION_PREFIX}:near-test"


@pytest.fixture
def store(redis_cache):
    """The app's cache on the test Redis, its near copy listening and every invalidation of
    the fixtures' FLUSHDB heard (a late one would empty the copy in the middle of a test)."""
    backend = caches["default"]
    near = backend._cache.near_cache
    assert near is not None
    assert near.wait_for(lambda near: near.ready, WAIT), "the listener never subscribed"
    settle(backend, redis_cache)
    return backend


def settle(backend, url: str) -> None:
    """Return once the listener has heard every invalidation Redis sent it so far (this
    process's own writes are announced too, a moment later): messages come in order on its
    one connection, so once it hears of a key changed now, it has heard all of them."""
    near = backend._cache.near_cache
    barrier = backend.make_key(f"{response_cache.ENTRY_PREFIX}:barrier")
    heard: list[str] = []
    invalidate = near._invalidate

    def recording(keys):
        heard.extend(nearcache._text(key) for key in keys or ())
        invalidate(keys)

    near._invalidate = recording
    client = redis.Redis.from_url(url)
    try:
        client.set(barrier, 1)
        assert near.wait_for(lambda near: barrier in heard, WAIT), "the listener heard nothing"
    finally:
        client.close()
        del near._invalidate


def warm(backend, url: str, key: str) -> None:
    """Read `key` into the near copy, once every earlier change has been heard."""
    settle(backend, url)
    backend.get(key)
    assert backend._cache.near_cache.holds(backend.make_key(key))


@pytest.fixture
def near(store) -> nearcache.NearCache:
    return store._cache.near_cache


@pytest.fixture
def other(redis_cache, store):
    """Another process's client: writes keys as Django spells and pickles them."""
    client = redis.Redis.from_url(redis_cache)

    class Other:
        def set(self, key: str, value: object) -> None:
            client.set(store.make_key(key), pickle.dumps(value))

        def raw(self) -> redis.Redis:
            return client

    yield Other()
    client.close()


@pytest.fixture
def commands(redis_cache):
    """Commands Redis ran since a reading, by name (reading itself, and the listener's
    keep-alive PING, left out)."""
    client = redis.Redis.from_url(redis_cache)

    def read() -> dict[str, int]:
        return {
            name.removeprefix("cmdstat_"): int(row["calls"])
            for name, row in client.info("commandstats").items()
            if name not in ("cmdstat_info", "cmdstat_ping")
        }

    def since(before: dict[str, int]) -> dict[str, int]:
        return {
            name: calls - before.get(name, 0)
            for name, calls in read().items()
            if calls != before.get(name, 0)
        }

    read.since = since  # type: ignore[attr-defined]
    yield read
    client.close()


def full(store, key: str) -> str:
    return store.make_key(key)


def counted_read(user_id: int = 7) -> response_cache.CachedRead:
    return response_cache.CachedRead(
        kind="count",
        base_url="https://acme.zendesk.com",
        operation="tickets_count",
        params={"view": "assigned", "user": user_id},
        user_id=user_id,
        restricted=False,
        families=("tickets", f"agent-tickets:{user_id}"),
    )


# -- a hit without the network ---------------------------------------------------------------
def test_a_warm_hit_asks_redis_nothing(store, commands, redis_cache):
    read = counted_read()
    response_cache.cached_read_call(read, lambda: {"count": 3})
    settle(store, redis_cache)
    response_cache.cached_hits([read])  # the entry written above is read back once
    before = commands()

    answers = [response_cache.cached_hits([read])[0] for _ in range(5)]
    answer = response_cache.cached_read_call(read, lambda: pytest.fail("a hit must not fetch"))

    assert [hit.value for hit in answers] == [{"count": 3}] * 5
    assert answer.value == {"count": 3}
    assert commands.since(before) == {}


def test_with_the_near_cache_off_every_hit_is_one_mget(store, commands, settings):
    settings.REDIS_NEAR_CACHE = False
    read = counted_read()
    response_cache.cached_read_call(read, lambda: {"count": 3})
    response_cache.cached_hits([read])
    before = commands()

    for _ in range(3):
        assert response_cache.cached_hits([read])[0].value == {"count": 3}

    assert commands.since(before) == {"mget": 3}


# -- coherence -------------------------------------------------------------------------------
def test_another_process_write_is_read_once_its_invalidation_arrives(
    store, near, other, redis_cache
):
    store.set(ENTRY, "first")
    warm(store, redis_cache, ENTRY)
    assert store.get_many([ENTRY]) == {ENTRY: "first"}

    other.set(ENTRY, "second")

    assert near.wait_for(lambda near: not near.holds(full(store, ENTRY)), WAIT)
    assert store.get(ENTRY) == "second"


def test_this_process_writes_are_read_at_once(store, near):
    store.set(ENTRY, "first")
    store.add(GENERATION, 5, timeout=None)
    assert store.get_many([ENTRY, GENERATION]) == {ENTRY: "first", GENERATION: 5}

    store.set(ENTRY, "second")
    store.incr(GENERATION)
    assert store.get_many([ENTRY, GENERATION]) == {ENTRY: "second", GENERATION: 6}

    store.delete(ENTRY)
    assert store.get(ENTRY) is None
    store.set_many({ENTRY: "third"})
    assert store.get(ENTRY) == "third"


def test_what_this_process_wrote_is_kept_past_its_own_announcement(
    store, near, other, commands, redis_cache
):
    counter = f"{response_cache.GENERATION_PREFIX}:counter"
    other.raw().set(full(store, counter), 5)
    settle(store, redis_cache)

    store.set(ENTRY, "mine")
    store.add(GENERATION, 5, timeout=None)
    store.incr(counter)
    settle(store, redis_cache)  # Redis has announced each of these writes by now
    before = commands()

    found = store.get_many([ENTRY, GENERATION, counter])

    assert found == {ENTRY: "mine", GENERATION: 5, counter: 6}
    assert commands.since(before) == {}


def test_a_write_crossed_by_another_process_write_is_not_kept(
    store, near, other, monkeypatch, redis_cache
):
    client = store._cache.get_client(ENTRY, write=True)
    redis_set = client.set

    def set_crossed_by_another_write(*args, **kwargs):
        answer = redis_set(*args, **kwargs)  # ours ran ...
        other.set(ENTRY, "theirs")  # ... then theirs, and both were announced
        settle(store, redis_cache)
        return answer

    monkeypatch.setattr(client, "set", set_crossed_by_another_write)
    store.set(ENTRY, "mine")
    monkeypatch.undo()

    assert not near.holds(full(store, ENTRY))
    assert store.get(ENTRY) == "theirs"


def test_a_key_redis_does_not_hold_is_known_absent_until_it_is_written(
    store, near, other, commands
):
    assert store.get(response_cache.FEED_ALIVE_KEY) is None
    before = commands()
    assert store.get(response_cache.FEED_ALIVE_KEY) is None
    assert commands.since(before) == {}

    other.set(response_cache.FEED_ALIVE_KEY, 1.0)

    assert near.wait_for(
        lambda near: not near.holds(full(store, response_cache.FEED_ALIVE_KEY)), WAIT
    )
    assert store.get(response_cache.FEED_ALIVE_KEY) == 1.0


def test_an_answer_overtaken_by_an_invalidation_is_returned_but_not_kept(
    store, near, other, monkeypatch, redis_cache
):
    other.set(ENTRY, "old")
    settle(store, redis_cache)  # only the next write is left to cross the read
    client = store._cache.get_client(None)
    mget = client.mget

    def mget_crossed_by_another_write(keys):
        answer = mget(keys)  # Redis answered "old" ...
        other.set(ENTRY, "new")  # ... then another process wrote, and its invalidation came
        assert near.wait_for(lambda near: not near.in_flight(full(store, ENTRY)), WAIT)
        return answer

    monkeypatch.setattr(client, "mget", mget_crossed_by_another_write)
    assert store.get_many([ENTRY]) == {ENTRY: "old"}
    monkeypatch.undo()

    assert not near.holds(full(store, ENTRY))
    assert store.get_many([ENTRY]) == {ENTRY: "new"}


def test_flushdb_empties_the_near_copy(store, near, other, redis_cache):
    store.set(ENTRY, "cached")
    warm(store, redis_cache, ENTRY)

    other.raw().flushdb()

    assert near.wait_for(lambda near: len(near) == 0, WAIT)
    assert store.get(ENTRY) is None


# -- what is kept ----------------------------------------------------------------------------
def test_keys_outside_the_prefixes_are_never_kept(store, near, redis_cache):
    read = counted_read()
    response_cache.cached_read_call(read, lambda: {"count": 3})
    settle(store, redis_cache)
    others = ["zendesk:budget:window:1", "zendesk:flight:x:lock", "inbox:poll-state:x", "other"]
    for key in others:
        store.set(key, 1)
    store.get_many(others)
    for key in others:
        store.get(key)
    response_cache.cached_hits([read])

    assert len(near) > 0
    assert not [key for key in others if near.holds(full(store, key))]
    assert all(key.startswith(near.prefixes) for key in list(near._values))


def test_the_near_copy_keeps_at_most_its_bound_least_recently_used_first(
    store, near, monkeypatch, redis_cache
):
    monkeypatch.setattr(near, "max_entries", 3)
    keys = [f"{ENTRY}:{number}" for number in range(5)]
    store.set_many(dict.fromkeys(keys, "value"))
    settle(store, redis_cache)

    for key in keys:
        store.get(key)
    store.get(keys[2])  # used again: the last to go
    store.get(f"{ENTRY}:new")

    assert [near.holds(full(store, key)) for key in keys] == [False, False, True, False, True]
    assert near.holds(full(store, f"{ENTRY}:new"))
    assert len(near) == 3


def test_a_copy_is_not_kept_past_its_maximum_age(store, near, other, monkeypatch, redis_cache):
    now = [1000.0]
    monkeypatch.setattr(nearcache.time, "monotonic", lambda: now[0])
    other.set(ENTRY, "first")
    settle(store, redis_cache)
    assert store.get(ENTRY) == "first"
    # A copy whose key changed in Redis without a word (it expired, say, and Redis has not
    # deleted it yet).
    with near._lock:
        near._values[full(store, ENTRY)] = (pickle.dumps("kept"), now[0] + 10, 0)
    assert store.get(ENTRY) == "kept"

    now[0] += nearcache.MAX_AGE_SECONDS

    assert store.get(ENTRY) == "first"


# -- the listener ----------------------------------------------------------------------------
def test_without_its_listener_the_near_copy_is_bypassed_until_it_is_back(
    store, near, other, redis_cache, commands, monkeypatch
):
    store.set(ENTRY, "first")
    assert store.get(ENTRY) == "first"
    connect = near._connection_factory
    may_connect = threading.Event()

    def held_back():
        if not may_connect.is_set():
            raise redis.exceptions.ConnectionError("held back by the test")
        return connect()

    monkeypatch.setattr(near, "_connection_factory", held_back)
    other.raw().client_kill_filter(_id=near.listener_id)

    assert near.wait_for(lambda near: not near.ready, WAIT)
    assert len(near) == 0
    other.set(ENTRY, "second")  # heard by no listener: the read must go to Redis
    before = commands()
    assert store.get(ENTRY) == "second"
    assert store.get(ENTRY) == "second"
    assert commands.since(before) == {"get": 2}
    assert not near.holds(full(store, ENTRY))

    may_connect.set()
    assert near.wait_for(lambda near: near.ready, WAIT)
    assert store.get(ENTRY) == "second"
    before = commands()
    assert store.get(ENTRY) == "second"
    assert commands.since(before) == {}


# gunicorn forks its workers; the test process has threads (the listener) when it forks.
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_forked_worker_starts_with_an_empty_copy_and_a_listener_of_its_own(
    store, near, redis_cache
):
    store.set(ENTRY, "in redis")
    warm(store, redis_cache, ENTRY)
    parent_listener = near.listener_id
    read_end, write_end = os.pipe()

    pid = os.fork()
    if pid == 0:  # the worker: report what it found, then leave without pytest's cleanup
        try:
            held, _ = near.lookup([full(store, ENTRY)])
            inherited = bool(held) or len(near) > 0
            listening = near.wait_for(lambda near: near.ready, WAIT)
            report = [inherited, listening, near.listener_id, store.get(ENTRY)]
            os.write(write_end, json.dumps(report).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    os.waitpid(pid, 0)
    with os.fdopen(read_end) as reader:
        inherited, listening, child_listener, value = json.loads(reader.read())

    assert inherited is False
    assert listening is True
    assert child_listener not in (None, parent_listener)
    assert value == "in redis"


@pytest.mark.slow
@pytest.mark.django_db
def test_with_redis_stopped_the_fallback_answers_not_the_near_copy(resilient_cache):
    server = resilient_cache
    backend = caches["default"]
    near = backend._cache.near_cache
    try:
        assert near.wait_for(lambda near: near.ready, WAIT)
        backend.set(ENTRY, "in redis")
        warm(backend, server.url, ENTRY)

        server.stop()

        assert near.wait_for(lambda near: not near.ready, WAIT)
        assert backend.get(ENTRY) is None  # Redis's copy is out of reach; memory has none
        assert backend.reachable() is False
        backend.set(ENTRY, "in memory")
        assert backend.get(ENTRY) == "in memory"
    finally:
        near.close()  # no listener left calling a stopped server


def test_a_redis_that_refuses_tracking_is_told_once_and_every_read_asks_it(store, caplog):
    # Overlapping prefixes: Redis refuses this CLIENT TRACKING, as one that disables it would.
    refused = nearcache.NearCache(store._cache._listener_connection, (":1:x", ":1:xy"))
    with caplog.at_level(logging.WARNING, logger="inbox.zendesk.nearcache"):
        assert refused.lookup([":1:x1"]) == ({}, [":1:x1"])
        refused._listener.join(WAIT)

    assert not refused._listener.is_alive()
    assert not refused.ready
    assert refused.begin([":1:x1"]) is None
    warnings = [record for record in caplog.records if "refused" in record.getMessage()]
    assert len(warnings) == 1
