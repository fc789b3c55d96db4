"""OAuth 2 as Zendesk does it: authorization code + PKCE, refresh rotation, revocation.

Zendesk retired API tokens and password grants, so an app that acts for each agent signs
them in through `/oauth/authorizations/new` and trades the code at `/oauth/tokens`
(https://developer.zendesk.com/documentation/api-basics/authentication/using-oauth-to-authenticate-zendesk-api-requests-in-a-web-app/).
The sandbox has no sessions app: the sign-in and consent
steps carry their state in signed hidden fields (django.core.signing), so a tampered or
stale form is refused rather than trusted.

Control (tests, demo): `POST /_sandbox/oauth {"access_token_ttl": s, "code_ttl": s}` changes
lifetimes at run time (null or {} restores the defaults), `GET /_sandbox/oauth` shows them,
and `POST /_sandbox/oauth/clients {identifier, secret, redirect_uris}` registers a client.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.core import signing
from django.core.exceptions import SuspiciousOperation
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from sandbox import errors, jsonbody
from sandbox.auth import authenticate, token_digest
from sandbox.models import OAuthClient, OAuthGrant, OAuthToken, User
from sandbox.routing import route
from sandbox.serializers import base_url, timestamp

# A Zendesk authorization code lives 120 s
# (https://developer.zendesk.com/api-reference/ticketing/oauth/oauth_tokens/). Both lifetimes can be shortened at
# run time so tests can watch codes and tokens expire; the sandbox is one process.
DEFAULT_CODE_TTL = 120
_lifetimes: dict[str, int | None] = {"access_token_ttl": None, "code_ttl": None}

# Signed form state older than this is refused (a person signing in takes minutes, not hours).
FORM_MAX_AGE = 15 * 60
# The longest lifetime the control surface accepts (ten years): now + a longer one can
# overflow a datetime.
MAX_TTL = 10 * 365 * 86400
_SIGNING_SALT = "sandbox.oauth.authorize"
_SUPPORTED_SCOPES = {"read", "write"}


def access_token_ttl() -> int:
    return _lifetimes["access_token_ttl"] or settings.SANDBOX_OAUTH_EXPIRES_IN


def code_ttl() -> int:
    return _lifetimes["code_ttl"] or DEFAULT_CODE_TTL


# -- clients and redirect URIs -------------------------------------------------------------


def _demo_client() -> OAuthClient:
    """The client the README documents, created on first use if the seed did not."""
    client, _ = OAuthClient.objects.get_or_create(
        identifier=settings.SANDBOX_OAUTH_CLIENT_ID,
        defaults={
            "secret": settings.SANDBOX_OAUTH_CLIENT_SECRET,
            "name": "Agent Inbox (demo)",
            "redirect_uris": list(settings.SANDBOX_OAUTH_REDIRECT_URIS),
        },
    )
    return client


def find_client(identifier: str) -> OAuthClient | None:
    if not identifier:
        return None
    client = OAuthClient.objects.filter(identifier=identifier).first()
    if client is None and identifier == settings.SANDBOX_OAUTH_CLIENT_ID:
        return _demo_client()
    return client


def redirect_uri_allowed(client: OAuthClient, redirect_uri: str) -> bool:
    """Exact match, or a registered pattern whose `*` stands for any port number."""
    for registered in client.redirect_uris:
        if "*" in registered:
            pattern = re.escape(registered).replace(r"\*", r"\d{1,5}")
            if re.fullmatch(pattern, redirect_uri):
                return True
        elif registered == redirect_uri:
            return True
    return False


def _with_query(uri: str, params: dict[str, str]) -> str:
    parts = urlsplit(uri)
    query = "&".join(q for q in (parts.query, urlencode(params)) if q)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


class ClientRedirect(HttpResponseRedirect):
    """A redirect to a registered redirect URI, whatever its scheme.

    Native apps register custom schemes (com.example.app:/callback, RFC 8252 section 7.1),
    which Django's redirect refuses; the URI is one the client registered, and registration
    refuses schemes that run code in the browser (`_UNSAFE_SCHEMES`).
    """

    def __init__(self, redirect_to: str):
        self.allowed_schemes = [urlsplit(redirect_to).scheme]
        super().__init__(redirect_to)


_UNSAFE_SCHEMES = {"javascript", "data", "vbscript", "file", "blob"}


def _redirect_to_client(redirect_uri: str, params: dict[str, str], state: str) -> HttpResponse:
    if state:
        params = {**params, "state": state}
    return ClientRedirect(_with_query(redirect_uri, params))


# -- the authorization page ----------------------------------------------------------------

_AUTHORIZE_FIELDS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
)


def _error_page(request: HttpRequest, message: str, status: int = 400) -> HttpResponse:
    """Shown instead of redirecting: the redirect_uri cannot be trusted (RFC 6749 4.1.2.1)."""
    return render(request, "oauth/error.html", {"message": message}, status=status)


def _normalized_scope(raw: str) -> str:
    scopes = raw.replace(",", " ").split() or ["read"]
    return " ".join(dict.fromkeys(scopes))


def _check_authorize_request(
    request: HttpRequest, params: dict[str, str]
) -> tuple[OAuthClient | None, HttpResponse | None]:
    """Validate the request; return the client, or the page or redirect that refuses it."""
    client = find_client(params["client_id"])
    if client is None:
        return None, _error_page(request, "This application is not registered with the account.")
    if not params["redirect_uri"] or not redirect_uri_allowed(client, params["redirect_uri"]):
        return None, _error_page(
            request, "The redirect URI is not registered for this application."
        )
    redirect = params["redirect_uri"]
    state = params["state"]
    if params["response_type"] != "code":
        return None, _redirect_to_client(
            redirect,
            {
                "error": "unsupported_response_type",
                "error_description": "Only response_type=code is supported.",
            },
            state,
        )
    if params["code_challenge"] and params["code_challenge_method"] != "S256":
        return None, _redirect_to_client(
            redirect,
            {
                "error": "invalid_request",
                "error_description": "code_challenge_method must be S256.",
            },
            state,
        )
    unknown = set(params["scope"].split()) - _SUPPORTED_SCOPES
    if unknown:
        return None, _redirect_to_client(
            redirect,
            {
                "error": "invalid_scope",
                "error_description": f"Unknown scope: {' '.join(sorted(unknown))}.",
            },
            state,
        )
    return client, None


def _render_sign_in(
    request: HttpRequest,
    client: OAuthClient,
    params: dict[str, str],
    *,
    message: str = "",
    email: str = "",
    status: int = 200,
) -> HttpResponse:
    signed = signing.dumps(params, salt=_SIGNING_SALT)
    context = {"client": client, "request_state": signed, "message": message, "email": email}
    return render(request, "oauth/sign_in.html", context, status=status)


def _render_consent(
    request: HttpRequest, client: OAuthClient, params: dict[str, str], user: User
) -> HttpResponse:
    signed = signing.dumps({**params, "user_id": user.id}, salt=_SIGNING_SALT + ".consent")
    context = {
        "client": client,
        "user": user,
        "scopes": params["scope"].split(),
        "consent_state": signed,
    }
    return render(request, "oauth/consent.html", context)


def _issue_code(client: OAuthClient, user: User, params: dict[str, str]) -> str:
    code = secrets.token_urlsafe(32)
    OAuthGrant.objects.create(
        code=code,
        client=client,
        user=user,
        redirect_uri=params["redirect_uri"],
        scopes=params["scope"],
        code_challenge=params["code_challenge"],
        code_challenge_method=params["code_challenge_method"] if params["code_challenge"] else "",
        expires_at=timezone.now() + timedelta(seconds=code_ttl()),
    )
    return code


def _password_matches(password: str) -> bool:
    return hmac.compare_digest(password.encode(), settings.SANDBOX_DEMO_PASSWORD.encode())


@csrf_exempt
def authorize(request: HttpRequest) -> HttpResponse:
    """GET shows the sign-in page; POST signs in, then allows or denies (two steps)."""
    if request.method in ("GET", "HEAD"):  # routing serves HEAD with the GET view
        # `state` is the client's opaque value and goes back exactly as sent (RFC 6749 4.1.2).
        params = {
            name: request.GET.get(name, "")
            if name == "state"
            else request.GET.get(name, "").strip()
            for name in _AUTHORIZE_FIELDS
        }
        params["scope"] = _normalized_scope(params["scope"])
        client, refusal = _check_authorize_request(request, params)
        if refusal is not None:
            return refusal
        return _render_sign_in(request, client, params)
    if "consent_state" in request.POST:
        return _decide(request)
    return _sign_in(request)


def _sign_in(request: HttpRequest) -> HttpResponse:
    try:
        params = signing.loads(
            request.POST.get("request_state", ""), salt=_SIGNING_SALT, max_age=FORM_MAX_AGE
        )
    except signing.BadSignature:
        return _error_page(request, "This sign-in form has expired. Start signing in again.")
    client, refusal = _check_authorize_request(request, params)
    if refusal is not None:
        return refusal
    email = request.POST.get("email", "").strip()
    user = User.objects.filter(email__iexact=email, active=True).first() if email else None
    if user is None or not _password_matches(request.POST.get("password", "")):
        return _render_sign_in(
            request,
            client,
            params,
            message="The email or password is not right. Check both and try again.",
            email=email,
            status=401,
        )
    if user.suspended:
        return _render_sign_in(
            request,
            client,
            params,
            message="This account is suspended. An administrator of the account can restore it.",
            email=email,
            status=403,
        )
    return _render_consent(request, client, params, user)


def _decide(request: HttpRequest) -> HttpResponse:
    try:
        signed = signing.loads(
            request.POST.get("consent_state", ""),
            salt=_SIGNING_SALT + ".consent",
            max_age=FORM_MAX_AGE,
        )
    except signing.BadSignature:
        return _error_page(request, "This form has expired. Start signing in again.")
    user_id = signed.pop("user_id")
    params = signed
    client, refusal = _check_authorize_request(request, params)
    if refusal is not None:
        return refusal
    if request.POST.get("decision") != "allow":
        return _redirect_to_client(
            params["redirect_uri"],
            {
                "error": "access_denied",
                "error_description": "The end-user or authorization server denied the request.",
            },
            params["state"],
        )
    user = User.objects.filter(id=user_id, active=True, suspended=False).first()
    if user is None:
        return _error_page(request, "This account can no longer sign in.", status=403)
    code = _issue_code(client, user, params)
    return _redirect_to_client(params["redirect_uri"], {"code": code}, params["state"])


# -- the token endpoint --------------------------------------------------------------------


class OAuthError(Exception):
    """An RFC 6749 section 5.2 error, as Zendesk's /oauth/tokens answers them."""

    def __init__(self, error: str, description: str, status: int = 400):
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status

    def response(self) -> JsonResponse:
        response = JsonResponse(
            {"error": self.error, "error_description": self.description}, status=self.status
        )
        response["Cache-Control"] = "no-store"
        if self.status == 401:
            response["WWW-Authenticate"] = 'Basic realm="OAuth"'
        return response


