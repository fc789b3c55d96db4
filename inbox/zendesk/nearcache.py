"""A copy in each process of what it read from Redis, kept exact by Redis itself.

A cache hit on Redis is one MGET, but a thread that waits on a socket gives up the GIL and,
while other threads compute, waits up to the switch interval (5 ms) to take it back: with a
busy worker a Redis hit cost milliseconds more than a local-memory one. A hit that needs no
network at all closes that gap. This module keeps, per process, the raw values this process
read or wrote under a few key prefixes (the response cache's entries, the generations of their families
and the change feed's mark: `inbox.zendesk.cache.NEAR_CACHE_PREFIXES`) and answers reads of
them from memory.

It stays exact through Redis's server-assisted client-side caching
(https://redis.io/docs/latest/develop/reference/client-side-caching/), which Redis 6 and
later offer (redis-py's own client-side cache needs Redis 7.4):

- **One listener connection per process** (RESP2) subscribes to `__redis__:invalidate` after
  turning tracking on for itself in broadcasting mode (`CLIENT TRACKING ON REDIRECT <own id>
  BCAST PREFIX ...`). Redis then tells it the name of every key under those prefixes that any
  client changes, deletes, or that expires or is evicted, and a null list on FLUSHDB/FLUSHALL.
  Broadcasting mode rather than default tracking with REDIRECT on the pool's connections:
  default mode would need every pooled connection to be set up for tracking and re-pointed at
  each new listener, and costs Redis a table of every key each process ever read; broadcasting
  costs it one entry per prefix, and the prefixes already name exactly what may be kept. Locks,
  single-flight outcomes, budget counters, leases and sessions live under other prefixes and are
  never kept here.
- **A read** is answered from the copy when it holds the key (its value, or that Redis had no
  such key). Keys it does not hold go to Redis in one MGET, as before, and are kept only if no
  invalidation for them arrived while the MGET was out: a key is marked in flight before the
  command is sent, an invalidation (or this process's own write) clears the mark, and a value
  whose mark is gone is returned but not kept.
- **This process's writes** drop the key before the command is sent, so no thread reads the
  old value once a write has begun, and a thread reads its own writes at once. What a SET, a
  successful ADD or an INCR wrote is then kept, as Redis announces that write too: kept only if
  at most one invalidation for the key arrived while the command was out (ours, or one of a
  write Redis ran before ours), and then the next one is let pass if none had come (it is
  ours, or one before ours, after which ours drops the copy); every later one drops it. Other
  writes (delete, touch, several keys at once) just drop the key, after the command too.
  Other processes' writes drop it when their invalidation arrives: normally well under a
  millisecond, up to a GIL switch interval when the process is busy computing.
- **Until the listener is subscribed, or once its connection is lost**, the copy is emptied and
  every read goes to Redis as if there were no copy; it is used again once a new listener is
  subscribed. The listener pings Redis when it has heard nothing for PING_SECONDS, so a
  connection that died silently is noticed within two of those.
- **Bounded**: at most `REDIS_NEAR_CACHE_MAX_ENTRIES` keys (least recently used go first), each
  kept at most MAX_AGE_SECONDS (or a write's own timeout when shorter). Redis announces an expiry only when it deletes the key, which for
  a key nobody reads can be long after it expired; the age limit bounds how long a copy outlives
  its key's expiry (the feed's mark, which lives 30 s, is the only such key that matters).
- **After a fork** (gunicorn's workers) the child's copy is emptied and it starts its own
  listener on its first read.

Values are kept as the bytes Redis returned and unpickled on every read, as Redis and local
memory do, so a caller that changes what it was given changes nobody else's copy. The copy
holds exactly what Redis holds under the same keys: it can never show an agent anything Redis
would not have shown them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import redis

logger = logging.getLogger(__name__)

CHANNEL = "__redis__:invalidate"
LISTENER_NAME = "agent-inbox-near-cache"
LISTENER_THREAD_NAME = "redis-near-cache-listener"
# A copy is kept at most this long, whatever Redis says (see the module docstring).
MAX_AGE_SECONDS = 10.0
# The listener pings after this long without a message, and gives the connection up when the
# ping has had no answer after as long again.
PING_SECONDS = 5.0
# After losing its connection, the listener tries again this often.
RECONNECT_SECONDS = 1.0
# Entries are whole answers (a list page pickles to some kilobytes): 10,000 keep a team's
# working set in tens of megabytes per process; past it the least recently used go to Redis.
DEFAULT_MAX_ENTRIES = 10_000
# What a write left in Redis when the client cannot tell (a failed or refused command).
UNKNOWN = object()

_bypass = threading.local()


@contextlib.contextmanager
def near_cache_bypassed() -> Iterator[None]:
    """Reads in this block (this thread) go to Redis whatever this process's copy holds."""
    previous = getattr(_bypass, "active", False)
    _bypass.active = True
    try:
        yield
    finally:
        _bypass.active = previous


