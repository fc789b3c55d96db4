"""Sign in with Zendesk through the app's views and the sandbox's real OAuth pages."""

from __future__ import annotations

import base64
import hashlib

import pytest
from django.test import Client

from inbox.auth import SESSION_AGENT_KEY
from inbox.models import AgentAccount
from inbox.views_signin import SESSION_ATTEMPTS_KEY
from inbox.zendesk import client as zendesk_client
from inbox.zendesk.errors import Unauthorized
from tests.inbox import zendesk_signin
from tests.inbox.zendesk_signin import (
    TEST_REDIRECT_URI,
    authorize_at_sandbox,
    come_back,
    endpoint_calls,
    query_of,
    sign_in,
    start,
)

pytestmark = pytest.mark.django_db
zendesk = zendesk_signin.zendesk


@pytest.fixture
def app(zendesk, settings):
    """The app on the sandbox, its callback at a URI the sandbox's demo client allows."""
    settings.ZENDESK_OAUTH_REDIRECT_URL = TEST_REDIRECT_URI
    return zendesk


def change_attempt(client: Client, **changes) -> None:
    """Edit the one sign-in in progress, as time or an attacker would."""
    session = client.session
    ((state, attempt),) = session[SESSION_ATTEMPTS_KEY].items()
    session[SESSION_ATTEMPTS_KEY] = {state: {**attempt, **changes}}
    session.save()


def test_the_signin_page_offers_to_sign_in_with_zendesk(client, app):
    response = client.get("/auth/signin?next=/tickets")
    page = response.content.decode()
    assert response.status_code == 200
    assert "Sign in with Zendesk" in page
    assert 'action="/auth/start"' in page
    assert 'name="csrfmiddlewaretoken"' in page
    assert 'value="/tickets"' in page
    # The browser must be allowed to follow the form's redirect to Zendesk.
    assert app.base_url in response["Content-Security-Policy"]


def test_starting_needs_the_csrf_token(app):
    response = Client(enforce_csrf_checks=True).post("/auth/start", {"next": "/"})
    assert response.status_code == 403


def test_starting_sends_the_browser_to_zendesk_with_state_and_pkce(client, app, settings):
    location = start(client)
    assert location.startswith(f"{app.base_url}/oauth/authorizations/new?")
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


def test_an_agent_signs_in_and_lands_where_they_were_going(client, app):
    agent = app.agent(role="agent", restricted=False, suspended=False)
    client.get("/auth/signin")
    anonymous_session_key = client.session.session_key

    response = sign_in(client, app, agent["email"], next_path="/tickets?view=mine")

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
        app.base_url, account.access_token, account.zendesk_user_id
    )
    assert zendesk_client.users_me(credentials).email == agent["email"]


def test_two_tabs_can_sign_in_at_the_same_time(client, app):
    email, password = app.agent(role="admin")["email"], app.info["demo_password"]
    first_tab, second_tab = start(client, "/first"), start(client, "/second")
    second_callback = authorize_at_sandbox(second_tab, email=email, password=password)
    first_callback = authorize_at_sandbox(first_tab, email=email, password=password)
    assert come_back(client, first_callback)["Location"] == "/first"
    assert come_back(client, second_callback)["Location"] == "/second"


def test_a_restricted_agent_is_admitted_and_marked_restricted(client, app):
    agent = app.agent(restricted=True)
    assert sign_in(client, app, agent["email"]).status_code == 302
    assert AgentAccount.objects.get(zendesk_user_id=agent["id"]).restricted is True


def test_signing_in_again_updates_the_same_account(client, app):
    admin = app.agent(role="admin")
    sign_in(client, app, admin["email"])
    first_token = AgentAccount.objects.get().access_token
    sign_in(Client(), app, admin["email"])
    account = AgentAccount.objects.get()
    assert account.role == "admin"
    assert account.access_token != first_token


def test_a_signed_in_agent_visiting_the_signin_page_goes_on(client, app):
    sign_in(client, app, app.agent(role="admin")["email"])
    response = client.get("/auth/signin?next=/tickets")
    assert response.status_code == 302
    assert response["Location"] == "/tickets"


@pytest.mark.parametrize(
    "next_path", ["https://evil.example/", "//evil.example/steal", "javascript:alert(1)"]
)
def test_it_never_sends_an_agent_off_site_after_signing_in(client, app, next_path):
    response = sign_in(client, app, app.agent(role="admin")["email"], next_path=next_path)
    assert response["Location"] == "/"


def test_a_callback_with_another_state_is_refused_and_says_why(client, app):
    callback = authorize_at_sandbox(
        start(client), email=app.agent(role="admin")["email"], password=app.info["demo_password"]
    )
    forged = callback.replace("state=", "state=x")
    app.control("POST", "stats/reset")

    response = come_back(client, forged)

    page = response.content.decode()
    assert response.status_code == 400
    assert "could not be verified" in page
    assert "Try again" in page
    assert not AgentAccount.objects.exists()
    assert endpoint_calls(app, "POST /oauth/tokens") == 0