class CodeReused(OAuthError):
    """The code was exchanged before; the tokens from that exchange are revoked."""

    def __init__(self, grant_id: int):
        super().__init__("invalid_grant", "The authorization code has already been used.")
        self.grant_id = grant_id


def _token_request_fields(request: HttpRequest) -> dict[str, Any]:
    content_type = request.content_type or ""
    if "json" in content_type:
        try:
            fields = jsonbody.loads(request.body or b"{}")
        except ValueError as exc:
            raise OAuthError("invalid_request", "The request body is not valid JSON.") from exc
        if not isinstance(fields, dict):
            raise OAuthError("invalid_request", "The request body must be a JSON object.")
        return {key: value for key, value in fields.items() if isinstance(value, str)}
    try:
        return {key: request.POST.get(key, "") for key in request.POST}
    except (SuspiciousOperation, MultiPartParserError) as exc:  # too many fields, bad multipart
        raise OAuthError("invalid_request", "The request body could not be read.") from exc


def _client_credentials(request: HttpRequest, fields: dict[str, Any]) -> tuple[str, str]:
    """From the body, or HTTP Basic (client_secret_basic) as RFC 6749 also allows."""
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
        except ValueError as exc:  # not base64 (binascii.Error), not ASCII, not UTF-8
            raise OAuthError("invalid_client", "Client authentication failed.", 401) from exc
        client_id, _, secret = decoded.partition(":")
        return client_id, secret
    return fields.get("client_id", ""), fields.get("client_secret", "")


