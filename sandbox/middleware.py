"""Traffic middleware: faults, rate limits and stats, and JSON errors.

SandboxTrafficMiddleware makes the sandbox misbehave the way Zendesk and the network in front
of it do, on demand (POST /_sandbox/faults, see sandbox/views/traffic.py), so the app can be
tested against it. Order for one call outside /_sandbox/:

1. outage: 503 with an edge proxy's HTML body, or `"refuse"`: the connection is dropped;
2. latency (+ jitter), then a hang (`hang_rate`) that ends after `hang_seconds` with a 504,
   or at once when the fault set is replaced;
3. API calls only: the account limit and List Tickets' own limit (429 + Retry-After);
4. `error_rate`: 500/502/503 without running the view (nothing is written);
5. `garbage_rate`: the view runs (writes happen), its answer is replaced by HTML or cut JSON
   under a 200 (`garbage_body` pins one of the two; 5xx pages that are not JSON are
   `error_rate`'s);
6. writes only (any method but GET/HEAD/OPTIONS) that succeeded (2xx), so the change is
   committed: `hang_after_write_rate` holds the answer `hang_seconds` (or until the fault set
   is replaced) and ends with a 504, `garbage_after_write_rate` answers an unreadable 200. A
   client then cannot tell from the answer whether its write happened: it must look.

Steps 1, 2, 4, 5 and 6 are confined by `path_prefix`; the rate limits are account-wide, as on
Zendesk, and apply to every /api/ call. /_sandbox/ is never touched. Every API response that
passed step 3 carries both families of rate-limit headers with the real remaining counts.
"""

from __future__ import annotations

import contextlib
import json
import logging
import random
import re
import socket
import threading

from django.core.exceptions import BadRequest, RequestDataTooBig, SuspiciousOperation
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError

from sandbox import traffic

log = logging.getLogger(__name__)

CONTROL_PREFIX = "/_sandbox"
TICKETS_INDEX = re.compile(r"^/api/v2/tickets(?:\.json)?$")
RATE_LIMIT_DESCRIPTION = "Number of allowed API requests per minute exceeded"
EDGE_PAGE = (
    "<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
    "<center><h1>{status} {reason}</h1></center>\r\n<hr><center>cloudflare</center>\r\n"
    "</body>\r\n</html>\r\n"
)
READ_METHODS = ("GET", "HEAD", "OPTIONS")
REASONS = {502: "Bad Gateway", 503: "Service Temporarily Unavailable", 504: "Gateway Time-out"}


def edge_page(status: int) -> HttpResponse:
    """What a proxy in front of Zendesk answers: HTML, never JSON (clients must cope)."""
    body = EDGE_PAGE.format(status=status, reason=REASONS[status])
    return HttpResponse(body, status=status, content_type="text/html")


def server_error() -> HttpResponse:
    status = random.choice([500, 502, 503])
    if status == 500:
        return JsonResponse(
            {"error": "InternalServerError", "description": "Something went wrong"}, status=500
        )
    return edge_page(status)


def rate_limited(faults: traffic.Faults, admission: traffic.Admission) -> HttpResponse:
    if faults.rate_limit_body == "text":
        response = HttpResponse(
            RATE_LIMIT_DESCRIPTION, status=429, content_type="text/plain; charset=utf-8"
        )
    else:
        response = JsonResponse(
            {"error": "APIRateLimitExceeded", "description": RATE_LIMIT_DESCRIPTION},
            status=429,
            content_type="application/json; charset=utf-8",
        )
    response["Retry-After"] = str(admission.retry_after)
    return response


