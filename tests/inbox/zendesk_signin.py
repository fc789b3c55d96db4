"""Test helpers: point the app at the sandbox and sign agents in through its OAuth pages.

Not a conftest: test modules import the fixtures they use, so other helpers' conftests stay
untouched. The sandbox's sign-in and consent pages are driven with `requests`, as a browser
would, and the code is exchanged by the app's own oauth module.
"""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.core.cache import cache
from django.test import Client

from inbox.zendesk import oauth
from inbox.zendesk.client import Credentials
from inbox.zendesk.records import TokenGrant

# A redirect URI the sandbox's demo client allows (any port of 127.0.0.1).
TEST_REDIRECT_URI = "http://127.0.0.1:8765/auth/callback"
HIDDEN_INPUT = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')


def hidden_fields(page: str) -> dict[str, str]:
    return {name: unescape(value) for name, value in HIDDEN_INPUT.findall(page)}


def authorize_at_sandbox(
    authorize_url: str, *, email: str, password: str, decision: str = "allow"
) -> str:
    """Sign in and allow (or deny) on the sandbox's pages; returns where it redirects to."""
    with requests.Session() as browser:
        sign_in_page = browser.get(authorize_url, timeout=30)
        assert sign_in_page.status_code == 200, sign_in_page.text[:500]
        consent_page = browser.post(
            authorize_url,
            data={**hidden_fields(sign_in_page.text), "email": email, "password": password},
            timeout=30,
            allow_redirects=False,
        )
        assert consent_page.status_code == 200, consent_page.text[:500]
        answer = browser.post(
            authorize_url,
            data={**hidden_fields(consent_page.text), "decision": decision},
            timeout=30,
            allow_redirects=False,
        )
        assert answer.status_code == 302, answer.text[:500]
        return answer.headers["Location"]


def query_of(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


def grant_for(sandbox, email: str) -> TokenGrant:
    """A real token for `email`, through authorize + PKCE + code exchange."""
    attempt = oauth.new_attempt()
    url = oauth.authorize_url(attempt=attempt, redirect_uri=TEST_REDIRECT_URI)
    callback = query_of(
        authorize_at_sandbox(url, email=email, password=sandbox.info["demo_password"])
    )
    assert callback["state"] == attempt.state
    return oauth.exchange_code(
        code=callback["code"], code_verifier=attempt.code_verifier, redirect_uri=TEST_REDIRECT_URI
    )


def credentials_for_email(sandbox, email: str) -> Credentials:
    grant = grant_for(sandbox, email)
    user_id = next(person["id"] for person in sandbox.info["agents"] if person["email"] == email)
    return Credentials(base_url=sandbox.base_url, access_token=grant.access_token, user_id=user_id)


def set_suspended(sandbox, user_id: int, suspended: bool) -> None:
    """Suspend or reinstate a seeded user at the sandbox (its seed suspends one agent)."""
    response = sandbox.control("POST", f"users/{user_id}", json={"suspended": suspended})
    response.raise_for_status()


def endpoint_calls(sandbox, endpoint: str) -> int:
    """How many calls the sandbox saw of e.g. "POST /oauth/tokens" since the last reset."""
    return sandbox.control("GET", "stats").json()["by_endpoint"].get(endpoint, 0)


def start(client: Client, next_path: str = "/") -> str:
    response = client.post("/auth/start", {"next": next_path})
    assert response.status_code == 302
    return response["Location"]


def come_back(client: Client, callback_url: str):
    parts = urlsplit(callback_url)
    return client.get(f"{parts.path}?{parts.query}")


def sign_in(client: Client, sandbox, email: str, *, next_path: str = "/", decision: str = "allow"):
    """The whole round trip: start, Zendesk's pages, back to the callback."""
    authorize = start(client, next_path)
    callback = authorize_at_sandbox(
        authorize, email=email, password=sandbox.info["demo_password"], decision=decision
    )
    return come_back(client, callback)


@pytest.fixture
def zendesk(sandbox, settings):
    """The app pointed at the sandbox (callback at TEST_REDIRECT_URI), with a clean rate budget and default token lifetimes."""
    settings.ZENDESK_URL = sandbox.base_url
    settings.ZENDESK_OAUTH_REDIRECT_URL = TEST_REDIRECT_URI
    settings.ZENDESK_RETRY_BACKOFF = 0.01
    cache.clear()
    yield sandbox
    sandbox.control("POST", "oauth", json={})
    sandbox.control("POST", "faults", json={})
    cache.clear()
