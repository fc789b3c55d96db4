"""Sign-in and token promises the other sign-in tests leave open.

The callback's edge cases (an answer without a code, attempts saved by an earlier version,
a users/me without an id), where `next` may send an agent, the session key at sign-in, tokens
in pages and sessions, key rotation and refresh as a signed-in browser sees them, sign-out's
CSRF protection, and the CSP nonce on the sign-in pages.
"""

from __future__ import annotations

import io
import json
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
from cryptography.fernet import Fernet
from django.conf import settings as django_settings
from django.contrib.sessions.models import Session
from django.core.cache import cache
from django.core.management import call_command
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import include, path
from django.utils import timezone

from inbox.auth import (
    SESSION_AGENT_KEY,
    SESSION_EXPIRED_MESSAGE,
    agent_required,
    with_agent_credentials,
)
from inbox.models import AgentAccount
from inbox.views_signin import SESSION_ATTEMPTS_KEY
from inbox.zendesk import client as zendesk_client
from inbox.zendesk import oauth
from inbox.zendesk.errors import SessionExpired, ZendeskError
from tests.inbox import zendesk_signin
from tests.inbox.zendesk_signin import (
    authorize_at_sandbox,
    come_back,
    endpoint_calls,
    query_of,
    sign_in,
    start,
)

pytestmark = pytest.mark.django_db
zendesk = zendesk_signin.zendesk

OLD_KEY = "DxnXGPfpyujoeAhREShb73ZsdCQU__gRAh5T5eEAOhg="
NEW_KEY = "lKkWnKsiCER5YKwHtYrNJwNMF4qCwFqclpy_YTZs7QY="


# -- a page that calls Zendesk as the agent (this module is also the URLconf of some tests) ----


@agent_required
def who_am_i(request: HttpRequest) -> HttpResponse:
    """What a real agent page does: call Zendesk as the agent, refreshing once if needed."""
    try:
        me = with_agent_credentials(request.agent, zendesk_client.users_me)
    except SessionExpired:
        raise
    except ZendeskError as error:
        return HttpResponse(error.user_message, status=503)
    return HttpResponse(f"Zendesk says you are {me.name}")


urlpatterns = [path("who-am-i", who_am_i), path("", include("inbox.urls"))]
with_agent_page = pytest.mark.urls(__name__)


def signed_in_browser(sandbox, *, role: str = "admin") -> tuple[Client, AgentAccount]:
    browser = Client()
    response = sign_in(browser, sandbox, sandbox.agent(role=role)["email"])
    assert response.status_code == 302, response.content.decode()[:500]
    sandbox.control("POST", "stats/reset")
    return browser, AgentAccount.objects.get()


def state_of(authorize_url: str) -> str:
    return query_of(authorize_url)["state"]


# -- (1) an answer without a code leaves the sign-in in progress ------------------------------


def test_a_callback_without_a_code_leaves_the_sign_in_in_progress(client, zendesk):
    authorize = start(client, "/tickets")
    state = state_of(authorize)
    real_answer = authorize_at_sandbox(
        authorize,
        email=zendesk.agent(role="admin")["email"],
        password=zendesk.info["demo_password"],
    )

    early = client.get(f"/auth/callback?state={state}")

    assert early.status_code == 400
    assert "Zendesk sent no authorization" in early.content.decode()
    assert state in client.session[SESSION_ATTEMPTS_KEY]
    assert SESSION_AGENT_KEY not in client.session
    # Zendesk's real answer for the same sign-in still gets the agent in.
    response = come_back(client, real_answer)
    assert response.status_code == 302
    assert response["Location"] == "/tickets"
    assert client.session[SESSION_AGENT_KEY] == AgentAccount.objects.get().pk


def test_a_code_is_spent_once_so_the_same_answer_cannot_sign_in_twice(client, zendesk):
    authorize = start(client)
    answer = authorize_at_sandbox(
        authorize,
        email=zendesk.agent(role="admin")["email"],
        password=zendesk.info["demo_password"],
    )
    assert come_back(client, answer).status_code == 302
    zendesk.control("POST", "stats/reset")

    replay = come_back(client, answer)  # the same browser, the same answer again

    assert replay.status_code == 400
    assert endpoint_calls(zendesk, "POST /oauth/tokens") == 0


# -- (2) attempts saved by an earlier version are ignored -------------------------------------

