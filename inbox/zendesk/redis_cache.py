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
"""

from __future__ import annotations

import threading
from typing import Any

from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from django.utils.functional import cached_property

_clients: dict[tuple[Any, ...], SharedRedisCacheClient] = {}
_clients_lock = threading.Lock()


class SharedRedisCacheClient(RedisCacheClient):
    """RedisCacheClient that keeps one redis.Redis object per pool instead of one per command."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._redis_clients: dict[int, Any] = {}
        self._redis_clients_lock = threading.Lock()

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        pool = self._get_connection_pool(write)
        with self._redis_clients_lock:
            client = self._redis_clients.get(id(pool))
            if client is None:
                client = self._redis_clients[id(pool)] = self._client(connection_pool=pool)
            return client


def _client_key(servers: list[str], options: dict[str, Any]) -> tuple[Any, ...]:
    return (tuple(servers), repr(sorted(options.items())))


def shared_client(servers: list[str], options: dict[str, Any]) -> SharedRedisCacheClient:
    """The one RedisCacheClient (and so one pool per server) of this process for these servers."""
    key = _client_key(servers, options)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = SharedRedisCacheClient(servers, **options)
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


class SharedPoolRedisCache(RedisCache):
    """RedisCache whose client (and connection pool) is shared by all threads of the process,
    with leases taken and renewed atomically (inbox.zendesk.leases)."""

    @cached_property
    def _cache(self) -> SharedRedisCacheClient:
        return shared_client(self._servers, self._options)

    def lease_hold(self, key: str, token: str, seconds: int) -> bool:
        """Take the lease if free or renew it if `token` holds it, in one Lua script."""
        return bool(self._lease_script(LEASE_HOLD_SCRIPT, key, token, int(seconds * 1000)))

    def lease_release(self, key: str, token: str) -> bool:
        return bool(self._lease_script(LEASE_RELEASE_SCRIPT, key, token))

    def _lease_script(self, script: str, key: str, token: str, *args: Any) -> Any:
        # The token is stored as Django stores it, so `get(key)` still reads the holder.
        full_key = self.make_and_validate_key(key)
        client = self._cache.get_client(full_key, write=True)
        serialized = self._cache._serializer.dumps(token)
        return client.eval(script, 1, full_key, serialized, *args)
