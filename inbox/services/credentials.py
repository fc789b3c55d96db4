"""An agent's Zendesk credentials, refreshed before they run out.

credentials_for(agent) -> Credentials, refreshed first if the access token expires within a
minute; with_agent_credentials(agent, fn) also refreshes once and retries once when Zendesk
answers 401 anyway (token revoked or expired early). When a refresh is refused, the tokens are
forgotten and SessionExpired is raised; the web layer (inbox.auth.agent_required) turns it
into "Your Zendesk session expired; please sign in again."

Refresh races: several requests of one agent may find the token expiring at the same time. Only
one may refresh (Zendesk may rotate the refresh token, spending the old one). The refresher
holds a lock: an in-process lock per agent (threads of one worker), and the agent's row locked
with SELECT ... FOR UPDATE inside a transaction (processes, on PostgreSQL; SQLite ignores it
but serializes writers anyway). Under the lock the row is read again: when another request has
already refreshed, its token is used and no second refresh is made. Where no row lock exists
(SQLite with several worker processes) a loser's refresh is refused by Zendesk (the refresh
token was spent); the tokens are then forgotten only if the row still holds the ones the loser
saw, otherwise the winner's token is taken.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.views.decorators.debug import sensitive_variables

from inbox import crypto
from inbox.models import AgentAccount
from inbox.zendesk import oauth
from inbox.zendesk.client import Credentials
from inbox.zendesk.errors import SessionExpired, Unauthorized

logger = logging.getLogger(__name__)

REFRESH_MARGIN_SECONDS = 60
SESSION_EXPIRED_MESSAGE = "Your Zendesk session expired; please sign in again."


_refresh_locks: dict[int, threading.Lock] = {}
_refresh_locks_guard = threading.Lock()


@sensitive_variables("access_token")
def stored_credentials(agent: AgentAccount) -> Credentials:
    """The stored credentials as they are (no refresh): for revoking them at sign-out."""
    try:
        access_token = agent.access_token
    except crypto.UndecryptableToken:
        access_token = ""
    if not access_token:
        raise SessionExpired(SESSION_EXPIRED_MESSAGE)
    return Credentials(
        base_url=settings.ZENDESK_URL, access_token=access_token, user_id=agent.zendesk_user_id
    )


def credentials_for(agent: AgentAccount) -> Credentials:
    """Credentials to call Zendesk as the agent; refreshes first when the token is about to expire."""
    if agent.token_expires_within(REFRESH_MARGIN_SECONDS):
        refresh_tokens(agent)
    return stored_credentials(agent)


def with_agent_credentials[T](agent: AgentAccount, call: Callable[[Credentials], T]) -> T:
    """Run `call(credentials)`; on 401 refresh once (unless someone already did) and retry once.

    A second 401 ends the agent's Zendesk session: SessionExpired.
    """
    credentials = credentials_for(agent)
    try:
        return call(credentials)
    except SessionExpired:
        raise
    except Unauthorized:
        refresh_tokens(agent)
    try:
        return call(stored_credentials(agent))
    except SessionExpired:
        raise
    except Unauthorized:
        # Refused even with a token minted a moment ago: the account can no longer use
        # Zendesk (suspended, deactivated, app access removed). Sign in again.
        _forget_tokens_if_unchanged(
            agent, agent.access_token_encrypted, reason="refused right after a refresh"
        )
        raise SessionExpired(SESSION_EXPIRED_MESSAGE) from None


def _lock_for(agent_id: int) -> threading.Lock:
    with _refresh_locks_guard:
        return _refresh_locks.setdefault(agent_id, threading.Lock())


def _copy_token_fields(source: AgentAccount, target: AgentAccount) -> None:
    for name in (
        "access_token_encrypted",
        "refresh_token_encrypted",
        "token_scope",
        "token_expires_at",
        "refresh_expires_at",
    ):
        setattr(target, name, getattr(source, name))


def _already_refreshed(locked: AgentAccount, seen_ciphertext: str) -> bool:
    """Did another request refresh since this one read the row? Then its token is the one to use.

    Compares the stored ciphertext with the one this request holds: Fernet encrypts with a
    random IV, so a refreshed (or re-signed-in) token never has the same ciphertext.
    """
    return locked.has_tokens and locked.access_token_encrypted != seen_ciphertext


def refresh_tokens(agent: AgentAccount) -> None:
    """Renew the agent's access token exactly once, however many requests ask at the same time.

    `agent` holds the token this request has seen (expiring, or just refused with 401): unless
    the stored token is already a different one, it is refreshed. Updates `agent` in place.
    Raises SessionExpired when Zendesk refuses the refresh token.
    """
    seen = agent.access_token_encrypted
    with _lock_for(agent.pk):
        with transaction.atomic():
            locked = AgentAccount.objects.select_for_update().get(pk=agent.pk)
            if _already_refreshed(locked, seen):
                _copy_token_fields(locked, agent)
                return
            refusal = _refresh_locked(locked)
            if refusal is None:
                _copy_token_fields(locked, agent)
                logger.info("refreshed the Zendesk token of agent account %s", agent.pk)
                return
        # Refused. Where rows are not locked (SQLite, several processes) another process may
        # have refreshed meanwhile, spending the refresh token we sent: forget the tokens only
        # if the row still holds the ones this request saw, otherwise take the new ones.
        if _forget_tokens_if_unchanged(agent, seen, reason=refusal):
            raise SessionExpired(SESSION_EXPIRED_MESSAGE)
        current = AgentAccount.objects.get(pk=agent.pk)
        _copy_token_fields(current, agent)
        if not current.has_tokens:
            raise SessionExpired(SESSION_EXPIRED_MESSAGE)


def _forget_tokens_if_unchanged(agent: AgentAccount, seen_ciphertext: str, *, reason: str) -> bool:
    """Forget the tokens this request saw (not newer ones); every session of the agent ends
    with them, for good (the session generation moves on), as at sign-out."""
    forgotten = AgentAccount.objects.filter(
        pk=agent.pk, access_token_encrypted=seen_ciphertext
    ).update(
        access_token_encrypted="",
        refresh_token_encrypted="",
        token_expires_at=None,
        refresh_expires_at=None,
        session_generation=F("session_generation") + 1,
    )
    if forgotten:
        logger.info("forgetting the Zendesk tokens of agent account %s: %s", agent.pk, reason)
        agent.forget_tokens()
    return bool(forgotten)


@sensitive_variables("refresh_token", "grant")
def _refresh_locked(locked: AgentAccount) -> str | None:
    """Refresh the locked row's tokens and save; returns why not, when Zendesk refused."""
    try:
        refresh_token = locked.refresh_token
    except crypto.UndecryptableToken:
        return "the stored refresh token cannot be decrypted"
    if not refresh_token:
        return "no refresh token"
    try:
        grant = oauth.refresh(refresh_token=refresh_token)
    except oauth.OAuthRefused as refusal:
        return f"refused ({refusal.error_code or refusal.status_code})"
    locked.store_grant(grant)
    locked.save(
        update_fields=[
            "access_token_encrypted",
            "refresh_token_encrypted",
            "token_scope",
            "token_expires_at",
            "refresh_expires_at",
            "updated_at",
        ]
    )
    return None
