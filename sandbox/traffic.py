"""In-process traffic state of the sandbox: the fault set, rate-limit windows and stats.

The sandbox runs as ONE gunicorn process with many threads, so plain module state guarded by
one lock is the whole store: no database round trip on the hot path, and nothing to clean up
between processes. Everything here is reset by `reset_all()` (wired to POST /_sandbox/reset).

Rate limits use FIXED windows of `rate_limit_window_seconds` (default 60): a window opens with
the first call after the previous one closed and lasts its full length. A fixed window makes
`ratelimit-reset` and `Retry-After` exact ("the window ends in N seconds"), and opening it on
the first call (rather than on the wall-clock minute) means a test that sets a limit gets a
whole window, never the last second of one; tests set a 2 s window to see recovery quickly.
Only admitted requests consume the budget: a 429 does not count against the next window.
Replacing the fault set (POST /_sandbox/faults) closes every window.
"""

from __future__ import annotations

import json
import math
import os
import re
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

# Enterprise plan: https://developer.zendesk.com/api-reference/introduction/rate-limits/
ACCOUNT_LIMIT_DEFAULT = 700
TICKETS_INDEX_LIMIT_DEFAULT = 100  # List Tickets has its own limit of 100 a minute.
MAX_HANG_SECONDS = 600
GARBAGE_BODIES = ("any", "html", "cut_json")


class FaultsInvalid(ValueError):
    """A fault set that cannot be applied; the message says which key is wrong and why."""


@dataclass(frozen=True)
class Faults:
    """The whole fault set. POST /_sandbox/faults replaces it; missing keys take these values."""

    rate_limit_per_minute: int = ACCOUNT_LIMIT_DEFAULT
    tickets_index_rate_limit_per_minute: int = TICKETS_INDEX_LIMIT_DEFAULT
    rate_limit_window_seconds: float = 60
    rate_limit_body: str = "json"  # "json" | "text": both are seen from Zendesk
    latency_ms: float = 0
    jitter_ms: float = 0
    error_rate: float = 0
    hang_rate: float = 0
    hang_seconds: float = 30
    garbage_rate: float = 0
    # What a spoiled answer looks like: "any" (either, at random), "html" (an error page under
    # a 200) or "cut_json" (the view's JSON cut in half); a test pins one to assert on it.
    garbage_body: str = "any"
    # After a write committed (see sandbox.middleware): the answer is held for `hang_seconds`
    # and ends as a 504, or is replaced by an unreadable 200. "Timed out, but it happened."
    hang_after_write_rate: float = 0
    garbage_after_write_rate: float = 0
    outage: bool | str = False  # True: 503 from the "edge"; "refuse": drop the connection
    path_prefix: str = ""  # confine every fault (and limit) to paths starting with this

    def applies_to(self, path: str) -> bool:
        return path.startswith(self.path_prefix)


def _number(key: str, value: Any, *, low: float, high: float, integer: bool = False) -> float:
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind):
        expected = "an integer" if integer else "a number"
        raise FaultsInvalid(f"{key} must be {expected}, got {json.dumps(value)}")
    if not low <= value <= high:
        raise FaultsInvalid(f"{key} must be between {low:g} and {high:g}, got {value}")
    return value


def _rate(key: str, value: Any) -> float:
    return _number(key, value, low=0, high=1)


def _outage(key: str, value: Any) -> bool | str:
    if isinstance(value, bool) or value == "refuse":
        return value
    raise FaultsInvalid(f'{key} must be true, false or "refuse", got {json.dumps(value)}')


def _rate_limit_body(key: str, value: Any) -> str:
    if value in ("json", "text"):
        return value
    raise FaultsInvalid(f'{key} must be "json" or "text", got {json.dumps(value)}')


def _garbage_body(key: str, value: Any) -> str:
    if value in GARBAGE_BODIES:
        return value
    choices = ", ".join(f'"{body}"' for body in GARBAGE_BODIES)
    raise FaultsInvalid(f"{key} must be one of {choices}, got {json.dumps(value)}")


def _path_prefix(key: str, value: Any) -> str:
    if isinstance(value, str) and value.startswith("/"):
        return value
    raise FaultsInvalid(f'{key} must be a path starting with "/", got {json.dumps(value)}')


_VALIDATORS = {
    "rate_limit_per_minute": lambda k, v: _number(k, v, low=1, high=1_000_000, integer=True),
    "tickets_index_rate_limit_per_minute": lambda k, v: _number(
        k, v, low=1, high=1_000_000, integer=True
    ),
    "rate_limit_window_seconds": lambda k, v: _number(k, v, low=0.1, high=3600),
    "rate_limit_body": _rate_limit_body,
    "latency_ms": lambda k, v: _number(k, v, low=0, high=60_000),
    "jitter_ms": lambda k, v: _number(k, v, low=0, high=60_000),
    "error_rate": _rate,
    "hang_rate": _rate,
    "hang_seconds": lambda k, v: _number(k, v, low=0.1, high=MAX_HANG_SECONDS),
    "garbage_rate": _rate,
    "garbage_body": _garbage_body,
    "hang_after_write_rate": _rate,
    "garbage_after_write_rate": _rate,
    "outage": _outage,
    "path_prefix": _path_prefix,
}


def parse_faults(raw: Any) -> Faults:
    """Validate a JSON fault set; every problem is reported at once, key by key."""
    if not isinstance(raw, dict):
        raise FaultsInvalid("the fault set must be a JSON object")
    problems = [f"unknown key {key!r}" for key in raw if key not in _VALIDATORS]
    values = {}
    for key, value in raw.items():
        if key in _VALIDATORS:
            try:
                values[key] = _VALIDATORS[key](key, value)
            except FaultsInvalid as problem:
                problems.append(str(problem))
    if problems:
        raise FaultsInvalid("; ".join(problems))
    return Faults(**values)