def garbage(response: HttpResponse, body_kind: str = "any") -> HttpResponse:
    """The view's answer spoiled: an HTML page or its JSON cut in half, under a 200.

    Always 200: a 5xx with a body that is not JSON is what `error_rate` already gives (the
    edge's 502/503 pages), so garbage is the case a status check alone cannot catch.
    """
    if body_kind == "html" or (body_kind == "any" and random.random() < 0.5):
        return HttpResponse(
            "<!DOCTYPE html><html><body><h1>Oops</h1><p>Something went wrong",
            status=200,
            content_type="text/html; charset=utf-8",
        )
    body = b"" if response.streaming else response.content
    if len(body) < 8:
        body = json.dumps({"tickets": [{"id": 1, "subject": "cut short"}]}).encode()
    return HttpResponse(
        body[: len(body) // 2], status=200, content_type="application/json; charset=utf-8"
    )


def add_rate_limit_headers(response: HttpResponse, admission: traffic.Admission) -> None:
    account = admission.account
    response["X-Rate-Limit"] = str(account.total)
    response["X-Rate-Limit-Remaining"] = str(account.remaining)
    response["ratelimit-limit"] = str(account.total)
    response["ratelimit-remaining"] = str(account.remaining)
    response["ratelimit-reset"] = str(account.resets_in)
    index = admission.tickets_index
    if index is not None:
        response["Zendesk-RateLimit-tickets-index"] = (
            f"total={index.total}; remaining={index.remaining}; resets={index.resets_in}"
        )


def refuse(request: HttpRequest) -> HttpResponse:
    """Drop the connection without an answer: the client sees a reset/closed connection.

    Gunicorn hands the client socket to the app as `gunicorn.socket`; shutting it down (not
    closing: gunicorn owns the descriptor) makes gunicorn's write fail with EPIPE, which it
    ignores. Under a server without that key (runserver) a 503 edge page is the closest thing.
    """
    client = request.META.get("gunicorn.socket")
    if client is None:
        return edge_page(503)
    with contextlib.suppress(OSError):  # already gone: the same outcome for the client
        client.shutdown(socket.SHUT_RDWR)
    response = HttpResponse(status=503)
    response.sandbox_refused = True
    return response


def wait_latency(faults: traffic.Faults, changed: threading.Event) -> None:
    delay_ms = faults.latency_ms + random.uniform(-faults.jitter_ms, faults.jitter_ms)
    if delay_ms > 0:
        changed.wait(delay_ms / 1000)


class SandboxTrafficMiddleware:
    """Faults, rate limits and stats around every call outside /_sandbox/."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path
        if path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/"):
            return self.get_response(request)
        counted = path.startswith(("/api/", "/oauth/"))
        if counted:
            traffic.arrive()
        response = self.respond(request)
        if counted:
            refused = getattr(response, "sandbox_refused", False)
            traffic.record(
                request.method,
                path,
                "refused" if refused else response.status_code,
                rate_limited=getattr(response, "sandbox_rate_limited", False),
            )
        return response

    def respond(self, request: HttpRequest) -> HttpResponse:
        faults, changed = traffic.current_faults()
        faulty = faults.applies_to(request.path)
        if faulty and faults.outage == "refuse":
            return refuse(request)
        if faulty and faults.outage:
            return edge_page(503)
        if faulty:
            wait_latency(faults, changed)
            if random.random() < faults.hang_rate:
                changed.wait(faults.hang_seconds)
                return edge_page(504)
        if not request.path.startswith("/api/"):
            return self.misbehave(request, faults, faulty)
        is_index = request.method in ("GET", "HEAD") and TICKETS_INDEX.match(request.path)
        admission = traffic.admit(is_tickets_index=bool(is_index))
        if admission.admitted:
            response = self.misbehave(request, faults, faulty)
        else:
            response = rate_limited(faults, admission)
            response.sandbox_rate_limited = True
        add_rate_limit_headers(response, admission)
        return response

    def misbehave(self, request: HttpRequest, faults: traffic.Faults, faulty: bool) -> HttpResponse:
        if faulty and random.random() < faults.error_rate:
            return server_error()
        response = self.get_response(request)
        if faulty and random.random() < faults.garbage_rate:
            return garbage(response, faults.garbage_body)
        if faulty and committed_write(request, response):
            return after_write(response, faults)
        return response


def committed_write(request: HttpRequest, response: HttpResponse) -> bool:
    """A write the view carried out: its transaction has committed before the view returned."""
    return request.method not in READ_METHODS and 200 <= response.status_code < 300


def after_write(response: HttpResponse, faults: traffic.Faults) -> HttpResponse:
    """The answer to a committed write, lost on the way back: held past the client, or spoiled."""
    _faults, changed = traffic.current_faults()
    if random.random() < faults.hang_after_write_rate:
        changed.wait(faults.hang_seconds)
        return edge_page(504)
    if random.random() < faults.garbage_after_write_rate:
        return garbage(response, faults.garbage_body)
    return response


class JsonErrorsMiddleware:
    """Unknown paths and unexpected exceptions answer in Zendesk's JSON shapes, never HTML."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code == 404 and "json" not in response.get("Content-Type", ""):
            return JsonResponse(
                {"error": "InvalidEndpoint", "description": "Not found"}, status=404
            )
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse:
        unreadable = unreadable_request(exception)
        if unreadable is not None:
            log.warning("unreadable request %s %s: %s", request.method, request.path, exception)
            return unreadable
        log.exception("sandbox error on %s %s", request.method, request.path)
        return JsonResponse(
            {"error": "InternalError", "description": "Something went wrong in the sandbox."},
            status=500,
        )


def unreadable_request(exception: Exception) -> JsonResponse | None:
    """The client's fault, found while Django parsed the request: a 4xx, never a 500.

    Django raises these when a view first touches `request.GET`/`POST`/`body` (more than
    1,000 fields, a body over its size limit, a broken multipart body). Its own handler would
    answer 400 with an HTML page; this middleware catches them first, so it answers them in
    Zendesk's JSON shape instead of its 500.
    """
    if isinstance(exception, RequestDataTooBig):
        return JsonResponse(
            {"error": "RequestTooLarge", "description": "The request body is too large."},
            status=413,
        )
    if isinstance(exception, (SuspiciousOperation, BadRequest, MultiPartParserError)):
        return JsonResponse(
            {"error": "InvalidRequest", "description": "The request could not be read."},
            status=400,
        )
    return None
