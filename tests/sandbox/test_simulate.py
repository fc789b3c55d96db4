"""`python -m sandbox simulate` against the test sandbox's database, checked over HTTP."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import pytest

from tests.sandboxserver import ROOT, SandboxServer


def simulate_command(sandbox: SandboxServer, *args: str) -> list[str]:
    env = {**os.environ, "SANDBOX_DB": str(sandbox.db_path)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return [sys.executable, "-m", "sandbox", "simulate", *args], env


def run_simulation(sandbox: SandboxServer, *args: str) -> list[str]:
    command, env = simulate_command(sandbox, *args)
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def email_of(sandbox: SandboxServer, name: str) -> str:
    return next(agent["email"] for agent in sandbox.info["agents"] if agent["name"] == name)


@pytest.mark.slow
def test_the_simulation_writes_tickets_and_activities_the_api_shows(sandbox):
    admin = sandbox.agent(role="admin")["email"]
    before = sandbox.get("/api/v2/tickets/count.json", as_email=admin).json()["count"]["value"]

    lines = run_simulation(sandbox, "--duration", "2", "--rate", "600", "--seed", "4")

    actions = [line for line in lines if " -> tells " in line]
    assert len(actions) >= 5
    opened = [int(n) for n in re.findall(r" opened #(\d+) ", "\n".join(actions))]
    assert opened
    for ticket_id in opened:
        shown = sandbox.get(f"/api/v2/tickets/{ticket_id}.json", as_email=admin)
        assert shown.status_code == 200
        assert shown.json()["ticket"]["via"]["channel"] == "web"
    after = sandbox.get("/api/v2/tickets/count.json", as_email=admin).json()["count"]["value"]
    assert after == before + len(opened)
    told = re.search(r"#(\d+)  -> tells ([^(]+) \((tickets\.\w+)\)", "\n".join(actions))
    assert told, "no action told anyone"
    ticket_id, name, verb = int(told.group(1)), told.group(2).strip(), told.group(3)
    feed = sandbox.get("/api/v2/activities.json?page[size]=100", as_email=email_of(sandbox, name))
    assert any(
        a["verb"] == verb and a["target"]["ticket"]["id"] == ticket_id
        for a in feed.json()["activities"]
    )


@pytest.mark.slow
def test_ctrl_c_stops_the_simulation_cleanly(sandbox):
    command, env = simulate_command(sandbox, "--rate", "60")
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        first_line = process.stdout.readline()
        assert "Ctrl-C" in first_line
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert process.returncode == 0, err
    assert "stopped" in out


def test_a_nonsense_rate_is_refused_with_a_sentence(sandbox):
    command, env = simulate_command(sandbox, "--rate", "0")

    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)

    assert done.returncode != 0
    assert "--rate must be above 0" in done.stderr
