"""The shared cache (Redis) going away must not take the app with it.

Everything that makes a team share one view of Zendesk lives in the shared cache: answers,
single-flight locks, the rate budget, the reachability probe's status. Django's RedisCache
raises redis' ConnectionError (or TimeoutError) on every call while Redis is down, which
would turn every page into a 500. `ResilientRedisCache` is the one place that catches it:

- each call that fails goes to a cache in this process's memory instead, so pages keep
  answering (from this process's own copies, with this process's own locks);
- Redis is asked again at most every RETRY_SECONDS (not on every call, which would pay a
  connection attempt each time), and once it answers the shared cache is used again;
- one warning is logged when Redis goes away (per process and outage, never per request),
  one line when it is back;
- while Redis is away, `shared_cache_available()` is False: the rate budget divides the team's
  share among the processes that share it (`process_count()`), the cache keeps answers only
  for the short default lifetimes, and /healthz says so.

Used when REDIS_URL is set (config/settings.py). Local memory and other caches are not
wrapped: they cannot go away.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis
from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.locmem import LocMemCache

from inbox.zendesk import counters, leases
from inbox.zendesk.redis_cache import SharedPoolRedisCache

logger = logging.getLogger(__name__)

# Failures that mean "Redis cannot be reached", not "this command is wrong".
REDIS_DOWN: tuple[type[Exception], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)
# While Redis is down, it is asked again at most this often (by one thread of the process).
RETRY_SECONDS = 30.0
# Entries a process keeps on its own while Redis is down (LocMemCache culls past this).
FALLBACK_MAX_ENTRIES = 100_000

# The monotonic clock; tests may replace it.
clock: Callable[[], float] = time.monotonic


@dataclass
class _Outage:
    since: float
    retry_at: float


# Redis location -> its current outage, in this process. Django makes one cache object per
# thread, so what every thread must agree on lives here.
_outages: dict[str, _Outage] = {}
_outages_lock = threading.Lock()


def shared_cache_available() -> bool:
    """False while the configured shared cache (Redis) is unreachable from this process."""
    backend = caches["default"]
    return not isinstance(backend, ResilientRedisCache) or backend.reachable()


def process_count() -> int:
    """How many processes share the team's rate budget: web workers per instance times
    instances (WEB_CONCURRENCY x APP_INSTANCES). Without a shared counter each may spend only
    its part of the budget."""
    return max(1, settings.WEB_CONCURRENCY) * max(1, settings.APP_INSTANCES)


class ResilientRedisCache(SharedPoolRedisCache):
    """Redis (one connection pool per process) that answers from this process's memory while
    Redis is unreachable."""

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._location = server if isinstance(server, str) else ",".join(server)
        fallback_params = {
            name: params[name]
            for name in ("TIMEOUT", "KEY_PREFIX", "VERSION", "KEY_FUNCTION")
            if name in params
        }
        fallback_params["OPTIONS"] = {"MAX_ENTRIES": FALLBACK_MAX_ENTRIES}
        # LocMemCache instances of one name share their storage: every thread sees one copy.
        self._fallback = LocMemCache(f"redis-fallback:{self._location}", fallback_params)

    # -- the one place Redis failures are caught ----------------------------------------------
    def reachable(self) -> bool:
        return self._location not in _outages

    def _either(self, method: str, *args: Any, **kwargs: Any) -> Any:
        if not self._try_redis():
            return getattr(self._fallback, method)(*args, **kwargs)
        try:
            result = getattr(super(), method)(*args, **kwargs)
        except REDIS_DOWN as error:
            self._went_down(error)
            return getattr(self._fallback, method)(*args, **kwargs)
        self._came_back()
        return result

    def _either_lease(self, method: str, *args: Any) -> Any:
        """A lease step on Redis (one script), or on this process's memory while it is down."""
        local = getattr(leases, f"local_{method}")
        if not self._try_redis():
            return local(self._fallback, *args)
        try:
            result = getattr(super(), method)(*args)
        except REDIS_DOWN as error:
            self._went_down(error)
            return local(self._fallback, *args)
        self._came_back()
        return result

    def _try_redis(self) -> bool:
        """Redis is up, or down but due for another try (one thread tries; the rest wait for
        the next RETRY_SECONDS)."""
        with _outages_lock:
            outage = _outages.get(self._location)
            if outage is None:
                return True
            now = clock()
            if now < outage.retry_at:
                return False
            outage.retry_at = now + RETRY_SECONDS
            return True

    def _went_down(self, error: Exception) -> None:
        with _outages_lock:
            if self._location in _outages:
                return
            now = clock()
            _outages[self._location] = _Outage(since=now, retry_at=now + RETRY_SECONDS)
        if self._cache.near_cache is not None:  # what Redis held may not be what it holds next
            self._cache.near_cache.flush()
        logger.warning(
            "The shared cache (Redis) is unreachable (%s): this process now caches on its own, "
            "calls Zendesk on 1/%d of the team's rate budget and keeps answers only for the "
            "short default lifetimes. Redis is tried again every %d s.",
            error.__class__.__name__,
            process_count(),
            RETRY_SECONDS,
        )

    def _came_back(self) -> None:
        if self._location not in _outages:
            return
        with _outages_lock:
            outage = _outages.pop(self._location, None)
        if outage is not None:
            logger.warning(
                "The shared cache (Redis) answers again after %d s: back to the shared cache "
                "and the team's shared rate budget.",
                clock() - outage.since,
            )

    # -- the cache API, each call through _either ---------------------------------------------
    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._either("add", key, value, timeout, version)

    def get(self, key, default=None, version=None):
        return self._either("get", key, default, version)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._either("set", key, value, timeout, version)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return self._either("touch", key, timeout, version)

    def delete(self, key, version=None):
        return self._either("delete", key, version)

    def get_many(self, keys, version=None):
        return self._either("get_many", keys, version)

    def has_key(self, key, version=None):
        return self._either("has_key", key, version)

    def incr(self, key, delta=1, version=None):
        return self._either("incr", key, delta, version)

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        return self._either("set_many", data, timeout, version)

    def delete_many(self, keys, version=None):
        return self._either("delete_many", keys, version)

    def clear(self):
        return self._either("clear")

    def lease_hold(self, key, token, seconds):
        return self._either_lease("lease_hold", key, token, seconds)

    def count_up(self, key, delta, timeout):
        """A counter step on Redis (one script), or on this process's memory while it is down."""
        if not self._try_redis():
            return counters.local_count_up(self._fallback, key, delta, timeout)
        try:
            result = super().count_up(key, delta, timeout)
        except REDIS_DOWN as error:
            self._went_down(error)
            return counters.local_count_up(self._fallback, key, delta, timeout)
        self._came_back()
        return result

    def lease_release(self, key, token):
        return self._either_lease("lease_release", key, token)
