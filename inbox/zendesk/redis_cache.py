"""Django's Redis cache with one connection pool per process, shared by every thread.

Django keeps one cache backend object per thread (`django.core.cache.caches` is thread-local)
and its RedisCache builds its connection pool inside that object. Every thread that touches
the cache (each worker thread, and each short-lived thread that fetches counts side by side)
therefore opened its own pool and its own connections, paying a TCP connect and a `HELLO`
handshake before its first read. redis-py's ConnectionPool is thread-safe and re-creates its
connections after a fork, so one pool per process and server list is the right depth: the
backend objects stay per thread, the client under them is shared.

Django also builds a new `redis.Redis` object around the pool for every command; that object is
thread-safe too (it checks a connection out of the pool per command), so one per pool is kept.

Reads of the response cache's entries, generations and feed mark are answered from a copy in
the process, kept exact by Redis's invalidation messages (inbox/zendesk/nearcache.py), unless
REDIS_NEAR_CACHE is off.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from django.utils.functional import cached_property

from inbox.zendesk import nearcache

_clients: dict[tuple[Any, ...], SharedRedisCacheClient] = {}
_clients_lock = threading.Lock()


class SharedRedisCacheClient(RedisCacheClient):
    """RedisCacheClient that keeps one redis.Redis object per pool instead of one per command,
    and a near copy of the keys under `near_prefixes` (full Redis keys) when there are any."""

    def __init__(self, *args: Any, near_prefixes: tuple[str, ...] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._redis_clients: dict[int, Any] = {}
        self._redis_clients_lock = threading.Lock()
        # With several servers reads go to replicas; the copy is kept for one server only.
        self.near_cache = (
            nearcache.NearCache(
                self._listener_connection,
                near_prefixes,
                max_entries=getattr(
                    settings, "REDIS_NEAR_CACHE_MAX_ENTRIES", nearcache.DEFAULT_MAX_ENTRIES
                ),
            )
            if near_prefixes and len(self._servers) == 1
            else None
        )

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        pool = self._get_connection_pool(write)
        with self._redis_clients_lock:
            client = self._redis_clients.get(id(pool))
            if client is None:
                client = self._redis_clients[id(pool)] = self._client(connection_pool=pool)
            return client

    def _listener_connection(self) -> Any:
        """A connection of its own for the near cache's listener: the pool's server, address and
        credentials, in RESP2 (invalidations as messages on a channel), no health-check PING
        slipped between its messages, and none of the pool's RESP3-only maintenance
        notifications."""
        pool = self._get_connection_pool(True)
        options = {
            **{
                name: value
                for name, value in pool.connection_kwargs.items()
                if not name.startswith(("maint_notifications_", "orig_"))
            },
            "protocol": 2,
            "health_check_interval": 0,
            "client_name": nearcache.LISTENER_NAME,
        }
        return pool.connection_class(**options)

    def _near(self) -> nearcache.NearCache | None:
        if self.near_cache is None or not getattr(settings, "REDIS_NEAR_CACHE", True):
            return None
        return self.near_cache

    def _dropping(self, keys: Iterable[str]) -> _Dropping:
        return _Dropping(self.near_cache, keys)

    # -- reads: from the near copy when it holds the key, else one command ---------------------
    def get(self, key: Any, default: Any) -> Any:
        found = self._read([key], lambda missing: [self.get_client(key).get(missing[0])])
        value = found.get(key)
        return default if value is None else self._serializer.loads(value)

    def get_many(self, keys: Any) -> dict[Any, Any]:
        keys = list(keys)
        found = self._read(keys, lambda missing: self.get_client(None).mget(missing))
        return {
            key: self._serializer.loads(found[key]) for key in keys if found.get(key) is not None
        }

    def _read(self, keys: list[str], command: Any) -> dict[str, bytes | None]:
        """Raw values: those the near copy holds, the rest in ONE command (kept when no change
        to them was announced while it was out)."""
        near = self._near()
        if near is None:
            return dict(zip(keys, command(keys), strict=True))
        found, missing = near.lookup(keys)
        if missing:
            fetch = near.begin(missing)
            values = None
            try:
                values = dict(zip(missing, command(missing), strict=True))
            finally:
                near.finish(fetch, values)
            found.update(values)
        return found

    # -- writes: the near copy is dropped before; what a SET, ADD or INCR wrote is kept after --
    def add(self, key: Any, value: Any, timeout: Any) -> bool:
        def kept(added: bool) -> Any:
            return self._raw(value) if added and timeout != 0 else nearcache.UNKNOWN

        return self._write(key, functools.partial(super().add, key, value, timeout), kept, timeout)

    def set(self, key: Any, value: Any, timeout: Any) -> None:
        def kept(_: None) -> Any:
            return self._raw(value) if timeout != 0 else nearcache.UNKNOWN

        self._write(key, functools.partial(super().set, key, value, timeout), kept, timeout)

    def incr(self, key: Any, delta: int) -> int:
        def kept(result: int) -> Any:
            return str(result).encode()

        return self._write(key, functools.partial(super().incr, key, delta), kept, None)

    def _write(self, key: str, command: Any, kept: Any, timeout: float | None) -> Any:
        """Run a write of one key, keeping in the near copy what it left in Redis."""
        near = self.near_cache
        if near is None or not near.keeps(key):
            return command()
        write = near.begin_write(key)
        raw = nearcache.UNKNOWN
        try:
            result = command()
            raw = kept(result)
            return result
        finally:
            near.finish_write(write, raw, timeout)

    def _raw(self, value: Any) -> bytes:
        """The bytes Redis holds for `value` as Django stores it (integers as their digits)."""
        dumped = self._serializer.dumps(value)
        return dumped if isinstance(dumped, bytes) else str(dumped).encode()

    def touch(self, key: Any, timeout: Any) -> bool:
        with self._dropping([key]):
            return super().touch(key, timeout)

    def delete(self, key: Any) -> bool:
        with self._dropping([key]):
            return super().delete(key)

    def set_many(self, data: dict[Any, Any], timeout: Any) -> None:
        with self._dropping(data):
            super().set_many(data, timeout)

    def delete_many(self, keys: Any) -> None:
        with self._dropping(keys):
            super().delete_many(keys)

    def clear(self) -> bool:
        try:
            return super().clear()
        finally:
            if self.near_cache is not None:
                self.near_cache.flush()


class _Dropping:
    """Drop the near copy of some keys around a write it does not keep: before, so no read
    after the write starts can find the old value here; after, so a read whose MGET crossed
    the write keeps nothing."""

    def __init__(self, near: nearcache.NearCache | None, keys: Iterable[str]) -> None:
        self._near = near
        self._keys = [key for key in keys if near is not None and near.keeps(key)]

    def __enter__(self) -> None:
        if self._keys:
            self._near.drop(self._keys)

    def __exit__(self, *exc_info: object) -> None:
        if self._keys:
            self._near.drop(self._keys)


def _client_key(servers: list[str], options: dict[str, Any], prefixes: tuple[str, ...]) -> tuple:
    return (tuple(servers), repr(sorted(options.items())), prefixes)


def shared_client(
    servers: list[str], options: dict[str, Any], near_prefixes: tuple[str, ...] = ()
) -> SharedRedisCacheClient:
    """The one RedisCacheClient (and so one pool per server) of this process for these servers."""
    key = _client_key(servers, options, near_prefixes)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = SharedRedisCacheClient(
                servers, near_prefixes=near_prefixes, **options
            )
        return client


# Take the lease if free, renew it if ours: one step (KEYS[1] lease, ARGV token, milliseconds).
LEASE_HOLD_SCRIPT = """
local held = redis.call('GET', KEYS[1])
if held == ARGV[1] then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return 1
end
if held then
    return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""
