"""The page benchmark runs end to end with tiny parameters and says what it measured.

It runs as its own process (`python benchmarks/team_pages.py`), as `make bench-team` runs it:
PostgreSQL, Redis, the sandbox and the app under gunicorn, three agents signed in through the
OAuth pages, a few seconds per scenario.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Four servers started, three scenarios of a few seconds each, every app started twice (the
# warm start): a few minutes on a busy 2-core machine, past the suite's 120 s default.
pytestmark = pytest.mark.timeout(480)
AGENTS = 3
SCENARIOS = ["webhooks", "change_feed", "naive"]
POLL_KINDS = ("poll 204 (htmx)", "poll 200 (htmx)")
TICKET_KINDS = ("ticket page (full load)", "draft save (htmx)", "reply (POST, 303)")


@pytest.fixture(scope="module")
def summary(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("bench") / "team_pages.json"
    finished = subprocess.run(
        [
            sys.executable,
            "benchmarks/team_pages.py",
            *("--agents", str(AGENTS), "--minutes", "0.15", "--warmup", "1"),
            *("--seed-tickets", "60", "--workers", "1", "--threads", "4"),
            # One tab hidden (its browser's notifier), the others polling every 2 s; every
            # visible agent opens a ticket and answers it within the few seconds.
            *("--hidden", "0.34", "--notifier-seconds", "2", "--poll-seconds", "2"),
            *("--stamp-seconds", "1", "--ticket-seconds", "1", "--reply-share", "1"),
            *("--scenarios", ",".join(SCENARIOS), "--out", str(out), "--json"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=420,
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    printed = json.loads(finished.stdout)
    assert json.loads(out.read_text()) == printed, "the JSON file says what was printed"
    return printed


def by_name(summary: dict) -> dict[str, dict]:
    return {row["scenario"]: row for row in summary["scenarios"]}


@pytest.mark.slow
def test_it_reports_every_scenario_or_says_why_not(summary: dict) -> None:
    rows = by_name(summary)
    assert list(rows) == SCENARIOS
    assert rows["naive"]["available"]
    for name in ("webhooks", "change_feed"):
        available = summary["features"][name]
        assert rows[name]["available"] == available
        if not available:
            assert "not available in this build" in rows[name]["reason"]


@pytest.mark.slow
def test_each_scenario_has_its_figures(summary: dict) -> None:
    for row in summary["scenarios"]:
        if not row["available"]:
            continue
        assert row["agents"] == AGENTS
        assert row["restricted_agents"] == 1
        assert row["notifier_tabs"] == 1
        assert row["sign_in"]["failed"] == 0
        # Each sign-in exchanged a code and read users/me, through the app's own pages.
        assert row["sign_in"]["upstream"]["POST /oauth/tokens"] == AGENTS
        latency = row["latency_ms"]
        polls = [latency[k] for k in POLL_KINDS if k in latency]
        assert sum(figures["count"] for figures in polls) > 0
        assert latency["notifier poll, hidden tab (htmx)"]["count"] > 0
        for kind in TICKET_KINDS:
            assert latency[kind]["count"] > 0, kind
        assert row["replies"] > 0
        assert all(set(figures) == {"count", "p50", "p95", "p99"} for figures in latency.values())
        assert set(row["upstream_per_minute"]) == {"mean", "peak"}
        assert set(row["staleness_s"]) == {"seen", "unseen", "p50", "p95"}
        assert row["stamps"]["made"] > 0
        assert row["upstream_total"] > 0
        assert row["warm_start_upstream"] > 0  # every inbox was opened once before measuring
        assert "hit_ratio" in row["cache"]
        assert set(row["cache"]["budget"]) == {
            "interactive granted",
            "interactive refused",
            "background granted",
            "background refused",
        }
        assert isinstance(row["cache"]["budget_refused_by"], dict)
        # Every answer split by its Server-Timing: from cache, or waited on Zendesk.
        split = row["latency_by_source_ms"]
        assert set(split) == set(latency)
        for kind, sources in split.items():
            assert set(sources) == {"answered from cache", "waited on Zendesk"}
            counted = sum(figures["count"] for figures in sources.values())
            assert counted == latency[kind]["count"], kind
        # ... and the app's own time for each kind (the header was there on every answer).
        assert all(figures["count"] for figures in row["app_ms"].values())
        waited = row["waited_on_zendesk"]
        assert sum(kind["zendesk_calls"] for kind in waited.values()) > 0
        after = row["upstream_after_warmup"]
        assert set(after["lines_per_minute"]) == {
            "sign-in and users/me re-checks",
            "agents' own writes and the reads right after them",
            "the rest (the 20 % target)",
        }
        assert after["by_origin_per_minute"], "the app's calls by what made them"
        # Where the CPU went: the app's processes and the browsers' own share among them.
        assert row["cpu"]["cpu_seconds"]["app (gunicorn)"] > 0
        assert "benchmark (browsers, stamper)" in row["cpu"]["share_of_machine"]


@pytest.mark.slow
def test_the_product_asks_zendesk_less_than_the_naive_proxy(summary: dict) -> None:
    rows = by_name(summary)
    product = rows["webhooks"] if rows["webhooks"]["available"] else rows["change_feed"]
    assert product["upstream_total"] < rows["naive"]["upstream_total"]
    assert product["cache"]["hit"] > 0
    assert product["cache"]["budget"]["background granted"] > 0
    assert rows["naive"]["cache"]["hit"] == 0


@pytest.mark.slow
def test_it_prints_the_command_and_the_machine(summary: dict) -> None:
    assert "benchmarks/team_pages.py" in summary["command"]
    assert summary["machine"]["cpus"] >= 1
    assert summary["params"]["limit_per_minute"] == 200