def bypassed() -> bool:
    return getattr(_bypass, "active", False)


@dataclass(frozen=True)
class Fetch:
    """Keys one MGET went to Redis for, the mark they carry while it is out, and the epoch
    (the copy's generation: every flush starts a new one) it was sent in."""

    keys: tuple[str, ...]
    mark: object
    epoch: int


@dataclass(frozen=True)
class Write:
    """One write of this process to a key: its mark (with the invalidations heard for the key
    since it was sent) and the epoch it was sent in."""

    key: str
    mark: object
    epoch: int


class NearCache:
    """This process's copy of the keys under `prefixes` on one Redis, kept coherent by a
    listener thread (see the module docstring)."""

    def __init__(
        self,
        connection_factory: Callable[[], redis.Connection],
        prefixes: tuple[str, ...],
        max_entries: int = DEFAULT_MAX_ENTRIES,
    ) -> None:
        self._connection_factory = connection_factory
        self.prefixes = prefixes
        self.max_entries = max(1, max_entries)
        self._start(os.getpid())

    def _start(self, pid: int) -> None:
        # Fresh state: also what a forked child does, without touching the parent's lock (it
        # may have been held by a thread that does not exist in the child).
        self._pid = pid
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        # key -> (raw value or None for "no such key", expires at (monotonic), invalidations
        # to let pass: 1 for a value this process wrote whose own announcement is still due)
        self._values: OrderedDict[str, tuple[bytes | None, float, int]] = OrderedDict()
        self._in_flight: dict[str, object] = {}
        self._writes: dict[str, list[Any]] = {}  # key -> [mark, invalidations heard since]
        self._epoch = 0
        self._ready = False
        self._listener: threading.Thread | None = None
        self._stop = threading.Event()
        self.listener_id: int | None = None

    # -- what the Redis client asks ------------------------------------------------------------
    def keeps(self, key: str) -> bool:
        return key.startswith(self.prefixes)

    def lookup(self, keys: Iterable[str]) -> tuple[dict[str, bytes | None], list[str]]:
        """The raw values held for `keys` (None: Redis has no such key), and the keys that must
        be read from Redis. Everything must be read from Redis while the listener is not
        subscribed, or in a `near_cache_bypassed()` block."""
        keys = list(keys)
        if not any(key.startswith(self.prefixes) for key in keys):
            return {}, keys  # nothing this copy keeps: no listener needed either
        self._listen()
        if not self._ready or bypassed():
            return {}, keys
        held: dict[str, bytes | None] = {}
        missing: list[str] = []
        now = time.monotonic()
        with self._lock:
            for key in keys:
                kept = self._values.get(key)
                if kept is not None and now < kept[1]:
                    self._values.move_to_end(key)
                    held[key] = kept[0]
                else:
                    if kept is not None:
                        del self._values[key]
                    missing.append(key)
        return held, missing

    def begin(self, keys: Iterable[str]) -> Fetch | None:
        """Mark the keys this process may keep as in flight, before their MGET is sent."""
        if not self._ready or bypassed():
            return None
        kept = tuple(key for key in keys if self.keeps(key))
        if not kept:
            return None
        mark = object()
        with self._lock:
            if not self._ready:
                return None
            for key in kept:
                self._in_flight[key] = mark
            return Fetch(keys=kept, mark=mark, epoch=self._epoch)

    def finish(self, fetch: Fetch | None, values: dict[str, bytes | None] | None) -> None:
        """Keep what the MGET answered for each key still marked by it (no invalidation, no
        write of ours, no flush since `begin`); `values` None when the MGET failed."""
        if fetch is None:
            return
        now = time.monotonic()
        with self._lock:
            current = self._ready and fetch.epoch == self._epoch
            for key in fetch.keys:
                if self._in_flight.get(key) is not fetch.mark:
                    continue
                del self._in_flight[key]
                if current and values is not None:
                    self._keep(key, values.get(key), now + MAX_AGE_SECONDS, let_pass=0)

    def begin_write(self, key: str) -> Write:
        """Forget the key before this process's write of it is sent, and count the
        invalidations of it heard from now on."""
        mark = object()
        with self._lock:
            self._values.pop(key, None)
            self._in_flight.pop(key, None)
            self._writes[key] = [mark, 0]
            return Write(key=key, mark=mark, epoch=self._epoch)

    def finish_write(self, write: Write, raw: Any, seconds: float | None) -> None:
        """Keep what the write left in Redis (`raw`; UNKNOWN: nothing), for at most `seconds`
        (its timeout), if at most one invalidation of the key came while it was out (see the
        module docstring). Forgotten otherwise, as after any write."""
        now = time.monotonic()
        with self._lock:
            self._values.pop(write.key, None)
            self._in_flight.pop(write.key, None)
            mine = self._writes.get(write.key)
            if mine is None or mine[0] is not write.mark:
                return  # flushed, or another write of ours to it since: that one decides
            del self._writes[write.key]
            heard = mine[1]
            current = self._ready and write.epoch == self._epoch
            if not current or raw is UNKNOWN or heard > 1:
                return
            age = MAX_AGE_SECONDS if seconds is None else min(MAX_AGE_SECONDS, seconds)
            self._keep(write.key, raw, now + age, let_pass=1 - heard)

    def _keep(self, key: str, raw: Any, expires_at: float, *, let_pass: int) -> None:
        self._values[key] = (raw, expires_at, let_pass)
        self._values.move_to_end(key)
        while len(self._values) > self.max_entries:
            self._values.popitem(last=False)

    def drop(self, keys: Iterable[str]) -> None:
        """Forget these keys (this process changes them in a way it does not keep)."""
        with self._lock:
            for key in keys:
                self._values.pop(key, None)
                self._in_flight.pop(key, None)
                self._writes.pop(key, None)
            self._changed.notify_all()

    def heard(self, keys: Iterable[str]) -> None:
        """Redis says these keys changed: forget them (but let pass the one announcement a
        value this process wrote still waits for), and count it for writes still out."""
        with self._lock:
            for key in keys:
                kept = self._values.get(key)
                if kept is not None and kept[2] > 0:
                    self._values[key] = (kept[0], kept[1], kept[2] - 1)
                else:
                    self._values.pop(key, None)
                self._in_flight.pop(key, None)
                mine = self._writes.get(key)
                if mine is not None:
                    mine[1] += 1
            self._changed.notify_all()

    def flush(self) -> None:
        """Forget everything, and every MGET now out."""
        with self._lock:
            self._flush_locked()

    def _flush_locked(self) -> None:
        self._values.clear()
        self._in_flight.clear()
        self._writes.clear()
        self._epoch += 1
        self._changed.notify_all()

    # -- for tests and operators ---------------------------------------------------------------
    @property
    def ready(self) -> bool:
        """The listener is subscribed: reads may be answered from the copy."""
        return self._ready

    def holds(self, key: str) -> bool:
        return key in self._values  # one dict lookup: no lock (also called under it)

    def in_flight(self, key: str) -> bool:
        """An MGET that may keep this key is out (no invalidation or write of ours since)."""
        return key in self._in_flight

    def __len__(self) -> int:
        return len(self._values)

    def wait_for(self, condition: Callable[[NearCache], bool], timeout: float) -> bool:
        """Wait (at most `timeout` s) until `condition(self)` holds; checked on every change.
        The listener is started first if it is not running."""
        self._listen()
        deadline = time.monotonic() + timeout
        with self._changed:
            while not condition(self):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(remaining)
            return True

    def close(self) -> None:
        """Stop the listener for good (its connection closes; the copy is emptied and every
        read asks Redis)."""
        self._stop.set()
        listener = self._listener
        if listener is not None and listener is not threading.current_thread():
            listener.join(timeout=RECONNECT_SECONDS + PING_SECONDS)

    # -- the listener ---------------------------------------------------------------------------
    def _listen(self) -> None:
        """Start this process's listener if it is not running (first read, or after a fork)."""
        pid = os.getpid()
        if pid != self._pid:
            self._start(pid)
        if self._listener is not None or self._stop.is_set():
            return
        with self._lock:
            if self._listener is None:
                self._listener = threading.Thread(
                    target=self._run, name=LISTENER_THREAD_NAME, daemon=True
                )
                self._listener.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            connection = None
            try:
                connection = self._subscribe()
                self._set_ready(True)
                self._read_until_lost(connection)
            except redis.exceptions.ResponseError as error:
                # A Redis that refuses CLIENT TRACKING (before 6, or a host that disables it)
                # will refuse it again: stop here, every read asks Redis.
                logger.warning(
                    "Redis refused client-side caching (%s): every cache read asks Redis. "
                    "Set REDIS_NEAR_CACHE=false to stop trying.",
                    error,
                )
                self._stop.set()
            except (redis.exceptions.RedisError, OSError, ValueError) as error:
                logger.debug("near cache listener lost its connection: %r", error)
            finally:
                self._set_ready(False)
                if connection is not None:
                    connection.disconnect()
            self._stop.wait(RECONNECT_SECONDS)

    def _subscribe(self) -> redis.Connection:
        connection = self._connection_factory()
        connection.connect()
        connection.send_command("CLIENT", "ID")
        self.listener_id = int(connection.read_response())
        tracking = ["CLIENT", "TRACKING", "ON", "REDIRECT", self.listener_id, "BCAST"]
        for prefix in self.prefixes:
            tracking += ["PREFIX", prefix]
        connection.send_command(*tracking)
        connection.read_response()
        connection.send_command("SUBSCRIBE", CHANNEL)
        reply = connection.read_response()
        if not (isinstance(reply, list) and _text(reply[0]) == "subscribe"):
            raise redis.exceptions.ConnectionError(f"unexpected answer to SUBSCRIBE: {reply!r}")
        return connection

    def _read_until_lost(self, connection: redis.Connection) -> None:
        ping_unanswered = False
        while not self._stop.is_set():
            if not connection.can_read(timeout=PING_SECONDS):
                if ping_unanswered:
                    raise redis.exceptions.ConnectionError("no answer to PING")
                connection.send_command("PING")
                ping_unanswered = True
                continue
            message = connection.read_response()
            kind = _text(message[0]) if isinstance(message, list) and message else ""
            if kind == "pong":
                ping_unanswered = False
            elif kind == "message" and _text(message[1]) == CHANNEL:
                self._invalidate(message[2])

    def _invalidate(self, keys: list[bytes | str] | None) -> None:
        if keys is None:  # FLUSHDB / FLUSHALL
            self.flush()
        else:
            self.heard(_text(key) for key in keys)

    def _set_ready(self, ready: bool) -> None:
        """Subscribed or lost: either way nothing kept before may be trusted any more."""
        with self._lock:
            self._ready = ready
            self._flush_locked()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