EARLIER_SHAPES = {
    "a list": ["abc"],
    "a string": "abc",
    "a state without details": {"abc": "verifier"},
    "no start time": {"abc": {"code_verifier": "v" * 64, "next": "/", "redirect_uri": "x"}},
    "a start time as text": {
        "abc": {"code_verifier": "v" * 64, "next": "/", "redirect_uri": "x", "started_at": "now"}
    },
    "no redirect_uri nor next": {"abc": {"code_verifier": "v" * 64, "started_at": 4e9}},
    "a null verifier": {
        "abc": {"code_verifier": None, "next": "/", "redirect_uri": "x", "started_at": 4e9}
    },
}


def save_in_session(client: Client, **values) -> None:
    session = client.session
    session.update(values)
    session.save()


@pytest.mark.parametrize("shape", EARLIER_SHAPES.values(), ids=EARLIER_SHAPES.keys())
def test_sign_in_attempts_of_an_earlier_shape_are_ignored(client, zendesk, shape):
    save_in_session(client, **{SESSION_ATTEMPTS_KEY: shape})

    callback = client.get("/auth/callback?code=a-code&state=abc")

    assert callback.status_code == 400
    assert "This sign-in has expired" in callback.content.decode()
    assert endpoint_calls(zendesk, "POST /oauth/tokens") == 0
    # Starting again works, and the new attempt is the only one kept.
    state = state_of(start(client))
    assert list(client.session[SESSION_ATTEMPTS_KEY]) == [state]


def test_the_single_attempt_key_of_the_first_version_does_not_get_in_the_way(client, zendesk):
    save_in_session(
        client,
        zendesk_oauth_attempt={"state": "abc", "code_verifier": "v" * 64, "started_at": 4e9},
    )
    assert client.get("/auth/callback?code=a-code&state=abc").status_code == 400
    response = sign_in(client, zendesk, zendesk.agent(role="admin")["email"])
    assert response.status_code == 302


# -- (3) a users/me answer without an id ------------------------------------------------------


