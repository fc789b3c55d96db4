"""/healthz and the home page: what they say about the app, and that neither waits on Zendesk.

Reachability comes from a probe run in the background (one for the whole deployment, by a
lock in the shared cache). The proof that a request does not call Zendesk on its path is a
Zendesk that holds every call: answers given while it has answered nothing cannot depend on it.
"""

from __future__ import annotations

import logging
import threading

import pytest
from django.core.cache import cache
from django.db import OperationalError

from inbox import crypto
from inbox.models import AgentAccount
from inbox.services import health
from inbox.zendesk import probe
from tests.inbox.conftest import signed_in_client
from tests.stubzendesk import HangingZendesk

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_probe():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def probe_threads(monkeypatch):
    """The background probes /healthz starts, joined at the end so none outlives its test."""
    started: list[threading.Thread] = []
    original = health.reachability_refresh_in_background

    def recording() -> threading.Thread | None:
        thread = original()
        if thread is not None:
            started.append(thread)
        return thread

    monkeypatch.setattr(health, "reachability_refresh_in_background", recording)
    yield started
    for thread in started:
        thread.join(timeout=60)


@pytest.fixture
def hanging_zendesk(settings):
    stub = HangingZendesk()
    settings.ZENDESK_URL = stub.base_url
    # The probe must outlast the hold, however slow this machine is today.
    settings.ZENDESK_READ_TIMEOUT = 60
    settings.ZENDESK_BACKGROUND_DEADLINE_SECONDS = 60
    yield stub
    stub.stop()


@pytest.fixture
def on_sandbox(settings, sandbox):
    settings.ZENDESK_URL = sandbox.base_url
    return sandbox


def signed_in_agent_client():
    account = AgentAccount.objects.create(
        zendesk_user_id=424242,
        name="Ada Agent",
        role="agent",
        access_token_encrypted=crypto.encrypt("a-token-never-used-here"),
    )
    return signed_in_client(account)


# -- no request waits on Zendesk ---------------------------------------------------------------


def test_healthz_answers_while_zendesk_hangs_and_probes_once_in_the_background(
    client, hanging_zendesk, probe_threads
):
    answers = [client.get("/healthz") for _ in range(3)]

    # Every answer came back while the stub had answered nothing: none waited on Zendesk.
    assert hanging_zendesk.answered == 0
    assert [answer.status_code for answer in answers] == [200, 200, 200]
    assert answers[0].json()["upstream"]["reachable"] is None  # not known yet
    assert len(probe_threads) == 1  # one probe for all three checks

    hanging_zendesk.release()
    probe_threads[0].join(timeout=60)

    assert hanging_zendesk.received == 1
    assert client.get("/healthz").json()["upstream"]["reachable"] is True
    assert len(probe_threads) == 1  # a fresh status is not probed again


def test_no_probe_starts_while_another_process_holds_the_lock(client, hanging_zendesk):
    cache.add(probe._lock_key(hanging_zendesk.base_url), "another-process", timeout=60)

    assert probe.reachability_refresh_in_background() is None
    assert client.get("/healthz").status_code == 200
    assert hanging_zendesk.received == 0


def test_the_home_page_never_starts_nor_waits_on_the_probe(client, hanging_zendesk, monkeypatch):
    started = []
    monkeypatch.setattr(probe, "_probe", lambda base_url: started.append(base_url))

    response = client.get("/")

    assert response.status_code == 200
    assert "Sign in with Zendesk" in response.content.decode()
    assert started == []
    assert hanging_zendesk.received == 0


def test_the_signed_in_inbox_never_starts_the_probe(agent_client, monkeypatch, settings):
    started = []
    monkeypatch.setattr(probe, "_probe", lambda base_url: started.append(base_url))

    response = agent_client.get("/")

    assert response.status_code == 200
    assert 'id="ticket-list"' in response.content.decode()
    assert started == []
    assert cache.get(probe._lock_key(settings.ZENDESK_URL)) is None


# -- what it says, and to whom -----------------------------------------------------------------


