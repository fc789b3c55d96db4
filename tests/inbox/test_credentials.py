"""Agents' credentials (inbox.services.credentials): tokens encrypted at rest, never logged,
refreshed once however many requests race, and key rotation, also as a signed-in browser sees
them."""

from __future__ import annotations

import datetime as dt
import io
import logging
import threading

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection, connections
from django.test import Client
from django.utils import timezone

from inbox import crypto
from inbox.auth import SESSION_AGENT_KEY
from inbox.models import AgentAccount
from inbox.services.credentials import (
    SESSION_EXPIRED_MESSAGE,
    credentials_for,
    with_agent_credentials,
)
from inbox.zendesk import client as zendesk_client
from inbox.zendesk import oauth
from inbox.zendesk.errors import SessionExpired, Unauthorized
from inbox.zendesk.records import TokenGrant
from tests.inbox.conftest import endpoint_calls, sign_in, signed_in_browser

pytestmark = pytest.mark.django_db

OLD_KEY = "DxnXGPfpyujoeAhREShb73ZsdCQU__gRAh5T5eEAOhg="
NEW_KEY = "lKkWnKsiCER5YKwHtYrNJwNMF4qCwFqclpy_YTZs7QY="


def signed_in_agent(sandbox, *, access_token_ttl: int | None = None) -> AgentAccount:
    if access_token_ttl is not None:
        sandbox.control("POST", "oauth", json={"access_token_ttl": access_token_ttl})
    response = sign_in(Client(), sandbox, sandbox.agent(role="admin")["email"])
    assert response.status_code == 302
    sandbox.control("POST", "stats/reset")
    return AgentAccount.objects.get()


def raw_row(account: AgentAccount) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM inbox_agentaccount WHERE id = %s", [account.pk])
        return repr(cursor.fetchone())


# -- at rest and in logs ----------------------------------------------------------------------


def test_tokens_are_stored_encrypted(zendesk):
    account = signed_in_agent(zendesk)
    row = raw_row(account)
    assert account.access_token
    assert account.refresh_token
    assert account.access_token not in row
    assert account.refresh_token not in row


def test_no_token_reaches_the_logs_during_sign_in_refresh_and_sign_out(zendesk, caplog):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="urllib3")
    zendesk.control("POST", "oauth", json={"access_token_ttl": 30})
    browser = Client()
    sign_in(browser, zendesk, zendesk.agent(role="admin")["email"])
    account = AgentAccount.objects.get()
    secrets_seen = [account.access_token, account.refresh_token]
    credentials_for(account)  # expiring within a minute: refreshed
    secrets_seen += [account.access_token, account.refresh_token]
    browser.post("/auth/signout")

    assert "urllib3" in {record.name.split(".")[0] for record in caplog.records}
    assert secrets_seen[0] != secrets_seen[2]
    for secret in [*secrets_seen, "agent-inbox-demo-secret"]:
        assert secret not in caplog.text


def test_an_agent_account_never_prints_its_tokens(zendesk):
    account = signed_in_agent(zendesk)
    for text in (repr(account), str(account)):
        assert account.access_token not in text
        assert account.refresh_token not in text


# -- refresh ----------------------------------------------------------------------------------


def test_a_token_about_to_expire_is_refreshed_before_the_call(zendesk):
    account = signed_in_agent(zendesk, access_token_ttl=30)
    old_token = account.access_token

    credentials = credentials_for(account)

    assert credentials.access_token != old_token
    assert zendesk_client.users_me(credentials).id == account.zendesk_user_id
    assert endpoint_calls(zendesk, "POST /oauth/tokens") == 1
    account.refresh_from_db()
    assert account.access_token == credentials.access_token


def test_a_fresh_token_is_not_refreshed(zendesk):
    account = signed_in_agent(zendesk)
    credentials_for(account)
    assert endpoint_calls(zendesk, "POST /oauth/tokens") == 0


def test_a_token_zendesk_rejects_is_refreshed_once_and_the_call_retried(zendesk):
    account = signed_in_agent(zendesk)
    account.access_token_encrypted = crypto.encrypt("a-token-zendesk-no-longer-knows")
    account.save()

    me = with_agent_credentials(account, zendesk_client.users_me)

    assert me.id == account.zendesk_user_id
    assert endpoint_calls(zendesk, "POST /oauth/tokens") == 1
    assert endpoint_calls(zendesk, "GET /api/v2/users/me") == 2


def test_an_account_refused_even_after_a_refresh_must_sign_in_again(zendesk):
    account = signed_in_agent(zendesk)

    def refused_every_time(credentials):
        zendesk_client.users_me(credentials)
        raise Unauthorized()

    with pytest.raises(SessionExpired):
        with_agent_credentials(account, refused_every_time)

    assert endpoint_calls(zendesk, "POST /oauth/tokens") == 1
    account.refresh_from_db()
    assert not account.has_tokens


