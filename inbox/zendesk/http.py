"""The transport: the one place that sends HTTP requests to Zendesk.

- One `requests.Session` per process, so connections are pooled and reused.
- Explicit (connect, read) timeouts from settings on every request.
- Bounded retries with full jitter, only where a repeat cannot do harm: idempotent GETs, and a
  POST that carries an `Idempotency-Key` (Zendesk creates at most one ticket per key). Only for
  connection errors and 502/503/504; a read timeout is not retried (a hung upstream would just
  hang again while the agent waits).
- A deadline on each logical request, retries and backoff included: ZENDESK_DEADLINE_SECONDS
  in the interactive lane (an agent waits on the page), ZENDESK_BACKGROUND_DEADLINE_SECONDS in
  the background lane. Each attempt's timeouts are clipped to what is left, and no retry (nor
  the pause before it) starts when it could not finish in time. requests' read timeout bounds
  each wait for bytes, not the whole body: a server dripping bytes can still overrun a little.
- The team's rate budget is asked before every call (`budget.reserve`) and told about every
  answer (`budget.record_response`).
- Every attempt is counted for the request waiting on it (`request_cost`): the app's
  `Server-Timing` header says how many calls an answer waited for.
- Bodies are never assumed to be JSON: Zendesk's edge answers in plain text or HTML at times.
- Tokens never reach a log line: only method, path, status and duration are logged.
- No cookies are kept: the session is shared by all agents' calls.
- Settings: ZENDESK_CONNECT_TIMEOUT, ZENDESK_READ_TIMEOUT, ZENDESK_MAX_RETRIES,
  ZENDESK_DEADLINE_SECONDS, ZENDESK_BACKGROUND_DEADLINE_SECONDS, and (tests only)
  ZENDESK_RETRY_BACKOFF, the base of the jittered backoff in seconds (default 0.25).
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.cookiejar import DefaultCookiePolicy
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3.exceptions
from django.conf import settings
from django.views.decorators.debug import sensitive_variables
from requests.adapters import HTTPAdapter

from inbox.zendesk import budget, outage, request_cost
from inbox.zendesk.errors import (
    Conflict,
    Forbidden,
    Invalid,
    InvalidResponse,
    NotFound,
    OutcomeUnknown,
    PaginationTooDeep,
    PayloadTooLarge,
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
    413: PayloadTooLarge,
}
# Zendesk error codes (from a 4xx body) that mean something more precise than their status.
CODE_ERRORS: dict[str, type[ZendeskError]] = {"InvalidPaginationDepth": PaginationTooDeep}
# An attempt is not started with less time than this left before the deadline.
MIN_ATTEMPT_SECONDS = 0.1
USER_AGENT = "AgentInbox/0.1 (+https://github.com/agent-inbox)"

# The monotonic clock and the pause between attempts; tests replace them with a fake clock.
clock: Callable[[], float] = time.monotonic
sleep: Callable[[float], None] = time.sleep

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


def deadline_seconds(lane: str) -> float:
    """How long one logical request may take in this lane, retries and backoff included."""
    if lane == budget.BACKGROUND:
        return float(settings.ZENDESK_BACKGROUND_DEADLINE_SECONDS)
    return float(settings.ZENDESK_DEADLINE_SECONDS)


@dataclass(frozen=True)
class Deadline:
    """The moment (on `clock`) a logical request must be over by."""

    seconds: float
    ends_at: float

    @classmethod
    def starting_now(cls, seconds: float) -> Deadline:
        return cls(seconds=seconds, ends_at=clock() + seconds)

    def left(self) -> float:
        return self.ends_at - clock()

    def allows(self, pause: float) -> bool:
        """Could an attempt that starts after `pause` seconds still have time to run?"""
        return self.left() - pause >= MIN_ATTEMPT_SECONDS

    def clip(self, connect: float, read: float) -> tuple[float, float]:
        """The attempt's (connect, read) timeouts, neither longer than what is left."""
        left = max(MIN_ATTEMPT_SECONDS, self.left())
        return (min(connect, left), min(read, left))


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
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
    lane: str = budget.INTERACTIVE,
    budgeted: bool = True,
    probe: bool = False,
) -> Reply:
    """Send one logical request (with its bounded retries) and return the parsed answer.

    `budgeted=False` is for OAuth's /oauth/tokens, which is not an API call under Zendesk's
    per-minute API limits; everything under /api/v2 passes through the budget.
    `data` sends raw bytes (an upload) instead of `json`. Raises a ZendeskError subclass for
    every failure; a write that is not retried and whose answer is lost (read timeout, 504,
    an unreadable 2xx) raises OutcomeUnknown, since Zendesk may have made the change.

    A read is not sent while Zendesk's last read failed to get an answer a moment ago
    (inbox.zendesk.outage): it raises UpstreamUnavailable at once. Writes and the health
    probe (`probe=True`) are always sent, and end that pause when Zendesk answers them.
    """
    held_back = method == "GET" and not probe
    if held_back:
        wait = outage.paused_for()
        if wait > 0:
            raise UpstreamUnavailable(
                f"Zendesk did not answer a moment ago; not asking again for {math.ceil(wait)} s."
            )
    try:
        reply = _request(
            method, url, access_token=access_token, params=params, json=json, data=data,
            headers=headers, lane=lane, budgeted=budgeted,
        )  # fmt: skip
    except OutcomeUnknown:  # a write's answer was lost: Zendesk may well be up
        raise
    except UpstreamUnavailable:
        if held_back or probe:
            outage.pause()
        raise
    except ZendeskError:  # Zendesk answered (a refusal is an answer)
        if not held_back:
            outage.resume()
        raise
    if not held_back:
        outage.resume()
    return reply


