"""Views: thin. Check input and permission, call a service, render a page or a partial."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import (
    DisallowedHost,
    RequestDataTooBig,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from inbox import auth, services

logger = logging.getLogger(__name__)

# What Django could not read, in the words the 400 page uses (most specific first).
UNREADABLE_REQUESTS: list[tuple[type[Exception] | tuple[type[Exception], ...], str]] = [
    (RequestDataTooBig, "The form sent was larger than Agent Inbox accepts."),
    (
        (TooManyFieldsSent, TooManyFilesSent),
        "The address or form carried more fields than Agent Inbox accepts.",
    ),
    (
        DisallowedHost,
        "This web address is not one Agent Inbox answers on. Open Agent Inbox from its usual "
        "address.",
    ),
    (MultiPartParserError, "The form sent could not be read."),
]


@require_safe  # monitors probe with HEAD; gunicorn and runserver send no body for it
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """The app and its database (`ok`, 503 if not), its shared cache and its Zendesk.

    Never calls Zendesk on this request's path. Which Zendesk and its error text only for a
    signed-in agent or with HEALTHZ_DETAIL on.
    """
    detail = settings.HEALTHZ_DETAIL or auth.signed_in_without_recheck(request)
    report = services.health_report(detail=detail)
    return JsonResponse(report, status=200 if report["ok"] else 503)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Django's 400 (a request it could not read) as a page that says what was wrong.

    Django's own page says only "Bad Request (400)". This one must never fail itself (a
    failing 400 handler is a 500), so it falls back to plain text if the page cannot render.
    """
    reason = next(
        (text for kinds, text in UNREADABLE_REQUESTS if isinstance(exception, kinds)),
        "The request could not be read.",
    )
    try:
        return render(request, "inbox/bad_request.html", {"reason": reason}, status=400)
    except Exception:
        logger.exception("the 400 page could not be rendered")
        return HttpResponseBadRequest(f"Bad request: {reason}", content_type="text/plain")
