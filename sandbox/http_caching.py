"""JSON answers as Zendesk sends them: charset, a weak ETag, and 304 for a matching GET.

Recorded responses carry `Content-Type: application/json; charset=utf-8`, `ETag: W/"..."`
and `Cache-Control: max-age=0, private, must-revalidate` (Zendesk's reference does not
document them; the recordings are the source). A GET whose `If-None-Match` holds the ETag
answers 304 with no body (https://www.rfc-editor.org/rfc/rfc9110#name-304-not-modified).

The middleware sits inside SandboxTrafficMiddleware, so a 304 has passed the rate limit and
counts against it: nothing in https://developer.zendesk.com/api-reference/introduction/rate-limits/
says a conditional request is free.
"""

from __future__ import annotations

import hashlib

from django.http import HttpRequest, HttpResponse, HttpResponseNotModified

JSON_CONTENT_TYPE = "application/json; charset=utf-8"
CACHE_CONTROL = "max-age=0, private, must-revalidate"


def weak_etag(body: bytes) -> str:
    return f'W/"{hashlib.md5(body, usedforsecurity=False).hexdigest()}"'


def etag_matches(header: str, etag: str) -> bool:
    """Weak comparison (RFC 9110 13.1.2): W/ is ignored on both sides; `*` matches any."""
    wanted = etag.removeprefix("W/")
    for candidate in header.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == wanted:
            return True
    return False


class JsonCachingMiddleware:
    """Charset on every JSON answer; ETag, Cache-Control and 304 on successful API GETs."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.get("Content-Type", "").split(";")[0].strip() == "application/json":
            response["Content-Type"] = JSON_CONTENT_TYPE
        cacheable = (
            request.method in ("GET", "HEAD")
            and request.path.startswith("/api/")
            and response.status_code == 200
            and not response.streaming
            and "json" in response["Content-Type"]
        )
        if not cacheable:
            return response
        etag = weak_etag(response.content)
        if etag_matches(request.headers.get("If-None-Match", ""), etag):
            response = HttpResponseNotModified()
        response["ETag"] = etag
        response["Cache-Control"] = CACHE_CONTROL
        return response
