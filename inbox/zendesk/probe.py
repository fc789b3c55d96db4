"""Is the configured Zendesk reachable? For the home page and /healthz.

`GET /api/v2/users/me` without credentials answers the anonymous user with 200 on every
Zendesk, so it proves reachability without a token and without touching any agent's data
(https://developer.zendesk.com/api-reference/ticketing/users/users/#show-the-currently-authenticated-user).
It goes through the one transport (inbox.zendesk.http) in the budget's background lane, so it
shares the team's rate budget, its timeouts and its deadline. The answer is cached briefly so
health checks from a load balancer cost the team's rate budget almost nothing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

from inbox.zendesk import budget, http
from inbox.zendesk.errors import InvalidResponse, ZendeskError

PROBE_CACHE_SECONDS = 15
NOT_THE_API = "Zendesk answered, but not with the API's JSON."


@dataclass(frozen=True)
class Reachability:
    base_url: str
    reachable: bool
    error: str | None
    latency_ms: int | None
    checked_at: float


def zendesk_reachability() -> Reachability:
    """Probe the configured Zendesk (cached for PROBE_CACHE_SECONDS)."""
    base_url = settings.ZENDESK_URL
    key = f"zendesk-probe:{base_url}"
    cached = cache.get(key)
    if cached is not None:
        return cached
    result = _probe(base_url)
    cache.set(key, result, PROBE_CACHE_SECONDS)
    return result


def _probe(base_url: str) -> Reachability:
    started = time.monotonic()
    try:
        reply = http.request("GET", f"{base_url}/api/v2/users/me.json", lane=budget.BACKGROUND)
    except InvalidResponse:
        return _unreachable(base_url, NOT_THE_API, _since(started))
    except ZendeskError as error:  # down, refused, rate limited, budget spent: say it
        reason = str(error) or error.__class__.__name__
        if error.status_code is not None:
            reason = f"Zendesk answered HTTP {error.status_code}: {reason}"
        return _unreachable(base_url, reason)
    if not isinstance(reply.body, dict) or "user" not in reply.body:
        return _unreachable(base_url, NOT_THE_API, _since(started))
    return Reachability(base_url, True, None, _since(started), time.time())


def _since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _unreachable(base_url: str, error: str, latency_ms: int | None = None) -> Reachability:
    return Reachability(base_url, False, error, latency_ms, time.time())
