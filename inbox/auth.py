"""Who is signed in: the web session of an agent.

Identity: an `AgentAccount` id in the Django session (no django.contrib.auth: Zendesk is the
only place an agent has a password, and AgentAccount holds everything the app needs), with the
account's session generation at sign-in and when the session began and was last used.

A session counts as signed in while the account still has tokens, its generation is the
account's (signing out anywhere moves it on: every session of the agent ends for good), it is
younger than SESSION_MAX_AGE_SECONDS and it was used within SESSION_IDLE_TIMEOUT_SECONDS.
Every AGENT_RECHECK_SECONDS the agent's role is read again from Zendesk
(inbox.services.agents.agent_recheck).

For views: @agent_required puts the signed-in AgentAccount on `request.agent`. A SessionExpired
raised inside the view ends the session with "Your Zendesk session expired; please sign in
again." Credentials and their refresh live in inbox.services.credentials.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.middleware.csrf import rotate_token
from django.urls import reverse
from django_htmx.http import HttpResponseClientRedirect

from inbox.models import AgentAccount
from inbox.services.agents import SignInRefused, agent_recheck
from inbox.services.credentials import SESSION_EXPIRED_MESSAGE
from inbox.zendesk.errors import SessionExpired

logger = logging.getLogger(__name__)

SESSION_AGENT_KEY = "agent_account_id"
SESSION_GENERATION_KEY = "agent_session_generation"
SESSION_STARTED_KEY = "agent_signed_in_at"
SESSION_SEEN_KEY = "agent_seen_at"
SESSION_KEYS = (SESSION_AGENT_KEY, SESSION_GENERATION_KEY, SESSION_STARTED_KEY, SESSION_SEEN_KEY)
# "Last used" is written at most this often: not a session save on every request.
SEEN_RESOLUTION_SECONDS = 60
IDLE_MESSAGE = "You were away for a while, so Agent Inbox signed you out. Please sign in again."


# -- the signed-in agent ---------------------------------------------------------------------


def current_agent(request: HttpRequest) -> AgentAccount | None:
    """The AgentAccount of this session, or None (looked up once per request)."""
    if not hasattr(request, "_current_agent"):
        request._current_agent = _session_agent(request)
    return request._current_agent


def _session_agent(request: HttpRequest) -> AgentAccount | None:
    agent_id = request.session.get(SESSION_AGENT_KEY)
    if not agent_id:
        return None
    agent = AgentAccount.objects.filter(pk=agent_id).first()
    if (
        agent is None
        or not agent.has_tokens  # signed out elsewhere, or refresh refused: sign in again
        or request.session.get(SESSION_GENERATION_KEY) != agent.session_generation
        or not _within_lifetime(request.session)
    ):
        _end_web_session(request)
        return None
    if not _within_idle_time(request.session):
        _end_web_session(request)
        messages.info(request, IDLE_MESSAGE)
        return None
    try:
        agent = agent_recheck(agent=agent)
    except SessionExpired:
        _end_web_session(request)
        messages.warning(request, SESSION_EXPIRED_MESSAGE)
        return None
    except SignInRefused as refusal:
        _end_web_session(request)
        messages.warning(request, f"{refusal.title}. {refusal.reason}")
        return None
    _mark_seen(request.session)
    return agent


def signed_in_without_recheck(request: HttpRequest) -> bool:
    """Whether this session is an agent's, read from the database only: never asks Zendesk
    and never ends the session (for /healthz, which must not call Zendesk on its path)."""
    session = request.session
    agent_id = session.get(SESSION_AGENT_KEY)
    if not agent_id:
        return False
    agent = AgentAccount.objects.filter(pk=agent_id).first()
    return (
        agent is not None
        and agent.has_tokens
        and session.get(SESSION_GENERATION_KEY) == agent.session_generation
        and _within_lifetime(session)
        and _within_idle_time(session)
    )


def _number(session, key: str) -> float | None:
    value = session.get(key)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _within_lifetime(session) -> bool:
    started = _number(session, SESSION_STARTED_KEY)
    return started is not None and time.time() - started < settings.SESSION_MAX_AGE_SECONDS


def _within_idle_time(session) -> bool:
    seen = _number(session, SESSION_SEEN_KEY)
    return seen is not None and time.time() - seen < settings.SESSION_IDLE_TIMEOUT_SECONDS


def _mark_seen(session) -> None:
    now = time.time()
    if now - (_number(session, SESSION_SEEN_KEY) or 0) >= SEEN_RESOLUTION_SECONDS:
        session[SESSION_SEEN_KEY] = now


def _end_web_session(request: HttpRequest) -> None:
    """Forget who this browser was (keeping sign-ins it has in progress)."""
    for key in SESSION_KEYS:
        request.session.pop(key, None)


def sign_in(request: HttpRequest, agent: AgentAccount) -> None:
    """Bind the session to the agent under a new session key and CSRF token (no fixation)."""
    request.session.cycle_key()
    rotate_token(request)
    now = time.time()
    request.session[SESSION_AGENT_KEY] = agent.pk
    request.session[SESSION_GENERATION_KEY] = agent.session_generation
    request.session[SESSION_STARTED_KEY] = now
    request.session[SESSION_SEEN_KEY] = now
    request.session.set_expiry(settings.SESSION_MAX_AGE_SECONDS)
    request._current_agent = agent


def sign_out(request: HttpRequest) -> None:
    request.session.flush()
    request._current_agent = None


def signin_url(next_path: str) -> str:
    return f"{reverse('signin')}?{urlencode({'next': next_path})}"


def _to_signin(request: HttpRequest) -> HttpResponse:
    next_path = request.get_full_path()
    if getattr(request, "htmx", False):
        # An htmx fragment request: send the whole page to sign-in, and back to the page after.
        next_path = request.htmx.current_url_abs_path or "/"
        return HttpResponseClientRedirect(signin_url(next_path))
    return HttpResponseRedirect(signin_url(next_path))


def agent_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Views only for signed-in agents: others go to sign-in and come back after.

    Sets `request.agent`. A SessionExpired raised inside the view ends the session with a
    message saying so.
    """

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        agent = current_agent(request)
        if agent is None:
            return _to_signin(request)
        request.agent = agent
        try:
            return view(request, *args, **kwargs)
        except SessionExpired:
            sign_out(request)
            messages.warning(request, SESSION_EXPIRED_MESSAGE)
            return _to_signin(request)

    return wrapper
