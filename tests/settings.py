"""Test settings: the real settings module, fed a complete test environment.

ZENDESK_URL points nowhere by default; tests that talk to the sandbox override it with the
`settings` fixture (see `inbox_on_sandbox` fixtures) to the sandbox's free port.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

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
        # Off, so each test's next read reaches the upstream it set up; the fault suites and
        # tests/inbox/test_outage.py turn it on as production runs it.
        "ZENDESK_OUTAGE_PAUSE_SECONDS": "0",
        "SESSION_COOKIE_SECURE": "false",
        "CSRF_COOKIE_SECURE": "false",
        # The test client speaks plain http; production settings are tested in a subprocess
        # (tests/inbox/test_settings_security.py).
        "SECURE_SSL_REDIRECT": "false",
        "DATABASE_URL": os.environ.get("TEST_DATABASE_URL", "sqlite:///:memory:"),
        "CACHE_URL": "locmemcache://tests",
        # An expired answer is fetched again on the request, as most tests expect; the refresh
        # in the background is tested on its own (tests/inbox/test_cache_revalidate.py).
        "ZENDESK_CACHE_REVALIDATE_SECONDS": "0",
    }
)
os.environ.pop("REDIS_URL", None)

from config.settings import *  # noqa: F403

if DATABASES["default"]["NAME"] == ":memory:":  # noqa: F405
    # A file, not memory: with an in-memory database the live server's request threads all
    # share the test's one connection, so two requests at once (a double click) interleave
    # their transactions ("cannot start a transaction within a transaction", a 500). A file
    # gives each thread its own connection, as PostgreSQL does in production (one file per
    # test process; Django deletes it when the run ends).
    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": str(Path(tempfile.gettempdir()) / f"inbox-tests-{os.getpid()}.sqlite3")
    }

STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
