"""Shared fixtures and helpers of the app's tests: the app pointed at the sandbox, agents
signed in through the sandbox's own OAuth pages, and AgentAccounts holding real tokens.

The sandbox's sign-in and consent pages are driven with `requests`, as a browser would, and
the code is exchanged by the app's own oauth module. Helpers that are not fixtures (sign_in,
agent_account, ...) are imported from here by the test modules that use them.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from inbox import crypto
from inbox.auth import (
    SESSION_AGENT_KEY,
    SESSION_GENERATION_KEY,
    SESSION_SEEN_KEY,
    SESSION_STARTED_KEY,
)
from inbox.models import AgentAccount
from inbox.zendesk import oauth
from inbox.zendesk.client import Credentials
from inbox.zendesk.records import TokenGrant
from tests import hostile
from tests.sandboxoauth import tokens_for
from tests.sandboxserver import SandboxServer, start_sandbox

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


def signed_in_browser(
    sandbox: SandboxServer, *, role: str = "admin", **match: Any
) -> tuple[Client, AgentAccount]:
    """A browser signed in as a seeded agent, and the account row; sandbox stats reset after."""
    browser = Client()
    person = sandbox.agent(role=role, **match)
    response = sign_in(browser, sandbox, person["email"])
    assert response.status_code == 302, response.content.decode()[:500]
    sandbox.control("POST", "stats/reset")
    return browser, AgentAccount.objects.get(zendesk_user_id=person["id"])


# -- AgentAccounts with real tokens, for service tests ----------------------------------------

ROOT = Path(__file__).resolve().parents[2]

_tokens: dict[tuple[str, str], str] = {}


def access_token(sandbox: SandboxServer, email: str) -> str:
    """An OAuth access token for the agent (read write), fetched once per session."""
    key = (sandbox.base_url, email)
    if key not in _tokens:
        _tokens[key] = tokens_for(sandbox, email)["access_token"]
    return _tokens[key]


def agent_account(
    sandbox: SandboxServer, seeded: dict[str, Any], *, save: bool = True
) -> AgentAccount:
    """The app's AgentAccount for a seeded sandbox agent, signed in with a real token."""
    agent = AgentAccount(
        zendesk_user_id=seeded["id"],
        name=seeded["name"],
        email=seeded["email"],
        role=seeded["role"],
        restricted=seeded["restricted"],
        access_token_encrypted=crypto.encrypt(access_token(sandbox, seeded["email"])),
        last_checked_at=timezone.now(),  # as after a real sign-in: no users/me re-check due
    )
    if save:
        agent.save()
    return agent


def api_calls(sandbox: SandboxServer, endpoint: str | None = None) -> int:
    """Calls the sandbox answered on /api/v2 since the last stats reset (OAuth not counted)."""
    by_endpoint = sandbox.control("GET", "stats").json()["by_endpoint"]
    return sum(
        count
        for name, count in by_endpoint.items()
        if " /api/v2/" in name and (endpoint is None or name == endpoint)
    )


