"""Is the configured Zendesk reachable? For the home page and /healthz.

`GET /api/v2/users/me` without credentials answers the anonymous user with 200 on every
Zendesk (API-NOTES, "Authentication"), so it proves reachability without a token and without
touching any agent's data. The answer is cached briefly so health checks from a load
balancer cost the team's rate budget almost nothing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import requests
from django.conf import settings
from django.core.cache import cache

from inbox.zendesk import budget

PROBE_CACHE_SECONDS = 15


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
        budget.reserve(budget.BACKGROUND)
        response = requests.get(
            f"{base_url}/api/v2/users/me.json",
            timeout=(settings.ZENDESK_CONNECT_TIMEOUT, settings.ZENDESK_READ_TIMEOUT),
            headers={"Accept": "application/json"},
        )
        budget.record_response(response.status_code, response.headers)
    except requests.Timeout:
        return _unreachable(base_url, "Zendesk did not answer in time.")
    except requests.ConnectionError:
        return _unreachable(base_url, f"Cannot connect to {base_url}.")
    except Exception as error:  # RateBudgetExhausted and friends: say it, don't crash /healthz
        return _unreachable(base_url, str(error) or error.__class__.__name__)
    latency_ms = int((time.monotonic() - started) * 1000)
    if response.status_code != 200:
        return _unreachable(base_url, f"Zendesk answered HTTP {response.status_code}.", latency_ms)
    try:
        response.json()["user"]
    except (ValueError, KeyError, TypeError):
        return _unreachable(base_url, "Zendesk answered, but not with the API's JSON.", latency_ms)
    return Reachability(base_url, True, None, latency_ms, time.time())


def _unreachable(base_url: str, error: str, latency_ms: int | None = None) -> Reachability:
    return Reachability(base_url, False, error, latency_ms, time.time())
