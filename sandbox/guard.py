"""Keep web pages away from the sandbox: loopback Hosts only, no cross-site control calls.

The control API (/_sandbox/) resets data, registers OAuth clients and points webhooks
anywhere, and GET /_sandbox/ shows the client secret and API token. Two attacks reach it
from a page open in the developer's browser:

- a cross-site form or fetch POSTing to http://127.0.0.1:8001/_sandbox/...: refused when its
  `Origin` (or, without one, its `Referer`) is not the sandbox's own origin, or when the
  browser says `Sec-Fetch-Site: cross-site|same-site`;
- DNS rebinding (evil.example resolving to 127.0.0.1, then reading the answers): refused by
  the Host check, which admits loopback names and those in SANDBOX_ALLOWED_HOSTS only.

Tools (curl, requests, the tests, scripts/run.sh) send neither Origin nor Referer and a
loopback Host, so they pass as before.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse, JsonResponse

CONTROL_PREFIX = "/_sandbox"
# Gunicorn's default limits, answered here in JSON (sandbox.gunicorn_conf lifts gunicorn's own).
MAX_REQUEST_LINE = 8190
MAX_HEADER_BYTES = 8190
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
SAFE_FETCH_SITES = ("same-origin", "none")


def _refused(status: int, code: str, description: str) -> JsonResponse:
    return JsonResponse({"error": code, "description": description}, status=status)


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def cross_site(request: HttpRequest, own_origin: str) -> bool:
    """True when the browser says the request comes from a page of another origin."""
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None and fetch_site not in SAFE_FETCH_SITES:
        return True
    origin = request.headers.get("Origin")
    if origin is not None:
        return origin.lower() != own_origin
    referer = request.headers.get("Referer")
    if referer is not None:
        return _origin_of(referer) != own_origin
    return False


def oversized_request(request: HttpRequest) -> JsonResponse | None:
    """414 for a request line, 431 for a header, longer than gunicorn would accept."""
    query = request.META.get("QUERY_STRING", "")
    line = len(request.method or "") + len(request.path_info) + len(query) + 12
    if line > MAX_REQUEST_LINE:
        return _refused(414, "RequestURITooLong", "The request URL is too long.")
    for name, value in request.META.items():
        if name.startswith("HTTP_") and len(name) + len(str(value)) > MAX_HEADER_BYTES:
            return _refused(431, "RequestHeaderFieldsTooLarge", "A request header is too large.")
    return None


class SandboxGuardMiddleware:
    """First in the chain: a Host outside ALLOWED_HOSTS or a cross-site control write is 4xx."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        oversized = oversized_request(request)
        if oversized is not None:
            return oversized
        try:
            host = request.get_host()
        except DisallowedHost:
            return _refused(
                400,
                "InvalidHost",
                "This sandbox answers on loopback names only (127.0.0.1, localhost, [::1]); "
                "add others to SANDBOX_ALLOWED_HOSTS.",
            )
        path = request.path
        is_control = path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/")
        own_origin = f"{request.scheme}://{host}".lower()
        if is_control and request.method not in SAFE_METHODS and cross_site(request, own_origin):
            return _refused(
                403,
                "CrossSiteRequest",
                "The control API refuses requests from other sites' pages.",
            )
        return self.get_response(request)
