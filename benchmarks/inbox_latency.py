"""How quickly the inbox answers from cache, and how many bytes a browser fetches to show it.

Starts a seeded sandbox (its own process and port), signs one agent in with a real OAuth token,
opens the inbox once so its answers are cached, then times, in the same run and through the
same middleware (sessions, CSRF, CSP, htmx):

  page      GET /            the whole inbox page ("Assigned to me", 25 rows, the shell)
  poll 204  GET /inbox/poll  with the version the page shows (nothing new: the usual poll)
  poll 200  GET /inbox/poll  without a version (every badge and organization)
  trivial   a view that returns "ok": what Django itself costs per request on this machine
  trivial signed in   the same behind `agent_required` (the session and agent lookups every
            signed-in answer pays, the poll included)

Requests go through Django's test client in this process (no network), so the figures are the
app's own time: wall clock, and beside it the CPU time of the request (which a machine busy with
other work inflates far less than the wall clock). Upstream calls during the timed part are counted by the sandbox (expected: 0).
Bytes: the page as served (the app does not compress HTML itself) and its stylesheet and
scripts as WhiteNoise serves them after collectstatic (brotli, else gzip), as a browser that
sends `Accept-Encoding: br, gzip` receives them.

    .venv/bin/python benchmarks/inbox_latency.py [--requests 300] [--json]

This is a benchmark, not a test: it reports, it does not assert (the machine is noisy).
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_OUT = ROOT / "benchmarks" / "out" / "inbox_latency.json"
ASSET = re.compile(r'<(?:script[^>]+src|link[^>]+href)="(/static/[^"]+)"')
# Targets the inbox is held to (p95 in ms, bytes).
TARGETS = {"page_p95_ms": 50.0, "poll_p95_ms": 20.0, "poll_vs_trivial": 1.5, "bytes": 60_000}


def trivial(request: Any) -> Any:
    from django.http import HttpResponse

    return HttpResponse("ok", content_type="text/plain")


def trivial_signed_in(request: Any) -> Any:
    from inbox.auth import agent_required

    return agent_required(trivial)(request)


urlpatterns: list[Any] = []  # filled in setup_django: the app's urls plus the trivial views


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300, help="timed requests per kind")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where the JSON goes")
    parser.add_argument("--json", action="store_true", help="print the JSON summary, no table")
    return parser.parse_args(argv)


def setup_django(workdir: Path) -> None:
    """Test settings on a throwaway SQLite file, production static files (hashed, compressed)."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    os.environ["TEST_DATABASE_URL"] = f"sqlite:///{workdir / 'app.sqlite3'}"
    import django
    from django.conf import settings

    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
    settings.STATIC_ROOT = workdir / "staticfiles"
    # Every answer of the timed part comes from the cache: nothing expires during the run.
    settings.ZENDESK_CACHE_TTL_SECONDS = {"count": 3600, "list": 3600, "activities": 3600}
    settings.ROOT_URLCONF = __name__
    settings.ALLOWED_HOSTS = ["testserver"]  # the test client's host
    django.setup()
    from django.core.management import call_command
    from django.urls import include, path

    urlpatterns[:] = [
        path("__trivial", trivial),
        path("__trivial_signed_in", trivial_signed_in),
        path("", include("inbox.urls")),
    ]
    call_command("migrate", verbosity=0)
    call_command("collectstatic", "--no-input", verbosity=0)
    logging.disable(logging.WARNING)


def signed_in_client(sandbox: Any) -> Any:
    from django.conf import settings

    from tests.inbox.conftest import agent_account
    from tests.inbox.conftest import signed_in_client as client_of

    settings.ZENDESK_URL = sandbox.base_url
    person = sandbox.agent(role="agent", restricted=False, suspended=False)
    account = agent_account(sandbox, person)
    return client_of(account)


def timed(call: Callable[[], Any], expect: int) -> tuple[float, float]:
    """One call: its wall-clock and its CPU milliseconds (this thread's CPU time, which waiting
    for a busy machine's cores does not count); the answer must have the expected status."""
    started, cpu_started = time.perf_counter(), time.thread_time()
    response = call()
    cpu = (time.thread_time() - cpu_started) * 1000
    wall = (time.perf_counter() - started) * 1000
    if response.status_code != expect:
        raise SystemExit(f"expected {expect}, got {response.status_code}")
    return wall, cpu


