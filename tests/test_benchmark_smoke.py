"""The team-load benchmark runs end to end with tiny parameters and says what it measured.

It runs as its own process (`python benchmarks/team_load.py`), as `make bench` runs it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
AGENTS, ROUNDS, LIMIT = 3, 2, 20
SCENARIOS = {"A", "B", "B_locmem_300", "C_A", "C_B"}


@pytest.fixture(scope="module")
def summary(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("bench") / "latest.json"
    finished = subprocess.run(
        [
            sys.executable,
            "benchmarks/team_load.py",
            *("--agents", str(AGENTS), "--rounds", str(ROUNDS), "--workers", "2"),
            *("--seed-agents", "5", "--limit", str(LIMIT), "--redis", ""),
            *("--out", str(out), "--json"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    printed = json.loads(finished.stdout)
    assert json.loads(out.read_text()) == printed, "the JSON file says what was printed"
    return printed


@pytest.mark.slow
def test_it_reports_every_scenario_with_its_figures(summary: dict) -> None:
    assert set(summary["scenarios"]) == SCENARIOS
    assert "benchmarks/team_load.py" in summary["command"]
    for scenario in summary["scenarios"].values():
        assert scenario["requests"] == AGENTS * ROUNDS * 4
        # ticket_counts gives three answers, the other three reads one each.
        assert sum(scenario["answers"].values()) == AGENTS * ROUNDS * 6
        assert scenario["upstream_calls"] > 0
        assert 0 <= scenario["latency_ms"]["p50"] <= scenario["latency_ms"]["p95"]


@pytest.mark.slow
def test_it_shows_the_cache_saving_upstream_calls(summary: dict) -> None:
    scenarios = summary["scenarios"]
    assert scenarios["A"]["upstream_calls"] == AGENTS * ROUNDS * 6, "naive: every answer a call"
    assert scenarios["B"]["upstream_calls"] < scenarios["A"]["upstream_calls"]
    assert summary["upstream_ratio_a_over_b"] > 1


@pytest.mark.slow
def test_it_shows_the_budget_keeping_the_team_clear_of_429s(summary: dict) -> None:
    scenarios = summary["scenarios"]
    assert scenarios["C_A"]["rate_limited_429"] > 0
    assert scenarios["C_A"]["answers"]["failed"] == scenarios["C_A"]["rate_limited_429"]
    assert scenarios["C_B"]["rate_limited_429"] == 0
    assert scenarios["C_B"]["upstream_calls"] <= LIMIT


@pytest.mark.slow
def test_it_measures_a_cache_hit_without_calling_zendesk(summary: dict) -> None:
    hits = summary["cache_hits"]["locmem"]
    assert hits["upstream_calls"] == 0
    assert hits["requests"] == AGENTS * ROUNDS * 4
    assert hits["answers"]["fresh"] == AGENTS * ROUNDS * 6
