"""Traffic middleware: faults, rate limits and stats (issue C) and JSON errors.

SandboxTrafficMiddleware is filled in by issue C; until then it passes everything through.
"""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse, JsonResponse

log = logging.getLogger(__name__)


class SandboxTrafficMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)


class JsonErrorsMiddleware:
    """Unknown paths and unexpected exceptions answer in Zendesk's JSON shapes, never HTML."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code == 404 and "json" not in response.get("Content-Type", ""):
            return JsonResponse({"error": "InvalidEndpoint", "description": "Not found"}, status=404)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse:
        log.exception("sandbox error on %s %s", request.method, request.path)
        return JsonResponse(
            {"error": "InternalError", "description": "Something went wrong in the sandbox."},
            status=500,
        )
