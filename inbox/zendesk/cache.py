"""The response cache in front of Zendesk: fast answers, one upstream call, honest ages.

Built on Django's cache framework (Redis in production, so every worker and instance shares
it; local memory in development). `cached_call()` is the one entry point:

- **Keys are the whole request**: account base URL, operation, every parameter, plus a scope
  (the agent by default) and the names of the families the answer belongs to. Caching whole
  objects by id goes stale and loses sideloads; keying the request does not.
- **Scope**: an answer is shared between agents only when the caller says Zendesk answers
  every unrestricted agent the same (`shareable=True`), and never for a restricted agent.
- **TTL per kind** (`ttl_for(kind)`; override with settings.ZENDESK_CACHE_TTL_SECONDS).
- **Stale-while-error**: the last good answer is kept for ZENDESK_CACHE_KEEP_STALE_SECONDS
  (24 h) past its TTL and served, marked stale with its age, when Zendesk is down, rate
  limits us, answers garbage, or the team's budget is spent. Nothing cached and failing ->
  `ZendeskUnavailable`, with a sentence an agent can act on.
- **Single flight**: concurrent identical misses make one upstream call. The first caller takes
  a lock with `cache.add()`; the others poll for its outcome (a failure is shared too, so a
  down Zendesk is asked once, not once per waiter). With Redis this works across processes.
  A caller holding an expired copy waits only ZENDESK_CACHE_STALE_WAIT_SECONDS (2 s) for the
  refresh, then shows the copy marked stale ("waiting").
- **Generations**: `bump(*families)` after a write moves those families to a new generation,
  so the writer's next read fetches again at once. An entry carries the generations it was
  built under; one that differs from the families' current ones is not there. A hit is
  therefore ONE round trip to the cache (one MGET of the entry, the generations and the feed's
  mark), and `cached_hits()` reads the hits of several requests in that same one trip. On
  Redis, a warm hit makes none: each process keeps a near copy of the entries, generations
  and feed mark it read (NEAR_CACHE_PREFIXES), which Redis's invalidation messages keep exact
  (inbox/zendesk/nearcache.py).
- **Stale-while-revalidate**: an entry past its lifetime by less than
  ZENDESK_CACHE_REVALIDATE_SECONDS (30 s; never more than its lifetime) is answered at once,
  and one refresh runs in the background (`revalidations`), so no agent waits on Zendesk for
  a copy that only aged. An entry whose families moved on (a write, a webhook, the change
  feed said it changed) is not there at all: its reader waits for the new answer, as before.
  https://datatracker.ietf.org/doc/html/rfc5861#section-3 (the same idea in HTTP caching)
- **Single flight per generation**: the lock and outcome keys name the generations, so a
  fetch that began before a bump never answers for a reader after it.
- **A feed of changes**: while a change feed runs (it marks itself alive with
  `feed_alive_mark`), every change Zendesk makes bumps the families it touches, so the kinds
  it covers are kept for ZENDESK_CACHE_TTL_WITH_FEED_SECONDS instead.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.db import close_old_connections

from inbox.zendesk import counters, request_cost, sharedcache
from inbox.zendesk.errors import (
    STALE_MESSAGES,
    InvalidResponse,
    RateBudgetExhausted,
    RateLimited,
    UpstreamUnavailable,
    ZendeskError,
    ZendeskUnavailable,
)
from inbox.zendesk.nearcache import near_cache_bypassed

logger = logging.getLogger(__name__)

DEFAULT_TTL_SECONDS: dict[str, float] = {
    "count": 30,
    "list": 30,
    "ticket": 15,
    "comments": 15,
    "users": 600,
    "custom_statuses": 600,
    "assignables": 300,
    # The account's field definitions change only when an admin edits them; every form and
    # ticket page of every agent reads them.
    "ticket_fields": 3600,
    "activities": 20,
    "me": 600,
}
DEFAULT_KEEP_STALE_SECONDS = 24 * 3600
# A leader holds its lock at most this long (the client's retries included).
LOCK_SECONDS = 60
# Waiters give up on a leader after this long and answer from what they have.
DEFAULT_WAIT_SECONDS = 20.0
# ... but only this long when they have an expired copy they could show instead.
DEFAULT_STALE_WAIT_SECONDS = 2.0
# An entry this far past its lifetime (at most its lifetime again) is shown while it refreshes.
DEFAULT_REVALIDATE_SECONDS = 30.0
POLL_SECONDS = 0.02

KEY_PREFIX = "zendesk:cache"
STATS_KEY = f"{KEY_PREFIX}:stats"
# Entries and generations have prefixes of their own, apart from the single-flight locks and
# outcomes (FLIGHT_PREFIX) and the counters: the Redis backend keeps a near copy in each process
# of what is read under NEAR_CACHE_PREFIXES only (inbox/zendesk/nearcache.py).
ENTRY_PREFIX = f"{KEY_PREFIX}:entry"
GENERATION_PREFIX = f"{KEY_PREFIX}:gen"
FLIGHT_PREFIX = "zendesk:flight"

# Failures that a saved copy may cover; anything else (401, 403, 404, 409, 422) is the answer.
SERVE_STALE_ON: tuple[type[ZendeskError], ...] = (
    UpstreamUnavailable,
    RateLimited,
    InvalidResponse,
    RateBudgetExhausted,
)


# The wall clock; tests replace it with a fake one.
clock: Callable[[], float] = time.time


def _cache():
    return caches["default"]


@dataclass(frozen=True)
class Fresh[T]:
    """An answer and how old it is: `stale` when Zendesk could not confirm it just now."""

    value: T
    fetched_at: datetime
    stale: bool = False
    stale_reason: str | None = None  # a key of STALE_MESSAGES

    @property
    def age_seconds(self) -> float:
        return max(0.0, clock() - self.fetched_at.timestamp())

    @property
    def stale_message(self) -> str | None:
        """A sentence for the agent: why this may be out of date."""
        if not self.stale:
            return None
        return STALE_MESSAGES.get(self.stale_reason or "", STALE_MESSAGES["upstream_unavailable"])


# -- settings ----------------------------------------------------------------------------------
def ttl_for(kind: str) -> float:
    """How long an answer of this kind is served without asking Zendesk again."""
    overrides = getattr(settings, "ZENDESK_CACHE_TTL_SECONDS", {}) or {}
    configured = float(overrides.get(kind, DEFAULT_TTL_SECONDS.get(kind, 30)))
    if not sharedcache.shared_cache_available():
        return ttl_without_shared_cache(kind, configured)
    return configured


def ttl_without_shared_cache(kind: str, configured: float) -> float:
    """While Redis is down no process can tell the others what changed: keep answers no longer
    than the short defaults, whatever longer lifetime was configured."""
    return min(configured, float(DEFAULT_TTL_SECONDS.get(kind, 30)))


def keep_stale_seconds() -> int:
    """How long past its TTL a last good answer is kept for when Zendesk fails."""
    return int(getattr(settings, "ZENDESK_CACHE_KEEP_STALE_SECONDS", DEFAULT_KEEP_STALE_SECONDS))


def wait_seconds() -> float:
    """How long a caller with nothing saved waits for another caller's identical request."""
    return float(getattr(settings, "ZENDESK_CACHE_WAIT_SECONDS", DEFAULT_WAIT_SECONDS))