def _authenticated_client(request: HttpRequest, fields: dict[str, Any]) -> OAuthClient:
    client_id, secret = _client_credentials(request, fields)
    client = find_client(client_id)
    if client is None or not hmac.compare_digest(secret.encode(), client.secret.encode()):
        raise OAuthError("invalid_client", "Client authentication failed.", 401)
    return client


def _pkce_matches(grant: OAuthGrant, verifier: str) -> bool:
    if not grant.code_challenge:
        return True
    if not verifier:
        return False
    digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
    computed = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    return hmac.compare_digest(computed, grant.code_challenge)


def _require(fields: dict[str, Any], *names: str) -> None:
    missing = [name for name in names if not fields.get(name)]
    if missing:
        raise OAuthError("invalid_request", f"Missing required parameter: {', '.join(missing)}.")


def _new_token(
    client: OAuthClient, user: User, scopes: str, grant: OAuthGrant | None
) -> tuple[OAuthToken, dict[str, Any]]:
    access_token = secrets.token_hex(32)
    refresh_token = secrets.token_hex(32)
    now = timezone.now()
    expires_in = access_token_ttl()
    refresh_expires_in = settings.SANDBOX_OAUTH_REFRESH_EXPIRES_IN
    token = OAuthToken.objects.create(
        client=client,
        user=user,
        access_token_digest=token_digest(access_token),
        refresh_token_digest=token_digest(refresh_token),
        scopes=scopes,
        expires_at=now + timedelta(seconds=expires_in),
        refresh_expires_at=now + timedelta(seconds=refresh_expires_in),
        created_at=now,
        grant=grant,
    )
    body = {
        "access_token": access_token,
        "token_type": "bearer",
        "scope": scopes,
        "expires_in": expires_in,
        "refresh_token": refresh_token,
        "refresh_token_expires_in": refresh_expires_in,
    }
    return token, body


