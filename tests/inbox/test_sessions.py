"""The session of a signed-in agent: who may see agent pages, and when the session ends.

A session ends when the agent signs out anywhere (test_signout.py), when it has been idle for
SESSION_IDLE_TIMEOUT_SECONDS or is older than SESSION_MAX_AGE_SECONDS, and when Zendesk says,
at the periodic re-check of users/me, that the account is no longer an active agent.
"""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.utils import timezone

from inbox import auth
from inbox.auth import SESSION_AGENT_KEY
from inbox.models import AgentAccount
from inbox.zendesk import budget
from inbox.zendesk.errors import RateBudgetExhausted
from inbox.zendesk.records import TokenGrant
from tests.inbox.conftest import endpoint_calls, signed_in_browser, start

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.inbox.signin_urls")]


@pytest.fixture
def stub_account() -> AgentAccount:
    """An account with made-up tokens, checked a moment ago (no call to Zendesk is due)."""
    account = AgentAccount(
        zendesk_user_id=42, name="Ingrid Horvat", role="agent", last_checked_at=timezone.now()
    )
    account.store_grant(
        TokenGrant(
            access_token="access-1",
            refresh_token="refresh-1",
            scope="read write",
            expires_at=timezone.now() + dt.timedelta(hours=2),
            refresh_expires_at=timezone.now() + dt.timedelta(days=30),
        )
    )
    account.save()
    return account


def signed_in(client: Client, account: AgentAccount) -> Client:
    """The session auth.sign_in leaves, without a trip through Zendesk."""
    session = client.session
    now = time.time()
    session[auth.SESSION_AGENT_KEY] = account.pk
    session[auth.SESSION_GENERATION_KEY] = account.session_generation
    session[auth.SESSION_STARTED_KEY] = now
    session[auth.SESSION_SEEN_KEY] = now
    session.save()
    return client


def move_session_back(client: Client, *, seconds: float, keys: tuple[str, ...]) -> None:
    """As if the session's clocks had been read `seconds` ago (the test moves them itself)."""
    session = client.session
    for key in keys:
        session[key] = session[key] - seconds
    session.save()


# -- agent pages ------------------------------------------------------------------------------


def test_it_sends_a_visitor_to_sign_in_and_back(client):
    response = client.get("/agents-only?view=mine")
    assert response.status_code == 302
    assert response["Location"] == "/auth/signin?next=%2Fagents-only%3Fview%3Dmine"


def test_an_htmx_request_redirects_the_whole_page_to_sign_in(client):
    response = client.get(
        "/agents-only",
        headers={"HX-Request": "true", "HX-Current-URL": "http://testserver/tickets?page=2"},
    )
    assert response.status_code == 200
    assert response["HX-Redirect"] == "/auth/signin?next=%2Ftickets%3Fpage%3D2"


def test_a_signed_in_agent_sees_the_page(client, stub_account):
    response = signed_in(client, stub_account).get("/agents-only")
    assert response.status_code == 200
    assert response.content == b"Hello Ingrid Horvat"


def test_an_agent_whose_tokens_are_gone_must_sign_in_again(client, stub_account):
    signed_in(client, stub_account)
    stub_account.forget_tokens()
    stub_account.save()
    assert client.get("/agents-only").status_code == 302


def test_an_expired_zendesk_session_ends_with_a_message(client, stub_account):
    response = signed_in(client, stub_account).get("/expired-midway", follow=True)
    assert response.redirect_chain[0][0].startswith("/auth/signin?next=")
    assert "Your Zendesk session expired; please sign in again." in response.content.decode()
    assert SESSION_AGENT_KEY not in client.session


# -- idle time and lifetime --------------------------------------------------------------------


def test_a_session_left_idle_too_long_ends(client, stub_account, settings):
    settings.SESSION_IDLE_TIMEOUT_SECONDS = 3600
    signed_in(client, stub_account)
    assert client.get("/agents-only").status_code == 200
    move_session_back(client, seconds=3601, keys=(auth.SESSION_SEEN_KEY,))

    response = client.get("/agents-only", follow=True)

    assert response.redirect_chain[0][0] == "/auth/signin?next=%2Fagents-only"
    assert "You were away for a while" in response.content.decode()
    assert client.get("/agents-only").status_code == 302  # and it stays ended


def test_a_session_in_use_does_not_go_idle(client, stub_account, settings):
    settings.SESSION_IDLE_TIMEOUT_SECONDS = 3600
    signed_in(client, stub_account)
    move_session_back(client, seconds=3000, keys=(auth.SESSION_SEEN_KEY,))
    assert client.get("/agents-only").status_code == 200  # used: the idle clock starts again
    move_session_back(client, seconds=3000, keys=(auth.SESSION_SEEN_KEY,))
    assert client.get("/agents-only").status_code == 200


def test_a_session_ends_after_its_lifetime_however_busy(client, stub_account, settings):
    settings.SESSION_MAX_AGE_SECONDS = 7 * 24 * 3600
    signed_in(client, stub_account)
    move_session_back(client, seconds=6 * 24 * 3600, keys=(auth.SESSION_STARTED_KEY,))
    assert client.get("/agents-only").status_code == 200
    move_session_back(client, seconds=24 * 3600, keys=(auth.SESSION_STARTED_KEY,))

    assert client.get("/agents-only").status_code == 302
    assert SESSION_AGENT_KEY not in client.session