def _request(
    method: str,
    url: str,
    *,
    access_token: str | None,
    params: dict[str, Any] | None,
    json: Any,
    data: bytes | None,
    headers: dict[str, str] | None,
    lane: str,
    budgeted: bool,
) -> Reply:
    all_headers = dict(headers or {})
    if access_token:
        all_headers["Authorization"] = f"Bearer {access_token}"
    retryable = method == "GET" or (method == "POST" and "Idempotency-Key" in all_headers)
    attempts = 1 + (max(0, settings.ZENDESK_MAX_RETRIES) if retryable else 0)
    path = urlsplit(url).path
    deadline = Deadline.starting_now(deadline_seconds(lane))
    failure = ""
    tried = 0
    # Could any attempt so far have reached Zendesk? (A write that failed may then have happened.)
    arrived = False
    for attempt in range(attempts):
        if attempt:
            pause = backoff_seconds(attempt)
            if not deadline.allows(pause):
                raise _out_of_time(method, path, failure, deadline, tried, arrived)
            sleep(pause)
        if budgeted:
            budget.reserve(lane)
        connect_timeout, read_timeout = deadline.clip(*timeouts())
        started = time.monotonic()
        tried += 1
        try:
            with request_cost.upstream_call(method, path):
                response = session().request(
                    method,
                    url,
                    params=params,
                    json=json,
                    data=data,
                    headers=all_headers,
                    timeout=(connect_timeout, read_timeout),
                )
        except requests.ConnectTimeout:
            failure = f"Zendesk did not accept a connection within {connect_timeout:g} s"
        except requests.ReadTimeout:
            logger.warning("zendesk %s %s timed out reading", method, path)
            if not retryable:
                raise OutcomeUnknown(
                    f"Zendesk did not answer {method} {path} in time; the change may have happened."
                ) from None
            if read_timeout < timeouts()[1]:
                raise _out_of_time(
                    method, path, "Zendesk was still answering", deadline, tried, True
                ) from None
            raise UpstreamUnavailable(
                f"Zendesk did not answer {method} {path} within {read_timeout:g} s."
            ) from None
        except requests.ConnectionError as error:
            failure = f"Cannot connect to {_origin(url)} ({error.__class__.__name__})"
            arrived = arrived or not _never_connected(error)
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
            if response.status_code == 504 and not retryable:
                raise OutcomeUnknown(
                    f"Zendesk's gateway timed out on {method} {path}; the change may have happened."
                )
            if response.status_code in RETRYABLE_STATUSES:
                failure = f"Zendesk answered {response.status_code} {response.reason}"
                # 503: refused before any work; a 502/504 gateway may have passed it on.
                arrived = arrived or response.status_code != 503
                continue
            try:
                return _reply(response, method=method, path=path)
            except InvalidResponse:
                if retryable or not 200 <= response.status_code < 300:
                    raise
                raise OutcomeUnknown(
                    f"Zendesk answered {method} {path} with a body we could not read; the "
                    "change may have happened."
                ) from None
        logger.warning(
            "zendesk %s %s: %s (attempt %d of %d)", method, path, failure, attempt + 1, attempts
        )
    raise UpstreamUnavailable(
        f"{failure} for {method} {path} (tried {_times(tried)}).", may_have_arrived=arrived
    )


def _never_connected(error: requests.ConnectionError) -> bool:
    """The connection was never opened (refused, no route, name unknown): nothing was sent."""
    cause = error.args[0] if error.args else None
    reason = getattr(cause, "reason", cause)
    return isinstance(reason, urllib3.exceptions.ConnectTimeoutError)


def _times(tried: int) -> str:
    return "once" if tried == 1 else f"{tried} times"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _out_of_time(
    method: str, path: str, failure: str, deadline: Deadline, tried: int, arrived: bool
) -> UpstreamUnavailable:
    """The deadline is spent (or would be before another attempt could finish): the error."""
    logger.warning("zendesk %s %s: out of time after %s (%s)", method, path, _times(tried), failure)
    return UpstreamUnavailable(
        f"Zendesk did not answer {method} {path} within the {deadline.seconds:g} s allowed "
        f"(tried {_times(tried)}; last: {failure}).",
        may_have_arrived=arrived,
    )


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
    """Zendesk's error code: `{"error": "Code"}`, or the first of `{"errors": [{"code"}]}`."""
    if not isinstance(body, dict):
        return None
    if isinstance(body.get("error"), str):
        return body["error"]
    errors = body.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        code = errors[0].get("code")
        return code if isinstance(code, str) else None
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
    code = _error_code(body)
    error: ZendeskError
    if code in CODE_ERRORS:
        error = CODE_ERRORS[code]()
    elif status in STATUS_ERRORS:
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
    error.error_code = code
    raise error
