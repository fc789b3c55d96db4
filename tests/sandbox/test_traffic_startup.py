"""Faults and the webhook can be set at start-up from the environment (a demo that misbehaves)."""

from __future__ import annotations

import json
import subprocess

import pytest
import requests

from tests.sandboxserver import start_sandbox

pytestmark = pytest.mark.slow  # each test starts its own sandbox process


def test_sandbox_faults_and_webhook_env_apply_from_the_first_call(tmp_path):
    server = start_sandbox(
        tmp_path,
        extra_env={
            "SANDBOX_FAULTS": json.dumps({"outage": True, "path_prefix": "/api/v2/tickets"}),
            "SANDBOX_WEBHOOK_URL": "http://127.0.0.1:9/hooks",
            "SANDBOX_WEBHOOK_SECRET": "start-up-secret",
        },
    )
    try:
        tickets = requests.get(f"{server.base_url}/api/v2/tickets.json", timeout=5)
        webhook = server.control("GET", "webhooks").json()

        assert tickets.status_code == 503
        assert server.control("GET", "faults").json()["outage"] is True
        assert webhook["url"] == "http://127.0.0.1:9/hooks"
        assert webhook["secret"].endswith("cret")
        assert "start-up-secret" not in json.dumps(webhook)
    finally:
        server.stop()


def test_a_sandbox_with_a_bad_faults_env_refuses_to_start_and_says_why(tmp_path, capfd):
    with pytest.raises(subprocess.CalledProcessError):
        start_sandbox(tmp_path, extra_env={"SANDBOX_FAULTS": '{"error_rate": 3}'})

    assert "error_rate must be between 0 and 1" in capfd.readouterr().err