def revalidate_seconds(ttl: float) -> float:
    """How long past its lifetime an entry is still shown at once while it refreshes in the
    background: ZENDESK_CACHE_REVALIDATE_SECONDS, never more than the lifetime itself (an
    answer is at most twice as old as its kind allows, and only until the refresh lands)."""
    configured = float(
        getattr(settings, "ZENDESK_CACHE_REVALIDATE_SECONDS", DEFAULT_REVALIDATE_SECONDS)
    )
    return max(0.0, min(configured, ttl))


def stale_wait_seconds() -> float:
    """How long a caller with an expired copy waits for a refresh before showing the copy."""
    return float(getattr(settings, "ZENDESK_CACHE_STALE_WAIT_SECONDS", DEFAULT_STALE_WAIT_SECONDS))


# -- keys and generations ----------------------------------------------------------------------
def _generation_key(family: str) -> str:
    return f"{GENERATION_PREFIX}:{_digest(family)}"


def generations(families: Iterable[str]) -> dict[str, int]:
    """The current generation of each family, starting any that are new (or were evicted).

    A new generation starts at the current time in microseconds, so a family that was evicted
    never comes back to a number that old entries still carry.
    """
    families = sorted(set(families))
    keys = {family: _generation_key(family) for family in families}
    found = _cache().get_many(list(keys.values()))
    result = {}
    for family, key in keys.items():
        if key not in found:
            _cache().add(key, _fresh_generation(), timeout=None)
            found[key] = _cache().get(key)
        result[family] = int(found[key])
    return result