def _exchange_code(client: OAuthClient, fields: dict[str, Any]) -> dict[str, Any]:
    _require(fields, "code", "redirect_uri")
    with transaction.atomic():
        grant = OAuthGrant.objects.select_related("user").filter(code=fields["code"]).first()
        if grant is None or grant.client_id != client.id:
            raise OAuthError("invalid_grant", "The authorization code is not valid.")
        # Single use: claim the code atomically so two concurrent exchanges cannot both win.
        claimed = OAuthGrant.objects.filter(id=grant.id, used=False).update(used=True)
        if not claimed:
            raise CodeReused(grant.id)
        if grant.expires_at <= timezone.now():
            raise OAuthError("invalid_grant", "The authorization code has expired.")
        if grant.redirect_uri != fields["redirect_uri"]:
            raise OAuthError("invalid_grant", "The redirect_uri does not match the authorization.")
        if not _pkce_matches(grant, fields.get("code_verifier", "")):
            raise OAuthError("invalid_grant", "The code_verifier does not match.")
        _, body = _new_token(client, grant.user, grant.scopes, grant)
    return body


def _refresh(client: OAuthClient, fields: dict[str, Any]) -> dict[str, Any]:
    _require(fields, "refresh_token")
    digest = token_digest(fields["refresh_token"])
    with transaction.atomic():
        old = (
            OAuthToken.objects.select_related("user", "grant")
            .filter(refresh_token_digest=digest)
            .first()
        )
        if old is None or old.client_id != client.id:
            raise OAuthError("invalid_grant", "The refresh token is not valid.")
        if old.refresh_expires_at is not None and old.refresh_expires_at <= timezone.now():
            raise OAuthError("invalid_grant", "The refresh token has expired.")
        # Rotation: the old pair stops working the moment the new one exists.
        rotated = OAuthToken.objects.filter(id=old.id, revoked=False).update(
            revoked=True, refresh_token_digest=None
        )
        if not rotated:
            raise OAuthError("invalid_grant", "The refresh token has been revoked.")
        _, body = _new_token(client, old.user, old.scopes, old.grant)
    return body


@csrf_exempt
def tokens(request: HttpRequest) -> HttpResponse:
    """POST /oauth/tokens: authorization_code and refresh_token grants."""
    try:
        fields = _token_request_fields(request)
        grant_type = fields.get("grant_type", "")
        if not grant_type:
            raise OAuthError("invalid_request", "Missing required parameter: grant_type.")
        if grant_type not in ("authorization_code", "refresh_token"):
            raise OAuthError(
                "unsupported_grant_type", f"The grant type {grant_type!r} is not supported."
            )
        client = _authenticated_client(request, fields)
        if grant_type == "authorization_code":
            body = _exchange_code_spending_failures(client, fields)
        else:
            body = _refresh(client, fields)
    except OAuthError as error:
        return error.response()
    response = JsonResponse(body)
    response["Cache-Control"] = "no-store"
    return response


def _exchange_code_spending_failures(client: OAuthClient, fields: dict[str, Any]) -> dict:
    """Exchange a code; a code that fails a check after being claimed stays spent."""
    try:
        return _exchange_code(client, fields)
    except CodeReused as reuse:
        # A second use suggests the code leaked: revoke what its first exchange issued
        # (RFC 6749 section 4.1.2), outside the transaction that rolled back.
        OAuthToken.objects.filter(grant_id=reuse.grant_id).update(
            revoked=True, refresh_token_digest=None
        )
        raise
    except OAuthError as error:
        if fields.get("code") and error.error == "invalid_grant":
            # The transaction rolled back the claim; spend the code for good outside it.
            OAuthGrant.objects.filter(code=fields["code"], client=client).update(used=True)
        raise


# -- the current token (API) ---------------------------------------------------------------


def _caller_token(request: HttpRequest) -> OAuthToken:
    caller = authenticate(request)
    if caller.user is None:
        raise errors.unauthorized()
    if caller.token is None:
        # Basic auth has no OAuth token behind it.
        raise errors.not_found()
    return caller.token


