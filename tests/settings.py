"""Test settings: the real settings module, fed a complete test environment.

ZENDESK_URL points nowhere by default; tests that talk to the sandbox override it with the
`settings` fixture (see `inbox_on_sandbox` fixtures) to the sandbox's free port.
"""

from __future__ import annotations

import os

os.environ.update(
    {
        # As long and varied as production demands (DEBUG is false here, as in production).
        "SECRET_KEY": "test-secret-key-not-for-production-0123456789-abcdefghijkl",
        "DEBUG": "false",
        "ZENDESK_URL": "http://127.0.0.1:9",
        "ZENDESK_OAUTH_CLIENT_ID": "agent-inbox-demo",
        "ZENDESK_OAUTH_CLIENT_SECRET": "agent-inbox-demo-secret",
        # Two keys: tokens are written with the first; the second proves rotation reads old ones.
        "TOKEN_ENCRYPTION_KEYS": "lKkWnKsiCER5YKwHtYrNJwNMF4qCwFqclpy_YTZs7QY=,"
        "DxnXGPfpyujoeAhREShb73ZsdCQU__gRAh5T5eEAOhg=",
        "ZENDESK_CONNECT_TIMEOUT": "1",
        "ZENDESK_READ_TIMEOUT": "2",
        "SESSION_COOKIE_SECURE": "false",
        "CSRF_COOKIE_SECURE": "false",
        # The test client speaks plain http; production settings are tested in a subprocess
        # (tests/inbox/test_settings_security.py).
        "SECURE_SSL_REDIRECT": "false",
        "DATABASE_URL": os.environ.get("TEST_DATABASE_URL", "sqlite:///:memory:"),
        "CACHE_URL": "locmemcache://tests",
    }
)
os.environ.pop("REDIS_URL", None)

from config.settings import *  # noqa: F403

STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
