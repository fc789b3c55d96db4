"""The home page and /healthz say which Zendesk the app uses and whether it answers."""

from __future__ import annotations

import pytest
from django.core.cache import cache

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_probe():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def on_sandbox(settings, sandbox):
    settings.ZENDESK_URL = sandbox.base_url
    return sandbox


def test_healthz_reports_app_database_and_a_reachable_sandbox(client, on_sandbox):
    response = client.get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True
    assert body["database"] == {"ok": True, "error": None}
    assert body["upstream"]["url"] == on_sandbox.base_url
    assert body["upstream"]["reachable"] is True
    assert body["upstream"]["error"] is None


def test_healthz_names_the_error_when_zendesk_cannot_be_reached(client, settings):
    settings.ZENDESK_URL = "http://127.0.0.1:9"  # discard port: connection refused

    body = client.get("/healthz").json()

    assert body["ok"] is True  # the app still serves cached data
    assert body["upstream"]["reachable"] is False
    assert "Cannot connect to http://127.0.0.1:9" in body["upstream"]["error"]


def test_healthz_reports_an_upstream_outage(client, on_sandbox):
    on_sandbox.control("POST", "faults", json={"outage": True})
    try:
        body = client.get("/healthz").json()
    finally:
        on_sandbox.control("POST", "faults", json={})

    assert body["upstream"]["reachable"] is False
    assert "503" in body["upstream"]["error"]


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