def bump(*families: str) -> None:
    """Move every cached answer of these families to a new generation (after a write)."""
    for family in set(families):
        key = _generation_key(family)
        try:
            _cache().incr(key)
        except ValueError:
            _cache().add(key, _fresh_generation(), timeout=None)


def _fresh_generation() -> int:
    return int(clock() * 1_000_000)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:40]


def build_key(
    *,
    base_url: str,
    operation: str,
    params: Mapping[str, Any],
    scope: str,
    families: Iterable[str] = (),
) -> str:
    """One key per distinct request: everything that can change Zendesk's answer is in it.

    The families' generations are not: they travel inside the entry (`_Entry.generations`), so
    a hit reads the entry and the generations together, in one round trip.
    """
    material = json.dumps(
        {
            "base_url": base_url.rstrip("/"),
            "operation": operation,
            "params": {name: value for name, value in params.items() if value is not None},
            "scope": scope,
            "families": sorted(set(families)),
        },
        sort_keys=True,
        default=str,
    )
    return f"{ENTRY_PREFIX}:{operation}:{_digest(material)}"


def _generations_digest(family_generations: Mapping[str, int]) -> str:
    return _digest(json.dumps(sorted(family_generations.items())))


def scope_for(*, user_id: int | None, restricted: bool, shareable: bool) -> str:
    """Whose answer this is: the agent's own, or shared by every unrestricted agent."""
    if shareable and not restricted:
        return "shared:unrestricted"
    if user_id is None:
        raise ValueError("an unshared cache entry needs the agent's Zendesk user id")
    return f"agent:{user_id}"


# -- the cached call ---------------------------------------------------------------------------
Stamp = tuple[tuple[str, int], ...]  # the families' generations an entry was built under


@dataclass(frozen=True)
class _Entry:
    value: Any
    fetched_at: float
    generations: Stamp = ()


@dataclass(frozen=True)
class CachedRead:
    """One cached read as `cached_call` names it, for reading several at once (`cached_hits`)."""

    kind: str
    base_url: str
    operation: str
    params: Mapping[str, Any]
    user_id: int | None
    restricted: bool
    shareable: bool = False
    families: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return build_key(
            base_url=self.base_url,
            operation=self.operation,
            params=self.params,
            scope=scope_for(
                user_id=self.user_id, restricted=self.restricted, shareable=self.shareable
            ),
            families=self.families,
        )


@dataclass(frozen=True)
class _Snapshot:
    """What one round trip to the cache found: entries, generations, the feed's mark."""

    entries: dict[str, Any]
    generations: dict[str, int]
    feed_alive: bool

    def stamp(self, families: Iterable[str]) -> Stamp:
        return tuple((family, self.generations[family]) for family in sorted(set(families)))

    def ttl(self, kind: str) -> float:
        """The kind's lifetime; longer while a feed of changes runs and can say what changed
        (never while the shared cache is unreachable: a mark in this process's memory is not
        a feed every process hears)."""
        feed_alive = self.feed_alive and sharedcache.shared_cache_available()
        feed_ttl = _feed_ttls().get(kind) if feed_alive else None
        return max(ttl_for(kind), feed_ttl or 0.0)

    def entry(self, key: str, stamp: Stamp) -> _Entry | None:
        """The entry if it was built under these generations (else it is not there)."""
        return _current(self.entries.get(key), stamp)


def _current(entry: Any, stamp: Stamp) -> _Entry | None:
    if isinstance(entry, _Entry) and entry.generations == stamp:
        return entry
    return None