def percentiles(samples: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return {"p50_ms": round(cuts[49], 2), "p95_ms": round(cuts[94], 2)}


def transferred(client: Any, page_html: str) -> dict[str, Any]:
    """Bytes on the wire for the page and each asset it names, as served."""
    assets = {}
    for url in dict.fromkeys(ASSET.findall(page_html)):
        response = client.get(url, HTTP_ACCEPT_ENCODING="br, gzip")
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assets[url] = {
            "bytes": len(body),
            "encoding": response.headers.get("Content-Encoding", "identity"),
        }
    page_bytes = len(page_html.encode())
    return {
        "page": {
            "bytes": page_bytes,
            "encoding": "identity",
            "gzip_if_a_proxy_compresses": len(gzip.compress(page_html.encode(), 6)),
        },
        "assets": assets,
        "total_bytes": page_bytes + sum(asset["bytes"] for asset in assets.values()),
    }


def measure(sandbox: Any, requests: int) -> dict[str, Any]:
    client = signed_in_client(sandbox)
    client.get("/")  # fills the cache: the list
    first_poll = client.get("/inbox/poll")  # ... and the sidebar
    page = client.get("/")  # as an agent gets it from then on: badges and all
    version = re.search(r'name="version" value="([0-9a-f]+)"', first_poll.content.decode())[1]
    for _ in range(20):  # warm up: templates compiled, connections open
        for warm in ("/", f"/inbox/poll?version={version}", "/__trivial", "/__trivial_signed_in"):
            client.get(warm)
    sandbox.control("POST", "stats/reset")

    # Interleaved, so that a noisy neighbour slows every kind alike.
    kinds: dict[str, tuple[Callable[[], Any], int]] = {
        "page": (lambda: client.get("/"), 200),
        "poll_204": (lambda: client.get("/inbox/poll", {"version": version}), 204),
        "poll_200": (lambda: client.get("/inbox/poll"), 200),
        "trivial": (lambda: client.get("/__trivial"), 200),
        "trivial_signed_in": (lambda: client.get("/__trivial_signed_in"), 200),
    }
    samples: dict[str, list[float]] = {name: [] for name in kinds}
    cpu_samples: dict[str, list[float]] = {name: [] for name in kinds}
    for _ in range(requests):
        for name, (call, expect) in kinds.items():
            wall, cpu = timed(call, expect)
            samples[name].append(wall)
            cpu_samples[name].append(cpu)
    upstream = sum(sandbox.control("GET", "stats").json()["by_endpoint"].values())
    latency = {name: percentiles(values) for name, values in samples.items()}
    cpu_time = {name: percentiles(values) for name, values in cpu_samples.items()}
    return {
        "requests_per_kind": requests,
        "latency": latency,
        "poll_204_vs_trivial_p95": round(
            latency["poll_204"]["p95_ms"] / latency["trivial"]["p95_ms"], 2
        ),
        "poll_204_vs_trivial_signed_in_p95": round(
            latency["poll_204"]["p95_ms"] / latency["trivial_signed_in"]["p95_ms"], 2
        ),
        "cpu": cpu_time,
        "cpu_poll_204_vs_trivial_p95": round(
            cpu_time["poll_204"]["p95_ms"] / cpu_time["trivial"]["p95_ms"], 2
        ),
        "cpu_poll_204_vs_trivial_signed_in_p95": round(
            cpu_time["poll_204"]["p95_ms"] / cpu_time["trivial_signed_in"]["p95_ms"], 2
        ),
        "load_average": [round(value, 2) for value in os.getloadavg()],
        "upstream_calls_while_timed": upstream,
        "bytes": transferred(client, page.content.decode()),
        "targets": TARGETS,
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def table(summary: dict[str, Any]) -> str:
    latency = summary["latency"]
    labels = {
        "page": "inbox page (GET /)",
        "poll_204": "poll, nothing new (204)",
        "poll_200": "poll, every badge (200)",
        "trivial": "trivial Django view",
        "trivial_signed_in": "trivial view behind agent_required",
    }
    cpu = summary["cpu"]
    lines = ["| request | p50 ms | p95 ms | CPU p50 ms | CPU p95 ms |", "|---|---|---|---|---|"]
    lines += [
        f"| {labels[name]} | {values['p50_ms']} | {values['p95_ms']} | {cpu[name]['p50_ms']} "
        f"| {cpu[name]['p95_ms']} |"
        for name, values in latency.items()
    ]
    transfer = summary["bytes"]
    lines += [
        "",
        f"poll (204) p95 / trivial p95: {summary['poll_204_vs_trivial_p95']}x; / signed-in "
        f"trivial p95: {summary['poll_204_vs_trivial_signed_in_p95']}x (CPU: "
        f"{summary['cpu_poll_204_vs_trivial_p95']}x; "
        f"{summary['cpu_poll_204_vs_trivial_signed_in_p95']}x); upstream calls while "
        f"timed: {summary['upstream_calls_while_timed']}; load average at the end: "
        f"{summary['load_average'][0]}",
        "",
        "| transferred | bytes | encoding |",
        "|---|---|---|",
        f"| page HTML | {transfer['page']['bytes']} | identity "
        f"({transfer['page']['gzip_if_a_proxy_compresses']} gzipped) |",
    ]
    lines += [
        f"| {url.rsplit('/', 1)[-1]} | {asset['bytes']} | {asset['encoding']} |"
        for url, asset in transfer["assets"].items()
    ]
    lines.append(f"| **total** | **{transfer['total_bytes']}** | |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    from tests.sandboxserver import start_sandbox

    with tempfile.TemporaryDirectory(prefix="inbox-latency-") as workdir:
        setup_django(Path(workdir))
        sandbox = start_sandbox(Path(workdir))
        try:
            summary = measure(sandbox, args.requests)
        finally:
            sandbox.stop()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2) if args.json else table(summary))


if __name__ == "__main__":
    main()
