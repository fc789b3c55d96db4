"""Zendesk's limit on updating one ticket: 30 updates per ticket per user in 10 minutes.

Past it, PUT /api/v2/tickets/{id} answers 429 with Retry-After (seconds until the oldest
update in the window leaves it), on top of the account-wide limit:
https://developer.zendesk.com/api-reference/introduction/rate-limits/

On by default, as on Zendesk. It counts API updates only: the team-activity simulator acts
through Zendesk's own agent interface (`via: web`), which this limit does not cover, so it
never meets it. Tests that write to one ticket many times lift it.

Control: `GET /_sandbox/update_limit` shows it; `POST /_sandbox/update_limit
{"per_ticket_per_user": 30}` sets it, `null` lifts it, `{}` restores the start-up value
(SANDBOX_TICKET_UPDATE_LIMIT: a number, or "off"). Setting it forgets the updates counted.
POST /_sandbox/reset restores the start-up value too.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections import deque

from django.http import HttpRequest, JsonResponse

from sandbox import jsonbody
from sandbox.routing import route

ZENDESK_LIMIT = 30
WINDOW_SECONDS = 600
MAX_LIMIT = 1_000_000


def _startup_limit() -> int | None:
    """SANDBOX_TICKET_UPDATE_LIMIT: unset is Zendesk's 30; "off" (or 0) lifts it."""
    raw = os.environ.get("SANDBOX_TICKET_UPDATE_LIMIT", "").strip().lower()
    if not raw:
        return ZENDESK_LIMIT
    if raw in ("off", "0"):
        return None
    if not raw.isascii() or not raw.isdigit() or int(raw) > MAX_LIMIT:
        raise RuntimeError(f'SANDBOX_TICKET_UPDATE_LIMIT must be a number or "off", got {raw!r}')
    return int(raw)


_lock = threading.Lock()
_startup = _startup_limit()
_state: dict[str, int | None] = {"limit": _startup}
_updates: dict[tuple[int, int], deque[float]] = {}


def current_limit() -> int | None:
    with _lock:
        return _state["limit"]


def set_limit(limit: int | None) -> None:
    with _lock:
        _state["limit"] = limit
        _updates.clear()


def reset() -> None:
    """Back to the start-up value with nothing counted (POST /_sandbox/reset)."""
    set_limit(_startup)


def admit_update(user_id: int, ticket_id: int) -> int | None:
    """Count one update; None when admitted, else the seconds to wait (Retry-After, >= 1).

    A sliding window: the updates of the last 10 minutes count, and a refused one does not.
    """
    now = time.monotonic()
    with _lock:
        limit = _state["limit"]
        if limit is None:
            return None
        recent = _updates.setdefault((user_id, ticket_id), deque())
        while recent and recent[0] <= now - WINDOW_SECONDS:
            recent.popleft()
        if len(recent) >= limit:
            return max(1, math.ceil(recent[0] + WINDOW_SECONDS - now))
        recent.append(now)
        return None


def _limit_json() -> dict[str, int | None]:
    return {"per_ticket_per_user": current_limit(), "window_seconds": WINDOW_SECONDS}


def _invalid(description: str) -> JsonResponse:
    return JsonResponse({"error": "InvalidControl", "description": description}, status=400)


def control_update_limit(request: HttpRequest) -> JsonResponse:
    """GET shows; POST {"per_ticket_per_user": n | null} sets or lifts; {} restores."""
    if request.method == "POST":
        try:
            body = jsonbody.loads(request.body or b"{}")
        except ValueError:
            body = None
        if not isinstance(body, dict) or set(body) - {"per_ticket_per_user"}:
            return _invalid('the body must be {"per_ticket_per_user": a number or null}')
        if not body:
            reset()
        else:
            limit = body["per_ticket_per_user"]
            valid = limit is None or (
                isinstance(limit, int) and not isinstance(limit, bool) and 1 <= limit <= MAX_LIMIT
            )
            if not valid:
                return _invalid(f"per_ticket_per_user must be 1 to {MAX_LIMIT}, or null to lift it")
            set_limit(limit)
    return JsonResponse(_limit_json())


route("_sandbox/update_limit", "GET", control_update_limit, raw=True)
route("_sandbox/update_limit", "POST", control_update_limit, raw=True)
