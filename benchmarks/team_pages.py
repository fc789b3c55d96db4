"""The whole team measured through its pages: browsers that keep the inbox open and poll.

Starts PostgreSQL and Redis on free loopback ports, a seeded sandbox with a plan limit
(default 200/min) and injected latency (default 150 ms +- 50), and the app under gunicorn as
the Procfile runs it (`--instances 2`: two app processes on the one Redis and PostgreSQL).
Every agent signs in through the real OAuth flow over HTTP (/auth/start -> the sandbox's
pages -> /auth/callback), loads the inbox and, when its tab is visible, follows the poll at
the page's interval with the headers htmx sends; now and then it opens another view (the
list partial, as htmx asks for it). Meanwhile `python -m sandbox simulate` changes tickets at
a steady rate, and a stamper assigns a new ticket to a visible agent every few seconds
through the API and waits for that agent's poll to show it (staleness).

Scenarios, one after another (each on a freshly started app, an empty Redis, new sign-ins):

  product        the app as deployed: cache, single flight, shared budget (cache TTLs)
  webhooks       the same, with the sandbox's webhooks pointed at the app (when it has them)
  change feed    the same, with `manage.py change_feed` running (when it has one)
  naive          ZENDESK_NAIVE_PROXY=true: every read goes to Zendesk, no budget

    .venv/bin/python benchmarks/team_pages.py [--agents 50] [--minutes 2] [--instances 1]
    .venv/bin/python benchmarks/team_pages.py --sweep        # 10, 50 and 200 agents

Own thread loop, not locust: a simulated browser here is a few requests every 10 s that must
share state with the stamper (the badge it last saw) and be signed in through three
servers' pages first; a thread per browser does that in plain code, the sandbox harness of the
tests is reused as is, and the load (5 requests a second at 50 agents) is far below what
makes a load tool's event loop worth its weight. The benchmark never imports `sandbox` or the
app: it runs them as processes and speaks HTTP.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import random
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.redisserver import start_redis  # noqa: E402
from tests.sandboxserver import SandboxServer, free_port, start_sandbox  # noqa: E402

DEFAULT_OUT = ROOT / "benchmarks" / "out" / "team_pages.json"
SWEEP_AGENTS = (10, 50, 200)
HIDDEN_INPUT = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')
POLL_VERSION = re.compile(r'id="poll-version" name="version" value="([^"]*)"')
POLL_SECONDS = re.compile(r'data-poll-seconds="([0-9.]+)"')
ASSIGNED_BADGE = re.compile(
    r'id="count-assigned"[^>]*>\s*<span class="count-value[^"]*"[^>]*>(\d+)'
)
# What a list shows when it has something to show: rows, or the sentence for an empty view.
LIST_HAS_DATA = re.compile(r"<tr data-row|class=\"list-empty\"")
TIMEOUT = 30
WEBHOOK_SECRET = "benchmark-webhook-signing-secret"
TOKEN_KEYS = "lKkWnKsiCER5YKwHtYrNJwNMF4qCwFqclpy_YTZs7QY="  # a throwaway Fernet key
STARTED = time.monotonic()


def say(text: str) -> None:
    """Progress on stderr, with the seconds since start (the table goes to stdout)."""
    print(f"[{time.monotonic() - STARTED:6.1f} s] {text}", file=sys.stderr, flush=True)


PAGE, LIST = "page (full load)", "list partial (htmx)"
# A poll answered 204 (nothing new since the version the page shows) or 200 (new badges).
POLL_204, POLL = "poll 204 (htmx)", "poll 200 (htmx)"


# -- arguments ---------------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--agents", type=int, default=50, help="agents with the inbox open (default 50)")
    add("--minutes", type=float, default=2.0, help="minutes per scenario (default 2)")
    add("--warmup", type=float, default=None, help="seconds not counted (default: 20%%, <=30)")
    add("--instances", type=int, default=1, help="app processes on one Redis and PostgreSQL")
    add("--workers", type=int, default=2, help="gunicorn workers per instance (WEB_CONCURRENCY)")
    add("--threads", type=int, default=8, help="gunicorn threads per worker (GUNICORN_THREADS)")
    add("--limit", type=int, default=200, help="the plan's requests a minute (default 200)")
    add("--latency-ms", type=float, default=150.0, help="injected upstream latency (150)")
    add("--jitter-ms", type=float, default=50.0, help="+- this much (default 50)")
    add("--hidden", type=float, default=0.3, help="share of tabs hidden, not polling (0.3)")
    add("--navigate-seconds", type=float, default=60.0, help="a visible agent opens a view")
    add("--simulate-rate", type=float, default=12.0, help="sandbox changes a minute (12)")
    add("--stamp-seconds", type=float, default=5.0, help="one stamped change every (5 s)")
    add("--poll-seconds", type=float, default=None, help="INBOX_POLL_SECONDS (app default)")
    add("--scenarios", default="product,webhooks,change_feed,naive", help="which, in order")
    add("--seed-tickets", type=int, default=600, help="tickets the sandbox is seeded with")
    add("--sweep", action="store_true", help="run 10, 50 and 200 agents in one report")
    add("--out", type=Path, default=DEFAULT_OUT, help="where the JSON goes")
    add("--json", action="store_true", help="print the JSON, no table")
    return parser.parse_args(argv)


# -- PostgreSQL, as scripts/test.sh starts it ---------------------------------------------------
@dataclass
class Postgres:
    url: str
    data_dir: Path
    pid: int
    as_postgres: list[str]

    def stop(self) -> None:
        """Fast shutdown by the postmaster's own pid (SIGINT), waited for."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, 2)
        for _ in range(100):
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)


