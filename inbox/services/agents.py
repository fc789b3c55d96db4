"""Who may use Agent Inbox: signing in with Zendesk, signing out, and checking again later.

Only active agents and admins of the Zendesk account may sign in. Every Zendesk token the app
no longer keeps is revoked at Zendesk: the one a new sign-in replaces, the one a refused
sign-in was given, the one of an agent who signs out or is no longer an agent. A revoke that
fails is said (the token then lives until it expires), never passed over in silence.

Signing out ends every session of the agent, in every browser, for good: the account's
`session_generation` goes up, and a session holding an older one is signed out
(inbox.auth.current_agent). Role and restricted flag are read again from users/me every
AGENT_RECHECK_SECONDS, on the budget's background lane.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from inbox.models import AgentAccount
from inbox.services.credentials import credentials_for, stored_credentials, with_agent_credentials
from inbox.zendesk import budget, client, oauth
from inbox.zendesk.errors import SessionExpired, Unauthorized, ZendeskError
from inbox.zendesk.records import TokenGrant, User

logger = logging.getLogger(__name__)

NOT_REVOKED = (
    " Zendesk could not be reached to withdraw the access it granted a moment ago, so that "
    "access stays valid until it expires on its own (a Zendesk administrator can end it "
    "sooner under Admin Center > Apps and integrations > OAuth tokens)."
)
SUSPENDED = (
    "Your agent account is suspended",
    "Your Zendesk agent account is suspended (or deactivated), so Zendesk does not let it "
    "use Agent Inbox. Ask a Zendesk administrator to reactivate it, then sign in again.",
)


class SignInRefused(Exception):
    """This sign-in (or this agent's session) is refused: a title, a reason, an HTTP status."""

    def __init__(self, title: str, reason: str, *, status: int = 403) -> None:
        super().__init__(title)
        self.title = title
        self.reason = reason
        self.status = status


@dataclass(frozen=True)
class SignInAttempt:
    """A sign-in just started: the browser goes to `authorize_url`; the session keeps the rest."""

    state: str
    code_verifier: str = field(repr=False)
    authorize_url: str


def agent_sign_in_start(*, redirect_uri: str) -> SignInAttempt:
    """A fresh state and PKCE verifier, and Zendesk's authorize page that will answer to them."""
    attempt = oauth.new_attempt()
    return SignInAttempt(
        state=attempt.state,
        code_verifier=attempt.code_verifier,
        authorize_url=oauth.authorize_url(attempt=attempt, redirect_uri=redirect_uri),
    )


@sensitive_variables("code", "code_verifier", "grant", "credentials")
def agent_sign_in(*, code: str, code_verifier: str, redirect_uri: str) -> AgentAccount:
    """Trade the code for a token, admit an active agent or admin, and keep their account.

    Raises SignInRefused (its reason says whether the fresh token could be revoked). A token
    the account held before is revoked once the new one is stored.
    """
    try:
        grant = oauth.exchange_code(
            code=code, code_verifier=code_verifier, redirect_uri=redirect_uri
        )
    except oauth.OAuthRefused:
        raise SignInRefused(
            "Zendesk did not accept this sign-in",
            "The authorization was already used or has expired (Zendesk keeps it for two "
            "minutes). Please start again.",
            status=400,
        ) from None
    except ZendeskError as error:
        logger.warning("sign-in failed talking to Zendesk: %s", error)
        raise SignInRefused(
            "Zendesk is not answering", f"{error.user_message} Nothing was changed.", status=502
        ) from None
    credentials = client.Credentials(
        base_url=settings.ZENDESK_URL, access_token=grant.access_token, user_id=0
    )
    try:
        user = client.users_me(credentials)
    except Unauthorized:
        # A token Zendesk issued a moment ago and refuses at once: the account may not use
        # the API, which is what Zendesk does for a suspended or deactivated user.
        title, reason = SUSPENDED
        raise SignInRefused(title, reason + _give_back(credentials)) from None
    except ZendeskError as error:
        logger.warning("sign-in failed talking to Zendesk: %s", error)
        raise SignInRefused(
            "Zendesk is not answering",
            error.user_message + (_give_back(credentials) or " Nothing was changed."),
            status=502,
        ) from None
    refusal = refusal_of(user)
    if refusal is not None:
        title, reason = refusal
        raise SignInRefused(title, reason + _give_back(credentials))
    replaced = _previous_credentials(user)
    agent = _upsert_agent(user, grant)
    if replaced is not None:
        revoke_token(replaced)
    return agent


def agent_sign_out(*, agent: AgentAccount) -> bool:
    """End the agent's sessions everywhere and give the token back to Zendesk (best effort).

    Returns False when the token could not be revoked (it then lives until it expires).
    """
    credentials = _credentials_to_revoke(agent)
    revoked = credentials is None or revoke_token(credentials)
    _end_sessions(agent)
    logger.info("agent account %s signed out", agent.pk)
    return revoked


def agent_recheck(*, agent: AgentAccount) -> AgentAccount:
    """Read users/me again when the last look is older than AGENT_RECHECK_SECONDS.

    Updates name, role and restricted flag. An account that is no longer an active agent or
    admin is signed out everywhere: SignInRefused. Zendesk unreachable or the budget spent:
    the agent keeps working and the next request tries again. SessionExpired when Zendesk
    refuses the agent's tokens altogether.
    """
    checked_at = agent.last_checked_at
    now = timezone.now()
    if checked_at is not None and now - checked_at < dt.timedelta(
        seconds=settings.AGENT_RECHECK_SECONDS
    ):
        return agent
    # One request checks; the others of the same moment go on with what is known.
    if not AgentAccount.objects.filter(pk=agent.pk, last_checked_at=checked_at).update(
        last_checked_at=now
    ):
        return agent
    try:
        user = with_agent_credentials(
            agent, lambda credentials: client.users_me(credentials, lane=budget.BACKGROUND)
        )
    except SessionExpired:
        raise
    except ZendeskError as error:
        logger.info("could not check agent account %s again (%s); later", agent.pk, error)
        AgentAccount.objects.filter(pk=agent.pk, last_checked_at=now).update(
            last_checked_at=checked_at
        )
        return agent
    refusal = refusal_of(user)
    if refusal is None and user.id != agent.zendesk_user_id:
        refusal = ("Zendesk says you are someone else", "Please sign in again.")
    if refusal is not None:
        logger.info("agent account %s may no longer use the app: %s", agent.pk, refusal[0])
        agent_sign_out(agent=agent)
        raise SignInRefused(*refusal)
    agent.copy_profile(user)
    agent.last_checked_at = now
    agent.save(
        update_fields=[
            "name",
            "email",
            "role",
            "restricted",
            "iana_time_zone",
            "locale",
            "photo_url",
            "last_checked_at",
            "updated_at",
        ]
    )
    return agent


def refusal_of(user: User) -> tuple[str, str] | None:
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


def revoke_token(credentials: client.Credentials) -> bool:
    """Revoke a token at Zendesk; False when it may still be alive.

    A 401 means Zendesk no longer takes the token (revoked, expired, or its user suspended):
    nothing is left to revoke. A failure must never stop a sign-in or a sign-out.
    """
    try:
        oauth.revoke(credentials)
    except Unauthorized:
        return True
    except ZendeskError as error:
        logger.warning("could not revoke a Zendesk token: %s", error)
        return False
    return True


def _give_back(credentials: client.Credentials) -> str:
    """Revoke a token the app will not keep; the sentence to add to the page when it failed."""
    return "" if revoke_token(credentials) else NOT_REVOKED


def _previous_credentials(user: User) -> client.Credentials | None:
    """The token the account holds now, which the new sign-in replaces (to revoke after)."""
    existing = AgentAccount.objects.filter(zendesk_user_id=user.id).first()
    if existing is None or not existing.has_tokens:
        return None
    return _credentials_to_revoke(existing)


@transaction.atomic
def _upsert_agent(user: User, grant: TokenGrant) -> AgentAccount:
    agent, _ = AgentAccount.objects.select_for_update().get_or_create(
        zendesk_user_id=user.id, defaults={"name": "", "role": user.role}
    )  # copy_profile names it, cut to fit the row
    agent.copy_profile(user)
    agent.store_grant(grant)
    agent.last_signed_in_at = agent.last_checked_at = timezone.now()
    agent.save()
    return agent


def _end_sessions(agent: AgentAccount) -> None:
    """Forget the tokens and move the session generation on: every session ends for good."""
    AgentAccount.objects.filter(pk=agent.pk).update(
        access_token_encrypted="",
        refresh_token_encrypted="",
        token_expires_at=None,
        refresh_expires_at=None,
        session_generation=F("session_generation") + 1,
        updated_at=timezone.now(),
    )
    agent.refresh_from_db()


def _credentials_to_revoke(agent: AgentAccount) -> client.Credentials | None:
    """The agent's live token, refreshed first when it has expired.

    Zendesk refuses to revoke an expired access token (401), and its refresh token would then
    stay valid for weeks: refreshing first lets the revoke end both. None when nothing is left
    to revoke (the refresh was refused, or the tokens cannot be read).
    """
    try:
        return credentials_for(agent)
    except SessionExpired:
        return None
    except ZendeskError:
        try:
            return stored_credentials(agent)  # Zendesk down: try the revoke anyway
        except ZendeskError:
            return None
