"""Shared fixtures: a real sandbox process over HTTP, and Chromium for browser tests."""

from __future__ import annotations

import os

import pytest

from tests.sandboxserver import SandboxServer, start_sandbox

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def sandbox_session(tmp_path_factory) -> SandboxServer:
    """One seeded sandbox for the whole run (started once: seeding takes a second or two)."""
    server = start_sandbox(tmp_path_factory.mktemp("sandbox"))
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
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": "/usr/bin/chromium",
        "args": [
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
        ],
    }