def run_app_process(script: str, *args: str, redis_url: str, sandbox: SandboxServer, **env: str):
    """Start a second app process (Redis cache, the sandbox as Zendesk) running `script`."""
    return subprocess.Popen(
        [sys.executable, "-c", script, *args],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings_redis",
            "APP_TEST_REDIS_URL": redis_url,
            "APP_TEST_ZENDESK_URL": sandbox.base_url,
            **env,
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


# -- changing a sandbox user behind the app's back -------------------------------------------


def set_suspended(sandbox: SandboxServer, user_id: int, suspended: bool) -> None:
    """Suspend or reinstate a seeded user at the sandbox (its seed suspends one agent)."""
    sandbox.control("POST", f"users/{user_id}", json={"suspended": suspended}).raise_for_status()


@pytest.fixture
def sandbox_user_change(sandbox: SandboxServer):
    """`change(user_id, **fields)`: what a Zendesk admin does to a user (suspend, deactivate,
    restrict, demote), through the sandbox's control API; put back after the test."""
    changed: list[tuple[int, dict[str, Any]]] = []

    def change(user_id: int, **fields: Any) -> None:
        person = sandbox.get_json(f"users/{user_id}", sandbox.admin_email)["user"]
        before = {name: person[name] for name in fields}
        changed.append((user_id, before))
        sandbox.control("POST", f"users/{user_id}", json=fields).raise_for_status()

    yield change
    for user_id, fields in reversed(changed):
        sandbox.control("POST", f"users/{user_id}", json=fields).raise_for_status()


# -- the inbox (lists, badges, poll, browser): agents signed in against the sandbox ------------


@pytest.fixture
def inbox_sandbox(sandbox, settings):
    """The app pointed at the sandbox, its avatars allowed by the CSP, an empty cache."""
    settings.ZENDESK_URL = sandbox.base_url
    settings.SECURE_CSP = {
        **settings.SECURE_CSP,
        "img-src": [*settings.SECURE_CSP["img-src"], sandbox.base_url],
    }
    cache.clear()
    yield sandbox
    cache.clear()


def seeded_agent(sandbox, **match: Any) -> dict[str, Any]:
    found = sandbox.agents(suspended=False, **match)
    assert found, f"the seed has no agent matching {match}"
    return found[0]


def signed_in_client(account: AgentAccount) -> Client:
    """A test client whose session belongs to the agent (as after a real sign-in)."""
    client = Client()
    session = client.session
    now = time.time()
    session[SESSION_AGENT_KEY] = account.pk
    session[SESSION_GENERATION_KEY] = account.session_generation
    session[SESSION_STARTED_KEY] = now
    session[SESSION_SEEN_KEY] = now
    session.save()
    return client


@pytest.fixture
def agent(inbox_sandbox) -> AgentAccount:
    """An unrestricted seeded agent, signed in with a real sandbox token."""
    return agent_account(inbox_sandbox, seeded_agent(inbox_sandbox, role="agent", restricted=False))


@pytest.fixture
def restricted_agent(inbox_sandbox) -> AgentAccount:
    return agent_account(inbox_sandbox, seeded_agent(inbox_sandbox, role="agent", restricted=True))


@pytest.fixture
def admin(inbox_sandbox) -> AgentAccount:
    return agent_account(inbox_sandbox, seeded_agent(inbox_sandbox, role="admin"))


@pytest.fixture
def agent_client(agent) -> Client:
    return signed_in_client(agent)


@pytest.fixture
def ticket_id(inbox_sandbox, agent) -> int:
    """A fresh ticket of the test's own, created by `agent` (other tests never see it change)."""
    from tests.inbox.test_ticket_views import new_ticket  # a test module: imported when used

    return new_ticket(inbox_sandbox, agent.email)


@pytest.fixture
def no_faults(inbox_sandbox):
    """Whatever faults and upload limits the test set are lifted after it."""
    yield
    inbox_sandbox.control("POST", "faults", json={})
    inbox_sandbox.control("POST", "uploads", json={})


# -- knowing what changed: webhooks and the change feed ----------------------------------------


@pytest.fixture
def entries(monkeypatch):
    """Every cached read the app makes from now on, to check entry by entry which are cached."""
    from tests.inbox.changes_support import entries_recorded

    return entries_recorded(monkeypatch)


@pytest.fixture
def bumps(monkeypatch) -> list[tuple[str, ...]]:
    """The cache families moved to a new generation from now on."""
    from inbox.zendesk import cache as response_cache

    seen: list[tuple[str, ...]] = []
    original = response_cache.bump

    def recording(*families: str) -> None:
        seen.append(families)
        original(*families)

    monkeypatch.setattr(response_cache, "bump", recording)
    return seen


@pytest.fixture
def deferred(monkeypatch):
    """Background re-reads wait until the test runs them (`deferred.run()`)."""
    from inbox.services import changes
    from tests.inbox.changes_support import Deferred

    executor = Deferred()
    monkeypatch.setattr(changes, "_background", executor)
    yield executor
    executor.cancel_the_rest()  # no later test waits for a job this one never ran


# -- the services on the sandbox, with the response cache's clock moved on demand ------------
class ShiftedClock:
    """The real clock, moved forward on demand: lets a test step past a TTL."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@pytest.fixture
def on_sandbox(sandbox, settings):
    """The app pointed at the session's sandbox, with an empty cache before and after."""
    settings.ZENDESK_URL = sandbox.base_url
    cache.clear()
    yield sandbox
    cache.clear()


@pytest.fixture
def clock(monkeypatch) -> ShiftedClock:
    """The response cache's clock, moved forward with `clock.offset`."""
    from inbox.zendesk import cache as response_cache

    shifted = ShiftedClock()
    monkeypatch.setattr(response_cache, "clock", shifted)
    return shifted


# -- the browser tests: the live app on the sandbox, signed in through the front door ---------
# The README's screenshots are refreshed on request (`make screenshots`); an ordinary run
# writes its own under test-results/ so the suite leaves the working tree as it found it.
SCREENSHOTS = Path(__file__).resolve().parents[2] / (
    "docs/screenshots" if os.environ.get("UPDATE_SCREENSHOTS") else "test-results/screenshots"
)


@pytest.fixture
def app_url(live_server, zendesk, settings) -> str:
    """The live app on the sandbox; callback from the request, avatars allowed by the CSP."""
    settings.ZENDESK_OAUTH_REDIRECT_URL = ""
    settings.SECURE_CSP = {
        **settings.SECURE_CSP,
        "img-src": [*settings.SECURE_CSP["img-src"], zendesk.base_url],
    }
    return live_server.url


@pytest.fixture
def agent_email(zendesk) -> str:
    return zendesk.agent(role="agent", restricted=False, suspended=False)["email"]


def browser_sign_in(page, app_url: str, sandbox: SandboxServer, email: str) -> None:
    """Through the front door: `/` has one button that goes straight to Zendesk."""
    page.goto(f"{app_url}/")
    page.get_by_role("button", name="Sign in with Zendesk").click()
    page.wait_for_url(re.compile(re.escape(sandbox.base_url) + r"/oauth/authorizations/new"))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(sandbox.info["demo_password"])
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(f"{app_url}/")
    page.get_by_role("heading", name="Assigned to me", level=1).wait_for()


def poll_now(page) -> None:
    """Trigger the sidebar poll and wait for its answer (whatever its status)."""
    with page.expect_response(re.compile(r"/inbox/poll")):
        page.dispatch_event("body", "inbox:poll-now")


def serious_violations(page) -> list[str]:
    """axe-core's serious and critical findings on the page as it is now."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        f"{violation['id']}: {violation['help']} ({len(violation['nodes'])} elements)"
        for violation in results.response["violations"]
        if violation["impact"] in ("serious", "critical")
    ]


# -- hostile content everywhere (tests/hostile.py) --------------------------------------------
HOSTILE_TICKETS = 120  # more than the corpus: every string is some ticket's subject


@pytest.fixture(scope="session")
def hostile_sandbox(tmp_path_factory) -> SandboxServer:
    """A sandbox of its own with the whole corpus placed everywhere a person can write (no
    other test meets its data), its rate limits lifted: the sweeps read a lot, and a 503
    would hide a page."""
    server = start_sandbox(
        tmp_path_factory.mktemp("hostile-sandbox"),
        extra_env={"SANDBOX_TICKET_UPDATE_LIMIT": "off"},
        seed_args=("--tickets", str(HOSTILE_TICKETS)),
    )
    server.control(
        "POST",
        "faults",
        json={"rate_limit_per_minute": 1_000_000, "tickets_index_rate_limit_per_minute": 1_000_000},
    ).raise_for_status()
    placed = hostile.place_everywhere(server)
    assert placed["tickets"] == HOSTILE_TICKETS
    assert placed["activities"] > 0
    assert placed["attachments"] > 0
    yield server
    server.stop()
