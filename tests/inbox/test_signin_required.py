"""`agent_required`: pages for signed-in agents only; everyone else is sent to sign in."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from inbox.auth import SESSION_AGENT_KEY
from inbox.models import AgentAccount
from inbox.zendesk.records import TokenGrant

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.inbox.signin_urls")]


@pytest.fixture
def agent_account() -> AgentAccount:
    account = AgentAccount(zendesk_user_id=42, name="Ingrid Horvat", role="agent")
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


def signed_in(client, account: AgentAccount):
    session = client.session
    session[SESSION_AGENT_KEY] = account.pk
    session.save()
    return client


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


def test_a_signed_in_agent_sees_the_page(client, agent_account):
    response = signed_in(client, agent_account).get("/agents-only")
    assert response.status_code == 200
    assert response.content == b"Hello Ingrid Horvat"


def test_an_agent_whose_tokens_are_gone_must_sign_in_again(client, agent_account):
    signed_in(client, agent_account)
    agent_account.forget_tokens()
    agent_account.save()
    assert client.get("/agents-only").status_code == 302


def test_an_expired_zendesk_session_ends_with_a_message(client, agent_account):
    response = signed_in(client, agent_account).get("/expired-midway", follow=True)
    assert response.redirect_chain[0][0].startswith("/auth/signin?next=")
    assert "Your Zendesk session expired; please sign in again." in response.content.decode()
    assert SESSION_AGENT_KEY not in client.session
