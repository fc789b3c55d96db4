"""The team's shared rate budget: one Zendesk rate limit, shared by every worker and instance.

Zendesk limits the whole account per minute (Team plan: 200). Every process of the app takes
from one counter kept in the cache backend (Redis in production), so the deployment stays under
ZENDESK_RATE_LIMIT_PER_MINUTE x ZENDESK_RATE_BUDGET_SHARE (the rest is left for Zendesk's own
agent interface and other integrations). The transport in http.py calls:

    reserve(lane)                            before every request: takes one, or raises
                                             RateBudgetExhausted(retry_after=...)
    record_response(status_code, headers)    after every response: believes Zendesk's own
                                             count when it is lower, and after a 429 blocks
                                             every process until Retry-After has passed

Two counts bound every request: ours, a fixed window per wall-clock minute (cache.add +
cache.incr), and Zendesk's, what its last answer said remains (X-Rate-Limit-Remaining or
ratelimit-remaining, minus the share we leave to others) until its window resets
(ratelimit-reset). Zendesk's windows need not line up with ours; its count also sees every
other caller of the account, so near a boundary it is the one that keeps us clear of a 429.

Every request travels in a *lane*: interactive requests (an agent waiting on a page) may use the
whole window; background ones (warming, polling) only its first BACKGROUND_SHARE, so they can
never starve an agent; the change feed's (FEED) may use the whole window too.
"""

from __future__ import annotations

import contextlib
import math
import re
import time
from collections.abc import Callable, Mapping

from django.conf import settings
from django.core.cache import caches

from inbox.zendesk import counters, request_cost, sharedcache
from inbox.zendesk.errors import RateBudgetExhausted

INTERACTIVE = "interactive"
BACKGROUND = "background"
# The change feed: one request every few seconds for the whole deployment, and what keeps
# every other read cached (lifetimes are long while it runs). It may use the whole window,
# as an agent's page may: polls that spent the background share must not silence it, or
# lifetimes fall short and every agent's next poll asks Zendesk again.
FEED = "feed"

# Background work may spend at most this share of a window; interactive work the whole window.
BACKGROUND_SHARE = 0.7
# Zendesk sometimes sends a 429 without Retry-After: wait a whole window then.
DEFAULT_RETRY_AFTER_SECONDS = 60.0
WINDOW_SECONDS = 60

KEY_PREFIX = "zendesk:budget"
BLOCKED_KEY = f"{KEY_PREFIX}:blocked-until"
# What Zendesk last said remains of its window (minus others' share), and until when.
UPSTREAM_KEY = f"{KEY_PREFIX}:upstream"
# Requests granted since that report.
UPSTREAM_SINCE_KEY = f"{KEY_PREFIX}:upstream-since"

# Account-wide "remaining" headers, in every spelling Zendesk has used.
REMAINING_HEADERS = ("x-rate-limit-remaining", "ratelimit-remaining", "rate-limit-remaining")
RESET_HEADERS = ("ratelimit-reset", "rate-limit-reset")
# Endpoint limits: `Zendesk-RateLimit-tickets-index: total=100; remaining=99; resets=41`.
ENDPOINT_HEADER_PREFIXES = ("zendesk-ratelimit-", "zendesk-rate-limit-")
_FIELD = re.compile(r"(\w+)\s*=\s*([0-9.]+)")

# The wall clock; tests replace it with a fake one.
clock: Callable[[], float] = time.time


def _cache():
    return caches["default"]


def deployment_limit() -> int:
    """Requests a minute this deployment may make: its share of the account's limit.

    While the shared cache is unreachable each process counts alone, so each may make only its
    part (see process_limit_without_shared_cache).
    """
    share = settings.ZENDESK_RATE_LIMIT_PER_MINUTE * settings.ZENDESK_RATE_BUDGET_SHARE
    if not sharedcache.shared_cache_available():
        return process_limit_without_shared_cache(share)
    return max(1, math.floor(share))


def process_limit_without_shared_cache(share: float) -> int:
    """One process's part of the deployment's share when no counter is shared: the share
    divided by the processes that spend it (WEB_CONCURRENCY x APP_INSTANCES), rounded down."""
    return max(1, math.floor(share / sharedcache.process_count()))


def limit_for(lane: str) -> int:
    """The part of a window a request in this lane may use."""
    if lane == BACKGROUND:
        return max(1, math.floor(deployment_limit() * BACKGROUND_SHARE))
    return deployment_limit()


def _window_key(now: float) -> str:
    return f"{KEY_PREFIX}:window:{int(now // WINDOW_SECONDS)}"


def _seconds_left_in_window(now: float) -> float:
    return WINDOW_SECONDS - (now % WINDOW_SECONDS)


def _increment(key: str, delta: int = 1, *, timeout: int | None = WINDOW_SECONDS * 2) -> int:
    """Atomically add to a counter, creating it if it is new (or was evicted): one round trip
    on Redis (inbox.zendesk.counters)."""
    return counters.count_up(key, delta, timeout=timeout)


def used_this_window() -> int:
    """How many requests the deployment has made (or been told of) in the current window."""
    return int(_cache().get(_window_key(clock())) or 0)


def blocked_for() -> float:
    """Seconds left of a block set after a 429 (0 when not blocked)."""
    blocked_until = _cache().get(BLOCKED_KEY)
    if blocked_until is None:
        return 0.0
    return max(0.0, float(blocked_until) - clock())


