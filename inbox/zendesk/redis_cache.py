"""Django's Redis cache with one connection pool per process, shared by every thread.

Django keeps one cache backend object per thread (`django.core.cache.caches` is thread-local)
and its RedisCache builds its connection pool inside that object. Every thread that touches
the cache (each worker thread, and each short-lived thread that fetches counts side by side)
therefore opened its own pool and its own connections, paying a TCP connect and a `HELLO`
handshake before its first read. redis-py's ConnectionPool is thread-safe and re-creates its
connections after a fork, so one pool per process and server list is the right depth: the
backend objects stay per thread, the client under them is shared.
"""

from __future__ import annotations

import threading
from typing import Any

from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from django.utils.functional import cached_property

_clients: dict[tuple[Any, ...], RedisCacheClient] = {}
_clients_lock = threading.Lock()


def _client_key(servers: list[str], options: dict[str, Any]) -> tuple[Any, ...]:
    return (tuple(servers), repr(sorted(options.items())))


def shared_client(servers: list[str], options: dict[str, Any]) -> RedisCacheClient:
    """The one RedisCacheClient (and so one pool per server) of this process for these servers."""
    key = _client_key(servers, options)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = RedisCacheClient(servers, **options)
        return client


class SharedPoolRedisCache(RedisCache):
    """RedisCache whose client (and connection pool) is shared by all threads of the process."""

    @cached_property
    def _cache(self) -> RedisCacheClient:
        return shared_client(self._servers, self._options)
