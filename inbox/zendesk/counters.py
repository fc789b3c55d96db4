"""Counters in the shared cache, each step one command.

Django's cache API counts in three round trips on Redis (`add` to create the counter, then
`incr`, which asks whether the key exists before INCRBY). The rate budget counts every call to
Zendesk this way, and with ZENDESK_CACHE_STATS on every cache read is counted too, so on a busy
worker those round trips, each giving up the GIL and waiting to take it back, were a visible
share of a request's time.

- On Redis, `count_up` is one Lua script that adds to the counter, creating it if absent, and
  sets its expiry when it created it
  (https://redis.io/docs/latest/develop/interact/programmability/eval-intro/). The value is
  stored as a plain integer, as Django stores integers, so `cache.get(key)` reads it.
- On a cache in this process's memory (development, tests, Redis down) it is `add` + `incr`.

Only for counters: never for keys a process keeps a near copy of (inbox/zendesk/nearcache.py),
whose writes must go through the cache API so the copy is dropped at once.
"""

from __future__ import annotations

from typing import Any

from django.core.cache import caches


def count_up(key: str, delta: int = 1, *, timeout: int | None = None) -> int:
    """Add `delta` to the counter (0 if absent, then expiring after `timeout` seconds; None:
    never) and return its new value."""
    store = caches["default"]
    if hasattr(store, "count_up"):
        return store.count_up(key, delta, timeout)
    return local_count_up(store, key, delta, timeout)


def local_count_up(store: Any, key: str, delta: int, timeout: int | None) -> int:
    """`count_up` with Django's cache API: create, then add (again if it expired between)."""
    store.add(key, 0, timeout=timeout)
    try:
        return store.incr(key, delta)
    except ValueError:  # expired or evicted between add() and incr(): start it again
        store.add(key, 0, timeout=timeout)
        return store.incr(key, delta)
