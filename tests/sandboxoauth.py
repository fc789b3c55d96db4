"""The sandbox's OAuth driven as a browser would: sign-in page, consent, code, tokens.

Shared by the sandbox's OAuth contract tests and by every test that needs a real token
(`tokens_for`). The pages are driven with requests; redirects are read, never followed.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import secrets
from urllib.parse import parse_qs, urlsplit

import requests

from tests.sandboxserver import SandboxServer

CLIENT_ID = os.environ.get("SANDBOX_OAUTH_CLIENT_ID", "agent-inbox-demo")
CLIENT_SECRET = os.environ.get("SANDBOX_OAUTH_CLIENT_SECRET", "agent-inbox-demo-secret")
PASSWORD = os.environ.get("SANDBOX_DEMO_PASSWORD", "demo-password")
REDIRECT_URI = "http://127.0.0.1:8765/auth/callback"
TIMEOUT = 10


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def hidden_field(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]+)"', html)
    assert found, f"no hidden field {name} in page"
    return found.group(1)


def authorize_params(**overrides: str) -> dict[str, str]:
    return {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "scope": "read write",
        "state": "state-123",
        "code_challenge_method": "S256",
        **overrides,
    }


def open_page(sandbox: SandboxServer, **params: str) -> requests.Response:
    return requests.get(
        f"{sandbox.base_url}/oauth/authorizations/new",
        params=params,
        allow_redirects=False,
        timeout=TIMEOUT,
    )


def sign_in(sandbox: SandboxServer, email: str, password: str = PASSWORD, **params: str):
    """GET the page and POST the sign-in form; returns the response (consent page on success)."""
    page = open_page(sandbox, **authorize_params(**params))
    assert page.status_code == 200, page.text
    return requests.post(
        page.url.split("?")[0],
        data={
            "request_state": hidden_field(page.text, "request_state"),
            "email": email,
            "password": password,
        },
        allow_redirects=False,
        timeout=TIMEOUT,
    )


def decide(sandbox: SandboxServer, consent_page: str, decision: str) -> dict[str, list[str]]:
    """POST allow/deny; returns the redirect's query, after checking where it leads."""
    response = requests.post(
        f"{sandbox.base_url}/oauth/authorizations/new",
        data={"consent_state": hidden_field(consent_page, "consent_state"), "decision": decision},
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    assert response.status_code == 302, response.text
    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
    return parse_qs(location.query)


def authorization_code(sandbox: SandboxServer, email: str, *, challenge: str, **params: str) -> str:
    consent = sign_in(sandbox, email, code_challenge=challenge, **params)
    assert consent.status_code == 200, consent.text
    query = decide(sandbox, consent.text, "allow")
    assert query["state"] == ["state-123"]
    return query["code"][0]


def exchange(sandbox: SandboxServer, **fields: str) -> requests.Response:
    body = {
        "grant_type": "authorization_code",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "redirect_uri": REDIRECT_URI,
        **fields,
    }
    return requests.post(f"{sandbox.base_url}/oauth/tokens", json=body, timeout=TIMEOUT)


def tokens_for(sandbox: SandboxServer, email: str, scope: str = "read write") -> dict:
    verifier, challenge = pkce_pair()
    code = authorization_code(sandbox, email, challenge=challenge, scope=scope)
    response = exchange(sandbox, code=code, code_verifier=verifier)
    assert response.status_code == 200, response.text
    return response.json()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def me(sandbox: SandboxServer, token: str) -> requests.Response:
    return sandbox.get("/api/v2/users/me.json", headers=bearer(token))


def refresh(sandbox: SandboxServer, refresh_token: str) -> requests.Response:
    return requests.post(
        f"{sandbox.base_url}/oauth/tokens",
        json={
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        },
        timeout=TIMEOUT,
    )
