"""OAuth 2.0 authorization code + PKCE against Zendesk: the agent signs in at Zendesk itself.

Zendesk removed the implicit and password grants (2025) and is retiring API tokens (2026-27),
so each agent grants this app a token of their own. Flow (RFC 6749 + RFC 7636):

1. `new_attempt()` makes a `state` (CSRF protection of the callback) and a PKCE verifier; the
   view keeps both in the session and sends the browser to `authorize_url(...)`.
2. Zendesk redirects back with `code` and `state`; `exchange_code(...)` trades the code and the
   verifier for a TokenGrant (access token, refresh token, lifetimes).
3. `refresh(...)` renews an expiring access token; `revoke(...)` ends it at sign-out.

Tokens stay in TokenGrant (whose repr hides them) and in encrypted model fields: never in logs.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from inbox.zendesk import client, http
from inbox.zendesk.errors import InvalidResponse, ZendeskError
from inbox.zendesk.records import TokenGrant


class OAuthRefused(ZendeskError):
    """Zendesk's token endpoint refused the code or refresh token (RFC 6749 section 5.2)."""

    user_message = "Zendesk did not accept the sign-in. Please sign in again."


@dataclass(frozen=True)
class Attempt:
    """One sign-in in progress: what the callback must find again in the session."""

    state: str
    code_verifier: str = field(repr=False)

    @property
    def code_challenge(self) -> str:
        """S256: base64url(sha256(verifier)) without padding."""
        digest = hashlib.sha256(self.code_verifier.encode("ascii")).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def new_attempt() -> Attempt:
    # 64 random bytes -> 86 characters: inside PKCE's 43..128 and far beyond guessing.
    return Attempt(state=secrets.token_urlsafe(32), code_verifier=secrets.token_urlsafe(64))


def authorize_url(*, attempt: Attempt, redirect_uri: str) -> str:
    """Where to send the browser: Zendesk's own sign-in and consent page."""
    query = urlencode(
        {
            "response_type": "code",
            "client_id": settings.ZENDESK_OAUTH_CLIENT_ID,
            "redirect_uri": redirect_uri,
            "scope": settings.ZENDESK_OAUTH_SCOPE,
            "state": attempt.state,
            "code_challenge": attempt.code_challenge,
            "code_challenge_method": "S256",
        }
    )
    return f"{settings.ZENDESK_URL}/oauth/authorizations/new?{query}"


@sensitive_variables("fields", "body", "reply")
def _token_request(fields: dict[str, Any]) -> TokenGrant:
    """POST /oauth/tokens. https://developer.zendesk.com/api-reference/ticketing/oauth/grant_type_tokens/

    A 400/401 from the token endpoint is a refusal (bad code, spent or revoked refresh token):
    OAuthRefused. Outages and garbage stay UpstreamUnavailable/InvalidResponse, so a caller can
    tell "sign in again" from "try again in a moment".
    """
    body = {
        **fields,
        "client_id": settings.ZENDESK_OAUTH_CLIENT_ID,
        "client_secret": settings.ZENDESK_OAUTH_CLIENT_SECRET,
    }
    try:
        reply = http.request(
            "POST", f"{settings.ZENDESK_URL}/oauth/tokens", json=body, budgeted=False
        )
    except ZendeskError as error:
        if error.status_code in (400, 401, 403):
            refused = OAuthRefused(
                f"Zendesk refused the token request ({error.error_code or error.status_code})."
            )
            refused.error_code = error.error_code
            refused.status_code = error.status_code
            raise refused from None
        raise
    if not isinstance(reply.body, dict) or not reply.body.get("access_token"):
        raise InvalidResponse("Zendesk's token endpoint answered without an access token.")
    return TokenGrant.from_api(reply.body, now=timezone.now())


@sensitive_variables("code", "code_verifier")
def exchange_code(*, code: str, code_verifier: str, redirect_uri: str) -> TokenGrant:
    """Trade the authorization code (valid 120 s) and the PKCE verifier for tokens."""
    return _token_request(
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "scope": settings.ZENDESK_OAUTH_SCOPE,
            "code_verifier": code_verifier,
        }
    )


@sensitive_variables("refresh_token", "grant")
def refresh(*, refresh_token: str) -> TokenGrant:
    """Renew an access token. The answer may carry a new refresh token: store whatever comes."""
    grant = _token_request({"grant_type": "refresh_token", "refresh_token": refresh_token})
    if grant.refresh_token is None:
        # Zendesk may keep the refresh token as is; keep using the one we have.
        grant = TokenGrant(
            access_token=grant.access_token,
            refresh_token=refresh_token,
            scope=grant.scope,
            expires_at=grant.expires_at,
            refresh_expires_at=grant.refresh_expires_at,
        )
    return grant


@sensitive_variables("credentials")
def revoke(credentials: client.Credentials) -> None:
    """Revoke the access token (and with it, at Zendesk, its refresh token).

    https://developer.zendesk.com/api-reference/ticketing/oauth/oauth_tokens/#revoke-token

    Off the team's rate budget: a token the app gives up (sign-out, a replaced or refused
    grant) must be ended even when the team has spent its reads for the minute, or it would
    stay alive at Zendesk until it expires.
    """
    http.request(
        "DELETE",
        f"{credentials.base_url}/api/v2/oauth/tokens/current",
        access_token=credentials.access_token,
        budgeted=False,
    )
