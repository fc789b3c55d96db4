"""Shared fixtures: a real sandbox process over HTTP, and Chromium for browser tests."""

from __future__ import annotations

import os

import pytest

from tests.sandboxserver import SandboxServer, start_sandbox

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def sandbox_session(tmp_path_factory) -> SandboxServer:
    """One seeded sandbox for the whole run (started once: seeding takes a second or two).

    Zendesk's limit of 30 updates per ticket per user in 10 minutes is lifted at start-up:
    fixtures, fuzzing and the app's tests write to one ticket many times. Its own contract
    test (tests/sandbox/test_update_limit.py) turns it back on.
    """
    server = start_sandbox(
        tmp_path_factory.mktemp("sandbox"), extra_env={"SANDBOX_TICKET_UPDATE_LIMIT": "off"}
    )
    yield server
    server.stop()


@pytest.fixture
def sandbox(sandbox_session: SandboxServer) -> SandboxServer:
    """The session's sandbox with faults and stats cleared; data as left by earlier tests.

    Tests that write or need the pristine seed call `sandbox.reset()` themselves.
    """
    sandbox_session.control("POST", "faults", json={})
    sandbox_session.control("POST", "stats/reset")
    return sandbox_session


@pytest.fixture(scope="session")
def live_server(django_db_setup, live_server):
    """pytest-django's live app, started once the test database exists.

    The live server hands the test's own connection to all its request threads when the
    database is in memory, and it decides that when it starts: started before the test
    database, it would see the in-memory name and share one connection between concurrent
    requests (interleaved transactions, even crashes). Started after, each request thread has
    its own connection to the file tests/settings.py names, as in production.
    """
    return live_server


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": "/usr/bin/chromium",
        "args": [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    }


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory) -> str:
    """A Redis for tests that share a cache between threads and processes.

    REDIS_TEST_URL (set by `make test`) wins. Otherwise start redis-server here; skip only when
    it is missing and REDIS_REQUIRED is unset (CI sets it, so CI fails rather than skips).
    """
    from tests.redisserver import redis_server_binary, start_redis

    if os.environ.get("REDIS_TEST_URL"):
        yield os.environ["REDIS_TEST_URL"]
        return
    if redis_server_binary() is None and not os.environ.get("REDIS_REQUIRED"):
        pytest.skip("redis-server is not installed and REDIS_REQUIRED is unset")
    server = start_redis(tmp_path_factory.mktemp("redis"))
    yield server.url
    server.stop()


@pytest.fixture
def redis_server(tmp_path):
    """A redis-server of this test's own on a free port, that the test may stop (Redis down)."""
    from tests.redisserver import redis_server_binary, start_redis

    if redis_server_binary() is None:
        pytest.skip("redis-server is not installed")
    server = start_redis(tmp_path)
    yield server
    server.stop()


@pytest.fixture
def resilient_cache(redis_server, settings):
    """The production cache backend (config/settings.py with REDIS_URL) on the test's own
    Redis; returns the server, which the test may stop."""
    from django.core.cache import cache

    settings.CACHES = {
        "default": {
            "BACKEND": "inbox.zendesk.sharedcache.ResilientRedisCache",
            "LOCATION": redis_server.url,
            "OPTIONS": {"socket_connect_timeout": 1.0, "socket_timeout": 2.0},
        }
    }
    cache.clear()
    return redis_server


@pytest.fixture
def redis_cache(redis_url: str, settings) -> str:
    """Point the app's cache at the test Redis (emptied) for one test; returns its URL."""
    from django.core.cache import cache

    settings.CACHES = {
        "default": {
            "BACKEND": "inbox.zendesk.redis_cache.SharedPoolRedisCache",
            "LOCATION": redis_url,
        }
    }
    cache.clear()
    yield redis_url
    cache.clear()


@pytest.fixture(autouse=True)
def _empty_app_cache():
    """Every test starts with an empty app cache: no answers, locks or rate budget left over
    from an earlier test (the cache and budget live in Django's cache)."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def _no_probe_outlives_its_test():
    """/healthz starts the reachability probe in a daemon thread; one still running after its
    test could reach the sandbox during the next test and spoil that test's call counts."""
    import threading

    from inbox.zendesk.probe import PROBE_THREAD_NAME

    yield
    for thread in threading.enumerate():
        if thread.name == PROBE_THREAD_NAME:
            thread.join(timeout=60)
