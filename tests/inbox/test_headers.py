"""The security headers on every kind of response, under the production settings.

The transport and cookie settings are read from config.settings booted with a production
environment in a subprocess (DEBUG off, nothing from the test settings), then applied here, so
the pages can be asked over https with a real signed-in agent and the sandbox behind them.
"""

from __future__ import annotations

import json
import re
from http.cookies import Morsel

import pytest
from django.test import Client

from tests.inbox.conftest import signed_in_client
from tests.inbox.test_settings_security import COMPLETE_PRODUCTION_ENV, run_django

pytestmark = pytest.mark.django_db

PRODUCTION_SETTINGS = [
    "SECURE_SSL_REDIRECT",
    "SECURE_REDIRECT_EXEMPT",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SECURE_CONTENT_TYPE_NOSNIFF",
    "SECURE_REFERRER_POLICY",
    "SESSION_COOKIE_SECURE",
    "SESSION_COOKIE_HTTPONLY",
    "SESSION_COOKIE_SAMESITE",
    "CSRF_COOKIE_SECURE",
    "CSRF_COOKIE_HTTPONLY",
    "CSRF_COOKIE_SAMESITE",
    "X_FRAME_OPTIONS",
]
READ_SETTINGS = (
    "import json, django; django.setup(); from django.conf import settings; "
    f"print(json.dumps({{name: getattr(settings, name) for name in {PRODUCTION_SETTINGS!r}}}))"
)
NONCE = re.compile(r"'nonce-([^']+)'")


@pytest.fixture(scope="module")
def production_values(tmp_path_factory) -> dict:
    from tests.inbox.test_settings_security import REPO

    root = tmp_path_factory.mktemp("production-settings")
    (root / "config").symlink_to(REPO / "config", target_is_directory=True)
    result = run_django(root, COMPLETE_PRODUCTION_ENV, READ_SETTINGS)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture
def production(settings, production_values):
    for name, value in production_values.items():
        setattr(settings, name, value)
    # Static files from the source folders (no collectstatic in the test run).
    settings.WHITENOISE_USE_FINDERS = True
    settings.WHITENOISE_AUTOREFRESH = True
    return production_values


def assert_security_headers(response, *, html: bool) -> None:
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    policy = response["Content-Security-Policy"]
    assert "unsafe-inline" not in policy
    assert "unsafe-eval" not in policy
    assert "base-uri 'none'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "object-src 'none'" in policy
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    if html:
        body = b"".join(response.streaming_content) if response.streaming else response.content
        nonces_used = set(re.findall(r'nonce="([^"]+)"', body.decode()))
        if nonces_used:  # every script the page loads carries the header's nonce
            assert nonces_used == set(NONCE.findall(policy))


def assert_cookies_locked(response) -> None:
    for morsel in response.cookies.values():
        assert isinstance(morsel, Morsel)
        if not morsel.value:
            continue  # a cookie being deleted
        assert morsel["secure"], f"{morsel.key} is not Secure"
        assert morsel["httponly"], f"{morsel.key} is not HttpOnly"
        assert morsel["samesite"] in ("Lax", "Strict"), f"{morsel.key} has no SameSite"


def private_no_store(response) -> bool:
    directives = {part.strip() for part in response["Cache-Control"].split(",")}
    return {"private", "no-store"} <= directives


def test_signed_in_pages_partials_and_their_errors(production, agent):
    browser = signed_in_client(agent)
    htmx = {"HX-Request": "true", "HX-Current-URL": "https://testserver/"}
    answers = {
        "page": browser.get("/", secure=True),
        "partial": browser.get("/views/all", headers=htmx, secure=True),
        "400 of a list": browser.get("/views/all?size=7", secure=True),
        "404 of a list": browser.get("/views/no-such-view", secure=True),
        "poll": browser.get("/inbox/poll", secure=True),
    }

    assert [answer.status_code for answer in answers.values()] == [200, 200, 400, 404, 200]
    for kind, answer in answers.items():
        assert_security_headers(answer, html=True)
        assert_cookies_locked(answer)
        assert private_no_store(answer), kind


def test_visitor_pages_errors_healthz_and_static(production):
    visitor = Client()
    too_many_fields = "&".join(f"f{number}=1" for number in range(1001))
    answers = {
        "sign-in": (visitor.get("/auth/signin", secure=True), 200, True),
        "welcome": (visitor.get("/", secure=True), 200, True),
        "400": (visitor.get(f"/auth/signin?{too_many_fields}", secure=True), 400, True),
        "404": (visitor.get("/no-such-page", secure=True), 404, True),
        "healthz": (visitor.get("/healthz", secure=True), 200, False),
        "static": (visitor.get("/static/inbox/app.css", secure=True), 200, False),
    }

    for kind, (answer, status, html) in answers.items():
        assert answer.status_code == status, kind
        assert_security_headers(answer, html=html)
        assert_cookies_locked(answer)
    assert private_no_store(answers["sign-in"][0])
    assert private_no_store(answers["healthz"][0])


def test_the_cookies_a_sign_in_sets_are_secure_http_only_and_same_site(production, zendesk):
    visitor = Client()
    visitor.get("/auth/signin", secure=True)  # the CSRF cookie
    started = visitor.post("/auth/start", {"next": "/"}, secure=True)  # the session cookie

    assert started.status_code == 302
    assert {"csrftoken", "sessionid"} <= set(visitor.cookies)
    for morsel in visitor.cookies.values():
        assert morsel["secure"], morsel.key
        assert morsel["httponly"], morsel.key
        assert morsel["samesite"] == "Lax", morsel.key


def test_plain_http_is_sent_to_https_with_the_headers(production):
    response = Client().get("/views/all")

    assert response.status_code == 301
    assert response["Location"] == "https://testserver/views/all"
    assert response["X-Content-Type-Options"] == "nosniff"