def _startup_faults() -> Faults:
    """SANDBOX_FAULTS (JSON) at start-up; a bad value stops the sandbox rather than hide."""
    raw = os.environ.get("SANDBOX_FAULTS", "").strip()
    if not raw:
        return Faults()
    try:
        return parse_faults(json.loads(raw))
    except (json.JSONDecodeError, FaultsInvalid) as problem:
        raise RuntimeError(f"SANDBOX_FAULTS is not a valid fault set: {problem}") from problem


@dataclass
class _Window:
    """Requests admitted in the current fixed window of one limit."""

    started: float
    used: int = 0


@dataclass(frozen=True)
class LimitState:
    """One limit as the headers tell it: total, remaining after this call, seconds to reset."""

    total: int
    remaining: int
    resets_in: int


@dataclass(frozen=True)
class Admission:
    """The verdict on one API call: admitted or not, and what every limit looks like now."""

    admitted: bool
    account: LimitState
    tickets_index: LimitState | None
    retry_after: int


@dataclass
class _Stats:
    # Counted when a call comes in (before any fault): a call still hanging is counted here,
    # while `requests` and `by_status` count it only once its answer is sent.
    arrived: int = 0
    requests: int = 0
    rate_limited: int = 0
    by_status: Counter = field(default_factory=Counter)
    by_endpoint: Counter = field(default_factory=Counter)


_lock = threading.Lock()
_startup = _startup_faults()
_faults = _startup
# Set (and replaced) whenever the fault set changes, so hangs and delays end at once.
_faults_changed = threading.Event()
_windows: dict[str, _Window] = {}
_stats = _Stats()


def current_faults() -> tuple[Faults, threading.Event]:
    """The fault set and the event that fires when it is replaced (to cut hangs short)."""
    with _lock:
        return _faults, _faults_changed


def set_faults(faults: Faults) -> None:
    """Replace the whole fault set; rate-limit windows start afresh so new limits read clean."""
    global _faults, _faults_changed
    with _lock:
        _faults = faults
        _windows.clear()
        previous, _faults_changed = _faults_changed, threading.Event()
    previous.set()


def faults_json(faults: Faults) -> dict[str, Any]:
    return asdict(faults)


def _window_state(name: str, length: float, now: float) -> tuple[_Window, float]:
    """The window of limit `name` at `now` (a new one if the last has closed), and its end."""
    window = _windows.get(name)
    if window is None or now >= window.started + length:
        window = _windows[name] = _Window(started=now)
    return window, window.started + length


def _limit_state(window: _Window, limit: int, ends: float, now: float) -> LimitState:
    return LimitState(
        total=limit, remaining=max(limit - window.used, 0), resets_in=math.ceil(ends - now)
    )


def admit(*, is_tickets_index: bool) -> Admission:
    """Count one API call against the account limit (and List Tickets' own when it is one).

    A call is admitted only if every limit it falls under has room; a refused call uses none.
    Retry-After is when the last exhausted limit opens a new window (whole seconds, >= 1).
    """
    now = time.monotonic()
    with _lock:
        faults = _faults
        length = faults.rate_limit_window_seconds
        limits = [("account", faults.rate_limit_per_minute)]
        if is_tickets_index:
            limits.append(("tickets_index", faults.tickets_index_rate_limit_per_minute))
        windows = {name: (_window_state(name, length, now), limit) for name, limit in limits}
        admitted = all(window.used < limit for (window, _ends), limit in windows.values())
        if admitted:
            for (window, _ends), _limit in windows.values():
                window.used += 1
        states = {
            name: _limit_state(window, limit, ends, now)
            for name, ((window, ends), limit) in windows.items()
        }
    exhausted = [state.resets_in for state in states.values() if state.remaining == 0]
    retry_after = max([1, *exhausted])
    return Admission(
        admitted=admitted,
        account=states["account"],
        tickets_index=states.get("tickets_index"),
        retry_after=retry_after,
    )


_NUMBER_SEGMENT = re.compile(r"(?<=/)\d+(?=/|$)")


def endpoint_key(method: str, path: str) -> str:
    """`GET /api/v2/tickets/42/comments.json` -> `GET /api/v2/tickets/{id}/comments`."""
    path = path.removesuffix(".json")
    return f"{method} {_NUMBER_SEGMENT.sub('{id}', path)}"


def arrive() -> None:
    """Count one API or OAuth call as it comes in."""
    with _lock:
        _stats.arrived += 1


def record(method: str, path: str, status: int | str, *, rate_limited: bool = False) -> None:
    """Count one API or OAuth call; `status` is "refused" for a dropped connection."""
    with _lock:
        _stats.requests += 1
        _stats.by_status[str(status)] += 1
        _stats.by_endpoint[endpoint_key(method, path)] += 1
        if rate_limited:
            _stats.rate_limited += 1


def stats_json() -> dict[str, Any]:
    with _lock:
        return {
            "arrived": _stats.arrived,
            "requests": _stats.requests,
            "by_status": dict(sorted(_stats.by_status.items())),
            "by_endpoint": dict(sorted(_stats.by_endpoint.items())),
            "rate_limited": _stats.rate_limited,
        }


def reset_stats() -> None:
    global _stats
    with _lock:
        _stats = _Stats()


def reset_all() -> None:
    """Back to start-up: the SANDBOX_FAULTS set, fresh rate-limit windows and zeroed stats."""
    set_faults(_startup)
    reset_stats()