def _snapshot(keys: Iterable[str], families: Iterable[str]) -> _Snapshot:
    """Entries, their families' generations and the feed's mark in ONE get_many (an MGET on
    Redis). A family without a generation yet is started: a second trip, once in its life."""
    keys = list(keys)
    generation_keys = {family: _generation_key(family) for family in sorted(set(families))}
    found = _cache().get_many([FEED_ALIVE_KEY, *generation_keys.values(), *keys])
    known = {family: int(found[key]) for family, key in generation_keys.items() if key in found}
    missing = [family for family in generation_keys if family not in known]
    if missing:
        known.update(generations(missing))
    return _Snapshot(
        entries={key: found[key] for key in keys if key in found},
        generations=known,
        feed_alive=FEED_ALIVE_KEY in found,
    )


def cached_hits(
    reads: Iterable[CachedRead], *, fetches: Iterable[Callable[[], Any]] | None = None
) -> list[Fresh[Any] | None]:
    """The fresh cached answer of each read, or None where it would have to ask Zendesk: every
    read in ONE round trip to the cache. For a page or poll that reads several entries: ask
    `cached_call` only for the Nones (which then fetches, with single flight).

    With `fetches` (one per read), an entry that only aged is answered too and refreshed in
    the background with its fetch, as `cached_call` does (stale-while-revalidate)."""
    reads = list(reads)
    if settings.ZENDESK_NAIVE_PROXY or not reads:
        return [None] * len(reads)
    refreshes = list(fetches) if fetches is not None else None
    keys = [read.key for read in reads]
    snapshot = _snapshot(keys, [family for read in reads for family in read.families])
    now = clock()
    answers: list[Fresh[Any] | None] = []
    for index, (read, key) in enumerate(zip(reads, keys, strict=True)):
        stamp, ttl = snapshot.stamp(read.families), snapshot.ttl(read.kind)
        entry = snapshot.entry(key, stamp)
        age = now - entry.fetched_at if entry is not None else math.inf
        if entry is not None and age < ttl:
            answers.append(_fresh(entry))
        elif entry is not None and refreshes is not None and age < ttl + revalidate_seconds(ttl):
            revalidate_later(_Flight(key=key, stamp=stamp, ttl=ttl), entry, refreshes[index])
            answers.append(_fresh(entry))
        else:
            answers.append(None)
    if hits := sum(answer is not None for answer in answers):
        count_outcome("hit", hits)
    return answers


def cached_read_call[T](read: CachedRead, fetch: Callable[[], T]) -> Fresh[T]:
    """`cached_call` for a read named as a `CachedRead` (the one `cached_hits` found missing)."""
    return cached_call(
        kind=read.kind,
        base_url=read.base_url,
        operation=read.operation,
        params=read.params,
        user_id=read.user_id,
        restricted=read.restricted,
        shareable=read.shareable,
        families=read.families,
        fetch=fetch,
    )


def cached_call[T](
    *,
    kind: str,
    base_url: str,
    operation: str,
    params: Mapping[str, Any],
    user_id: int | None,
    restricted: bool,
    fetch: Callable[[], T],
    shareable: bool = False,
    families: Iterable[str] = (),
) -> Fresh[T]:
    """Answer from the cache when fresh (one round trip), else call `fetch` once for everyone
    asking at once."""
    if settings.ZENDESK_NAIVE_PROXY:  # the benchmark's baseline: straight to Zendesk
        return _naive(fetch)
    families = tuple(sorted(set(families)))
    key = build_key(
        base_url=base_url,
        operation=operation,
        params=params,
        scope=scope_for(user_id=user_id, restricted=restricted, shareable=shareable),
        families=families,
    )
    snapshot = _snapshot([key], families)
    stamp, ttl = snapshot.stamp(families), snapshot.ttl(kind)
    entry = snapshot.entry(key, stamp)
    flight = _Flight(key=key, stamp=stamp, ttl=ttl)
    if entry is not None:
        age = clock() - entry.fetched_at
        if age < ttl:
            count_outcome("hit")
            return _fresh(entry)
        if age < ttl + revalidate_seconds(ttl):
            # Only aged (its families did not move on): show it, refresh it behind the answer.
            revalidate_later(flight, entry, fetch)
            count_outcome("hit")
            return _fresh(entry)
    return flight.answer(entry, fetch)