def start_postgres(workdir: Path) -> Postgres:
    bins = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
    if not bins:
        raise SystemExit("PostgreSQL is not installed (/usr/lib/postgresql/*/bin).")
    pg_bin, port = bins[-1], free_port()
    home = workdir / "pg"
    home.mkdir()
    as_postgres = ["su", "postgres", "-s", "/bin/sh", "-c"] if os.getuid() == 0 else ["sh", "-c"]
    if os.getuid() == 0:
        workdir.chmod(0o755)
        shutil.chown(home, "postgres")
    data = home / "data"

    def run(command: str) -> None:
        subprocess.run([*as_postgres, command], check=True, stdout=subprocess.DEVNULL)

    run(f"{pg_bin}/initdb -D {data} -U postgres --auth=trust -E UTF8")
    options = (
        f"-p {port} -k {home} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=400"
    )
    run(f"{pg_bin}/pg_ctl -D {data} -l {home}/log -w start -o '{options}'")
    pid = int((data / "postmaster.pid").read_text().split()[0])
    run(f"{pg_bin}/createdb -h 127.0.0.1 -p {port} -U postgres inbox")
    return Postgres(f"postgres://postgres@127.0.0.1:{port}/inbox", data, pid, as_postgres)


# -- the app, as the Procfile runs it -----------------------------------------------------------
def procfile_command(process: str) -> list[str]:
    """The Procfile's line for `process`, with this interpreter's gunicorn/python."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        if name.strip() == process:
            words = shlex.split(command)
            if words[0] == "gunicorn":
                return [sys.executable, "-m", "gunicorn", *words[1:]]
            if words[0] == "python":
                return [sys.executable, *words[1:]]
            return words
    raise SystemExit(f"the Procfile has no {process!r} process")


def app_environment(
    args: argparse.Namespace, *, sandbox_url: str, database_url: str, redis_url: str
) -> dict[str, str]:
    env = {
        **os.environ,
        "DEBUG": "false",
        "SECRET_KEY": "benchmark-only-secret-key-" + "x" * 40,
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "ZENDESK_URL": sandbox_url,
        "ZENDESK_OAUTH_CLIENT_ID": "agent-inbox-demo",
        "ZENDESK_OAUTH_CLIENT_SECRET": "agent-inbox-demo-secret",
        "TOKEN_ENCRYPTION_KEYS": TOKEN_KEYS,
        "ZENDESK_RATE_LIMIT_PER_MINUTE": str(args.limit),
        # Plain http on loopback: cookies without Secure, no redirect to https.
        "SESSION_COOKIE_SECURE": "false",
        "CSRF_COOKIE_SECURE": "false",
        "SECURE_SSL_REDIRECT": "false",
        "SECURE_HSTS_SECONDS": "0",
        "WEB_CONCURRENCY": str(args.workers),
        "GUNICORN_THREADS": str(args.threads),
        "GUNICORN_ACCESS_LOG": "false",
        "GUNICORN_LOG_LEVEL": "warning",
        "LOG_LEVEL": "ERROR",
        "ZENDESK_CACHE_STATS": "true",
    }
    if args.poll_seconds:
        env["INBOX_POLL_SECONDS"] = str(args.poll_seconds)
    for name in ("DJANGO_SETTINGS_MODULE", "TEST_DATABASE_URL", "ALLOW_INCOMPLETE_ZENDESK_CONFIG"):
        env.pop(name, None)
    return env


def static_files_current() -> bool:
    """Whether collectstatic's output is newer than every file it is made from (the app's
    own static files; the packages' are pinned): the build step need not run again."""
    manifest = ROOT / "staticfiles" / "staticfiles.json"
    if not manifest.exists():
        return False
    sources = [path.stat().st_mtime for path in (ROOT / "static").rglob("*") if path.is_file()]
    return manifest.stat().st_mtime > max(sources, default=0)


