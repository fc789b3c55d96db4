"""The team's shared rate budget: one Zendesk rate limit, shared by every worker and instance.

Zendesk limits the whole account per minute (Team plan: 200). Every process of the app takes
from one counter kept in the cache backend (Redis in production), so the deployment stays under
ZENDESK_RATE_LIMIT_PER_MINUTE x ZENDESK_RATE_BUDGET_SHARE (the rest is left for Zendesk's own
agent interface and other integrations). The transport in http.py calls:

    reserve(priority)                        before every request: takes one, or raises
                                             RateBudgetExhausted(retry_after=...)
    record_response(status_code, headers)    after every response: believes Zendesk's own
                                             count when it is lower, and after a 429 blocks
                                             every process until Retry-After has passed

Interactive requests (an agent waiting on a page) may use the whole window; background ones
(warming, polling) only its first BACKGROUND_SHARE, so they can never starve an agent.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Mapping

from django.conf import settings
from django.core.cache import caches

from inbox.zendesk.errors import RateBudgetExhausted

INTERACTIVE = "interactive"
BACKGROUND = "background"

# Background work may spend at most this share of a window; interactive work the whole window.
BACKGROUND_SHARE = 0.7
# Zendesk sometimes sends a 429 without Retry-After: wait a whole window then.
DEFAULT_RETRY_AFTER_SECONDS = 60.0
WINDOW_SECONDS = 60

KEY_PREFIX = "zendesk:budget"
BLOCKED_KEY = f"{KEY_PREFIX}:blocked-until"

# Account-wide "remaining" headers, in every spelling Zendesk has used.
REMAINING_HEADERS = ("x-rate-limit-remaining", "ratelimit-remaining", "rate-limit-remaining")
# Endpoint limits: `Zendesk-RateLimit-tickets-index: total=100; remaining=99; resets=41`.
ENDPOINT_HEADER_PREFIXES = ("zendesk-ratelimit-", "zendesk-rate-limit-")
_FIELD = re.compile(r"(\w+)\s*=\s*([0-9.]+)")

# The wall clock; tests replace it with a fake one.
clock: Callable[[], float] = time.time


def _cache():
    return caches["default"]


def deployment_limit() -> int:
    """Requests a minute this deployment may make: its share of the account's limit."""
    share = settings.ZENDESK_RATE_LIMIT_PER_MINUTE * settings.ZENDESK_RATE_BUDGET_SHARE
    return max(1, math.floor(share))


def limit_for(priority: str) -> int:
    """The part of a window a request of this priority may use."""
    if priority == BACKGROUND:
        return max(1, math.floor(deployment_limit() * BACKGROUND_SHARE))
    return deployment_limit()


def _window_key(now: float) -> str:
    return f"{KEY_PREFIX}:window:{int(now // WINDOW_SECONDS)}"


def _seconds_left_in_window(now: float) -> float:
    return WINDOW_SECONDS - (now % WINDOW_SECONDS)


def _increment(key: str, delta: int = 1) -> int:
    """Atomically add to a window counter, creating it if it is new (or was evicted)."""
    cache = _cache()
    cache.add(key, 0, timeout=WINDOW_SECONDS * 2)
    try:
        return cache.incr(key, delta)
    except ValueError:  # expired between add() and incr(): start the window again
        cache.add(key, 0, timeout=WINDOW_SECONDS * 2)
        return cache.incr(key, delta)


def used_this_window() -> int:
    """How many requests the deployment has made (or been told of) in the current window."""
    return int(_cache().get(_window_key(clock())) or 0)


def blocked_for() -> float:
    """Seconds left of a block set after a 429 (0 when not blocked)."""
    blocked_until = _cache().get(BLOCKED_KEY)
    if blocked_until is None:
        return 0.0
    return max(0.0, float(blocked_until) - clock())


def reserve(priority: str = INTERACTIVE) -> None:
    """Take one request from the shared budget, or raise RateBudgetExhausted.

    Raises before any network traffic, so a caller can answer from its cache instead.
    """
    now = clock()
    wait = blocked_for()
    if wait > 0:
        raise RateBudgetExhausted(
            f"Zendesk asked the team to wait; {math.ceil(wait)} s left.", retry_after=wait
        )
    key = _window_key(now)
    if _increment(key) > limit_for(priority):
        # Give the slot back: a refused background request must not eat interactive budget.
        _cache().decr(key)
        raise RateBudgetExhausted(retry_after=_seconds_left_in_window(now))


def record_response(status_code: int, headers: Mapping[str, str]) -> None:
    """Learn from a response's rate-limit headers (and a 429's Retry-After)."""
    lowered = {str(name).lower(): str(value) for name, value in headers.items()}
    if status_code == 429:
        block(_retry_after(lowered))
    remaining = _account_remaining(lowered)
    if remaining is not None:
        _believe_upstream_remaining(remaining)
    endpoint_reset = _exhausted_endpoint_reset(lowered)
    if endpoint_reset is not None:
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
    values = []
    for name in REMAINING_HEADERS:
        try:
            values.append(int(float(headers[name])))
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


def _believe_upstream_remaining(upstream_remaining: int) -> None:
    """If Zendesk says fewer requests remain than we think, count the difference as spent.

    Someone else (Zendesk's own UI, another integration) is using the account's limit too; we
    still leave them their share, so what we may use is Zendesk's remaining minus that share
    (when this deployment is the only caller, that is exactly our own count).
    """
    key = _window_key(clock())
    ours_remaining = deployment_limit() - used_this_window()
    upstream_allows = max(0, upstream_remaining - left_for_others())
    if upstream_allows < ours_remaining:
        _increment(key, ours_remaining - upstream_allows)
