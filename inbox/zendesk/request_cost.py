"""What one request to the app cost upstream: the Zendesk calls made while it waited.

A page or poll answered from the cache costs a few milliseconds; one that asks Zendesk on its
way costs Zendesk's latency on top. The `Server-Timing` header (written by
`inbox.middleware.ServerTimingMiddleware`) tells them apart for an agent's devtools, an
operator and the team benchmark, from what is counted here: every attempt the transport
sends (`http.request`), and every wait for another request's identical call (the cache's
single flight). Only counts and durations: no URL, id or token.

The count lives in a context variable, so each request (each gunicorn thread) counts its
own. Work a request hands to a thread pool carries the count along (`carried`); work done in
the background (the change feed, the webhooks' re-reads, a refresh behind an answer) counts
under a name of its own, never in a request's header.

With ZENDESK_CACHE_STATS on (the benchmark), every upstream call is also counted in the
shared cache by what made it (the view's URL name, the background work's name, or
"outside-a-request") and its endpoint, ids masked: what grows with a team shows there.
"""

from __future__ import annotations

import contextlib
import contextvars
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from django.conf import settings

from inbox.zendesk import counters

OUTSIDE_A_REQUEST = "outside-a-request"
CALLS_STATS_KEY = "zendesk:cache:stats:calls"
_NUMBER_SEGMENT = re.compile(r"/\d+(?=/|$)")


@dataclass
class RequestCost:
    """One request's upstream cost so far. Shared by the threads a request fans out to."""

    started: float = field(default_factory=time.monotonic)
    # This thread's CPU time at the start: what the app computed, apart from its waits.
    started_cpu: float = field(default_factory=time.thread_time)
    route: str = ""
    zendesk_calls: int = 0
    # Time with at least one call in flight (calls side by side overlap: not their sum).
    zendesk_seconds: float = 0.0
    flight_waits: int = 0
    flight_wait_seconds: float = 0.0
    # The database's part: queries sent by the request's own thread, and their time.
    db_queries: int = 0
    db_seconds: float = 0.0
    # How a part of the answer was made, as a word per part (`note`): e.g. the poll's
    # "kept" (its last answer still stood) or "computed".
    notes: dict[str, str] = field(default_factory=dict)
    _in_flight: int = 0
    _busy_since: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def waited_on_zendesk(self) -> bool:
        """Did the answer wait for Zendesk (its own call or another request's)?"""
        return bool(self.zendesk_calls or self.flight_waits)

    def call_started(self) -> None:
        with self._lock:
            if self._in_flight == 0:
                self._busy_since = time.monotonic()
            self._in_flight += 1
            self.zendesk_calls += 1

    def call_finished(self) -> None:
        with self._lock:
            self._in_flight -= 1
            if self._in_flight == 0:
                self.zendesk_seconds += time.monotonic() - self._busy_since

    def flight_waited(self, seconds: float) -> None:
        with self._lock:
            self.flight_waits += 1
            self.flight_wait_seconds += seconds

    def db_query(self, seconds: float) -> None:
        with self._lock:
            self.db_queries += 1
            self.db_seconds += seconds

    def server_timing(self) -> str:
        """The `Server-Timing` header's value: the app's own time and the CPU time of its
        thread in it (the rest is waiting: for Zendesk, the database, Redis or a core), the
        Zendesk calls, the waits for another request's call, and whether the answer came from
        the cache alone.
        https://developer.mozilla.org/en-US/docs/Web/HTTP/Reference/Headers/Server-Timing"""
        calls = self.zendesk_calls
        metrics = [
            f"app;dur={_ms(time.monotonic() - self.started)}",
            f"cpu;dur={_ms(time.thread_time() - self.started_cpu)}",
            f'zendesk;desc="{calls} call{"s" * (calls != 1)}";dur={_ms(self.zendesk_seconds)}',
        ]
        if self.db_queries:
            queries = self.db_queries
            metrics.append(
                f'db;desc="{queries} quer{"ies" if queries != 1 else "y"}";dur={_ms(self.db_seconds)}'
            )
        metrics += [f'{name};desc="{word}"' for name, word in sorted(self.notes.items())]
        if self.flight_waits:
            metrics.append(
                f'flight;desc="waited for the same Zendesk call";dur={_ms(self.flight_wait_seconds)}'
            )
        metrics.append(f'cache;desc="{"miss" if self.waited_on_zendesk else "hit"}"')
        return ", ".join(metrics)


def _ms(seconds: float) -> str:
    return f"{max(0.0, seconds) * 1000:.1f}"


_current: contextvars.ContextVar[RequestCost | None] = contextvars.ContextVar(
    "zendesk_request_cost", default=None
)


@contextlib.contextmanager
def counting(route: str = "") -> Iterator[RequestCost]:
    """Count what the code inside costs upstream: one request, or one piece of background
    work named by `route`, a slug (for the operator's counters)."""
    cost = RequestCost(route=route)
    token = _current.set(cost)
    try:
        yield cost
    finally:
        _current.reset(token)


def current() -> RequestCost | None:
    return _current.get()


def carried[**P, R](function: Callable[P, R]) -> Callable[P, R]:
    """`function` to run in a pool's thread, still counting for the request that hands it over
    (a thread starts with no context of its own)."""
    context = contextvars.copy_context()

    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        return context.copy().run(function, *args, **kwargs)

    return run


@contextlib.contextmanager
def upstream_call(method: str, path: str) -> Iterator[None]:
    """Around one attempt sent to Zendesk: counted for the request waiting on it."""
    cost = _current.get()
    _count_by_origin(cost, method, path)
    if cost is None:
        yield
        return
    cost.call_started()
    try:
        yield
    finally:
        cost.call_finished()


def note(part: str, how: str) -> None:
    """Say in this request's Server-Timing how `part` of the answer was made (a slug and a
    word, nothing identifying); the last word for a part wins."""
    cost = _current.get()
    if cost is not None:
        cost.notes[part] = how


def timed_query(execute, sql, params, many, context):  # Django's execute wrapper
    """A database execute wrapper: the query counted and timed for this request.
    https://docs.djangoproject.com/en/stable/topics/db/instrumentation/"""
    cost = _current.get()
    if cost is None:
        return execute(sql, params, many, context)
    started = time.monotonic()
    try:
        return execute(sql, params, many, context)
    finally:
        cost.db_query(time.monotonic() - started)


def flight_waited(seconds: float) -> None:
    """This request waited `seconds` for another's identical call (single flight)."""
    cost = _current.get()
    if cost is not None:
        cost.flight_waited(seconds)


def origin() -> str:
    """What the current request is for: the view's route, a background job's name."""
    cost = _current.get()
    return (cost.route or "unnamed-view") if cost is not None else OUTSIDE_A_REQUEST


def _count_by_origin(cost: RequestCost | None, method: str, path: str) -> None:
    """The operator's view (ZENDESK_CACHE_STATS only): calls by what made them and endpoint."""
    if not settings.ZENDESK_CACHE_STATS:
        return
    origin = (cost.route or "unnamed-view") if cost is not None else OUTSIDE_A_REQUEST
    endpoint = _NUMBER_SEGMENT.sub("/{id}", path.removesuffix(".json"))
    key = f"{CALLS_STATS_KEY}:{origin}|{method}|{endpoint}"
    counters.count_up(key)