# Let go of the lease only if ours.
LEASE_RELEASE_SCRIPT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""


# Add to a counter, creating it if absent; set its expiry when this call created it
# (KEYS[1] counter, ARGV delta and seconds, 0 for none).
COUNT_UP_SCRIPT = """
local value = redis.call('INCRBY', KEYS[1], ARGV[1])
if value == tonumber(ARGV[1]) and tonumber(ARGV[2]) > 0 then
    redis.call('EXPIRE', KEYS[1], ARGV[2])
end
return value
"""


class SharedPoolRedisCache(RedisCache):
    """RedisCache whose client (and connection pool) is shared by all threads of the process,
    with leases taken and renewed atomically (inbox.zendesk.leases)."""

    @cached_property
    def _cache(self) -> SharedRedisCacheClient:
        return shared_client(self._servers, self._options, self._near_prefixes())

    def _near_prefixes(self) -> tuple[str, ...]:
        """The response cache's near-cached prefixes as Redis spells them (KEY_PREFIX and
        VERSION in front); none when a KEY_FUNCTION makes them no prefixes of the keys."""
        from inbox.zendesk.cache import NEAR_CACHE_PREFIXES  # the cache module imports this one

        full = tuple(self.make_key(prefix) for prefix in NEAR_CACHE_PREFIXES)
        probes = (self.make_key(f"{prefix}probe") for prefix in NEAR_CACHE_PREFIXES)
        if all(probe.startswith(prefix) for probe, prefix in zip(probes, full, strict=True)):
            return full
        return ()

    def lease_hold(self, key: str, token: str, seconds: int) -> bool:
        """Take the lease if free or renew it if `token` holds it, in one Lua script."""
        return bool(self._lease_script(LEASE_HOLD_SCRIPT, key, token, int(seconds * 1000)))

    def lease_release(self, key: str, token: str) -> bool:
        return bool(self._lease_script(LEASE_RELEASE_SCRIPT, key, token))

    def count_up(self, key: str, delta: int, timeout: int | None) -> int:
        """Add to a counter in one script (inbox.zendesk.counters)."""
        full_key = self.make_and_validate_key(key)
        client = self._cache.get_client(full_key, write=True)
        return int(client.eval(COUNT_UP_SCRIPT, 1, full_key, delta, int(timeout or 0)))

    def _lease_script(self, script: str, key: str, token: str, *args: Any) -> Any:
        # The token is stored as Django stores it, so `get(key)` still reads the holder.
        full_key = self.make_and_validate_key(key)
        client = self._cache.get_client(full_key, write=True)
        serialized = self._cache._serializer.dumps(token)
        return client.eval(script, 1, full_key, serialized, *args)