@pytest.mark.django_db(transaction=True)
def test_racing_requests_refresh_the_token_exactly_once(zendesk):
    account = signed_in_agent(zendesk, access_token_ttl=30)
    start_together = threading.Barrier(2)
    results: list[object] = []

    def request_as_the_agent() -> None:
        try:
            agent = AgentAccount.objects.get(pk=account.pk)  # each request loads its own copy
            start_together.wait(timeout=10)
            results.append(with_agent_credentials(agent, zendesk_client.users_me).id)
        except Exception as error:
            results.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=request_as_the_agent) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert results == [account.zendesk_user_id, account.zendesk_user_id]
    assert endpoint_calls(zendesk, "POST /oauth/tokens") == 1


def test_a_refused_refresh_ends_the_zendesk_session(zendesk):
    account = signed_in_agent(zendesk)
    oauth.revoke(credentials_for(account))  # revoked elsewhere, refresh token too
    account.token_expires_at = timezone.now()
    account.save()

    generation = account.session_generation
    with pytest.raises(SessionExpired) as raised:
        credentials_for(account)

    assert str(raised.value) == "Your Zendesk session expired; please sign in again."
    account.refresh_from_db()
    assert not account.has_tokens
    # Signing in again later must not bring back the sessions that ended here.
    assert account.session_generation == generation + 1


def test_a_refresh_refused_because_another_process_just_refreshed_uses_their_token(
    zendesk, monkeypatch
):
    """SQLite takes no row locks: a worker in another process may win the refresh race."""
    account = signed_in_agent(zendesk)
    account.token_expires_at = timezone.now()
    account.save()

    def another_process_wins(*, refresh_token):
        AgentAccount.objects.filter(pk=account.pk).update(
            access_token_encrypted=crypto.encrypt("the-winners-token")
        )
        raise oauth.OAuthRefused("refresh token already spent")

    monkeypatch.setattr(oauth, "refresh", another_process_wins)

    assert credentials_for(account).access_token == "the-winners-token"
    assert AgentAccount.objects.get().access_token == "the-winners-token"


# -- key rotation -----------------------------------------------------------------------------


def stored_account(**fields) -> AgentAccount:
    account = AgentAccount(zendesk_user_id=7, name="Zoe Becker", role="agent", **fields)
    account.store_grant(
        TokenGrant(
            access_token="access-secret",
            refresh_token="refresh-secret",
            scope="read write",
            expires_at=timezone.now() + dt.timedelta(hours=1),
            refresh_expires_at=None,
        )
    )
    account.save()
    return account


def test_a_new_key_put_first_signs_nobody_out_and_rotation_moves_tokens_to_it(settings):
    settings.TOKEN_ENCRYPTION_KEYS = [OLD_KEY]
    account = stored_account()
    old_ciphertext = account.access_token_encrypted

    settings.TOKEN_ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]
    assert AgentAccount.objects.get().access_token == "access-secret"
    output = io.StringIO()
    call_command("rotate_token_keys", stdout=output)
    assert "Re-encrypted the tokens of 1 agent account(s)." in output.getvalue()

    settings.TOKEN_ENCRYPTION_KEYS = [NEW_KEY]
    rotated = AgentAccount.objects.get()
    assert rotated.access_token_encrypted != old_ciphertext
    assert (rotated.access_token, rotated.refresh_token) == ("access-secret", "refresh-secret")


def test_tokens_under_a_dropped_key_mean_signing_in_again(settings):
    settings.TOKEN_ENCRYPTION_KEYS = [OLD_KEY]
    account = stored_account()
    settings.TOKEN_ENCRYPTION_KEYS = [NEW_KEY]
    with pytest.raises(SessionExpired):
        credentials_for(account)


# -- refresh and key rotation, as a signed-in browser sees them -------------------------------

agent_pages = pytest.mark.urls("tests.inbox.signin_urls")


@agent_pages
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


@agent_pages
def test_an_expired_token_is_refreshed_once_for_the_page(zendesk):
    zendesk.control("POST", "oauth", json={"access_token_ttl": 30})
    browser, _ = signed_in_browser(zendesk)
    zendesk.control("POST", "oauth", json={})  # the refreshed token lives the usual two hours

    first, second = browser.get("/who-am-i"), browser.get("/who-am-i")

    assert (first.status_code, second.status_code) == (200, 200)
    assert endpoint_calls(zendesk, "POST /oauth/tokens") == 1
    assert endpoint_calls(zendesk, "GET /api/v2/users/me") == 2


@agent_pages
def test_a_refused_refresh_signs_the_agent_out_with_a_clear_message(zendesk):
    browser, account = signed_in_browser(zendesk)
    oauth.revoke(
        zendesk_client.Credentials(zendesk.base_url, account.access_token, 0)
    )  # revoked at Zendesk (an admin did it): the refresh token goes with it
    AgentAccount.objects.update(token_expires_at=timezone.now())

    response = browser.get("/who-am-i", follow=True)

    assert response.redirect_chain[0][0] == "/auth/signin?next=%2Fwho-am-i"
    assert SESSION_EXPIRED_MESSAGE in response.content.decode()
    assert SESSION_AGENT_KEY not in browser.session
    assert not AgentAccount.objects.get().has_tokens
    assert endpoint_calls(zendesk, "POST /oauth/tokens") == 1


@agent_pages
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