def _naive[T](fetch: Callable[[], T]) -> Fresh[T]:
    """Straight to Zendesk, nothing kept; a refusal or outage reaches the views as it does
    with the cache on and nothing saved (ZendeskUnavailable), so they show the same message."""
    try:
        value = fetch()
    except SERVE_STALE_ON as error:
        return _stale_or_raise(
            None, _reason(error), retry_after=getattr(error, "retry_after", None)
        )
    count_outcome("miss")
    return Fresh(value=value, fetched_at=_as_datetime(clock()))


@dataclass(frozen=True)
class _Flight:
    """One entry at one set of generations: who asks Zendesk for it, and who waits."""

    key: str
    stamp: Stamp
    ttl: float

    @property
    def name(self) -> str:
        """The lock's and outcomes' key: per generation, so a fetch that began before a bump
        neither answers nor holds up the readers after it. Under FLIGHT_PREFIX, not the
        entry's: locks and outcomes are never kept in a process's near copy."""
        entry = self.key.removeprefix(f"{ENTRY_PREFIX}:")
        return f"{FLIGHT_PREFIX}:{entry}:{_generations_digest(dict(self.stamp))}"

    def read(self) -> _Entry | None:
        """The entry as the shared cache holds it now, past this process's near copy: a waiter
        told "ok" by a leader in another process must see the leader's entry even before the
        invalidation of its near copy has arrived, or it would fetch again."""
        with near_cache_bypassed():
            return _current(_cache().get(self.key), self.stamp)

    def answer[T](self, entry: _Entry | None, fetch: Callable[[], T]) -> Fresh[T]:
        started = time.monotonic()
        deadline = started + wait_seconds()
        while True:
            token = uuid.uuid4().hex
            if _cache().add(_lock_key(self.name), token, timeout=LOCK_SECONDS):
                # A leader may have finished between our read and our lock: look once more.
                entry = self.read()
                if entry is not None and clock() - entry.fetched_at < self.ttl:
                    _finish(self.name, token, "ok")
                    count_outcome("hit")
                    return _fresh(entry)
                return _lead(self, token, entry, fetch)
            # Someone else is asking Zendesk. With a saved copy, wait for them only briefly: a
            # slow Zendesk should not make every agent wait when an older answer can show now.
            wait_until = (
                deadline if entry is None else min(deadline, started + stale_wait_seconds())
            )
            waiting_since = time.monotonic()
            outcome = _wait_for_leader(self.name, wait_until)
            request_cost.flight_waited(time.monotonic() - waiting_since)
            if outcome == "ok":
                # The leader stored a fresh answer: read it.
                entry = self.read()
                if entry is not None and clock() - entry.fetched_at < self.ttl:
                    count_outcome("hit")
                    return _fresh(entry)
                continue
            if outcome is not None:  # the leader failed: do not call a failing Zendesk again
                return _stale_or_raise(entry, outcome, retry_after=None)
            if time.monotonic() >= wait_until:
                return _stale_or_raise(entry, "waiting", retry_after=None)
            # The leader vanished without an outcome (its lock expired): try to lead.
            entry = self.read() or entry


def _lead[T](flight: _Flight, token: str, entry: _Entry | None, fetch: Callable[[], T]) -> Fresh[T]:
    """Call Zendesk for everyone waiting on this entry, and tell them how it went."""
    try:
        value = fetch()
    except SERVE_STALE_ON as error:
        reason = _reason(error)
        _finish(flight.name, token, reason)
        return _stale_or_raise(entry, reason, retry_after=getattr(error, "retry_after", None))
    except BaseException:
        _finish(flight.name, token, "error")
        raise
    new_entry = _Entry(value=value, fetched_at=clock(), generations=flight.stamp)
    _cache().set(flight.key, new_entry, timeout=math.ceil(ttl_max() + keep_stale_seconds()))
    _finish(flight.name, token, "ok")
    count_outcome("miss")
    return _fresh(new_entry)


# -- refreshing in the background ----------------------------------------------------------
# A few threads per process: a refresh is one Zendesk call; more at once would only queue on
# the team's budget. Each keeps its database connection between jobs (CONN_MAX_AGE).
_revalidator = ThreadPoolExecutor(max_workers=4, thread_name_prefix="cache-revalidate")
# The refreshes this process has queued or is running, by flight name: every reader of an aged
# entry within the window would otherwise queue one more job that only finds the lock taken.
_revalidating: dict[str, Future] = {}
_revalidating_lock = threading.Lock()


