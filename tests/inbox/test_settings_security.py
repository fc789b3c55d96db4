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
    "SECRET_KEY": "a-long-random-production-secret-key-for-this-test-only",
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
response = Client().post("/auth/start", {"next": "/"})
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
