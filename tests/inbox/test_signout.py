"""Signing out: the token is revoked at Zendesk, and every session of the agent ends for good."""

from __future__ import annotations

import re
import time

import pytest
from django.conf import settings as django_settings
from django.contrib.sessions.models import Session
from django.test import Client

from inbox.auth import SESSION_AGENT_KEY
from inbox.models import AgentAccount
from inbox.zendesk import client as zendesk_client
from inbox.zendesk import oauth
from inbox.zendesk.errors import Unauthorized
from tests.inbox.conftest import endpoint_calls, sign_in, signed_in_browser

pytestmark = pytest.mark.django_db


def test_signing_out_revokes_the_token_and_ends_the_session(zendesk):
    browser, account = signed_in_browser(zendesk)
    old = zendesk_client.Credentials(
        zendesk.base_url, account.access_token, account.zendesk_user_id
    )

    response = browser.post("/auth/signout")

    assert response.status_code == 200
    assert "You are signed out" in response.content.decode()
    assert "valid until it expires" not in response.content.decode()
    assert endpoint_calls(zendesk, "DELETE /api/v2/oauth/tokens/current") == 1
    with pytest.raises(Unauthorized):
        zendesk_client.tickets_list(old, view="all")
    account.refresh_from_db()
    assert not account.has_tokens
    assert SESSION_AGENT_KEY not in browser.session


def test_signing_out_works_even_when_zendesk_is_down(zendesk):
    browser, _ = signed_in_browser(zendesk)
    zendesk.control("POST", "faults", json={"outage": True})
    response = browser.post("/auth/signout")
    assert response.status_code == 200
    assert "You are signed out" in response.content.decode()
    # ... and says the token it could not revoke stays valid until it expires.
    assert "stays valid until it expires" in " ".join(response.content.decode().split())
    assert SESSION_AGENT_KEY not in browser.session
    assert not AgentAccount.objects.get().has_tokens


def test_signing_out_in_one_browser_ends_the_others_for_good(zendesk):
    """Browsers A and B are signed in as one agent; B signs out and A is signed out too; the
    agent signs in again in C: A's old cookie stays signed out (its generation has ended)."""
    admin = zendesk.agent(role="admin")
    browser_a, browser_b, browser_d = Client(), Client(), Client()
    for browser in (browser_a, browser_b, browser_d):
        sign_in(browser, zendesk, admin["email"])
    assert admin["name"] in browser_a.get("/").content.decode()

    browser_b.post("/auth/signout")
    assert admin["name"] not in browser_d.get("/").content.decode()  # as A would see it now
    browser_c = Client()
    assert sign_in(browser_c, zendesk, admin["email"]).status_code == 302

    assert admin["name"] in browser_c.get("/").content.decode()
    assert admin["name"] not in browser_a.get("/").content.decode()
    assert admin["name"] not in browser_b.get("/").content.decode()
    assert admin["name"] not in browser_d.get("/").content.decode()


def test_signing_in_again_elsewhere_keeps_the_other_browsers_signed_in(zendesk):
    admin = zendesk.agent(role="admin")
    browser_a = Client()
    sign_in(browser_a, zendesk, admin["email"])
    sign_in(Client(), zendesk, admin["email"])
    assert admin["name"] in browser_a.get("/").content.decode()


CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def test_signing_out_needs_the_csrf_token_of_the_page(zendesk):
    browser, _ = signed_in_browser(zendesk)
    strict = Client(enforce_csrf_checks=True)
    strict.cookies = browser.cookies

    forged = strict.post("/auth/signout")

    assert forged.status_code == 403
    assert AgentAccount.objects.get().has_tokens
    assert endpoint_calls(zendesk, "DELETE /api/v2/oauth/tokens/current") == 0
    (token,) = set(CSRF_INPUT.findall(strict.get("/").content.decode()))  # one per form
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


@pytest.mark.parametrize("method", ["get", "head", "put", "delete"])  # GET: not a link
def test_signing_out_only_answers_post(zendesk, method):
    browser, _ = signed_in_browser(zendesk)
    assert getattr(browser, method)("/auth/signout").status_code == 405
    assert AgentAccount.objects.get().has_tokens
    assert SESSION_AGENT_KEY in browser.session
