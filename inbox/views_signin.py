"""Sign in with Zendesk (OAuth authorization code + PKCE), and sign out.

GET  /auth/signin    the "Sign in with Zendesk" page (a POST form, so CSRF protects the start)
POST /auth/start     remember state + PKCE verifier + where to go next; off to Zendesk
GET  /auth/callback  check state, trade the code for tokens, admit active agents and admins only
POST /auth/signout   revoke the token at Zendesk (best effort), forget it, end every session

Every refusal renders a page that says why, with a way to try again.
"""

from __future__ import annotations

import logging
import time
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_GET, require_POST

from inbox import auth
from inbox.services.agents import (
    SignInRefused,
    agent_sign_in,
    agent_sign_in_start,
    agent_sign_out,
)

logger = logging.getLogger(__name__)

# Sign-ins in progress in this browser, by their OAuth `state` (several tabs may sign in at once).
SESSION_ATTEMPTS_KEY = "zendesk_oauth_attempts"
MAX_OPEN_ATTEMPTS = 3
# Long enough to type a password and approve; a code itself lives only 120 s at Zendesk.
ATTEMPT_MAX_AGE_SECONDS = 15 * 60
ATTEMPT_TEXT_FIELDS = ("code_verifier", "next", "redirect_uri")


def safe_next(request: HttpRequest, candidate: str | None) -> str:
    """Only a path inside this app: never another host (no open redirect via ?next=)."""
    if (
        candidate
        and candidate.startswith("/")
        and url_has_allowed_host_and_scheme(
            candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
    ):
        return candidate
    return reverse("home")


def callback_url(request: HttpRequest) -> str:
    """The redirect_uri registered at Zendesk: configured (behind a proxy) or this host's."""
    return settings.ZENDESK_OAUTH_REDIRECT_URL or request.build_absolute_uri(
        reverse("auth_callback")
    )


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def render_with_zendesk_form_action(
    request: HttpRequest, template: str, context: dict[str, Any], *, status: int = 200
) -> HttpResponse:
    """Render a page whose form leads on to Zendesk's authorize page.

    Browsers apply CSP `form-action` to the redirects after a form submission too, so the page
    with the "Sign in with Zendesk" form must allow the Zendesk origin it ends up at.
    """
    response = render(request, template, context, status=status)
    policy = dict(settings.SECURE_CSP)
    policy["form-action"] = [*policy.get("form-action", []), _origin(settings.ZENDESK_URL)]
    response._csp_config = policy
    return response


@require_GET
@never_cache
def signin(request: HttpRequest) -> HttpResponse:
    next_path = safe_next(request, request.GET.get("next"))
    if auth.current_agent(request) is not None:
        return HttpResponseRedirect(next_path)
    return render_with_zendesk_form_action(request, "inbox/signin.html", {"next": next_path})


@require_POST
def signin_start(request: HttpRequest) -> HttpResponse:
    redirect_uri = callback_url(request)
    attempt = agent_sign_in_start(redirect_uri=redirect_uri)
    attempts = _open_attempts(request)
    attempts[attempt.state] = {
        "code_verifier": attempt.code_verifier,
        "next": safe_next(request, request.POST.get("next")),
        "redirect_uri": redirect_uri,
        "started_at": time.time(),
    }
    newest = sorted(attempts.items(), key=lambda item: item[1]["started_at"])[-MAX_OPEN_ATTEMPTS:]
    _save_attempts(request, dict(newest))
    return HttpResponseRedirect(attempt.authorize_url)


def _open_attempts(request: HttpRequest) -> dict[str, dict[str, Any]]:
    """This browser's sign-ins in progress that have not expired yet.

    A session may hold attempts saved by an earlier version of the app, in another shape:
    those are dropped (the agent starts again) rather than failing the sign-in with a 500.
    """
    stored = request.session.get(SESSION_ATTEMPTS_KEY)
    if not isinstance(stored, dict):
        return {}
    oldest_allowed = time.time() - ATTEMPT_MAX_AGE_SECONDS
    return {
        state: attempt
        for state, attempt in stored.items()
        if _is_current_shape(attempt) and attempt["started_at"] >= oldest_allowed
    }


def _save_attempts(request: HttpRequest, attempts: dict[str, dict[str, Any]]) -> None:
    """Keep the attempts in progress; none left: nothing kept (a visitor who started nothing
    gets no session row just for opening the callback URL)."""
    if attempts:
        request.session[SESSION_ATTEMPTS_KEY] = attempts
    else:
        request.session.pop(SESSION_ATTEMPTS_KEY, None)


def _is_current_shape(attempt: Any) -> bool:
    """Saved by signin_start as it is now: text fields and a numeric start time."""
    if not isinstance(attempt, dict):
        return False
    started_at = attempt.get("started_at")
    return (
        all(isinstance(attempt.get(name), str) for name in ATTEMPT_TEXT_FIELDS)
        and isinstance(started_at, int | float)
        and not isinstance(started_at, bool)
    )


def _failed(
    request: HttpRequest, *, title: str, reason: str, status: int = 400, next_path: str = ""
) -> HttpResponse:
    context = {"title": title, "reason": reason, "next": next_path or reverse("home")}
    return render_with_zendesk_form_action(
        request, "inbox/signin_failed.html", context, status=status
    )


@require_GET
@never_cache
@sensitive_variables("attempt", "attempts", "code")
def signin_callback(request: HttpRequest) -> HttpResponse:
    attempts = _open_attempts(request)
    state, code = request.GET.get("state", ""), request.GET.get("code")
    attempt = attempts.get(state)
    if attempt is not None and code:
        # Only an answer with a code spends the attempt: one without (an error, or a stray
        # request) leaves the sign-in in progress, so Zendesk's real answer can still arrive.
        del attempts[state]
    _save_attempts(request, attempts)
    if attempt is None and attempts:
        return _failed(
            request,
            title="This sign-in could not be verified",
            reason="The answer from Zendesk does not belong to a sign-in started in this "
            "browser (its state did not match), so it was ignored. Please start again.",
        )
    if attempt is None:
        return _failed(
            request,
            title="This sign-in has expired",
            reason="We could not find the sign-in you started in this browser, or it is more "
            "than 15 minutes old. Please start again.",
        )
    next_path = attempt["next"]
    if request.GET.get("error"):
        return _consent_error(request, request.GET["error"], next_path)
    if not code:
        return _failed(
            request,
            title="Zendesk sent no authorization",
            reason="Zendesk came back without an authorization code. If Zendesk's page is "
            "still open in another tab, finish there; otherwise start again.",
            next_path=next_path,
        )
    try:
        agent = agent_sign_in(
            code=code, code_verifier=attempt["code_verifier"], redirect_uri=attempt["redirect_uri"]
        )
    except SignInRefused as refusal:
        return _failed(
            request,
            title=refusal.title,
            reason=refusal.reason,
            status=refusal.status,
            next_path=next_path,
        )
    auth.sign_in(request, agent)
    logger.info("agent account %s signed in", agent.pk)
    return HttpResponseRedirect(next_path)


def _consent_error(request: HttpRequest, error: str, next_path: str) -> HttpResponse:
    if error == "access_denied":
        return _failed(
            request,
            title="You did not allow access",
            reason="Zendesk says you declined to let Agent Inbox use your Zendesk account. "
            "Agent Inbox needs that access to show your tickets. You can try again whenever "
            "you like.",
            status=403,
            next_path=next_path,
        )
    return _failed(
        request,
        title="Zendesk refused the sign-in",
        reason=f"Zendesk answered with the error “{error[:80]}”. Please start again, or ask "
        "your Zendesk administrator to check the Agent Inbox OAuth client.",
        next_path=next_path,
    )


@require_POST
def signout(request: HttpRequest) -> HttpResponse:
    agent = auth.current_agent(request)
    revoked = agent_sign_out(agent=agent) if agent is not None else True
    auth.sign_out(request)
    return render(request, "inbox/signed_out.html", {"revoked": revoked})