def revalidate_later(flight: _Flight, entry: _Entry, fetch: Callable[[], Any]) -> Future | None:
    """Refresh an aged entry in the background, once for everyone (once per process here; the
    single-flight lock keeps other processes from asking too)."""
    cost = request_cost.current()
    origin = f"{cost.route or 'unnamed-view'}-revalidate" if cost else "revalidate"
    with _revalidating_lock:
        pending = _revalidating.get(flight.name)
        if pending is not None:
            return pending
        try:
            future = _revalidator.submit(_revalidate, flight, entry, fetch, origin)
        except RuntimeError:  # the process is shutting down
            return None
        _revalidating[flight.name] = future
    future.add_done_callback(lambda _done: _revalidated(flight.name))
    return future


def _revalidated(name: str) -> None:
    with _revalidating_lock:
        _revalidating.pop(name, None)


def revalidations() -> list[Future]:
    """The background refreshes not finished yet (tests wait for them)."""
    with _revalidating_lock:
        return list(_revalidating.values())


def _revalidate(flight: _Flight, entry: _Entry, fetch: Callable[[], Any], origin: str) -> None:
    close_old_connections()
    token = uuid.uuid4().hex
    try:
        if not _cache().add(_lock_key(flight.name), token, timeout=LOCK_SECONDS):
            return  # someone is asking Zendesk for it already
        current = flight.read()
        if current is not None and clock() - current.fetched_at < flight.ttl:
            _finish(flight.name, token, "ok")
            return
        with request_cost.counting(origin):
            _lead(flight, token, current or entry, fetch)
    except ZendeskError as error:  # a refusal (401, 403, 404): the next reader asks again
        logger.info("refreshing a cached answer in the background: %s", error)
    except Exception:  # never lose the pool's thread
        logger.exception("refreshing a cached answer in the background failed")
    finally:
        close_old_connections()


def _finish(key: str, token: str, outcome: str) -> None:
    """Tell the waiters how it went, then let go of the lock (in that order: a waiter that
    sees the lock gone must find the outcome already there)."""
    _cache().set(_outcome_key(key, token), outcome, timeout=LOCK_SECONDS)
    if _cache().get(_lock_key(key)) == token:
        _cache().delete(_lock_key(key))


def ttl_max() -> float:
    overrides = getattr(settings, "ZENDESK_CACHE_TTL_SECONDS", {}) or {}
    return max([*DEFAULT_TTL_SECONDS.values(), *overrides.values(), *_feed_ttls().values()])


def _wait_for_leader(key: str, deadline: float) -> str | None:
    """Poll until the current leader reports an outcome, its lock goes, or time runs out."""
    token = _cache().get(_lock_key(key))
    while token is not None and time.monotonic() < deadline:
        outcome = _cache().get(_outcome_key(key, token))
        if outcome is not None:
            return None if outcome == "error" else outcome
        time.sleep(POLL_SECONDS)
        if _cache().get(_lock_key(key)) != token:
            outcome = _cache().get(_outcome_key(key, token))
            return None if outcome == "error" else outcome
    return None


def count_outcome(outcome: str, reads: int = 1) -> None:
    """Count how a read was answered, in the shared cache where every worker and instance adds
    up: "hit" (a fresh copy), "miss" (Zendesk asked and answered), "stale" (an old copy, as
    Zendesk or the budget could not give a new one), "failed" (nothing to show). Only when
    ZENDESK_CACHE_STATS is on (the benchmark reads STATS_KEY:<outcome>)."""
    if not settings.ZENDESK_CACHE_STATS:
        return
    counters.count_up(f"{STATS_KEY}:{outcome}", reads)


def _lock_key(key: str) -> str:
    return f"{key}:lock"


def _outcome_key(key: str, token: str) -> str:
    return f"{key}:outcome:{token}"


def _reason(error: ZendeskError) -> str:
    if isinstance(error, RateBudgetExhausted):
        return "rate_limited" if error.zendesk_asked else "budget_exhausted"
    if isinstance(error, RateLimited):
        return "rate_limited"
    if isinstance(error, InvalidResponse):
        return "invalid_response"
    return "upstream_unavailable"