class FakeZendesk:
    """A tiny stand-in for Zendesk on a free loopback port: a token endpoint that always grants,
    a users/me answering `me_body`, and token revocation. Records what it was asked."""

    def __init__(self, me_body: object) -> None:
        self.me_body = me_body
        self.calls: list[str] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, status: int, body: object | None) -> None:
                fake.calls.append(f"{self.command} {urlsplit(self.path).path}")
                payload = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if urlsplit(self.path).path == "/oauth/tokens":
                    grant = {
                        "access_token": "fake-access-token",
                        "refresh_token": "fake-refresh-token",
                        "token_type": "bearer",
                        "scope": "read write",
                        "expires_in": 7200,
                    }
                    self._answer(200, grant)
                else:
                    self._answer(404, {"error": "InvalidEndpoint"})

            def do_GET(self) -> None:
                if urlsplit(self.path).path == "/api/v2/users/me":
                    self._answer(200, fake.me_body)
                else:
                    self._answer(404, {"error": "InvalidEndpoint"})

            def do_DELETE(self) -> None:
                if urlsplit(self.path).path == "/api/v2/oauth/tokens/current":
                    self._answer(204, None)
                else:
                    self._answer(404, {"error": "InvalidEndpoint"})

            def log_message(self, format: str, *args) -> None:
                """Quiet: the test reads `calls` instead."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def fake_zendesk(settings) -> Iterator[FakeZendesk]:
    fake = FakeZendesk(me_body={})
    settings.ZENDESK_URL = fake.base_url
    settings.ZENDESK_OAUTH_REDIRECT_URL = zendesk_signin.TEST_REDIRECT_URI
    settings.ZENDESK_MAX_RETRIES = 0
    cache.clear()
    yield fake
    fake.stop()
    cache.clear()


ANSWERS_WITHOUT_AN_ID = {
    "anonymous user": {"user": {"id": None, "name": "Anonymous user", "role": "end-user"}},
    "an admin without id": {"user": {"name": "Ada Admin", "role": "admin", "active": True}},
    "an agent with a null id": {"user": {"id": None, "name": "Ann Agent", "role": "agent"}},
    "an id that is not a number": {"user": {"id": "ann", "name": "Ann Agent", "role": "agent"}},
    "an id that is true": {"user": {"id": True, "name": "Ann Agent", "role": "agent"}},
}


@pytest.mark.parametrize("me_body", ANSWERS_WITHOUT_AN_ID.values(), ids=ANSWERS_WITHOUT_AN_ID)
def test_a_users_me_without_an_id_shows_why_instead_of_failing(client, fake_zendesk, me_body):
    fake_zendesk.me_body = me_body
    state = state_of(start(client))

    response = client.get(f"/auth/callback?code=a-code&state={state}")

    page = response.content.decode()
    assert response.status_code == 403
    assert "Zendesk did not say who you are" in page
    assert "Try again" in page
    assert not AgentAccount.objects.exists()
    assert SESSION_AGENT_KEY not in client.session
    # The token Zendesk granted is given back, not left alive unused.
    assert fake_zendesk.calls == [
        "POST /oauth/tokens",
        "GET /api/v2/users/me",
        "DELETE /api/v2/oauth/tokens/current",
    ]


@pytest.mark.parametrize("me_body", [{}, {"user": None}, ["a", "list"]], ids=repr)
def test_a_users_me_that_is_not_a_user_says_zendesk_answered_oddly(client, fake_zendesk, me_body):
    fake_zendesk.me_body = me_body
    state = state_of(start(client))

    response = client.get(f"/auth/callback?code=a-code&state={state}")

    assert response.status_code == 502
    assert "Zendesk sent an answer we could not read" in response.content.decode()
    assert not AgentAccount.objects.exists()
    assert fake_zendesk.calls[-1] == "DELETE /api/v2/oauth/tokens/current"  # token given back


@pytest.mark.parametrize(
    "url", ["/auth/signin?next=/tickets", "/auth/callback?code=a&state=b", "/auth/callback"]
)
def test_a_visitor_who_started_nothing_gets_no_session_row(zendesk, url):
    """Bots hitting the sign-in pages must not fill the session table."""
    response = Client().get(url)
    assert response.status_code in (200, 400)
    assert django_settings.SESSION_COOKIE_NAME not in response.cookies
    assert not Session.objects.exists()


# -- where `next` may lead ---------------------------------------------------------------------

OFF_SITE = ["//evil.com", "https://evil.com", "/\\evil.com", "javascript:alert(1)"]
ALSO_OFF_SITE = [
    "///evil.com",
    "/\\/evil.com",
    "\\\\evil.com",
    "/\t/evil.com",
    "/\n/evil.com",
    " //evil.com",
    "http:/evil.com",
    "https:evil.com",
    "JavaScript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "//evil.com@testserver/",
]


@pytest.mark.parametrize("next_path", OFF_SITE)
def test_next_never_leads_off_site_after_a_real_sign_in(client, zendesk, next_path):
    response = sign_in(client, zendesk, zendesk.agent(role="admin")["email"], next_path=next_path)
    assert response.status_code == 302
    assert response["Location"] == "/"


@pytest.mark.parametrize("next_path", OFF_SITE + ALSO_OFF_SITE)
def test_next_off_site_is_never_remembered_nor_offered(client, zendesk, next_path):
    state = state_of(start(client, next_path))
    assert client.session[SESSION_ATTEMPTS_KEY][state]["next"] == "/"
    page = client.get("/auth/signin", {"next": next_path}).content.decode()
    assert 'name="next" value="/"' in page


@pytest.mark.parametrize("next_path", OFF_SITE + ALSO_OFF_SITE)
def test_a_signed_in_agent_on_the_signin_page_is_never_sent_off_site(zendesk, next_path):
    browser, _ = signed_in_browser(zendesk)
    response = browser.get("/auth/signin", {"next": next_path})
    assert response.status_code == 302
    assert response["Location"] == "/"


def test_a_line_break_in_next_cannot_add_a_header(client, zendesk):
    next_path = "/tickets\r\nSet-Cookie: planted=1"
    response = sign_in(client, zendesk, zendesk.agent(role="admin")["email"], next_path=next_path)
    assert response.status_code == 302
    assert response["Location"].startswith("/tickets")
    assert "\n" not in response["Location"]
    assert "planted" not in response.cookies


def test_next_inside_the_app_is_kept_with_its_query(client, zendesk):
    response = sign_in(
        client, zendesk, zendesk.agent(role="admin")["email"], next_path="/tickets/7?tab=notes"
    )
    assert response["Location"] == "/tickets/7?tab=notes"


# -- the session at sign-in and the tokens in what the browser gets ----------------------------


def test_the_session_key_from_before_sign_in_signs_nobody_in(client, zendesk):
    client.get("/auth/signin")
    planted_key = client.session.session_key  # as an attacker who planted this cookie would know
    agent = zendesk.agent(role="admin")

    sign_in(client, zendesk, agent["email"])

    assert client.session.session_key != planted_key
    assert agent["name"] in client.get("/").content.decode()
    attacker = Client()
    attacker.cookies[django_settings.SESSION_COOKIE_NAME] = planted_key
    assert agent["name"] not in attacker.get("/").content.decode()
    assert not Session.objects.filter(session_key=planted_key).exists()


def test_no_token_reaches_a_page_a_cookie_or_the_session(zendesk):
    browser, account = signed_in_browser(zendesk)
    tokens = [account.access_token, account.refresh_token]
    pages = [
        browser.get("/").content.decode(),
        browser.get("/auth/signin", follow=True).content.decode(),
        browser.get("/auth/callback?state=nope&code=nope").content.decode(),
    ]
    session_data = json.dumps(browser.session.load())
    cookies = browser.cookies.output()
    signed_out = browser.post("/auth/signout").content.decode()

    assert all(tokens)
    for token in tokens:
        for text in [*pages, session_data, cookies, signed_out]:
            assert token not in text


# -- key rotation and refresh, as a signed-in browser sees them --------------------------------


@with_agent_page
def test_rotating_the_token_key_keeps_a_signed_in_agent_signed_in(zendesk, settings):
    settings.TOKEN_ENCRYPTION_KEYS = [OLD_KEY]
    browser, account = signed_in_browser(zendesk)
    name = account.name

    settings.TOKEN_ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]
    assert browser.get("/who-am-i").content.decode() == f"Zendesk says you are {name}"
    call_command("rotate_token_keys", stdout=io.StringIO())
    settings.TOKEN_ENCRYPTION_KEYS = [NEW_KEY]

    response = browser.get("/who-am-i")
    assert response.status_code == 200
    assert response.content.decode() == f"Zendesk says you are {name}"
    row = AgentAccount.objects.get()
    Fernet(NEW_KEY).decrypt(row.access_token_encrypted.encode())  # the new key alone reads it
    Fernet(NEW_KEY).decrypt(row.refresh_token_encrypted.encode())
    assert endpoint_calls(zendesk, "POST /oauth/tokens") == 0  # nobody had to refresh


@with_agent_page
def test_an_expired_token_is_refreshed_once_for_the_page(zendesk):
    zendesk.control("POST", "oauth", json={"access_token_ttl": 30})
    browser, _ = signed_in_browser(zendesk)
    zendesk.control("POST", "oauth", json={})  # the refreshed token lives the usual two hours

    first, second = browser.get("/who-am-i"), browser.get("/who-am-i")

    assert (first.status_code, second.status_code) == (200, 200)
    assert endpoint_calls(zendesk, "POST /oauth/tokens") == 1
    assert endpoint_calls(zendesk, "GET /api/v2/users/me") == 2


@with_agent_page
def test_a_refused_refresh_signs_the_agent_out_with_a_clear_message(zendesk):
    browser, account = signed_in_browser(zendesk)
    zendesk_client.token_revoke(
        zendesk_client.Credentials(zendesk.base_url, account.access_token, 0)
    )  # revoked at Zendesk (an admin did it): the refresh token goes with it
    AgentAccount.objects.update(token_expires_at=timezone.now())

    response = browser.get("/who-am-i", follow=True)

    assert response.redirect_chain[0][0] == "/auth/signin?next=%2Fwho-am-i"
    assert SESSION_EXPIRED_MESSAGE in response.content.decode()
    assert SESSION_AGENT_KEY not in browser.session
    assert not AgentAccount.objects.get().has_tokens
    assert endpoint_calls(zendesk, "POST /oauth/tokens") == 1


@with_agent_page
def test_zendesk_down_during_a_refresh_keeps_the_agent_signed_in(zendesk):
    browser, account = signed_in_browser(zendesk)
    AgentAccount.objects.update(token_expires_at=timezone.now())
    zendesk.control("POST", "faults", json={"outage": True, "path_prefix": "/oauth/tokens"})

    down = browser.get("/who-am-i")
    zendesk.control("POST", "faults", json={})
    back = browser.get("/who-am-i")

    assert down.status_code == 503
    assert "Zendesk is not answering" in down.content.decode()
    assert back.status_code == 200
    assert browser.session[SESSION_AGENT_KEY] == account.pk


# -- sign-out ----------------------------------------------------------------------------------

CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def test_signing_out_needs_the_csrf_token_of_the_page(zendesk):
    browser, _ = signed_in_browser(zendesk)
    strict = Client(enforce_csrf_checks=True)
    strict.cookies = browser.cookies

    forged = strict.post("/auth/signout")

    assert forged.status_code == 403
    assert AgentAccount.objects.get().has_tokens
    assert endpoint_calls(zendesk, "DELETE /api/v2/oauth/tokens/current") == 0
    token = CSRF_INPUT.findall(strict.get("/").content.decode())[0]  # the page has several forms
    signed_out = strict.post("/auth/signout", {"csrfmiddlewaretoken": token})
    assert signed_out.status_code == 200
    assert "You are signed out" in signed_out.content.decode()
    assert endpoint_calls(zendesk, "DELETE /api/v2/oauth/tokens/current") == 1
    assert not AgentAccount.objects.get().has_tokens
    assert SESSION_AGENT_KEY not in strict.session


def test_signing_out_with_an_expired_token_still_ends_access_at_zendesk(zendesk, monkeypatch):
    """An agent idle past the token's life signs out: the refresh token must not stay alive."""
    zendesk.control("POST", "oauth", json={"access_token_ttl": 1})
    browser, account = signed_in_browser(zendesk)
    zendesk.control("POST", "oauth", json={})
    held_refresh_tokens = [account.refresh_token]
    real_refresh = oauth.refresh

    def remembering_refresh(*, refresh_token: str):
        grant = real_refresh(refresh_token=refresh_token)
        held_refresh_tokens.append(grant.refresh_token)
        return grant

    monkeypatch.setattr(oauth, "refresh", remembering_refresh)
    time.sleep(1.2)  # the access token expires at Zendesk (no timing is asserted)

    response = browser.post("/auth/signout")

    assert response.status_code == 200
    assert "You are signed out" in response.content.decode()
    assert SESSION_AGENT_KEY not in browser.session
    assert not AgentAccount.objects.get().has_tokens
    for refresh_token in held_refresh_tokens:
        with pytest.raises(oauth.OAuthRefused):
            real_refresh(refresh_token=refresh_token)


