"""The inbox latency benchmark runs end to end with a few requests and says what it measured.

It runs as its own process (`python benchmarks/inbox_latency.py`), as `make bench-inbox` does.
No figure is asserted (the machine is noisy): only that every figure is there and that the
timed requests were all answered from the cache.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_the_inbox_benchmark_reports_latency_and_bytes_from_cache(tmp_path):
    out = tmp_path / "inbox.json"
    finished = subprocess.run(
        [sys.executable, "benchmarks/inbox_latency.py", "--requests", "5", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )

    assert finished.returncode == 0, finished.stderr[-3000:]
    summary = json.loads(out.read_text())
    assert set(summary["latency"]) == {
        "page",
        "poll_204",
        "poll_200",
        "trivial",
        "trivial_signed_in",
    }
    assert summary["upstream_calls_while_timed"] == 0
    assets = summary["bytes"]["assets"]
    assert any("htmx" in url for url in assets)
    assert all(asset["encoding"] in ("br", "gzip") for asset in assets.values())
    assert "| inbox page (GET /) |" in finished.stdout