def prepare_app(env: dict[str, str], workdir: Path) -> None:
    """Static files as the build step makes them (when out of date), then the release step."""
    log = (workdir / "release.log").open("a")
    commands = [procfile_command("release")]
    if not static_files_current():
        commands.insert(0, [sys.executable, "manage.py", "collectstatic", "--no-input"])
    for command in commands:
        subprocess.run(command, cwd=ROOT, env=env, check=True, stdout=log, stderr=log)


@dataclass
class AppInstances:
    urls: list[str]
    processes: list[subprocess.Popen]

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def start_app(env: dict[str, str], count: int, workdir: Path, label: str) -> AppInstances:
    urls, processes = [], []
    for number in range(count):
        port = free_port()
        log = (workdir / f"app-{label}-{number}.log").open("w")
        processes.append(
            subprocess.Popen(
                procfile_command("web"),
                cwd=ROOT,
                env={**env, "GUNICORN_BIND": f"127.0.0.1:{port}"},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
        urls.append(f"http://127.0.0.1:{port}")
    app = AppInstances(urls, processes)
    deadline = time.monotonic() + 60
    for url, process in zip(urls, processes, strict=True):
        while True:
            if process.poll() is not None:
                app.stop()
                raise SystemExit(f"the app exited at start; see {workdir}/app-{label}-*.log")
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{url}/healthz", timeout=15).status_code < 500:
                    break
            if time.monotonic() > deadline:
                app.stop()
                raise SystemExit("the app did not answer within 60 s")
            time.sleep(0.2)
    return app


FEATURES_PROBE = """
import json, django
django.setup()
from django.core.management import get_commands
from django.urls import Resolver404, resolve
def route(path):
    try:
        resolve(path)
    except Resolver404:
        return False
    return True
print(json.dumps({
    "webhooks": route("/webhooks/zendesk"),
    "change_feed": "change_feed" in get_commands(),
    "ticket_page": route("/tickets/1"),
}))
"""


def build_features(env: dict[str, str]) -> dict[str, bool]:
    """What this build of the app has (webhooks, the change feed, the ticket page), from its
    own URL map and command list: a scenario that needs what is missing says so and is
    skipped, never faked."""
    probe = subprocess.run(
        [sys.executable, "-c", FEATURES_PROBE],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(probe.stdout.strip().splitlines()[-1])


# -- one browser ----------------------------------------------------------------------------------
@dataclass
class Measures:
    """What every browser of a scenario saw, shared (under a lock) by their threads."""

    warm_after: float
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    without_data: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    staleness: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, kind: str, seconds: float, *, has_data: bool, error: str | None) -> None:
        if time.monotonic() - seconds < self.warm_after:  # started during warm-up
            return
        with self.lock:
            self.latencies[kind].append(seconds)
            if error:
                self.errors[f"{kind}: {error}"] += 1
            elif not has_data:
                self.without_data[kind] += 1


@dataclass
class Stamp:
    at: float
    badge_before: int


class Browser:
    """One agent's browser: a session signed in to one app instance, one inbox tab."""

    def __init__(
        self, person: dict[str, Any], app_url: str, *, visible: bool, navigate_seconds: float
    ) -> None:
        self.person = person
        self.app_url = app_url
        self.visible = visible
        self.navigate_seconds = navigate_seconds
        self.measures: Measures | None = None
        self.session = requests.Session()
        self.version = ""
        self.poll_seconds = 10.0
        self.assigned_badge: int | None = None
        self.stamps: list[Stamp] = []
        self.lock = threading.Lock()

    # -- sign-in through the real pages ----------------------------------------------------
    def sign_in(self, password: str) -> None:
        front = self.session.get(f"{self.app_url}/", timeout=TIMEOUT)
        fields = dict(HIDDEN_INPUT.findall(front.text))
        started = self.session.post(
            f"{self.app_url}/auth/start",
            data={"csrfmiddlewaretoken": fields["csrfmiddlewaretoken"], "next": "/"},
            headers={"Referer": f"{self.app_url}/"},
            allow_redirects=False,
            timeout=TIMEOUT,
        )
        if started.status_code != 302:
            raise RuntimeError(f"/auth/start answered {started.status_code}")
        callback = authorize_at_sandbox(
            started.headers["Location"], email=self.person["email"], password=password
        )
        parts = urlsplit(callback)
        back = self.session.get(
            f"{self.app_url}{parts.path}?{parts.query}", allow_redirects=False, timeout=TIMEOUT
        )
        if back.status_code != 302 or urlsplit(back.headers["Location"]).path != "/":
            raise RuntimeError(f"/auth/callback answered {back.status_code}: {back.text[:200]}")

    # -- what the page does ----------------------------------------------------------------
    def htmx_headers(self, trigger: str, target: str | None) -> dict[str, str]:
        """What htmx 2 sends (templates/inbox/app.html: hx-get on #poll, no target swap)."""
        headers = {
            "HX-Request": "true",
            "HX-Current-URL": f"{self.app_url}/",
            "HX-Trigger": trigger,
        }
        if target:
            headers["HX-Target"] = target
        return headers

    def load_page(self, measures: Measures, path: str = "/") -> None:
        """A full page (the first load, a reload, a link opened): the shell, badges, list."""
        response, seconds, error = self.timed("GET", path, headers={})
        if response is not None and response.status_code == 200:
            self.read_poll_answer(response.text)
            if found := POLL_SECONDS.search(response.text):
                self.poll_seconds = float(found.group(1))
        measures.record(
            PAGE,
            seconds,
            has_data=response is not None and bool(LIST_HAS_DATA.search(response.text)),
            error=error,
        )

    def open_view(self, view: str, measures: Measures) -> None:
        response, seconds, error = self.timed(
            "GET", f"/views/{view}", headers=self.htmx_headers("", "ticket-list")
        )
        measures.record(
            LIST,
            seconds,
            has_data=response is not None and bool(LIST_HAS_DATA.search(response.text)),
            error=error,
        )

    def poll(self, measures: Measures) -> None:
        response, seconds, error = self.timed(
            "GET",
            "/inbox/poll",
            params={"version": self.version},
            headers=self.htmx_headers("poll", None),
        )
        has_data = response is not None and (
            response.status_code == 204
            or (
                response.status_code == 200
                and "could not be brought up to date" not in response.text
            )
        )
        if response is not None and response.status_code == 200:
            self.read_poll_answer(response.text)
        kind = POLL_204 if response is not None and response.status_code == 204 else POLL
        measures.record(kind, seconds, has_data=has_data, error=error)

    def timed(self, method: str, path: str, **kwargs: Any):
        started = time.perf_counter()
        try:
            response = self.session.request(
                method, f"{self.app_url}{path}", timeout=TIMEOUT, allow_redirects=False, **kwargs
            )
        except requests.RequestException as exc:
            return None, time.perf_counter() - started, type(exc).__name__
        seconds = time.perf_counter() - started
        error = None if response.status_code < 400 else f"HTTP {response.status_code}"
        if response.status_code in (301, 302):
            error = "redirected (signed out?)"
        return response, seconds, error

    def read_poll_answer(self, html: str) -> None:
        if found := POLL_VERSION.search(html):
            self.version = unescape(found.group(1))
        if found := ASSIGNED_BADGE.search(html):
            self.see_assigned(int(found.group(1)), time.monotonic())

    def see_assigned(self, value: int, now: float) -> None:
        """The badge this page now shows; a stamp it has grown past is seen (its staleness)."""
        with self.lock:
            self.assigned_badge = value
            seen = [now - stamp.at for stamp in self.stamps if value > stamp.badge_before]
            self.stamps = [stamp for stamp in self.stamps if value <= stamp.badge_before]
        if seen and self.measures is not None:
            with self.measures.lock:
                self.measures.staleness.extend(seen)

    def run(self, measures: Measures, stop: threading.Event, rng: random.Random) -> None:
        """The tab as app.js drives it: poll every poll_seconds while visible; open a view now
        and then. Hidden tabs load once and stay quiet."""
        self.measures = measures
        self.load_page(measures)
        if not self.visible:
            return
        stop.wait(rng.uniform(0, self.poll_seconds))  # browsers did not open at one instant
        next_navigation = time.monotonic() + rng.expovariate(1 / self.navigate_seconds)
        while not stop.is_set():
            started = time.monotonic()
            self.poll(measures)
            if time.monotonic() >= next_navigation:  # half by htmx, half a full load
                view = rng.choice(("all", "ccd", "assigned"))
                if rng.random() < 0.5:
                    self.open_view(view, measures)
                else:
                    self.load_page(measures, f"/views/{view}")
                next_navigation = time.monotonic() + rng.expovariate(1 / self.navigate_seconds)
            stop.wait(max(0.0, self.poll_seconds - (time.monotonic() - started)))


def authorize_at_sandbox(authorize_url: str, *, email: str, password: str) -> str:
    """The sandbox's sign-in and consent pages, as a person fills them; where they lead."""
    with requests.Session() as browser:
        page = browser.get(authorize_url, timeout=TIMEOUT)
        consent = browser.post(
            authorize_url,
            data={**dict(HIDDEN_INPUT.findall(page.text)), "email": email, "password": password},
            allow_redirects=False,
            timeout=TIMEOUT,
        )
        answer = browser.post(
            authorize_url,
            data={**dict(HIDDEN_INPUT.findall(consent.text)), "decision": "allow"},
            allow_redirects=False,
            timeout=TIMEOUT,
        )
        if answer.status_code != 302:
            raise RuntimeError(f"the sandbox refused {email}: {answer.status_code}")
        return answer.headers["Location"]


# -- the stamper: changes we make ourselves and watch for -----------------------------------------
class Stamper(threading.Thread):
    """Every few seconds, assign a new ticket to a visible agent (as the admin, through the API)
    and leave a stamp on that agent's browser; its poll clears the stamp when the badge grows."""

    def __init__(self, sandbox: SandboxServer, browsers: list[Browser], args, stop, measures):
        super().__init__(daemon=True)
        self.sandbox, self.stop, self.measures = sandbox, stop, measures
        self.browsers = [b for b in browsers if b.visible and not b.person["restricted"]]
        self.every = args.stamp_seconds
        self.made = 0
        self.refused = 0
        self.rng = random.Random(7)

    def run(self) -> None:
        headers = self.sandbox.basic_auth(self.sandbox.admin_email)
        while not self.stop.wait(self.every):
            if time.monotonic() < self.measures.warm_after or not self.browsers:
                continue
            free = [b for b in self.browsers if not b.stamps and b.assigned_badge is not None]
            if not free:
                continue
            browser = self.rng.choice(free)
            before = browser.assigned_badge
            ticket = {
                "subject": f"bench stamp {self.made}",
                "comment": {"body": "A change the benchmark watches for."},
                "assignee_id": browser.person["id"],
                "status": "open",
            }
            with browser.lock:
                browser.stamps.append(Stamp(at=time.monotonic(), badge_before=before or 0))
            response = requests.post(
                f"{self.sandbox.base_url}/api/v2/tickets",
                json={"ticket": ticket},
                headers=headers,
                timeout=TIMEOUT,
            )
            self.made += 1
            if response.status_code != 201:
                self.refused += 1
                with browser.lock:
                    browser.stamps.clear()


# -- upstream, from the sandbox's own stats ------------------------------------------------------
class StatsSampler(threading.Thread):
    """Reads /_sandbox/stats every few seconds: the upstream rate over time (mean and peak)."""

    EVERY = 5.0

    def __init__(self, sandbox: SandboxServer, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.sandbox, self.stop = sandbox, stop
        self.samples: list[tuple[float, int]] = []

    def read(self) -> dict[str, Any]:
        return self.sandbox.control("GET", "stats").json()

    def run(self) -> None:
        while True:
            self.samples.append((time.monotonic(), api_calls(self.read())))
            if self.stop.wait(self.EVERY):
                self.samples.append((time.monotonic(), api_calls(self.read())))
                return


def api_calls(stats: dict[str, Any]) -> int:
    return sum(n for name, n in stats["by_endpoint"].items() if " /api/v2/" in name)


SIGN_IN_ENDPOINTS = ("POST /oauth/tokens", "GET /api/v2/users/me")


def rates(samples: list[tuple[float, int]], since: float) -> tuple[float, float]:
    """Mean and peak upstream requests a minute after `since` (peak: busiest 30 s, x2)."""
    kept = [(t, n) for t, n in samples if t >= since]
    if len(kept) < 2:
        return 0.0, 0.0
    span = kept[-1][0] - kept[0][0]
    mean = (kept[-1][1] - kept[0][1]) / span * 60 if span else 0.0
    peak = 0.0
    for i, (t0, n0) in enumerate(kept):
        for t1, n1 in kept[i + 1 :]:
            if t1 - t0 >= 29.5:
                peak = max(peak, (n1 - n0) / (t1 - t0) * 60)
                break
    return round(mean, 1), round(peak or mean, 1)


# -- one scenario ---------------------------------------------------------------------------------
@dataclass
class Stack:
    sandbox: SandboxServer
    redis_url: str
    database_url: str
    workdir: Path
    features: dict[str, bool] = field(default_factory=dict)


CACHE_OUTCOMES = ("hit", "miss", "stale", "failed")


def cache_stats(redis_url: str) -> dict[str, Any]:
    """The app's own counters (ZENDESK_CACHE_STATS): how every read was answered. The hit
    ratio is the share of reads answered fresh from the cache without asking Zendesk."""
    import redis

    client = redis.Redis.from_url(redis_url)
    counts = {}
    for outcome in CACHE_OUTCOMES:
        raw = client.get(f":1:zendesk:cache:stats:{outcome}")
        counts[outcome] = int(raw) if raw is not None else 0
    reads = sum(counts.values())
    return {**counts, "hit_ratio": round(counts["hit"] / reads, 3) if reads else None}


def flush_redis(redis_url: str) -> None:
    import redis

    redis.Redis.from_url(redis_url).flushdb()


def percentiles(values: list[float]) -> dict[str, float | int]:
    ordered = sorted(values)

    def at(percent: float) -> float:
        if not ordered:
            return 0.0
        return round(ordered[max(0, math.ceil(percent / 100 * len(ordered)) - 1)] * 1000, 1)

    return {"count": len(ordered), "p50": at(50), "p95": at(95), "p99": at(99)}


def choose_agents(sandbox: SandboxServer, count: int) -> list[dict[str, Any]]:
    """`count` agents who can sign in, the restricted one among them."""
    signable = [
        person
        for person in sandbox.info["agents"]
        if person["role"] in ("agent", "admin") and not person["suspended"]
    ]
    if len(signable) < count:
        raise SystemExit(f"--agents {count}: the sandbox has only {len(signable)} such agents")
    restricted = [p for p in signable if p["restricted"]]
    others = [p for p in signable if not p["restricted"]]
    return (restricted[:1] + others)[:count]


def run_scenario(stack: Stack, args: argparse.Namespace, name: str, agents: int) -> dict[str, Any]:
    sandbox = stack.sandbox
    env = app_environment(
        args,
        sandbox_url=sandbox.base_url,
        database_url=stack.database_url,
        redis_url=stack.redis_url,
    )
    extras: list[subprocess.Popen] = []
    if name == "naive":
        env["ZENDESK_NAIVE_PROXY"] = "true"
    if name == "webhooks":
        env["ZENDESK_WEBHOOK_SECRET"] = WEBHOOK_SECRET
    missing = {
        "webhooks": "webhooks: not available in this build (no POST /webhooks/zendesk)",
        "change_feed": "change feed: not available in this build (no manage.py change_feed)",
    }
    if name in missing and not stack.features.get(name):
        return {"scenario": name, "agents": agents, "available": False, "reason": missing[name]}
    flush_redis(stack.redis_url)
    sandbox.control("POST", "faults", json={}).raise_for_status()  # unlimited while signing in
    app = start_app(env, args.instances, stack.workdir, f"{name}-{agents}")
    try:
        if name == "webhooks":
            point_webhooks_at(sandbox, app.urls[0])
        if name == "change_feed":
            log = (stack.workdir / f"change-feed-{agents}.log").open("w")
            extras.append(
                subprocess.Popen(
                    [sys.executable, "manage.py", "change_feed"],
                    cwd=ROOT,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        return measure(stack, args, name, agents, app)
    finally:
        for process in extras:
            process.terminate()
            process.wait(timeout=30)
        app.stop()
        if name == "webhooks":
            with contextlib.suppress(requests.RequestException):
                sandbox.control("POST", "webhooks", json={})


def point_webhooks_at(sandbox: SandboxServer, app_url: str) -> None:
    """The sandbox's webhook for ticket changes, signed with the secret the app is given."""
    sandbox.control(
        "POST", "webhooks", json={"url": f"{app_url}/webhooks/zendesk", "secret": WEBHOOK_SECRET}
    ).raise_for_status()


def sign_in_all(browsers: list[Browser], password: str) -> tuple[float, int]:
    """Every browser through the OAuth pages, 8 at a time; (seconds, failures)."""
    failures = 0
    started = time.perf_counter()

    def one(browser: Browser) -> bool:
        try:
            browser.sign_in(password)
        except (RuntimeError, KeyError, requests.RequestException):
            return False
        return True

    with ThreadPoolExecutor(max_workers=8) as pool:
        failures = sum(1 for ok in pool.map(one, browsers) if not ok)
    return time.perf_counter() - started, failures


def measure(stack: Stack, args, name: str, agents: int, app: AppInstances) -> dict[str, Any]:
    sandbox = stack.sandbox
    rng = random.Random(agents)
    people = choose_agents(sandbox, agents)
    browsers = [
        Browser(
            person,
            app.urls[i % len(app.urls)],
            visible=rng.random() >= args.hidden,
            navigate_seconds=args.navigate_seconds,
        )
        for i, person in enumerate(people)
    ]
    sandbox.control("POST", "stats/reset").raise_for_status()
    say(f"{name} at {agents} agents: app up, signing in")
    sign_in_seconds, sign_in_failures = sign_in_all(browsers, sandbox.info["demo_password"])
    sign_in_stats = sandbox.control("GET", "stats").json()["by_endpoint"]
    # The plan's limit and latency from here on; fresh windows and zeroed stats.
    faults = {
        "rate_limit_per_minute": args.limit,
        "latency_ms": args.latency_ms,
        "jitter_ms": args.jitter_ms,
    }
    sandbox.control("POST", "faults", json=faults).raise_for_status()
    sandbox.control("POST", "stats/reset").raise_for_status()
    duration = args.minutes * 60
    say(f"{name} at {agents} agents: signed in, running {duration:g} s")
    warmup = args.warmup if args.warmup is not None else min(30.0, duration * 0.2)
    started = time.monotonic()
    measures = Measures(warm_after=started + warmup)
    stop = threading.Event()
    simulator = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sandbox",
            "simulate",
            "--rate",
            str(args.simulate_rate),
            "--seed",
            "3",
        ],
        cwd=ROOT,
        env={
            **{k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"},
            "SANDBOX_DB": str(sandbox.db_path),
        },
        stdout=subprocess.DEVNULL,
        stderr=(stack.workdir / "simulate.log").open("a"),
    )
    sampler = StatsSampler(sandbox, stop)
    stamper = Stamper(sandbox, browsers, args, stop, measures)
    threads = [
        threading.Thread(target=b.run, args=(measures, stop, random.Random(i)), daemon=True)
        for i, b in enumerate(browsers)
    ]
    sampler.start()
    for thread in threads:
        thread.start()
    stamper.start()
    stop.wait(duration)
    stop.set()
    for thread in [*threads, stamper, sampler]:
        thread.join(timeout=TIMEOUT + 5)
    simulator.terminate()
    simulator.wait(timeout=30)
    stats = sandbox.control("GET", "stats").json()
    sandbox.control("POST", "faults", json={}).raise_for_status()
    unseen = sum(len(b.stamps) for b in browsers)
    mean, peak = rates(sampler.samples, measures.warm_after)
    # The stamper's own writes are not the app's upstream calls: taken out of the rates.
    stamps_per_minute = round(stamper.made / max(duration - warmup, 1) * 60, 1)
    hits = cache_stats(stack.redis_url)
    by_endpoint = {k: v for k, v in stats["by_endpoint"].items() if " /api/v2/" in k}
    rechecks = stats["by_endpoint"].get("GET /api/v2/users/me", 0)
    return {
        "scenario": name,
        "available": True,
        "agents": agents,
        "restricted_agents": sum(1 for b in browsers if b.person["restricted"]),
        "visible_tabs": sum(1 for b in browsers if b.visible),
        "instances": len(app.urls),
        "seconds": round(duration, 1),
        "warmup_seconds": round(warmup, 1),
        "upstream_per_minute": {
            "mean": round(max(0.0, mean - stamps_per_minute), 1),
            "peak": round(max(0.0, peak - stamps_per_minute), 1),
        },
        "upstream_total": api_calls(stats) - stamper.made,
        "rate_limited_429": int(stats["rate_limited"]),
        "without_data_after_warmup": dict(measures.without_data),
        "latency_ms": {kind: percentiles(values) for kind, values in measures.latencies.items()},
        "staleness_s": {
            "seen": len(measures.staleness),
            "unseen": unseen,
            "p50": round(_pct(measures.staleness, 50), 1),
            "p95": round(_pct(measures.staleness, 95), 1),
        },
        "cache": hits,
        "errors": dict(measures.errors),
        "sign_in": {
            "agents": agents,
            "failed": sign_in_failures,
            "seconds": round(sign_in_seconds, 1),
            "upstream": {k: sign_in_stats.get(k, 0) for k in SIGN_IN_ENDPOINTS},
            "users_me_rechecks_during_run": rechecks,
        },
        "stamps": {"made": stamper.made, "refused": stamper.refused},
        "upstream_by_endpoint": by_endpoint,
    }


def _pct(values: list[float], percent: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(percent / 100 * len(ordered)) - 1)]


# -- the whole run --------------------------------------------------------------------------------
@contextlib.contextmanager
def stack_running(workdir: Path, seed_agents: int, seed_tickets: int) -> Iterator[Stack]:
    """PostgreSQL, Redis and the sandbox, started side by side; each stopped by its pid."""
    seed_args = ("--agents", str(seed_agents), "--tickets", str(seed_tickets))
    (workdir / "sandbox").mkdir()
    with ThreadPoolExecutor(max_workers=3) as pool:
        starting = {
            "postgres": pool.submit(start_postgres, workdir),
            "redis": pool.submit(start_redis, workdir),
            "sandbox": pool.submit(start_sandbox, workdir / "sandbox", seed_args=seed_args),
        }
    started = {name: f.result() for name, f in starting.items() if f.exception() is None}
    try:
        failed = [f.exception() for f in starting.values() if f.exception() is not None]
        if failed:
            raise failed[0]
        yield Stack(started["sandbox"], started["redis"].url, started["postgres"].url, workdir)
    finally:
        for server in started.values():
            server.stop()


def run(args: argparse.Namespace) -> dict[str, Any]:
    sizes = list(SWEEP_AGENTS) if args.sweep else [args.agents]
    names = [name.strip() for name in args.scenarios.split(",") if name.strip()]
    started = time.perf_counter()
    keep = os.environ.get("BENCH_KEEP_WORKDIR")
    stack_features: list[dict[str, bool]] = []
    workdir = Path(tempfile.mkdtemp(prefix="team-pages-"))
    try:
        with stack_running(workdir, max(sizes) + 5, args.seed_tickets) as stack:
            env = app_environment(
                args,
                sandbox_url=stack.sandbox.base_url,
                database_url=stack.database_url,
                redis_url=stack.redis_url,
            )
            say("PostgreSQL, Redis and the sandbox (migrated, seeded) are up")
            with ThreadPoolExecutor(max_workers=2) as pool:
                features = pool.submit(build_features, env)
                prepare_app(env, workdir)
                stack.features = features.result()
            say("collectstatic and the release step (migrate) done")
            stack_features.append(stack.features)
            say(f"this build has: {stack.features}")
            results = []
            for agents in sizes:
                for name in names:
                    results.append(run_scenario(stack, args, name, agents))
                    say(f"{name} at {agents} agents: done")
    finally:
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return {
        "when_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "load_average": [round(x, 2) for x in os.getloadavg()],
        },
        "params": {
            "agents": sizes,
            "minutes": args.minutes,
            "instances": args.instances,
            "workers_per_instance": args.workers,
            "threads_per_worker": args.threads,
            "limit_per_minute": args.limit,
            "latency_ms": args.latency_ms,
            "jitter_ms": args.jitter_ms,
            "hidden_share": args.hidden,
            "simulate_rate_per_minute": args.simulate_rate,
            "stamp_seconds": args.stamp_seconds,
        },
        "features": stack_features[0],
        "not_simulated": not_simulated(stack_features[0]),
        "scenarios": results,
        "total_seconds": round(time.perf_counter() - started, 1),
    }


def not_simulated(features: dict[str, bool]) -> list[str]:
    """What a team does that this run does not, and why."""
    ticket_page = (
        "in this build, not yet driven by the benchmark"
        if features.get("ticket_page")
        else "not available in this build"
    )
    return [
        f"agents opening tickets and replying: {ticket_page}",
        "the notifier tab (the bell's slow poll in hidden tabs): not available in this build",
    ]


# -- report --------------------------------------------------------------------------------------
def table(summary: dict[str, Any]) -> str:
    rows = [
        "| scenario | agents | upstream/min mean | peak | 429s | pages without data | "
        "page p50/p95/p99 ms | list p50/p95/p99 ms | poll 204 p50/p95/p99 ms | "
        "poll 200 p50/p95/p99 ms | staleness p50/p95 s | cache hit ratio | errors |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    sign_in = [
        "| scenario | agents | sign-in upstream (tokens + users/me) | sign-in s | failed | "
        "users/me re-checks during run |",
        "|---|---|---|---|---|---|",
    ]
    skipped = []
    for row in summary["scenarios"]:
        if not row["available"]:
            skipped.append(f"- {row['scenario']}: {row['reason']}")
            continue
        latency = row["latency_ms"]

        def trio(kind: str, latency=latency) -> str:
            figures = latency.get(kind)
            if not figures:
                return "-"
            return f"{figures['p50']} / {figures['p95']} / {figures['p99']}"

        stale = row["staleness_s"]
        rows.append(
            f"| {row['scenario']} | {row['agents']} | {row['upstream_per_minute']['mean']} | "
            f"{row['upstream_per_minute']['peak']} | {row['rate_limited_429']} | "
            f"{sum(row['without_data_after_warmup'].values())} | {trio(PAGE)} | {trio(LIST)} | "
            f"{trio(POLL_204)} | {trio(POLL)} | {stale['p50']} / {stale['p95']} ({stale['seen']} seen, "
            f"{stale['unseen']} unseen) | {row['cache']['hit_ratio']} | "
            f"{sum(row['errors'].values())} |"
        )
        upstream = row["sign_in"]["upstream"]
        sign_in.append(
            f"| {row['scenario']} | {row['agents']} | {sum(upstream.values())} | "
            f"{row['sign_in']['seconds']} | {row['sign_in']['failed']} | "
            f"{row['sign_in']['users_me_rechecks_during_run']} |"
        )
    return "\n".join(
        [*rows, "", *sign_in, "", *skipped, *(f"- {n}" for n in summary["not_simulated"])]
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = shlex.join(
        [os.path.relpath(sys.executable, Path.cwd()), os.path.relpath(__file__, Path.cwd()),
         *(sys.argv[1:] if argv is None else argv)]
    )  # fmt: skip
    summary = {"command": command, **run(args)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2) + "\n")
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        machine = summary["machine"]
        print(f"Command: {command}")
        print(
            f"Machine: {machine['cpus']} CPUs, {machine['platform']}, load {machine['load_average']}"
        )
        print(table(summary))
        print(f"JSON: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