def test_the_session_of_a_signed_out_browser_signs_nobody_in(zendesk):
    browser, account = signed_in_browser(zendesk)
    session_key = browser.session.session_key
    browser.post("/auth/signout")

    replayed = Client()
    replayed.cookies[django_settings.SESSION_COOKIE_NAME] = session_key
    assert account.name not in replayed.get("/").content.decode()
    assert not Session.objects.filter(session_key=session_key).exists()


@pytest.mark.parametrize("method", ["get", "head", "put", "delete"])
def test_signing_out_only_answers_post(zendesk, method):
    browser, _ = signed_in_browser(zendesk)
    assert getattr(browser, method)("/auth/signout").status_code == 405
    assert AgentAccount.objects.get().has_tokens
    assert SESSION_AGENT_KEY in browser.session


# -- Content-Security-Policy on the sign-in pages ----------------------------------------------

NONCE_SOURCE = re.compile(r"script-src [^;]*'nonce-([A-Za-z0-9+/=_-]+)'")
SCRIPT_TAG = re.compile(r"<script\b[^>]*>")


def assert_scripts_run_only_by_nonce(response) -> None:
    policy = response["Content-Security-Policy"]
    (nonce,) = NONCE_SOURCE.findall(policy)
    assert "unsafe-inline" not in policy
    assert "unsafe-eval" not in policy
    scripts = SCRIPT_TAG.findall(response.content.decode())
    assert scripts
    assert all(f'nonce="{nonce}"' in tag for tag in scripts)


def test_the_sign_in_pages_carry_a_csp_with_a_fresh_nonce(client, zendesk):
    signin_page = client.get("/auth/signin")
    failed_page = client.get("/auth/callback?state=nope&code=nope")
    browser, _ = signed_in_browser(zendesk)
    signed_out_page = browser.post("/auth/signout")

    for response in (signin_page, failed_page, signed_out_page):
        assert_scripts_run_only_by_nonce(response)
    nonces = {
        NONCE_SOURCE.findall(r["Content-Security-Policy"])[0]
        for r in (signin_page, failed_page, signed_out_page, client.get("/auth/signin"))
    }
    assert len(nonces) == 4


def test_the_session_cookie_is_http_only_and_same_site(client, zendesk):
    start(client)
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
