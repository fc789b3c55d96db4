"""URLconf for the agent_required tests: the app's URLs plus a page only agents may see."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import include, path

from inbox.auth import agent_required
from inbox.zendesk.errors import SessionExpired


@agent_required
def agents_only(request: HttpRequest) -> HttpResponse:
    return HttpResponse(f"Hello {request.agent.name}")


@agent_required
def expired_midway(request: HttpRequest) -> HttpResponse:
    raise SessionExpired()


urlpatterns = [
    path("agents-only", agents_only),
    path("expired-midway", expired_midway),
    path("", include("inbox.urls")),
]