def test_the_session_cookie_lasts_no_longer_than_the_session(zendesk, settings):
    settings.SESSION_MAX_AGE_SECONDS = 3 * 24 * 3600
    browser, _ = signed_in_browser(zendesk)
    assert browser.cookies[django_settings.SESSION_COOKIE_NAME]["max-age"] == 3 * 24 * 3600


# -- the periodic re-check of users/me ---------------------------------------------------------


def recheck_due(account: AgentAccount) -> None:
    """Make the last look at users/me older than AGENT_RECHECK_SECONDS (the test moves it)."""
    AgentAccount.objects.filter(pk=account.pk).update(
        last_checked_at=timezone.now() - dt.timedelta(hours=1)
    )


def test_an_agent_suspended_after_signing_in_loses_access_at_the_recheck(
    zendesk, sandbox_user_change
):
    browser, account = signed_in_browser(zendesk, role="agent", restricted=False, suspended=False)
    assert browser.get("/who-am-i").status_code == 200
    sandbox_user_change(account.zendesk_user_id, suspended=True)
    assert browser.get("/agents-only").status_code == 200  # not due yet: no call to Zendesk

    recheck_due(account)
    response = browser.get("/agents-only", follow=True)

    assert response.redirect_chain[0][0] == "/auth/signin?next=%2Fagents-only"
    assert SESSION_AGENT_KEY not in browser.session
    account.refresh_from_db()
    assert not account.has_tokens
    assert browser.get("/agents-only").status_code == 302


def test_an_agent_restricted_after_signing_in_gets_the_restricted_scope_at_the_recheck(
    zendesk, sandbox_user_change
):
    browser, account = signed_in_browser(zendesk, role="agent", restricted=False, suspended=False)
    assert not browser.get("/who-am-i").content.decode().endswith("(restricted)")
    sandbox_user_change(account.zendesk_user_id, restricted_agent=True)

    recheck_due(account)
    page = browser.get("/who-am-i")

    assert page.status_code == 200
    assert page.content.decode().endswith("(restricted)")
    account.refresh_from_db()
    assert account.restricted is True
    assert account.has_tokens


def test_an_agent_demoted_to_end_user_is_signed_out_and_their_token_revoked(
    zendesk, sandbox_user_change
):
    browser, account = signed_in_browser(zendesk, role="agent", restricted=False, suspended=False)
    token = account.access_token
    sandbox_user_change(account.zendesk_user_id, role="end-user")

    recheck_due(account)
    response = browser.get("/agents-only", follow=True)

    assert "Agent Inbox is for agents" in response.content.decode()
    assert browser.get("/agents-only").status_code == 302
    assert endpoint_calls(zendesk, "DELETE /api/v2/oauth/tokens/current") == 1
    assert (
        zendesk.get(
            "/api/v2/users/me.json", headers={"Authorization": f"Bearer {token}"}
        ).status_code
        == 401
    )


def test_the_recheck_reads_users_me_only_when_due(zendesk, settings):
    settings.AGENT_RECHECK_SECONDS = 600
    browser, account = signed_in_browser(zendesk)
    browser.get("/agents-only")
    browser.get("/agents-only")
    assert endpoint_calls(zendesk, "GET /api/v2/users/me") == 0

    recheck_due(account)
    browser.get("/agents-only")
    browser.get("/agents-only")

    assert endpoint_calls(zendesk, "GET /api/v2/users/me") == 1


def test_zendesk_down_at_the_recheck_keeps_the_agent_working_and_tries_again(zendesk):
    browser, account = signed_in_browser(zendesk)
    recheck_due(account)
    zendesk.control("POST", "faults", json={"outage": True})

    down = browser.get("/agents-only")

    assert down.status_code == 200
    zendesk.control("POST", "faults", json={})
    zendesk.control("POST", "stats/reset")
    assert browser.get("/agents-only").status_code == 200
    assert endpoint_calls(zendesk, "GET /api/v2/users/me") == 1  # tried again at once
    account.refresh_from_db()
    assert account.last_checked_at > timezone.now() - dt.timedelta(minutes=1)


def spend_the_background_share() -> None:
    """As other agents' background work would, this minute."""
    for _ in range(budget.limit_for(budget.BACKGROUND) + 1):
        try:
            budget.reserve(budget.BACKGROUND)
        except RateBudgetExhausted:
            return
    pytest.fail("the background share did not run out")


def test_the_recheck_runs_on_the_background_share_of_the_budget(zendesk, settings):
    """A spent background share postpones the re-check; the agent's page is not held up."""
    browser, account = signed_in_browser(zendesk)
    settings.ZENDESK_RATE_LIMIT_PER_MINUTE = 10
    settings.ZENDESK_RATE_BUDGET_SHARE = 1.0
    spend_the_background_share()
    recheck_due(account)

    assert browser.get("/agents-only").status_code == 200
    assert endpoint_calls(zendesk, "GET /api/v2/users/me") == 0
    budget.reserve(budget.INTERACTIVE)  # the interactive share is still there for pages


# -- what the browser holds ----------------------------------------------------------------------


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


def test_the_session_cookie_is_http_only_and_same_site(client, zendesk):
    start(client)
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