def reserve(lane: str = INTERACTIVE) -> None:
    """Take one request from the shared budget, or raise RateBudgetExhausted.

    Raises before any network traffic, so a caller can answer from its cache instead.
    """
    if settings.ZENDESK_NAIVE_PROXY:  # the benchmark's baseline has no budget
        return
    now = clock()
    wait = blocked_for()
    if wait > 0:
        count_lane(lane, "refused")
        raise RateBudgetExhausted(
            f"Zendesk asked the team to wait; {math.ceil(wait)} s left.",
            retry_after=wait,
            zendesk_asked=True,
        )
    key = _window_key(now)
    if _increment(key) > limit_for(lane):
        # Give the slot back: a refused background request must not eat interactive budget.
        _give_back(key)
        count_lane(lane, "refused")
        raise RateBudgetExhausted(retry_after=_seconds_left_in_window(now))
    try:
        _reserve_within_zendesks_count(key, now)
    except RateBudgetExhausted:
        count_lane(lane, "refused")
        raise
    count_lane(lane, "granted")


STATS_KEY = f"{KEY_PREFIX}:stats"


def count_lane(lane: str, outcome: str) -> None:
    """Count requests granted and refused per lane, where every process adds up (only with
    ZENDESK_CACHE_STATS, as the cache's own counters): whether refreshes wait on the budget."""
    if not settings.ZENDESK_CACHE_STATS:
        return
    _increment(f"{STATS_KEY}:{lane}:{outcome}", timeout=None)
    if outcome == "refused":  # and what the refused requests were for
        _increment(f"{STATS_KEY}:refused-by:{request_cost.origin()}", timeout=None)


def _reserve_within_zendesks_count(window_key: str, now: float) -> None:
    """Also stay within what Zendesk last said remains of *its* window (until that window ends).

    Zendesk's window need not line up with ours; its own count covers other callers too.
    """
    reported = _cache().get(UPSTREAM_KEY)
    if reported is None:
        return
    allows, until = reported
    if until <= now:
        return
    if _increment(UPSTREAM_SINCE_KEY, timeout=math.ceil(until - now) + 1) > allows:
        _give_back(UPSTREAM_SINCE_KEY)
        _give_back(window_key)
        raise RateBudgetExhausted(retry_after=until - now)


def _give_back(key: str) -> None:
    with contextlib.suppress(ValueError):  # the counter expired meanwhile: nothing to give back
        _cache().decr(key)


def record_response(status_code: int, headers: Mapping[str, str]) -> None:
    """Learn from a response's rate-limit headers (and a 429's Retry-After)."""
    if settings.ZENDESK_NAIVE_PROXY:  # ... and learns nothing from Zendesk's answers
        return
    lowered = {str(name).lower(): str(value) for name, value in headers.items()}
    if status_code == 429:
        block(_retry_after(lowered))
    remaining = _account_remaining(lowered)
    if remaining is not None:
        _believe_upstream_remaining(remaining, _number(lowered, RESET_HEADERS))
    endpoint_reset = _exhausted_endpoint_reset(lowered)
    if endpoint_reset is not None:
        # An endpoint's own limit (List Tickets: 100 a minute) is used up. Blocking everything
        # until it resets is cruder than tracking each endpoint, but the next call there would
        # be a 429, which blocks everything anyway; meanwhile agents get saved answers.
        block(endpoint_reset)


def block(seconds: float) -> None:
    """Stop every process from calling Zendesk for `seconds` (never shortens a longer block)."""
    until = clock() + seconds
    current = _cache().get(BLOCKED_KEY)
    if current is not None and float(current) >= until:
        return
    _cache().set(BLOCKED_KEY, until, timeout=math.ceil(seconds) + 1)


def _retry_after(headers: Mapping[str, str]) -> float:
    try:
        seconds = float(headers["retry-after"])
    except (KeyError, ValueError):
        return DEFAULT_RETRY_AFTER_SECONDS
    return seconds if seconds > 0 else DEFAULT_RETRY_AFTER_SECONDS


def _account_remaining(headers: Mapping[str, str]) -> int | None:
    remaining = _number(headers, REMAINING_HEADERS)
    return None if remaining is None else int(remaining)


def _number(headers: Mapping[str, str], names: tuple[str, ...]) -> float | None:
    """The smallest value among the headers present (the most careful reading)."""
    values = []
    for name in names:
        try:
            values.append(float(headers[name]))
        except (KeyError, ValueError):
            continue
    return min(values) if values else None


def _exhausted_endpoint_reset(headers: Mapping[str, str]) -> float | None:
    """Seconds until an endpoint limit Zendesk reports as used up resets, if any is."""
    resets = []
    for name, value in headers.items():
        if not name.startswith(ENDPOINT_HEADER_PREFIXES):
            continue
        fields = dict(_FIELD.findall(value))
        if "remaining" in fields and float(fields["remaining"]) <= 0:
            resets.append(float(fields.get("resets", DEFAULT_RETRY_AFTER_SECONDS)))
    return max(resets) if resets else None


def left_for_others() -> int:
    """The part of the account's limit this deployment leaves to Zendesk's UI and integrations."""
    return max(0, settings.ZENDESK_RATE_LIMIT_PER_MINUTE - deployment_limit())


def _believe_upstream_remaining(upstream_remaining: int, resets_in: float | None) -> None:
    """Remember what Zendesk says remains of its window, minus what we leave to others.

    Until that window ends (ratelimit-reset; without it, the end of our own window) reserve()
    grants no more than that. Zendesk's own UI and other integrations use the account's limit
    too: when they do, Zendesk's count is lower than ours and wins. When this deployment is the
    only caller, the two agree.
    """
    now = clock()
    if resets_in is None or resets_in <= 0:
        resets_in = _seconds_left_in_window(now)
    allows = max(0, upstream_remaining - left_for_others())
    timeout = math.ceil(resets_in) + 1
    _cache().set(UPSTREAM_KEY, (allows, now + resets_in), timeout=timeout)
    _cache().set(UPSTREAM_SINCE_KEY, 0, timeout=timeout)
