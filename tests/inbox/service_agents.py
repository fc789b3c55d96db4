"""Real agents for service tests: OAuth tokens from the sandbox, and AgentAccounts holding them.

Tokens come from the sandbox's own OAuth form (driven with requests, as a browser would), once
per agent per test session. `agent_account()` builds the app's row (saved or not: a second
process without the test database builds an unsaved one from the same token).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from inbox import crypto
from inbox.models import AgentAccount
from tests.sandboxoauth import tokens_for
from tests.sandboxserver import SandboxServer

ROOT = Path(__file__).resolve().parents[2]

_tokens: dict[tuple[str, str], str] = {}


def access_token(sandbox: SandboxServer, email: str) -> str:
    """An OAuth access token for the agent (read write), fetched once per session."""
    key = (sandbox.base_url, email)
    if key not in _tokens:
        _tokens[key] = tokens_for(sandbox, email)["access_token"]
    return _tokens[key]


def agent_account(
    sandbox: SandboxServer, seeded: dict[str, Any], *, save: bool = True
) -> AgentAccount:
    """The app's AgentAccount for a seeded sandbox agent, signed in with a real token."""
    agent = AgentAccount(
        zendesk_user_id=seeded["id"],
        name=seeded["name"],
        email=seeded["email"],
        role=seeded["role"],
        restricted=seeded["restricted"],
        access_token_encrypted=crypto.encrypt(access_token(sandbox, seeded["email"])),
    )
    if save:
        agent.save()
    return agent


def api_calls(sandbox: SandboxServer, endpoint: str | None = None) -> int:
    """Calls the sandbox answered on /api/v2 since the last stats reset (OAuth not counted)."""
    by_endpoint = sandbox.control("GET", "stats").json()["by_endpoint"]
    return sum(
        count
        for name, count in by_endpoint.items()
        if " /api/v2/" in name and (endpoint is None or name == endpoint)
    )


def run_app_process(script: str, *args: str, redis_url: str, sandbox: SandboxServer, **env: str):
    """Start a second app process (Redis cache, the sandbox as Zendesk) running `script`."""
    return subprocess.Popen(
        [sys.executable, "-c", script, *args],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings_redis",
            "APP_TEST_REDIS_URL": redis_url,
            "APP_TEST_ZENDESK_URL": sandbox.base_url,
            **env,
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
