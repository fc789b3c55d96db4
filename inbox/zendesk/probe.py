"""Is the configured Zendesk reachable? For /healthz, answered from a status kept in the cache.

`GET /api/v2/users/me` without credentials answers the anonymous user with 200 on every
Zendesk, so it proves reachability without a token and without touching any agent's data
(https://developer.zendesk.com/api-reference/ticketing/users/users/#show-the-currently-authenticated-user).
It goes through the one transport (inbox.zendesk.http) in the budget's background lane, so it
shares the team's rate budget, its timeouts and its deadline.

No request waits on the probe: a hanging Zendesk would hold every health check (and the load
balancer would take a healthy app out of service). `reachability_status()` only reads the last
result from the cache; `reachability_refresh_in_background()` starts one daemon thread when
that result is older than PROBE_INTERVAL_SECONDS, and a lock in the shared cache makes sure
only one process of the whole deployment probes at a time.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

from inbox.zendesk import budget, http
from inbox.zendesk.errors import InvalidResponse, ZendeskError

logger = logging.getLogger(__name__)

# A result older than this is refreshed (in the background) by the next health check.
PROBE_INTERVAL_SECONDS = 15
# How long a result is kept to be reported with its age (a refresh may fail to happen).
PROBE_KEEP_SECONDS = 3600
NOT_THE_API = "Zendesk answered, but not with the API's JSON."
# The background probe's thread, by name (for thread dumps, and tests that wait for it).
PROBE_THREAD_NAME = "zendesk-reachability-probe"


@dataclass(frozen=True)
class Reachability:
    base_url: str
    reachable: bool
    error: str | None
    latency_ms: int | None
    checked_at: float


def _status_key(base_url: str) -> str:
    return f"zendesk-probe:{base_url}"


def _lock_key(base_url: str) -> str:
    return f"zendesk-probe:{base_url}:lock"


def _lock_seconds() -> int:
    """A prober holds the lock at most as long as its call may take (then another may try)."""
    return math.ceil(settings.ZENDESK_BACKGROUND_DEADLINE_SECONDS) + 5


def reachability_status() -> Reachability | None:
    """The last probe's result for the configured Zendesk, or None before the first one.

    Reads the cache only: never calls Zendesk.
    """
    return cache.get(_status_key(settings.ZENDESK_URL))


def _due(status: Reachability | None) -> bool:
    return status is None or time.time() - status.checked_at >= PROBE_INTERVAL_SECONDS


def reachability_refresh_in_background() -> threading.Thread | None:
    """Start a probe in a daemon thread if the status is due and no process is probing yet.

    Returns the thread (tests join it), or None when nothing was started. The caller's request
    goes on at once: only the cache is touched on its path.
    """
    base_url = settings.ZENDESK_URL
    if not base_url or not _due(reachability_status()):
        return None
    token = uuid.uuid4().hex
    if not cache.add(_lock_key(base_url), token, timeout=_lock_seconds()):
        return None  # another thread or process of the deployment is probing
    thread = threading.Thread(
        target=_refresh_holding_lock,
        args=(base_url, token),
        name=PROBE_THREAD_NAME,
        daemon=True,
    )
    thread.start()
    return thread


def reachability_refresh_now() -> Reachability:
    """Probe the configured Zendesk in this thread and store the result (the background
    thread's work; also for a management shell)."""
    base_url = settings.ZENDESK_URL
    result = _probe(base_url)
    cache.set(_status_key(base_url), result, PROBE_KEEP_SECONDS)
    return result


def _refresh_holding_lock(base_url: str, token: str) -> None:
    try:
        result = _probe(base_url)
        cache.set(_status_key(base_url), result, PROBE_KEEP_SECONDS)
    except Exception:  # a daemon thread has no one to raise to: say it in the log
        logger.exception("the Zendesk reachability probe failed")
    finally:
        if cache.get(_lock_key(base_url)) == token:
            cache.delete(_lock_key(base_url))


def _probe(base_url: str) -> Reachability:
    started = time.monotonic()
    try:
        reply = http.request(
            "GET", f"{base_url}/api/v2/users/me.json", lane=budget.BACKGROUND, probe=True
        )
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
