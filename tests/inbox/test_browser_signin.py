"""A real Chromium signs in with Zendesk (the sandbox) through the app's pages."""

from __future__ import annotations

import re

import pytest

from inbox.models import AgentAccount
from tests.inbox.conftest import set_suspended

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def app_url(live_server, zendesk, settings) -> str:
    """The live app; its OAuth callback is built from the request: http://localhost:<port>."""
    settings.ZENDESK_OAUTH_REDIRECT_URL = ""
    return live_server.url


def sign_in_with_zendesk(page, app_url: str, sandbox, email: str) -> None:
    page.goto(f"{app_url}/auth/signin?next=/")
    page.get_by_role("button", name="Sign in with Zendesk").click()
    page.wait_for_url(re.compile(re.escape(sandbox.base_url) + r"/oauth/authorizations/new"))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(sandbox.info["demo_password"])
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Allow").click()


def test_a_newcomer_signs_in_with_zendesk_and_lands_in_the_app(page, app_url, zendesk):
    agent = zendesk.agent(role="agent", restricted=False, suspended=False)

    sign_in_with_zendesk(page, app_url, zendesk, agent["email"])

    page.wait_for_url(f"{app_url}/")
    account = AgentAccount.objects.get()
    assert (account.email, account.role) == (agent["email"], "agent")
    assert page.context.cookies(app_url)  # a session the app recognises
    page.goto(f"{app_url}/auth/signin")
    page.wait_for_url(f"{app_url}/")  # already signed in: the sign-in page moves on


def test_an_end_user_is_turned_away_with_a_reason(page, app_url, zendesk):
    sign_in_with_zendesk(page, app_url, zendesk, zendesk.info["end_users"][0]["email"])

    heading = page.get_by_role("heading", name="Agent Inbox is for agents")
    heading.wait_for()
    assert "your Zendesk account is an end user" in page.content()
    assert page.get_by_role("button", name="Try again").is_visible()
    assert not AgentAccount.objects.exists()


def test_the_suspended_agent_is_turned_away_with_a_reason(page, app_url, zendesk):
    # Zendesk turns a suspended agent away on its own sign-in page: the app meets one only
    # when the suspension lands between the agent's consent and the app's callback. The
    # consent's answer (a redirect to the callback) is held until the agent is suspended.
    agent = zendesk.agent(suspended=True)

    def consent_then_suspend(route) -> None:
        if route.request.method != "POST" or "consent_state" not in (route.request.post_data or ""):
            route.continue_()
            return
        answer = route.fetch(max_redirects=0)
        set_suspended(zendesk, agent["id"], True)
        route.fulfill(response=answer)

    page.route(re.compile(re.escape(zendesk.base_url) + r"/oauth/.*"), consent_then_suspend)
    set_suspended(zendesk, agent["id"], False)
    try:
        sign_in_with_zendesk(page, app_url, zendesk, agent["email"])
    finally:
        set_suspended(zendesk, agent["id"], True)

    page.get_by_role("heading", name="Your agent account is suspended").wait_for()
    assert "Your Zendesk agent account is suspended" in page.content()
    assert not AgentAccount.objects.exists()
