"""Fixtures shared by the sandbox's contract tests."""

from __future__ import annotations

import pytest

from tests.sandboxserver import SandboxServer, start_sandbox

CONFIGURED_HOST = "sandbox.test"


@pytest.fixture(scope="module")
def _seeded(sandbox_session: SandboxServer) -> None:
    """Reset once per module: its counts and walks compare with the pristine seed."""
    sandbox_session.reset()


@pytest.fixture
def pristine(_seeded, sandbox: SandboxServer) -> SandboxServer:
    """The shared sandbox as seeded at the start of this module (tests here only read)."""
    return sandbox


@pytest.fixture
def configured_host() -> str:
    """The name `default_sandbox` answers besides loopback (SANDBOX_ALLOWED_HOSTS)."""
    return CONFIGURED_HOST


@pytest.fixture(scope="session")
def default_sandbox(tmp_path_factory) -> SandboxServer:
    """A sandbox as `make run` starts it (nothing lifted), small, plus one configured Host.

    For tests of start-up defaults; the shared `sandbox` lifts the ticket update limit.
    """
    server = start_sandbox(
        tmp_path_factory.mktemp("default-sandbox"),
        extra_env={"SANDBOX_ALLOWED_HOSTS": CONFIGURED_HOST},
        seed_args=("--tickets", "20"),
    )
    yield server
    server.stop()
