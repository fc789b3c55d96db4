"""URLconf for the session and credentials tests: the app's URLs plus pages only agents see."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import include, path

from inbox.auth import agent_required
from inbox.services.credentials import with_agent_credentials
from inbox.zendesk import client as zendesk_client
from inbox.zendesk.errors import SessionExpired, ZendeskError


@agent_required
def agents_only(request: HttpRequest) -> HttpResponse:
    return HttpResponse(f"Hello {request.agent.name}")


@agent_required
def expired_midway(request: HttpRequest) -> HttpResponse:
    raise SessionExpired()


@agent_required
def who_am_i(request: HttpRequest) -> HttpResponse:
    """What a real agent page does: call Zendesk as the agent, refreshing once if needed."""
    try:
        me = with_agent_credentials(request.agent, zendesk_client.users_me)
    except SessionExpired:
        raise
    except ZendeskError as error:
        return HttpResponse(error.user_message, status=503)
    restricted = " (restricted)" if request.agent.restricted else ""
    return HttpResponse(f"Zendesk says you are {me.name}{restricted}")


urlpatterns = [
    path("agents-only", agents_only),
    path("expired-midway", expired_midway),
    path("who-am-i", who_am_i),
    path("", include("inbox.urls")),
]
