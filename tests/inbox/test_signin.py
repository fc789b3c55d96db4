"""Signing in with Zendesk: the sign-in page, the start, the callback and its refusals.

Through the app's views and the sandbox's real OAuth pages (a tiny stand-in Zendesk only where
the sandbox cannot answer as a broken Zendesk would). Signing out: test_signout.py; the
session afterwards: test_sessions.py; tokens and refresh: test_credentials.py.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator

import pytest
from django.conf import settings as django_settings
from django.contrib.sessions.models import Session
from django.core.cache import cache
from django.test import Client

from inbox.auth import SESSION_AGENT_KEY
from inbox.models import AgentAccount
from inbox.views_signin import SESSION_ATTEMPTS_KEY
from inbox.zendesk import budget, oauth
from inbox.zendesk import client as zendesk_client
from inbox.zendesk.errors import Unauthorized
from tests.inbox.conftest import (
    TEST_REDIRECT_URI,
    authorize_at_sandbox,
    come_back,
    endpoint_calls,
    query_of,
    set_suspended,
    sign_in,
    signed_in_browser,
    start,
)
from tests.stubserver import Answer, StubServer

pytestmark = pytest.mark.django_db

REVOKE = "DELETE /api/v2/oauth/tokens/current"


def change_attempt(client: Client, **changes) -> None:
    """Edit the one sign-in in progress, as time or an attacker would."""
    session = client.session
    ((state, attempt),) = session[SESSION_ATTEMPTS_KEY].items()
    session[SESSION_ATTEMPTS_KEY] = {state: {**attempt, **changes}}
    session.save()


def state_of(authorize_url: str) -> str:
    return query_of(authorize_url)["state"]


def save_in_session(client: Client, **values) -> None:
    session = client.session
    session.update(values)
    session.save()


def token_works(sandbox, access_token: str) -> bool:
    """Does Zendesk still take this token? (users/me answers 401 for a revoked one.)"""
    credentials = zendesk_client.Credentials(sandbox.base_url, access_token, 0)
    try:
        zendesk_client.users_me(credentials)
    except Unauthorized:
        return False
    return True


def test_the_signin_page_offers_to_sign_in_with_zendesk(client, zendesk):
    response = client.get("/auth/signin?next=/tickets")
    page = response.content.decode()
    assert response.status_code == 200
    assert "Sign in with Zendesk" in page
    assert 'action="/auth/start"' in page
    assert 'name="csrfmiddlewaretoken"' in page
    assert 'value="/tickets"' in page
    # The browser must be allowed to follow the form's redirect to Zendesk.
    assert zendesk.base_url in response["Content-Security-Policy"]


def test_starting_needs_the_csrf_token(zendesk):
    response = Client(enforce_csrf_checks=True).post("/auth/start", {"next": "/"})
    assert response.status_code == 403


def test_starting_sends_the_browser_to_zendesk_with_state_and_pkce(client, zendesk, settings):
    location = start(client)
    assert location.startswith(f"{zendesk.base_url}/oauth/authorizations/new?")
    query = query_of(location)
    attempt = client.session[SESSION_ATTEMPTS_KEY][query["state"]]
    assert query["response_type"] == "code"
    assert query["client_id"] == settings.ZENDESK_OAUTH_CLIENT_ID
    assert query["redirect_uri"] == TEST_REDIRECT_URI
    assert query["scope"] == "read write"
    assert len(query["state"]) >= 32
    assert query["code_challenge_method"] == "S256"
    digest = hashlib.sha256(attempt["code_verifier"].encode()).digest()
    assert query["code_challenge"] == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert attempt["code_verifier"] not in location


def test_an_agent_signs_in_and_lands_where_they_were_going(client, zendesk):
    agent = zendesk.agent(role="agent", restricted=False, suspended=False)
    client.get("/auth/signin")
    anonymous_session_key = client.session.session_key

    response = sign_in(client, zendesk, agent["email"], next_path="/tickets?view=mine")

    assert response.status_code == 302
    assert response["Location"] == "/tickets?view=mine"
    account = AgentAccount.objects.get(zendesk_user_id=agent["id"])
    assert (account.name, account.email, account.role) == (agent["name"], agent["email"], "agent")
    assert account.restricted is False
    assert account.iana_time_zone
    assert account.token_expires_at is not None
    assert account.refresh_expires_at is not None
    assert client.session[SESSION_AGENT_KEY] == account.pk
    assert client.session.session_key != anonymous_session_key  # no session fixation
    # The stored token works for the agent.
    credentials = zendesk_client.Credentials(
        zendesk.base_url, account.access_token, account.zendesk_user_id
    )
    assert zendesk_client.users_me(credentials).email == agent["email"]


def test_two_tabs_can_sign_in_at_the_same_time(client, zendesk):
    email, password = zendesk.agent(role="admin")["email"], zendesk.info["demo_password"]
    first_tab, second_tab = start(client, "/first"), start(client, "/second")
    second_callback = authorize_at_sandbox(second_tab, email=email, password=password)
    first_callback = authorize_at_sandbox(first_tab, email=email, password=password)
    assert come_back(client, first_callback)["Location"] == "/first"
    assert come_back(client, second_callback)["Location"] == "/second"


def test_a_restricted_agent_is_admitted_and_marked_restricted(client, zendesk):
    agent = zendesk.agent(restricted=True)
    assert sign_in(client, zendesk, agent["email"]).status_code == 302
    assert AgentAccount.objects.get(zendesk_user_id=agent["id"]).restricted is True


def test_signing_in_again_updates_the_same_account(client, zendesk):
    admin = zendesk.agent(role="admin")
    sign_in(client, zendesk, admin["email"])
    first_token = AgentAccount.objects.get().access_token
    sign_in(Client(), zendesk, admin["email"])
    account = AgentAccount.objects.get()
    assert account.role == "admin"
    assert account.access_token != first_token


def test_a_signed_in_agent_visiting_the_signin_page_goes_on(client, zendesk):
    sign_in(client, zendesk, zendesk.agent(role="admin")["email"])
    response = client.get("/auth/signin?next=/tickets")
    assert response.status_code == 302
    assert response["Location"] == "/tickets"


def test_a_callback_with_another_state_is_refused_and_says_why(client, zendesk):
    callback = authorize_at_sandbox(
        start(client),
        email=zendesk.agent(role="admin")["email"],
        password=zendesk.info["demo_password"],
    )
    forged = callback.replace("state=", "state=x")
    zendesk.control("POST", "stats/reset")

    response = come_back(client, forged)

    page = response.content.decode()
    assert response.status_code == 400
    assert "could not be verified" in page
    assert "Try again" in page
    assert not AgentAccount.objects.exists()
    assert endpoint_calls(zendesk, "POST /oauth/tokens") == 0


def test_a_callback_without_a_sign_in_started_in_this_browser_says_it_expired(client, zendesk):
    response = client.get("/auth/callback?code=abc&state=def")
    assert response.status_code == 400
    assert "This sign-in has expired" in response.content.decode()
    assert "Try again" in response.content.decode()


def test_a_sign_in_left_too_long_expires(client, zendesk):
    callback = authorize_at_sandbox(
        start(client),
        email=zendesk.agent(role="admin")["email"],
        password=zendesk.info["demo_password"],
    )
    change_attempt(client, started_at=0)
    response = come_back(client, callback)
    assert response.status_code == 400
    assert "expired" in response.content.decode()
    assert not AgentAccount.objects.exists()


def test_declining_at_zendesk_says_consent_was_denied(client, zendesk):
    response = sign_in(client, zendesk, zendesk.agent(role="admin")["email"], decision="deny")
    assert response.status_code == 403
    assert "You did not allow access" in response.content.decode()
    assert not AgentAccount.objects.exists()


def test_a_code_with_the_wrong_pkce_verifier_is_refused(client, zendesk):
    callback = authorize_at_sandbox(
        start(client),
        email=zendesk.agent(role="admin")["email"],
        password=zendesk.info["demo_password"],
    )
    change_attempt(client, code_verifier="x" * 64)
    response = come_back(client, callback)
    assert response.status_code == 400
    assert "Zendesk did not accept this sign-in" in response.content.decode()
    assert not AgentAccount.objects.exists()


def test_an_end_user_is_told_agent_inbox_is_for_agents(client, zendesk):
    end_user = zendesk.info["end_users"][0]
    response = sign_in(client, zendesk, end_user["email"])
    page = response.content.decode()
    assert response.status_code == 403
    assert "Agent Inbox is for agents; your Zendesk account is an end user" in page
    assert not AgentAccount.objects.exists()
    assert SESSION_AGENT_KEY not in client.session
    assert endpoint_calls(zendesk, "DELETE /api/v2/oauth/tokens/current") == 1  # token given back


def test_a_suspended_agent_is_told_their_account_is_suspended(client, zendesk):
    # Zendesk turns a suspended agent away on its own sign-in page: the app meets one only
    # when the suspension lands between the agent's consent and the app's first call.
    agent = zendesk.agent(suspended=True)
    set_suspended(zendesk, agent["id"], False)
    try:
        callback = authorize_at_sandbox(
            start(client), email=agent["email"], password=zendesk.info["demo_password"]
        )
    finally:
        set_suspended(zendesk, agent["id"], True)
    response = come_back(client, callback)
    assert response.status_code == 403
    assert "Your Zendesk agent account is suspended" in response.content.decode()
    assert not AgentAccount.objects.exists()
    # The fresh token is given back. Zendesk refuses a suspended user's token, so nothing is
    # left alive either: the page does not warn about an access that stays valid.
    assert endpoint_calls(zendesk, REVOKE) == 1
    assert "stays valid" not in response.content.decode()


def test_zendesk_down_at_the_callback_says_so(client, zendesk):
    callback = authorize_at_sandbox(
        start(client),
        email=zendesk.agent(role="admin")["email"],
        password=zendesk.info["demo_password"],
    )
    zendesk.control("POST", "faults", json={"outage": True, "path_prefix": "/oauth/tokens"})
    response = come_back(client, callback)
    assert response.status_code == 502
    assert "Zendesk is not answering" in response.content.decode()


def test_the_callback_defaults_to_this_hosts_address(zendesk, settings):
    settings.ZENDESK_OAUTH_REDIRECT_URL = ""
    browser = Client(HTTP_HOST="localhost:8123")
    location = start(browser)
    assert query_of(location)["redirect_uri"] == "http://localhost:8123/auth/callback"
    callback = authorize_at_sandbox(
        location, email=zendesk.agent(role="admin")["email"], password=zendesk.info["demo_password"]
    )
    assert callback.startswith("http://localhost:8123/auth/callback?")
    assert come_back(browser, callback).status_code == 302
    assert AgentAccount.objects.exists()


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


# -- attempts saved by an earlier version are ignored -----------------------------------------

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


# -- a users/me answer Zendesk should not give -----------------------------------------------


GRANT = {
    "access_token": "fake-access-token",
    "refresh_token": "fake-refresh-token",
    "token_type": "bearer",
    "scope": "read write",
    "expires_in": 7200,
}


@pytest.fixture
def fake_zendesk(settings) -> Iterator[StubServer]:
    """A stand-in Zendesk whose token endpoint always grants and whose users/me the test
    scripts (`fake_zendesk.answer("GET", "/api/v2/users/me", 200, body)`)."""
    with StubServer(default=Answer(404, b'{"error": "InvalidEndpoint"}')) as fake:
        fake.answer("POST", "/oauth/tokens", 200, GRANT)
        fake.answer("DELETE", "/api/v2/oauth/tokens/current", 204)
        settings.ZENDESK_URL = fake.base_url
        settings.ZENDESK_OAUTH_REDIRECT_URL = TEST_REDIRECT_URI
        settings.ZENDESK_MAX_RETRIES = 0
        cache.clear()
        yield fake
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
    fake_zendesk.answer("GET", "/api/v2/users/me", 200, me_body)
    state = state_of(start(client))

    response = client.get(f"/auth/callback?code=a-code&state={state}")

    page = response.content.decode()
    assert response.status_code == 403
    assert "Zendesk did not say who you are" in page
    assert "Try again" in page
    assert not AgentAccount.objects.exists()
    assert SESSION_AGENT_KEY not in client.session
    # The token Zendesk granted is given back, not left alive unused.
    assert fake_zendesk.routes() == [
        "POST /oauth/tokens",
        "GET /api/v2/users/me",
        "DELETE /api/v2/oauth/tokens/current",
    ]


@pytest.mark.parametrize("me_body", [{}, {"user": None}, ["a", "list"]], ids=repr)
def test_a_users_me_that_is_not_a_user_says_zendesk_answered_oddly(client, fake_zendesk, me_body):
    fake_zendesk.answer("GET", "/api/v2/users/me", 200, me_body)
    state = state_of(start(client))

    response = client.get(f"/auth/callback?code=a-code&state={state}")

    assert response.status_code == 502
    assert "Zendesk sent an answer we could not read" in response.content.decode()
    assert not AgentAccount.objects.exists()
    assert fake_zendesk.routes()[-1] == "DELETE /api/v2/oauth/tokens/current"  # token given back


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

OFF_SITE = [
    "//evil.com",
    "https://evil.com",
    "/\\evil.com",
    "javascript:alert(1)",
    "///evil.com",
    "/\\/evil.com",
    "\\\\evil.com",
    "/\t/evil.com",
    "/\n/evil.com",
    " //evil.com",
    " /inbox",
    "\x01/inbox",
    "http:/evil.com",
    "https:evil.com",
    "JavaScript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "//evil.com@testserver/",
    "//evil.example/steal",
    "/" + "a" * 5000,
]


@pytest.mark.parametrize("next_path", OFF_SITE, ids=lambda next_path: repr(next_path[:30]))
def test_next_off_site_is_never_offered_remembered_nor_followed(client, zendesk, next_path):
    """Not on the sign-in page, not in the attempt, not after Zendesk says yes, and not when a
    signed-in agent opens the sign-in page: always the inbox instead."""
    page = client.get("/auth/signin", {"next": next_path})
    assert page.status_code == 200
    assert 'name="next" value="/"' in page.content.decode()
    authorize = start(client, next_path)
    assert client.session[SESSION_ATTEMPTS_KEY][state_of(authorize)]["next"] == "/"
    answer = authorize_at_sandbox(
        authorize,
        email=zendesk.agent(role="admin")["email"],
        password=zendesk.info["demo_password"],
    )

    response = come_back(client, answer)

    assert response.status_code == 302
    assert response["Location"] == "/"
    again = client.get("/auth/signin", {"next": next_path})
    assert again.status_code == 302
    assert again["Location"] == "/"


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


# -- the session and the CSRF token at sign-in -------------------------------------------------


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


def test_signing_in_gives_the_browser_a_new_csrf_token(client, zendesk):
    """A CSRF token known before sign-in (planted, or read over a shoulder) is worth nothing
    after it."""
    client.get("/auth/signin")
    before = client.cookies[django_settings.CSRF_COOKIE_NAME].value

    sign_in(client, zendesk, zendesk.agent(role="admin")["email"])

    after = client.cookies[django_settings.CSRF_COOKIE_NAME].value
    assert after
    assert after != before


# -- tokens the app does not keep are revoked at Zendesk ---------------------------------------


def remember_grants(monkeypatch) -> list[str]:
    """The access tokens Zendesk grants the app from now on."""
    granted: list[str] = []
    real_exchange = oauth.exchange_code

    def remembering_exchange(**kwargs):
        grant = real_exchange(**kwargs)
        granted.append(grant.access_token)
        return grant

    monkeypatch.setattr(oauth, "exchange_code", remembering_exchange)
    return granted


def test_signing_in_again_revokes_the_token_it_replaces(zendesk):
    admin = zendesk.agent(role="admin")
    sign_in(Client(), zendesk, admin["email"])
    first_token = AgentAccount.objects.get().access_token

    assert sign_in(Client(), zendesk, admin["email"]).status_code == 302

    account = AgentAccount.objects.get()
    assert account.access_token != first_token
    assert not token_works(zendesk, first_token)  # no longer alive at Zendesk
    assert token_works(zendesk, account.access_token)


def test_an_end_user_turned_away_leaves_no_live_token(client, zendesk, monkeypatch):
    granted = remember_grants(monkeypatch)
    response = sign_in(client, zendesk, zendesk.info["end_users"][0]["email"])
    assert response.status_code == 403
    (token,) = granted
    assert not token_works(zendesk, token)


def test_a_sign_in_the_spent_team_budget_stops_still_revokes_its_token(
    client, zendesk, monkeypatch, settings
):
    """The team spent its reads for the minute: users/me cannot be asked, and the fresh token
    is given back all the same (revoking is not held back by the read budget)."""
    granted = remember_grants(monkeypatch)
    answer = authorize_at_sandbox(
        start(client),
        email=zendesk.agent(role="admin")["email"],
        password=zendesk.info["demo_password"],
    )
    settings.ZENDESK_RATE_LIMIT_PER_MINUTE = 1  # spent by other agents' reads this minute
    budget.reserve(budget.INTERACTIVE)

    response = come_back(client, answer)

    assert response.status_code == 502
    assert not AgentAccount.objects.exists()
    assert endpoint_calls(zendesk, "GET /api/v2/users/me") == 0
    assert endpoint_calls(zendesk, REVOKE) == 1
    (token,) = granted
    settings.ZENDESK_RATE_LIMIT_PER_MINUTE = 200
    assert not token_works(zendesk, token)
    assert "Nothing was changed" in response.content.decode()


def test_a_refusal_whose_revoke_fails_says_the_access_stays_alive(client, zendesk):
    end_user = zendesk.info["end_users"][0]
    answer = authorize_at_sandbox(
        start(client), email=end_user["email"], password=zendesk.info["demo_password"]
    )
    zendesk.control(
        "POST", "faults", json={"outage": True, "path_prefix": "/api/v2/oauth/tokens/current"}
    )

    response = come_back(client, answer)

    page = response.content.decode()
    assert response.status_code == 403
    assert "Agent Inbox is for agents" in page
    assert "stays valid until it expires" in page
    assert "Nothing was changed" not in page


def test_zendesk_failing_after_the_grant_never_says_nothing_was_changed_when_the_token_lives(
    client, zendesk
):
    answer = authorize_at_sandbox(
        start(client),
        email=zendesk.agent(role="admin")["email"],
        password=zendesk.info["demo_password"],
    )
    zendesk.control("POST", "faults", json={"outage": True, "path_prefix": "/api/v2/"})

    response = come_back(client, answer)

    page = response.content.decode()
    assert response.status_code == 502
    assert "Zendesk is not answering" in page
    assert "Nothing was changed" not in page
    assert "stays valid until it expires" in page


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
