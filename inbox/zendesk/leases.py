"""Leases in the shared cache: one holder at a time, taken, renewed and let go atomically.

A lease (e.g. the deployment's one change feed) is a key holding its holder's token for a
while. Taking it when free and renewing it when it is still ours must be one step: with a
read and then a write, a holder whose lease expires between the two would extend (or
overwrite) the lease another holder has just taken, and both would believe they hold it.

- On Redis, each step is one Lua script, which Redis runs atomically
  (https://redis.io/docs/latest/develop/interact/programmability/eval-intro/): compare the
  token and extend the expiry, or set it only if absent; compare and delete to let go.
- On a cache in this process's memory (development, or Redis down), a lock makes the read and
  the write one step; such a cache has only this process's holders to keep apart.
"""

from __future__ import annotations

import threading
from typing import Any

from django.core.cache import caches

_local_lock = threading.Lock()


def lease_hold(key: str, token: str, seconds: int) -> bool:
    """Take the lease if it is free, or renew it if `token` holds it; False if another does.

    Renewing restarts the `seconds`; a lease that expired and was taken by another is theirs.
    """
    store = caches["default"]
    if hasattr(store, "lease_hold"):
        return store.lease_hold(key, token, seconds)
    return local_lease_hold(store, key, token, seconds)


def lease_release(key: str, token: str) -> bool:
    """Let go of the lease if `token` holds it (never another holder's); True if it did."""
    store = caches["default"]
    if hasattr(store, "lease_release"):
        return store.lease_release(key, token)
    return local_lease_release(store, key, token)


def local_lease_hold(store: Any, key: str, token: str, seconds: int) -> bool:
    """`lease_hold` for a cache in this process's memory: the lock makes it one step."""
    with _local_lock:
        if store.add(key, token, timeout=seconds):
            return True
        if store.get(key) == token:
            store.set(key, token, timeout=seconds)
            return True
        return False


def local_lease_release(store: Any, key: str, token: str) -> bool:
    with _local_lock:
        if store.get(key) != token:
            return False
        store.delete(key)
        return True