def test_healthz_reports_app_database_cache_and_a_reachable_sandbox(client, on_sandbox):
    probe.reachability_refresh_now()

    response = client.get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True
    assert body["database"] == {"ok": True}
    assert body["cache"] == {"shared": True, "message": None}
    assert body["upstream"]["reachable"] is True
    assert body["upstream"]["checked_seconds_ago"] >= 0
    assert "no-store" in response["Cache-Control"]


def test_a_visitor_reads_neither_the_upstream_url_nor_its_error(client, settings):
    settings.ZENDESK_URL = "http://127.0.0.1:9"  # discard port: connection refused
    probe.reachability_refresh_now()

    response = client.get("/healthz")

    page = response.content.decode()
    upstream = response.json()["upstream"]
    assert upstream["reachable"] is False
    assert set(upstream) == {"reachable", "checked_seconds_ago"}
    assert "127.0.0.1:9" not in page
    assert "Cannot connect" not in page


def test_a_signed_in_agent_reads_which_zendesk_and_its_error(settings):
    settings.ZENDESK_URL = "http://127.0.0.1:9"
    probe.reachability_refresh_now()

    upstream = signed_in_agent_client().get("/healthz").json()["upstream"]

    assert upstream["url"] == "http://127.0.0.1:9"
    assert upstream["reachable"] is False
    assert "Cannot connect to http://127.0.0.1:9" in upstream["error"]


def test_the_detail_setting_shows_every_caller_the_upstream_error(client, on_sandbox, settings):
    settings.HEALTHZ_DETAIL = True
    on_sandbox.control("POST", "faults", json={"outage": True})
    try:
        probe.reachability_refresh_now()
    finally:
        on_sandbox.control("POST", "faults", json={})

    upstream = client.get("/healthz").json()["upstream"]

    assert upstream["url"] == on_sandbox.base_url
    assert upstream["reachable"] is False
    assert "503" in upstream["error"]


def test_a_database_error_is_logged_never_echoed(client, monkeypatch, caplog):
    secret_text = "could not connect to server db-7.internal:5432 as user inbox_prod"

    def failing_cursor(*args, **kwargs):
        raise OperationalError(secret_text)

    monkeypatch.setattr(health.connection, "cursor", failing_cursor)
    with caplog.at_level(logging.ERROR, logger="inbox.services.health"):
        response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["database"] == {"ok": False}
    assert "db-7.internal" not in response.content.decode()
    assert "OperationalError" not in response.content.decode()
    assert secret_text in caplog.text


# -- HEAD, as monitors probe -------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/healthz", "/"])
def test_head_answers_like_get_without_a_body(client, path, probe_threads):
    got = client.get(path)
    head = client.head(path)

    assert head.status_code == got.status_code == 200
    assert head.content == b""
    assert head["Content-Type"] == got["Content-Type"]
    assert "Content-Security-Policy" in head


def test_head_on_the_signed_in_inbox_answers_like_get(agent_client):
    head = agent_client.head("/")

    assert head.status_code == 200
    assert head.content == b""
    assert "no-store" in head["Cache-Control"]


# -- the home page -----------------------------------------------------------------------------


def test_home_page_names_the_configured_zendesk_without_asking_it(client, on_sandbox):
    on_sandbox.control("POST", "stats/reset")
    response = client.get("/")

    assert response.status_code == 200
    assert on_sandbox.base_url in response.content.decode()
    # No page waits on the reachability probe: /healthz answers that question.
    assert on_sandbox.control("GET", "stats").json()["by_endpoint"] == {}


def test_home_page_sets_a_nonce_csp_and_serves_htmx_from_the_app(client, on_sandbox):
    response = client.get("/")

    policy = response["Content-Security-Policy"]
    assert "script-src 'self' 'nonce-" in policy
    html = response.content.decode()
    assert "/static/django_htmx/" in html or "htmx" in html
    assert "https://unpkg.com" not in html
    assert "cdn" not in html.lower()


def test_home_page_is_the_sign_in_page_for_a_visitor(client, on_sandbox):
    html = client.get("/").content.decode()

    # One button, straight to Zendesk: a POST to the sign-in start.
    assert '<form method="post" action="/auth/start">' in html
    assert "Sign in with Zendesk" in html