def test_a_callback_without_a_sign_in_started_in_this_browser_says_it_expired(client, app):
    response = client.get("/auth/callback?code=abc&state=def")
    assert response.status_code == 400
    assert "This sign-in has expired" in response.content.decode()
    assert "Try again" in response.content.decode()


def test_a_sign_in_left_too_long_expires(client, app):
    callback = authorize_at_sandbox(
        start(client), email=app.agent(role="admin")["email"], password=app.info["demo_password"]
    )
    change_attempt(client, started_at=0)
    response = come_back(client, callback)
    assert response.status_code == 400
    assert "expired" in response.content.decode()
    assert not AgentAccount.objects.exists()


def test_declining_at_zendesk_says_consent_was_denied(client, app):
    response = sign_in(client, app, app.agent(role="admin")["email"], decision="deny")
    assert response.status_code == 403
    assert "You did not allow access" in response.content.decode()
    assert not AgentAccount.objects.exists()


def test_a_code_with_the_wrong_pkce_verifier_is_refused(client, app):
    callback = authorize_at_sandbox(
        start(client), email=app.agent(role="admin")["email"], password=app.info["demo_password"]
    )
    change_attempt(client, code_verifier="x" * 64)
    response = come_back(client, callback)
    assert response.status_code == 400
    assert "Zendesk did not accept this sign-in" in response.content.decode()
    assert not AgentAccount.objects.exists()


def test_an_end_user_is_told_agent_inbox_is_for_agents(client, app):
    end_user = app.info["end_users"][0]
    response = sign_in(client, app, end_user["email"])
    page = response.content.decode()
    assert response.status_code == 403
    assert "Agent Inbox is for agents; your Zendesk account is an end user" in page
    assert not AgentAccount.objects.exists()
    assert SESSION_AGENT_KEY not in client.session
    assert endpoint_calls(app, "DELETE /api/v2/oauth/tokens/current") == 1  # token given back


def test_a_suspended_agent_is_told_their_account_is_suspended(client, app):
    # Zendesk turns a suspended agent away on its own sign-in page: the app meets one only
    # when the suspension lands between the agent's consent and the app's first call.
    agent = app.agent(suspended=True)
    zendesk_signin.set_suspended(app, agent["id"], False)
    try:
        callback = authorize_at_sandbox(
            start(client), email=agent["email"], password=app.info["demo_password"]
        )
    finally:
        zendesk_signin.set_suspended(app, agent["id"], True)
    response = come_back(client, callback)
    assert response.status_code == 403
    assert "Your Zendesk agent account is suspended" in response.content.decode()
    assert not AgentAccount.objects.exists()


def test_zendesk_down_at_the_callback_says_so(client, app):
    callback = authorize_at_sandbox(
        start(client), email=app.agent(role="admin")["email"], password=app.info["demo_password"]
    )
    app.control("POST", "faults", json={"outage": True, "path_prefix": "/oauth/tokens"})
    response = come_back(client, callback)
    assert response.status_code == 502
    assert "Zendesk is not answering" in response.content.decode()


def test_the_callback_defaults_to_this_hosts_address(app, settings):
    settings.ZENDESK_OAUTH_REDIRECT_URL = ""
    browser = Client(HTTP_HOST="localhost:8123")
    location = start(browser)
    assert query_of(location)["redirect_uri"] == "http://localhost:8123/auth/callback"
    callback = authorize_at_sandbox(
        location, email=app.agent(role="admin")["email"], password=app.info["demo_password"]
    )
    assert callback.startswith("http://localhost:8123/auth/callback?")
    assert come_back(browser, callback).status_code == 302
    assert AgentAccount.objects.exists()


# -- sign-out -------------------------------------------------------------------------------


def test_signing_out_revokes_the_token_and_ends_the_session(client, app):
    sign_in(client, app, app.agent(role="admin")["email"])
    account = AgentAccount.objects.get()
    old = zendesk_client.Credentials(app.base_url, account.access_token, account.zendesk_user_id)
    app.control("POST", "stats/reset")

    response = client.post("/auth/signout")

    assert response.status_code == 200
    assert "You are signed out" in response.content.decode()
    assert endpoint_calls(app, "DELETE /api/v2/oauth/tokens/current") == 1
    with pytest.raises(Unauthorized):
        zendesk_client.tickets_list(old, view="all")
    account.refresh_from_db()
    assert not account.has_tokens
    assert SESSION_AGENT_KEY not in client.session


def test_signing_out_works_even_when_zendesk_is_down(client, app):
    sign_in(client, app, app.agent(role="admin")["email"])
    app.control("POST", "faults", json={"outage": True})
    response = client.post("/auth/signout")
    assert response.status_code == 200
    assert "You are signed out" in response.content.decode()
    assert SESSION_AGENT_KEY not in client.session
    assert not AgentAccount.objects.get().has_tokens


def test_signing_out_needs_a_post(client, app):
    assert client.get("/auth/signout").status_code == 405
