"""Sign in with Zendesk (OAuth authorization code + PKCE), and sign out.

GET  /auth/signin    the "Sign in with Zendesk" page (a POST form, so CSRF protects the start)
POST /auth/start     remember state + PKCE verifier + where to go next; off to Zendesk
GET  /auth/callback  check state, trade the code for tokens, admit active agents and admins only
POST /auth/signout   revoke the token at Zendesk (best effort), forget it, end the session

Every refusal renders a page that says why, with a way to try again.
"""

from __future__ import annotations

import logging
import time
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_GET, require_POST

from inbox import auth
from inbox.models import AgentAccount
from inbox.zendesk import client, oauth
from inbox.zendesk.errors import (
    SessionExpired,
    Unauthorized,
    UpstreamUnavailable,
    ZendeskError,
)
from inbox.zendesk.records import TokenGrant, User

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
    attempt = oauth.new_attempt()
    redirect_uri = callback_url(request)
    attempts = _open_attempts(request)
    attempts[attempt.state] = {
        "code_verifier": attempt.code_verifier,
        "next": safe_next(request, request.POST.get("next")),
        "redirect_uri": redirect_uri,
        "started_at": time.time(),
    }
    newest = sorted(attempts.items(), key=lambda item: item[1]["started_at"])[-MAX_OPEN_ATTEMPTS:]
    _save_attempts(request, dict(newest))
    return HttpResponseRedirect(oauth.authorize_url(attempt=attempt, redirect_uri=redirect_uri))


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
@sensitive_variables("attempt", "attempts", "code", "grant", "credentials")
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
    credentials = None
    try:
        grant = oauth.exchange_code(
            code=code, code_verifier=attempt["code_verifier"], redirect_uri=attempt["redirect_uri"]
        )
        credentials = client.Credentials(
            base_url=settings.ZENDESK_URL, access_token=grant.access_token, user_id=0
        )
        user = client.users_me(credentials)
    except oauth.OAuthRefused:
        return _failed(
            request,
            title="Zendesk did not accept this sign-in",
            reason="The authorization was already used or has expired (Zendesk keeps it for "
            "two minutes). Please start again.",
            next_path=next_path,
        )
    except Unauthorized:
        # A token Zendesk issued a moment ago and refuses at once: the account may not use
        # the API, which is what Zendesk does for a suspended or deactivated user.
        title, reason = SUSPENDED
        return _failed(request, title=title, reason=reason, status=403, next_path=next_path)
    except ZendeskError as error:
        logger.warning("sign-in failed talking to Zendesk: %s", error)
        if credentials is not None and not isinstance(error, UpstreamUnavailable):
            # Zendesk granted a token and then answered oddly: give the unused token back
            # (not when it is down: the revoke would only make the agent wait longer).
            _revoke_quietly(credentials)
        return _failed(
            request,
            title="Zendesk is not answering",
            reason=f"{error.user_message} Nothing was changed.",
            status=502,
            next_path=next_path,
        )
    refusal = _refusal(user)
    if refusal is not None:
        _revoke_quietly(credentials)
        title, reason = refusal
        return _failed(request, title=title, reason=reason, status=403, next_path=next_path)
    agent = _upsert_agent(user, grant)
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


SUSPENDED = (
    "Your agent account is suspended",
    "Your Zendesk agent account is suspended (or deactivated), so Zendesk does not let it "
    "use Agent Inbox. Ask a Zendesk administrator to reactivate it, then sign in again.",
)


def _refusal(user: User) -> tuple[str, str] | None:
    """Why this Zendesk user may not use the app, or None for an active agent or admin."""
    if not isinstance(user.id, int) or isinstance(user.id, bool) or user.id <= 0:
        # None for the anonymous user; anything but a positive number is not an identity.
        return (
            "Zendesk did not say who you are",
            "Zendesk answered without your user id (as it does for an anonymous user), so we "
            "cannot tell who you are. Please sign in again.",
        )
    if user.role not in ("agent", "admin"):
        return (
            "Agent Inbox is for agents",
            "Agent Inbox is for agents; your Zendesk account is an end user. If you need "
            "help with a request, use your help center instead.",
        )
    if user.suspended or not user.active:
        return SUSPENDED
    return None


@transaction.atomic
def _upsert_agent(user: User, grant: TokenGrant) -> AgentAccount:
    agent, _ = AgentAccount.objects.select_for_update().get_or_create(
        zendesk_user_id=user.id, defaults={"name": user.name, "role": user.role}
    )
    agent.copy_profile(user)
    agent.store_grant(grant)
    agent.last_signed_in_at = timezone.now()
    agent.save()
    return agent


def _revoke_quietly(credentials: client.Credentials) -> None:
    """Revoke a token; a failure must not stop a sign-out (the token expires on its own)."""
    try:
        oauth.revoke(credentials)
    except ZendeskError as error:
        logger.warning("could not revoke a Zendesk token: %s", error)


def _credentials_to_revoke(agent: AgentAccount) -> client.Credentials | None:
    """The agent's live token, refreshed first when it has expired.

    Zendesk refuses to revoke an expired access token (401), and its refresh token would then
    stay valid for weeks: refreshing first lets the revoke end both. None when nothing is left
    to revoke (the refresh was refused, or the tokens cannot be read).
    """
    try:
        return auth.credentials_for(agent)
    except SessionExpired:
        return None
    except ZendeskError:
        try:
            return auth.stored_credentials(agent)  # Zendesk down: try the revoke anyway
        except ZendeskError:
            return None


@require_POST
def signout(request: HttpRequest) -> HttpResponse:
    agent = auth.current_agent(request)
    if agent is not None:
        credentials = _credentials_to_revoke(agent)
        if credentials is not None:
            _revoke_quietly(credentials)
        agent.forget_tokens()
        agent.save()
        logger.info("agent account %s signed out", agent.pk)
    auth.sign_out(request)
    return render(request, "inbox/signed_out.html")