def _fresh(entry: _Entry) -> Fresh[Any]:
    return Fresh(value=entry.value, fetched_at=_as_datetime(entry.fetched_at))


def _stale_or_raise(entry: _Entry | None, reason: str, *, retry_after: float | None) -> Fresh[Any]:
    if entry is None:
        count_outcome("failed")
        raise ZendeskUnavailable(reason, retry_after=retry_after)
    count_outcome("stale")
    return Fresh(
        value=entry.value,
        fetched_at=_as_datetime(entry.fetched_at),
        stale=True,
        stale_reason=reason,
    )


def _as_datetime(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, tz=UTC)


# -- a feed of changes and reads that never fetch -------------------------------------------
FEED_ALIVE_KEY = f"{KEY_PREFIX}:feed-alive"
# What a process may keep a near copy of (with Redis): entries, generations, the feed's mark.
NEAR_CACHE_PREFIXES = (f"{ENTRY_PREFIX}:", f"{GENERATION_PREFIX}:", FEED_ALIVE_KEY)
# Kinds every ticket change invalidates precisely, and how long they live while a feed runs.
# An organization's approximate count is moved on only by the changes that can alter it (a
# ticket of it created, deleted or moved); the feed cannot see a deletion, so it lives shorter.
DEFAULT_TTL_WITH_FEED_SECONDS: dict[str, float] = {
    "count": 600,
    "list": 600,
    "ticket": 600,
    "comments": 600,
    "activities": 600,
    "organization_count": 300,
}


def _feed_ttls() -> dict[str, float]:
    overrides = getattr(settings, "ZENDESK_CACHE_TTL_WITH_FEED_SECONDS", {}) or {}
    return {**DEFAULT_TTL_WITH_FEED_SECONDS, **overrides}


def feed_alive_mark(seconds: float) -> None:
    """Say that a change feed ran just now and will run again within `seconds`."""
    _cache().set(FEED_ALIVE_KEY, clock(), timeout=max(1, math.ceil(seconds)))


def feed_alive_clear() -> None:
    _cache().delete(FEED_ALIVE_KEY)


def lifetime(kind: str) -> float:
    """How long an answer of this kind is served now: longer while a feed of changes runs."""
    return _snapshot([], []).ttl(kind)


def longest_lifetime(kind: str) -> float:
    """The longest an answer of this kind is ever served: its lifetime while a feed runs."""
    return max(ttl_for(kind), float(_feed_ttls().get(kind, 0.0)))


def lifetimes(*kinds: str) -> dict[str, float]:
    """`lifetime` of several kinds, in one cache round trip."""
    snapshot = _snapshot([], [])
    return {kind: snapshot.ttl(kind) for kind in kinds}


def cached_value(
    *,
    base_url: str,
    operation: str,
    params: Mapping[str, Any],
    scope: str,
    families: Iterable[str],
) -> Any | None:
    """What the cache holds for this request now (fresh or not), or None; never fetches.

    One round trip. A family that has no generation yet has nothing cached under it.
    """
    families = sorted(set(families))
    key = build_key(
        base_url=base_url, operation=operation, params=params, scope=scope, families=families
    )
    generation_keys = [_generation_key(family) for family in families]
    found = _cache().get_many([key, *generation_keys])
    if not all(generation_key in found for generation_key in generation_keys):
        return None
    stamp = tuple(
        (family, int(found[generation_key]))
        for family, generation_key in zip(families, generation_keys, strict=True)
    )
    entry = _current(found.get(key), stamp)
    return entry.value if entry is not None else None


def read_with_generations(
    keys: Iterable[str], families: Iterable[str]
) -> tuple[dict[str, Any], dict[str, int] | None]:
    """Plain cache keys and the families' generations in one round trip (one get_many).

    The generations are None when a family has none yet: ask `generations()`, which starts it.
    """
    keys = list(keys)
    generation_keys = {family: _generation_key(family) for family in sorted(set(families))}
    found = _cache().get_many([*keys, *generation_keys.values()])
    values = {key: found[key] for key in keys if key in found}
    if not all(key in found for key in generation_keys.values()):
        return values, None
    return values, {family: int(found[key]) for family, key in generation_keys.items()}
