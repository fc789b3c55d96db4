"""Production settings (config.settings, DEBUG false) as a real start-up sees them.

Each test boots Django in a subprocess with a stripped environment: a missing setting must stop
the start with its name, and a complete one must give secure, HttpOnly cookies. The settings
module is copied into a temporary directory first, so a developer's `.env` beside manage.py
(read by the settings) cannot change what these tests see.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FERNET_KEY = "lKkWnKsiCER5YKwHtYrNJwNMF4qCwFqclpy_YTZs7QY="

COMPLETE_PRODUCTION_ENV = {
    "DEBUG": "false",
    "SECRET_KEY": "a-long-random-production-secret-key-for-this-test-only-7Qz9",
    "ALLOWED_HOSTS": "inbox.example.com,testserver",
    "ZENDESK_URL": "https://acme.zendesk.com",
    "ZENDESK_OAUTH_CLIENT_ID": "agent-inbox",
    "ZENDESK_OAUTH_CLIENT_SECRET": "a-client-secret",
    "TOKEN_ENCRYPTION_KEYS": FERNET_KEY,
    "DATABASE_URL": "sqlite:///:memory:",
    "CACHE_URL": "locmemcache://settings-test",
}

BOOT = "import django; django.setup(); print('started')"

# Boots, creates the tables in memory, and reports the cookie settings and the Set-Cookie
# header of the session cookie a sign-in start (no network: a redirect to Zendesk) sets.
COOKIES_REPORT = """
import json
import django
django.setup()
from django.conf import settings
from django.core.management import call_command
from django.test import Client
call_command("migrate", verbosity=0)
response = Client().post("/auth/start", {"next": "/"}, secure=True)
print(json.dumps({
    "debug": settings.DEBUG,
    "session_cookie_secure": settings.SESSION_COOKIE_SECURE,
    "csrf_cookie_secure": settings.CSRF_COOKIE_SECURE,
    "session_cookie_httponly": settings.SESSION_COOKIE_HTTPONLY,
    "status": response.status_code,
    "session_cookie": response.cookies[settings.SESSION_COOKIE_NAME].output(),
}))
"""


@pytest.fixture(scope="module")
def settings_copy(tmp_path_factory) -> Path:
    """A directory holding config/ (and no .env): BASE_DIR of the copied settings."""
    root = tmp_path_factory.mktemp("settings")
    shutil.copytree(REPO / "config", root / "config", ignore=shutil.ignore_patterns("__pycache__"))
    # The static and template folders BASE_DIR names (check --deploy looks for them).
    for folder in ("static", "templates"):
        (root / folder).symlink_to(REPO / folder, target_is_directory=True)
    return root


def run_django(settings_copy: Path, env: dict[str, str], code: str) -> subprocess.CompletedProcess:
    """Run `code` in a fresh interpreter with only `env` (plus what Python needs)."""
    stripped = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "PYTHONPATH": os.pathsep.join([str(settings_copy), str(REPO)]),
        "PYTHONDONTWRITEBYTECODE": "1",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-c", code],
        env=stripped,
        cwd=settings_copy,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_complete_production_configuration_starts(settings_copy):
    result = run_django(settings_copy, COMPLETE_PRODUCTION_ENV, BOOT)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "started"


@pytest.mark.parametrize(
    ("missing", "named"),
    [
        ("ZENDESK_OAUTH_CLIENT_ID", "ZENDESK_OAUTH_CLIENT_ID"),
        ("ZENDESK_OAUTH_CLIENT_SECRET", "ZENDESK_OAUTH_CLIENT_SECRET"),
        ("TOKEN_ENCRYPTION_KEYS", "TOKEN_ENCRYPTION_KEYS"),
        ("ZENDESK_URL", "ZENDESK_URL or ZENDESK_SUBDOMAIN"),
        ("SECRET_KEY", "SECRET_KEY"),
    ],
)
def test_a_production_start_without_a_required_setting_fails_naming_it(
    settings_copy, missing, named
):
    env = {name: value for name, value in COMPLETE_PRODUCTION_ENV.items() if name != missing}

    result = run_django(settings_copy, env, BOOT)

    assert result.returncode != 0
    assert "started" not in result.stdout
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("django.core.exceptions.ImproperlyConfigured")
    assert named in last_line


def test_a_subdomain_is_enough_to_find_zendesk(settings_copy):
    env = {name: value for name, value in COMPLETE_PRODUCTION_ENV.items() if name != "ZENDESK_URL"}
    code = "import django; django.setup(); from django.conf import settings; print(settings.ZENDESK_URL)"
    result = run_django(settings_copy, {**env, "ZENDESK_SUBDOMAIN": "acme"}, code)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "https://acme.zendesk.com"


def test_production_cookies_are_secure_and_the_session_cookie_http_only(settings_copy):
    result = run_django(settings_copy, COMPLETE_PRODUCTION_ENV, COOKIES_REPORT)

    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["debug"] is False
    assert report["session_cookie_secure"] is True
    assert report["csrf_cookie_secure"] is True
    assert report["session_cookie_httponly"] is True
    assert report["status"] == 302
    cookie = report["session_cookie"]
    assert "; Secure" in cookie
    assert "; HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


@pytest.mark.parametrize(
    "keys",
    ["not-a-fernet-key", f"{FERNET_KEY},mistyped-old-key", "c2hvcnQ="],
    ids=["not base64 of 32 bytes", "an old key mistyped", "too short"],
)
def test_a_token_key_that_is_not_a_fernet_key_stops_the_start_naming_the_setting(
    settings_copy, keys
):
    result = run_django(
        settings_copy, {**COMPLETE_PRODUCTION_ENV, "TOKEN_ENCRYPTION_KEYS": keys}, BOOT
    )

    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("django.core.exceptions.ImproperlyConfigured")
    assert "TOKEN_ENCRYPTION_KEYS" in last_line
    for key in keys.split(","):
        if key != FERNET_KEY:
            assert key not in result.stderr  # a key, even a wrong one, is never printed


# -- production defaults ---------------------------------------------------------------------

DEFAULTS_REPORT = """
import json
import django
django.setup()
from django.conf import settings
print(json.dumps({
    "ssl_redirect": settings.SECURE_SSL_REDIRECT,
    "redirect_exempt": settings.SECURE_REDIRECT_EXEMPT,
    "hsts_seconds": settings.SECURE_HSTS_SECONDS,
    "hsts_subdomains": settings.SECURE_HSTS_INCLUDE_SUBDOMAINS,
    "hsts_preload": settings.SECURE_HSTS_PRELOAD,
    "proxy_ssl_header": settings.SECURE_PROXY_SSL_HEADER,
}))
"""

# Boots, then asks over plain http (as a load balancer on the instance's port would) and as
# a browser behind a proxy that says the original request was https.
REDIRECT_REPORT = """
import json
import django
django.setup()
from django.core.management import call_command
from django.test import Client
call_command("migrate", verbosity=0)
plain = Client()
forwarded = Client(headers={"X-Forwarded-Proto": "https"})
home = plain.get("/")
start = forwarded.post("/auth/start", {"next": "/"})
print(json.dumps({
    "home": [home.status_code, home.get("Location")],
    "healthz": plain.get("/healthz").status_code,
    "start_forwarded": [start.status_code, start.get("Location", "")[:40]],
    "hsts_forwarded": forwarded.get("/healthz").get("Strict-Transport-Security"),
}))
"""


def last_json(result: subprocess.CompletedProcess) -> dict:
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_production_defaults_redirect_to_https_and_ask_for_hsts_for_a_year(settings_copy):
    report = last_json(run_django(settings_copy, COMPLETE_PRODUCTION_ENV, DEFAULTS_REPORT))

    assert report["ssl_redirect"] is True
    assert report["redirect_exempt"] == ["^healthz$"]
    assert report["hsts_seconds"] == 365 * 24 * 3600
    assert report["hsts_subdomains"] is True
    assert report["hsts_preload"] is False
    assert report["proxy_ssl_header"] is None  # no proxy is believed unless a setting says so


def test_http_is_redirected_except_healthz_and_a_proxy_header_is_ignored_unless_trusted(
    settings_copy,
):
    report = last_json(run_django(settings_copy, COMPLETE_PRODUCTION_ENV, REDIRECT_REPORT))

    assert report["home"] == [301, "https://testserver/"]
    assert report["healthz"] == 200  # a load balancer on plain http still gets its answer
    # A client claiming https is not believed: it is redirected like any plain request.
    assert report["start_forwarded"] == [301, "https://testserver/auth/start"]
    assert report["hsts_forwarded"] is None


def test_a_trusted_proxy_header_counts_as_https_with_hsts(settings_copy):
    env = {**COMPLETE_PRODUCTION_ENV, "TRUST_X_FORWARDED_PROTO": "true"}

    report = last_json(run_django(settings_copy, env, REDIRECT_REPORT))

    assert report["start_forwarded"] == [302, "https://acme.zendesk.com/oauth/authoriza"]
    assert report["hsts_forwarded"] == "max-age=31536000; includeSubDomains"


def test_hsts_preload_only_when_a_setting_asks_for_it(settings_copy):
    env = {**COMPLETE_PRODUCTION_ENV, "SECURE_HSTS_PRELOAD": "true"}

    assert last_json(run_django(settings_copy, env, DEFAULTS_REPORT))["hsts_preload"] is True


@pytest.mark.parametrize(
    "secret_key",
    ["short-but-random-9f8e7d6c5b4a", "ab" * 40],
    ids=["shorter than 50", "fewer than 5 different characters"],
)
def test_a_weak_secret_key_stops_a_production_start_naming_the_setting(settings_copy, secret_key):
    result = run_django(settings_copy, {**COMPLETE_PRODUCTION_ENV, "SECRET_KEY": secret_key}, BOOT)

    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("django.core.exceptions.ImproperlyConfigured")
    assert "SECRET_KEY" in last_line
    assert secret_key not in result.stderr


def test_a_short_secret_key_is_fine_while_developing(settings_copy):
    env = {**COMPLETE_PRODUCTION_ENV, "DEBUG": "true", "SECRET_KEY": "dev-only"}
    assert run_django(settings_copy, env, BOOT).stdout.strip() == "started"


def test_check_deploy_is_clean_under_production_settings(settings_copy):
    result = run_django(
        settings_copy,
        COMPLETE_PRODUCTION_ENV,
        "import sys; from django.core.management import execute_from_command_line; "
        "execute_from_command_line(['manage.py', 'check', '--deploy', '--fail-level', 'WARNING'])",
    )

    assert result.returncode == 0, result.stderr[-3000:]
    assert "WARNINGS" not in result.stderr
    assert "System check identified no issues" in result.stdout