@csrf_exempt
def current_token_show(request: HttpRequest) -> HttpResponse:
    """GET /api/v2/oauth/tokens/current: what the bearer token is (any scope may ask)."""
    try:
        token = _caller_token(request)
    except errors.ApiError as error:
        return error.response()
    return JsonResponse(
        {
            "token": {
                "url": f"{base_url(request)}/api/v2/oauth/tokens/{token.id}.json",
                "id": token.id,
                "user_id": token.user_id,
                "client_id": token.client_id,
                # Zendesk shows only the start of a token; the sandbox keeps only digests.
                "token": token.access_token_digest[:6],
                "refresh_token": None,
                "created_at": timestamp(token.created_at),
                "expires_at": timestamp(token.expires_at),
                "used_at": None,
                "scopes": token.scopes.split(),
            }
        }
    )


@csrf_exempt
def current_token_revoke(request: HttpRequest) -> HttpResponse:
    """DELETE /api/v2/oauth/tokens/current: sign-out revokes the token whatever its scope."""
    try:
        token = _caller_token(request)
    except errors.ApiError as error:
        return error.response()
    OAuthToken.objects.filter(id=token.id).update(revoked=True, refresh_token_digest=None)
    return HttpResponse(status=204)


# -- control -------------------------------------------------------------------------------


def _json_object(request: HttpRequest) -> dict[str, Any] | None:
    try:
        body = jsonbody.loads(request.body or b"{}")
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _is_lifetime(value: Any) -> bool:
    """1 s to MAX_TTL: a longer lifetime would overflow the expiry date (a 500 later)."""
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_TTL


def _lifetimes_body() -> dict[str, int]:
    return {"access_token_ttl": access_token_ttl(), "code_ttl": code_ttl()}


@csrf_exempt
def control_lifetimes(request: HttpRequest) -> HttpResponse:
    """GET shows, POST sets `access_token_ttl` / `code_ttl` in seconds ({} restores defaults)."""
    if request.method == "POST":
        body = _json_object(request)
        if body is None:
            return JsonResponse({"error": "body must be a JSON object"}, status=400)
        if not body:
            _lifetimes.update(access_token_ttl=None, code_ttl=None)
        for name in _lifetimes:
            if name in body:
                value = body[name]
                if value is not None and not _is_lifetime(value):
                    return JsonResponse(
                        {"error": f"{name} must be a whole number of seconds, 1 to {MAX_TTL}"},
                        status=400,
                    )
                _lifetimes[name] = value
    return JsonResponse(_lifetimes_body())


@csrf_exempt
def control_register_client(request: HttpRequest) -> HttpResponse:
    """POST {identifier, secret, redirect_uris, name?}: another app, for tests and demos."""
    body = _json_object(request)
    texts = ("identifier", "secret")
    if not body or not all(isinstance(body.get(key), str) and body[key] for key in texts):
        return JsonResponse({"error": "identifier and secret are required strings"}, status=400)
    if not isinstance(body.get("name", ""), str | None):
        return JsonResponse({"error": "name must be a string"}, status=400)
    redirect_uris = body.get("redirect_uris") or []
    if not isinstance(redirect_uris, list) or not all(isinstance(u, str) for u in redirect_uris):
        return JsonResponse({"error": "redirect_uris must be a list of strings"}, status=400)
    if any(urlsplit(uri).scheme.lower() in _UNSAFE_SCHEMES for uri in redirect_uris):
        return JsonResponse(
            {"error": "redirect_uris may not use javascript:, data:, vbscript:, file: or blob:"},
            status=400,
        )
    client, _ = OAuthClient.objects.update_or_create(
        identifier=str(body["identifier"]),
        defaults={
            "secret": str(body["secret"]),
            "name": str(body.get("name") or body["identifier"]),
            "redirect_uris": redirect_uris,
        },
    )
    return JsonResponse(
        {"identifier": client.identifier, "name": client.name, "redirect_uris": redirect_uris},
        status=201,
    )


route(r"oauth/authorizations/new", "GET", authorize, raw=True)
route(r"oauth/authorizations/new", "POST", authorize, raw=True)
route(r"oauth/tokens", "POST", tokens, raw=True)
route("oauth/tokens/current", "GET", current_token_show)
route("oauth/tokens/current", "DELETE", current_token_revoke)
route(r"_sandbox/oauth", "GET", control_lifetimes, raw=True)
route(r"_sandbox/oauth", "POST", control_lifetimes, raw=True)
route(r"_sandbox/oauth/clients", "POST", control_register_client, raw=True)
