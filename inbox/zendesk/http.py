"""The transport: the one place that sends HTTP requests to Zendesk.

- One `requests.Session` per process, so connections are pooled and reused.
- Explicit (connect, read) timeouts from settings on every request.
- Bounded retries with full jitter, only where a repeat cannot do harm: idempotent GETs, and a
  POST that carries an `Idempotency-Key` (Zendesk creates at most one ticket per key). Only for
  connection errors and 502/503/504; a read timeout is not retried (a hung upstream would just
  hang again while the agent waits).
- The team's rate budget is asked before every call (`budget.reserve`) and told about every
  answer (`budget.record_response`).
- Bodies are never assumed to be JSON: Zendesk's edge answers in plain text or HTML at times.
- Tokens never reach a log line: only method, path, status and duration are logged.
- No cookies are kept: the session is shared by all agents' calls.
- Settings: ZENDESK_CONNECT_TIMEOUT, ZENDESK_READ_TIMEOUT, ZENDESK_MAX_RETRIES, and (tests only)
  ZENDESK_RETRY_BACKOFF, the base of the jittered backoff in seconds (default 0.25).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass, field
from http.cookiejar import DefaultCookiePolicy
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.views.decorators.debug import sensitive_variables
from requests.adapters import HTTPAdapter

from inbox.zendesk import budget
from inbox.zendesk.errors import (
    Conflict,
    Forbidden,
    Invalid,
    InvalidResponse,
    NotFound,
    RateLimited,
    Unauthorized,
    UpstreamUnavailable,
    ZendeskError,
    invalid_details,
)

logger = logging.getLogger(__name__)

RETRYABLE_STATUSES = frozenset({502, 503, 504})
STATUS_ERRORS: dict[int, type[ZendeskError]] = {
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
}
USER_AGENT = "AgentInbox/0.1 (+https://github.com/agent-inbox)"

_session: requests.Session | None = None
_session_lock = threading.Lock()


def session() -> requests.Session:
    """The process's pooled session (created on first use; safe to share between threads)."""
    global _session
    if _session is None:
        with _session_lock:
            if _session is None:
                new_session = requests.Session()
                adapter = HTTPAdapter(pool_connections=4, pool_maxsize=32, max_retries=0)
                new_session.mount("https://", adapter)
                new_session.mount("http://", adapter)
                new_session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})
                # Shared by every agent's calls: a cookie Zendesk sets for one agent must never
                # ride along on another's request. Each call authenticates with its own token.
                new_session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
                _session = new_session
    return _session


@dataclass(frozen=True)
class Reply:
    """A successful answer: its status, headers (lower-case names) and parsed JSON body."""

    status_code: int
    headers: dict[str, str] = field(repr=False)
    body: Any


def timeouts() -> tuple[float, float]:
    return (settings.ZENDESK_CONNECT_TIMEOUT, settings.ZENDESK_READ_TIMEOUT)


def backoff_seconds(attempt: int) -> float:
    """Full jitter: anywhere between 0 and base * 2**attempt, capped (AWS's recipe)."""
    base = getattr(settings, "ZENDESK_RETRY_BACKOFF", 0.25)
    return random.uniform(0, min(4.0, base * 2**attempt))


@sensitive_variables("access_token", "all_headers", "headers", "json")
def request(
    method: str,
    url: str,
    *,
    access_token: str | None = None,
    params: dict[str, Any] | None = None,
    json: Any = None,
    headers: dict[str, str] | None = None,
    lane: str = budget.INTERACTIVE,
    budgeted: bool = True,
) -> Reply:
    """Send one logical request (with its bounded retries) and return the parsed answer.

    `budgeted=False` is for OAuth's /oauth/tokens, which is not an API call under Zendesk's
    per-minute API limits; everything under /api/v2 passes through the budget.
    Raises a ZendeskError subclass for every failure.
    """
    all_headers = dict(headers or {})
    if access_token:
        all_headers["Authorization"] = f"Bearer {access_token}"
    retryable = method == "GET" or (method == "POST" and "Idempotency-Key" in all_headers)
    attempts = 1 + (max(0, settings.ZENDESK_MAX_RETRIES) if retryable else 0)
    path = urlsplit(url).path
    failure = ""
    for attempt in range(attempts):
        if attempt:
            time.sleep(backoff_seconds(attempt))
        if budgeted:
            budget.reserve(lane)
        started = time.monotonic()
        try:
            response = session().request(
                method, url, params=params, json=json, headers=all_headers, timeout=timeouts()
            )
        except requests.ConnectTimeout:
            failure = f"Zendesk did not accept a connection within {timeouts()[0]:g} s"
        except requests.ReadTimeout:
            logger.warning("zendesk %s %s timed out reading", method, path)
            raise UpstreamUnavailable(
                f"Zendesk did not answer {method} {path} within {timeouts()[1]:g} s."
            ) from None
        except requests.ConnectionError as error:
            failure = f"Could not connect to Zendesk ({error.__class__.__name__})"
        except requests.RequestException as error:
            raise UpstreamUnavailable(
                f"The request to Zendesk failed ({error.__class__.__name__})."
            ) from None
        else:
            elapsed_ms = (time.monotonic() - started) * 1000
            logger.info(
                "zendesk %s %s -> %s in %.0f ms", method, path, response.status_code, elapsed_ms
            )
            if budgeted:
                budget.record_response(response.status_code, response.headers)
            if response.status_code in RETRYABLE_STATUSES:
                failure = f"Zendesk answered {response.status_code} {response.reason}"
                continue
            return _reply(response, method=method, path=path)
        logger.warning(
            "zendesk %s %s: %s (attempt %d of %d)", method, path, failure, attempt + 1, attempts
        )
    tries = "once" if attempts == 1 else f"{attempts} times"
    raise UpstreamUnavailable(f"{failure} for {method} {path} (tried {tries}).")


def _parse_body(response: requests.Response) -> Any:
    """The JSON body, None for an empty one; InvalidResponse for anything else."""
    if not response.content.strip():
        return None
    try:
        return response.json()
    except ValueError:
        content_type = response.headers.get("Content-Type", "unknown type")
        raise InvalidResponse(
            f"Zendesk answered {response.status_code} with a body that is not JSON ({content_type})."
        ) from None


def _opaque_body(response: requests.Response) -> Any:
    """An error body, parsed when it is JSON; Zendesk's edge also sends text and HTML."""
    try:
        return response.json()
    except ValueError:
        return None


def _error_code(body: Any) -> str | None:
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return body["error"]
    return None


def retry_after_seconds(headers: Any) -> float | None:
    try:
        return max(0.0, float(headers.get("Retry-After")))
    except (TypeError, ValueError):
        return None


def _reply(response: requests.Response, *, method: str, path: str) -> Reply:
    status = response.status_code
    if 200 <= status < 300:
        body = _parse_body(response)
        headers = {name.lower(): value for name, value in response.headers.items()}
        return Reply(status_code=status, headers=headers, body=body)
    body = _opaque_body(response)
    error: ZendeskError
    if status in STATUS_ERRORS:
        error = STATUS_ERRORS[status]()
    elif status == 422:
        error = Invalid(details=invalid_details(body))
    elif status == 429:
        error = RateLimited(retry_after=retry_after_seconds(response.headers))
    elif status >= 500:
        error = UpstreamUnavailable(
            f"Zendesk answered {status} {response.reason} for {method} {path}."
        )
    else:
        error = ZendeskError(
            f"Zendesk refused {method} {path} with {status} {response.reason}.", status_code=status
        )
    error.error_code = _error_code(body)
    raise error
