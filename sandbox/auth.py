"""Who is calling: Zendesk's basic `{email}/token:{api_token}` or an OAuth bearer token.

`api_view` wraps every API view: it authenticates, checks the token's scope, turns
`ApiError` into Zendesk's bodies, (methods are dispatched by sandbox.routing).
"""

from __future__ import annotations

import base64
import functools
import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from sandbox import errors
from sandbox.models import OAuthToken, User


@dataclass(frozen=True)
class Caller:
    user: User | None  # None: anonymous
    scopes: frozenset[str]  # {"read", "write"} for the API token
    token: OAuthToken | None = None

    def may(self, scope: str) -> bool:
        """`read` or `write`; `tickets:read` style scopes cover their resource too."""
        if scope in self.scopes:
            return True
        return any(s.endswith(":" + scope) for s in self.scopes)


ANONYMOUS = Caller(user=None, scopes=frozenset())


def token_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def authenticate(request: HttpRequest) -> Caller:
    """Return the caller, ANONYMOUS when no credentials; raise 401 for wrong ones."""
    header = request.headers.get("Authorization", "")
    if not header:
        return ANONYMOUS
    scheme, _, value = header.partition(" ")
    scheme = scheme.lower()
    if scheme == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except ValueError as exc:  # not base64 (binascii.Error), not ASCII, not UTF-8
            raise errors.unauthorized() from exc
        login, _, secret = decoded.partition(":")
        email, _, kind = login.partition("/")
        if kind != "token" or secret != settings.SANDBOX_API_TOKEN:
            raise errors.unauthorized()
        user = User.objects.filter(email__iexact=email).first()
        if user is None or not user.active or user.suspended:
            raise errors.unauthorized()
        return Caller(user=user, scopes=frozenset({"read", "write"}))
    if scheme == "bearer":
        token = (
            OAuthToken.objects.select_related("user", "client")
            .filter(access_token_digest=token_digest(value.strip()))
            .first()
        )
        if token is None or token.revoked or token.expires_at <= timezone.now():
            raise errors.unauthorized()
        if not token.user.active or token.user.suspended:
            raise errors.unauthorized()
        return Caller(user=token.user, scopes=frozenset(token.scopes.split()), token=token)
    raise errors.unauthorized()


def api_view(
    *,
    allow_anonymous: bool = False,
    agents_only: bool = False,
) -> Callable:
    """Decorate `view(request, caller, **kwargs)`.

    GET/HEAD need the `read` scope; other methods need `write` (403 otherwise, as Zendesk).
    Anonymous callers get 401 unless `allow_anonymous` (users/me answers the anonymous user).
    `agents_only`: end users get 403 (activities are for agents only).
    """

    def decorate(view: Callable) -> Callable:
        @csrf_exempt
        @functools.wraps(view)
        def wrapper(request: HttpRequest, **kwargs) -> HttpResponse:
            try:
                caller = authenticate(request)
                if caller.user is None and not allow_anonymous:
                    raise errors.unauthorized()
                if caller.user is not None:
                    needed = "read" if request.method in ("GET", "HEAD") else "write"
                    if not caller.may(needed):
                        raise errors.forbidden()
                    if agents_only and not caller.user.is_agent:
                        raise errors.forbidden()
                return view(request, caller, **kwargs)
            except errors.ApiError as error:
                return error.response()

        return wrapper

    return decorate
