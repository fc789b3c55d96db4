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
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from html import unescape
from html.parser import HTMLParser
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
# A hidden tab's slow poll: the one tab per browser elected to raise desktop notifications.
NOTIFIER = "notifier poll, hidden tab (htmx)"
# Opening a ticket from a list, the draft saved while typing, the reply and where it leads.
TICKET, DRAFT, REPLY = "ticket page (full load)", "draft save (htmx)", "reply (POST, 303)"
# The ticket page the reply's 303 leads to: the read right after the agent's own write.
AFTER_REPLY = "ticket page after the reply (303 followed)"
KINDS = (PAGE, LIST, POLL_204, POLL, NOTIFIER, TICKET, DRAFT, REPLY, AFTER_REPLY)
# What the app's Server-Timing header says of each answer (inbox/middleware.py).
FROM_CACHE, WAITED = "answered from cache", "waited on Zendesk"
SERVER_TIMING_METRIC = re.compile(r'(\w+)(?:;desc="([^"]*)")?(?:;dur=([0-9.]+))?')
ROW = re.compile(r'href="/tickets/(\d+)"[^>]*>.*?<span class="status status-(\w+)"', re.S)
WORKABLE = ("new", "open", "pending", "hold")


def hidden_poll_seconds() -> float:
    """The notifier tab's slow poll while hidden, read from static/inbox/app.js itself."""
    found = re.search(r"HIDDEN_POLL_SECONDS = (\d+)", (ROOT / "static/inbox/app.js").read_text())
    return float(found.group(1)) if found else 60.0


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
    add("--hidden", type=float, default=0.3, help="share of tabs hidden (0.3)")
    add("--notifiers", type=float, default=1.0, help="share of hidden tabs that notify (1)")
    add("--notifier-seconds", type=float, default=None, help="their poll (app.js's)")
    add("--navigate-seconds", type=float, default=60.0, help="a visible agent opens a view")
    add("--ticket-seconds", type=float, default=120.0, help="a visible agent opens a ticket")
    add("--reply-share", type=float, default=0.5, help="share of opened tickets replied to")
    add("--cold", action="store_true", help="no warm start: the budget warms the cache")
    add("--simulate-rate", type=float, default=12.0, help="sandbox changes a minute (12)")
    add("--stamp-seconds", type=float, default=5.0, help="one stamped change every (5 s)")
    add("--poll-seconds", type=float, default=None, help="INBOX_POLL_SECONDS (app default)")
    add("--scenarios", default="webhooks,change_feed,naive", help="which, in order (+product)")
    add("--seed-tickets", type=int, default=600, help="tickets the sandbox is seeded with")
    add("--sweep", action="store_true", help="run 10, 50 and 200 agents in one report")
    add("--naive-at", default=None, help="team sizes the naive proxy runs at (sweep: 50)")
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
@dataclass(frozen=True)
class ServerTiming:
    """What the app said an answer cost: its own time, the Zendesk calls on its path, and
    whether the cache alone answered (`cache;desc="hit"`)."""

    app_ms: float | None
    cpu_ms: float | None
    zendesk_calls: int
    from_cache: bool
    db_queries: int = 0
    # How the app said the poll's answer was made: "kept" (its last answer stood) or
    # "computed" (from the cache's parts, or Zendesk); "" when the header does not say.
    poll: str = ""

    @classmethod
    def parse(cls, header: str | None) -> ServerTiming | None:
        if not header:
            return None
        metrics = {
            name: (desc, dur) for name, desc, dur in SERVER_TIMING_METRIC.findall(header) if name
        }
        if "cache" not in metrics:
            return None
        app, cpu = metrics.get("app", ("", ""))[1], metrics.get("cpu", ("", ""))[1]
        calls = re.match(r"\d+", metrics.get("zendesk", ("0", ""))[0] or "0")
        queries = re.match(r"\d+", metrics.get("db", ("0", ""))[0] or "0")
        return cls(
            app_ms=float(app) if app else None,
            cpu_ms=float(cpu) if cpu else None,
            zendesk_calls=int(calls.group(0)) if calls else 0,
            from_cache=metrics["cache"][0] == "hit",
            db_queries=int(queries.group(0)) if queries else 0,
            poll=metrics.get("poll", ("", ""))[0],
        )


@dataclass
class Measures:
    """What every browser of a scenario saw, shared (under a lock) by their threads."""

    warm_after: float
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    # Per kind, split by what the app's Server-Timing said: answered from cache or not.
    by_source: dict[str, dict[str, list[float]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(list))
    )
    app_seconds: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    cpu_seconds: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    zendesk_calls: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    db_queries: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    # Polls answered from cache, split by how the app found the answer (kept / computed).
    poll_how: dict[str, dict[str, list[float]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(list))
    )
    without_data: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    staleness: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(
        self,
        kind: str,
        seconds: float,
        *,
        has_data: bool,
        error: str | None,
        timing: ServerTiming | None = None,
    ) -> None:
        if time.monotonic() - seconds < self.warm_after:  # started during warm-up
            return
        with self.lock:
            self.latencies[kind].append(seconds)
            if timing is not None:
                self.by_source[kind][FROM_CACHE if timing.from_cache else WAITED].append(seconds)
                self.zendesk_calls[kind] += timing.zendesk_calls
                self.db_queries[kind].append(timing.db_queries)
                if timing.poll and timing.from_cache:
                    self.poll_how[kind][timing.poll].append(seconds)
                if timing.app_ms is not None:
                    self.app_seconds[kind].append(timing.app_ms / 1000)
                if timing.cpu_ms is not None:
                    self.cpu_seconds[kind].append(timing.cpu_ms / 1000)
            if error:
                self.errors[f"{kind}: {error}"] += 1
            elif not has_data:
                self.without_data[kind] += 1


@dataclass
class Stamp:
    at: float
    badge_before: int


class Browser:
    """One agent's browser: a session signed in to one app instance, one inbox tab.

    A visible tab polls at the page's interval; a hidden one is quiet unless it is the
    browser's notifier tab (desktop notifications on), which polls at app.js's slow interval.
    """

    def __init__(
        self,
        person: dict[str, Any],
        app_url: str,
        *,
        visible: bool,
        notifier: bool,
        args: argparse.Namespace,
    ) -> None:
        self.person = person
        self.app_url = app_url
        self.visible = visible
        self.notifier = notifier and not visible
        self.navigate_seconds = args.navigate_seconds
        self.ticket_seconds = args.ticket_seconds
        self.reply_share = args.reply_share
        self.notifier_seconds = args.notifier_seconds or hidden_poll_seconds()
        self.measures: Measures | None = None
        self.session = requests.Session()
        self.version = ""
        self.poll_seconds = 10.0
        self.assigned_badge: int | None = None
        self.stamps: list[Stamp] = []
        self.workable: list[int] = []  # open tickets of the list last shown
        self.replies = 0
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

    def notifications_on(self) -> None:
        """Desktop notifications on, as the drawer's form sends it (htmx, on change): what
        makes this browser's elected tab keep a slow poll while hidden."""
        answer = self.session.post(
            f"{self.app_url}/activity/preferences",
            data={
                "csrfmiddlewaretoken": self.session.cookies.get("csrftoken", ""),
                "desktop": "on",
            },
            headers=self.htmx_headers("notify-prefs", "notify-prefs"),
            allow_redirects=False,
            timeout=TIMEOUT,
        )
        if answer.status_code != 200:
            raise RuntimeError(f"/activity/preferences answered {answer.status_code}")

    # -- what the page does ----------------------------------------------------------------
    def htmx_headers(self, trigger: str, target: str | None, current: str = "/") -> dict[str, str]:
        """What htmx 2 sends (templates/inbox/app.html: hx-get on #poll, no target swap)."""
        headers = {
            "HX-Request": "true",
            "HX-Current-URL": f"{self.app_url}{current}",
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
            self.read_rows(response.text)
            if found := POLL_SECONDS.search(response.text):
                self.poll_seconds = float(found.group(1))
        measures.record(
            PAGE,
            seconds,
            has_data=response is not None and bool(LIST_HAS_DATA.search(response.text)),
            error=error,
            timing=timing_of(response),
        )

    def open_view(self, view: str, measures: Measures) -> None:
        response, seconds, error = self.timed(
            "GET", f"/views/{view}", headers=self.htmx_headers("", "ticket-list")
        )
        if response is not None and response.status_code == 200:
            self.read_rows(response.text)
        measures.record(
            LIST,
            seconds,
            has_data=response is not None and bool(LIST_HAS_DATA.search(response.text)),
            error=error,
            timing=timing_of(response),
        )

    def read_rows(self, html: str) -> None:
        """The list's tickets an agent would open and answer (not solved nor closed)."""
        self.workable = [int(ticket) for ticket, status in ROW.findall(html) if status in WORKABLE]

    def poll(self, measures: Measures, *, hidden: bool = False) -> None:
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
        if hidden:
            kind = NOTIFIER
        else:
            kind = POLL_204 if response is not None and response.status_code == 204 else POLL
        measures.record(kind, seconds, has_data=has_data, error=error, timing=timing_of(response))

    def work_a_ticket(self, measures: Measures, rng: random.Random) -> None:
        """Open a ticket of the list (a plain link: a full page), and now and then answer it:
        type (htmx saves the draft), send (the form's multipart POST), follow the 303."""
        if not self.workable:
            return
        ticket = rng.choice(self.workable)
        page = self.open_ticket(measures, ticket)
        if page is None or rng.random() >= self.reply_share:
            return
        fields = [(k, v) for k, v in form_fields(page, "reply-form") if k not in ("body", "kind")]
        if not any(name == "seen" for name, _ in fields):
            return
        fields += [("kind", "public"), ("body", f"Looking into it now ({uuid.uuid4().hex[:6]}).")]
        path = f"/tickets/{ticket}"
        response, seconds, error = self.timed(
            "POST",
            f"{path}/draft",
            data=fields,
            headers=self.htmx_headers("draft-saver", "draft-saver", current=path),
        )
        measures.record(
            DRAFT, seconds, has_data=error is None, error=error, timing=timing_of(response)
        )
        response, seconds, error = self.timed(
            "POST",
            f"{path}/update",
            data=fields,
            # The form is multipart (enctype): the empty file input goes along, as browsers send.
            files={"files": ("", b"", "application/octet-stream")},
            headers={"Referer": f"{self.app_url}{path}"},
        )
        sent = response is not None and response.status_code == 303
        measures.record(REPLY, seconds, has_data=sent, error=error, timing=timing_of(response))
        if sent:
            self.replies += 1
            after = urlsplit(response.headers["Location"]).path
            self.open_ticket(measures, ticket, path=after, kind=AFTER_REPLY)

    def open_ticket(
        self, measures: Measures, ticket: int, path: str = "", kind: str = TICKET
    ) -> str | None:
        response, seconds, error = self.timed("GET", path or f"/tickets/{ticket}", headers={})
        shown = response is not None and response.status_code == 200
        measures.record(
            kind,
            seconds,
            has_data=shown and 'id="reply-form"' in response.text,
            error=error,
            timing=timing_of(response),
        )
        return response.text if shown else None

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

    def warm(self, measures: Measures) -> None:
        """The page and one poll: what an agent's open inbox has cached by mid-day."""
        self.measures = measures
        self.load_page(measures)
        self.poll(measures, hidden=not self.visible)

    def run(self, measures: Measures, stop: threading.Event, rng: random.Random) -> None:
        """The tab as app.js drives it: poll every poll_seconds while visible (open a view,
        or a ticket, now and then); a hidden notifier tab polls at the slow interval, other
        hidden tabs load once and stay quiet."""
        self.measures = measures
        self.load_page(measures)
        if not self.visible and not self.notifier:
            return
        every = self.poll_seconds if self.visible else self.notifier_seconds
        stop.wait(rng.uniform(0, every))  # browsers did not open at one instant
        now = time.monotonic()
        next_navigation = now + rng.expovariate(1 / self.navigate_seconds)
        next_ticket = now + rng.expovariate(1 / self.ticket_seconds)
        while not stop.is_set():
            started = time.monotonic()
            self.poll(measures, hidden=not self.visible)
            if self.visible and time.monotonic() >= next_navigation:  # half htmx, half full
                view = rng.choice(("all", "ccd", "assigned"))
                if rng.random() < 0.5:
                    self.open_view(view, measures)
                else:
                    self.load_page(measures, f"/views/{view}")
                next_navigation = time.monotonic() + rng.expovariate(1 / self.navigate_seconds)
            if self.visible and time.monotonic() >= next_ticket:
                self.work_a_ticket(measures, rng)
                self.load_page(measures)  # back to the inbox
                next_ticket = time.monotonic() + rng.expovariate(1 / self.ticket_seconds)
            stop.wait(max(0.0, every - (time.monotonic() - started)))


def timing_of(response: requests.Response | None) -> ServerTiming | None:
    """What the app's Server-Timing header says of this answer (None: no answer, or a build
    without the header)."""
    if response is None:
        return None
    return ServerTiming.parse(response.headers.get("Server-Timing"))


class _FormFields(HTMLParser):
    """The fields a browser sends from one form: inputs, checked boxes and radios, textareas,
    each select's selected option (or its first)."""

    def __init__(self, form_id: str) -> None:
        super().__init__(convert_charrefs=True)
        self.form_id = form_id
        self.inside = False
        self.fields: list[tuple[str, str]] = []
        self.select: str | None = None
        self.options: list[tuple[str, bool]] = []
        self.textarea: str | None = None
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.inside = found.get("id") == self.form_id
        elif not self.inside:
            return
        elif tag == "input" and found.get("name"):
            kind = found.get("type", "text")
            if kind in ("file", "submit", "button", "reset"):
                return
            if kind in ("checkbox", "radio") and "checked" not in found:
                return
            self.fields.append((found["name"], found.get("value", "on")))
        elif tag == "select":
            self.select, self.options = found.get("name"), []
        elif tag == "option" and self.select:
            self.options.append((found.get("value", ""), "selected" in found))
        elif tag == "textarea":
            self.textarea, self.text = found.get("name"), []

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "select" and self.select:
            chosen = [value for value, selected in self.options if selected] or [
                value for value, _ in self.options[:1]
            ]
            self.fields += [(self.select, value) for value in chosen[:1]]
            self.select = None
        elif tag == "textarea" and self.textarea:
            self.fields.append((self.textarea, "".join(self.text).removeprefix("\n")))
            self.textarea = None

    def handle_data(self, data: str) -> None:
        if self.textarea:
            self.text.append(data)


def form_fields(html: str, form_id: str) -> list[tuple[str, str]]:
    parser = _FormFields(form_id)
    parser.feed(html)
    return parser.fields


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
    """Reads /_sandbox/stats every few seconds: the upstream rate over time (mean and peak),
    and beside it the calls per endpoint and the app's own count of them by what made them
    (`inbox/zendesk/request_cost.py`), to say after the warm-up what the calls were for."""

    EVERY = 5.0

    def __init__(self, sandbox: SandboxServer, stop: threading.Event, redis_url: str) -> None:
        super().__init__(daemon=True)
        self.sandbox, self.stop, self.redis_url = sandbox, stop, redis_url
        self.samples: list[tuple[float, int]] = []
        # (when, the sandbox's calls per endpoint, the app's calls per origin and endpoint)
        self.breakdowns: list[tuple[float, dict[str, int], dict[str, int]]] = []

    def read(self) -> dict[str, Any]:
        return self.sandbox.control("GET", "stats").json()

    def sample(self) -> None:
        stats, now = self.read(), time.monotonic()
        self.samples.append((now, api_calls(stats)))
        self.breakdowns.append((now, stats["by_endpoint"], app_calls_by_origin(self.redis_url)))

    def run(self) -> None:
        while True:
            self.sample()
            if self.stop.wait(self.EVERY):
                self.sample()
                return

    def since(self, start: float) -> tuple[float, dict[str, int], dict[str, int]]:
        """Minutes, and the calls per endpoint and per origin, from the first sample at or
        after `start` to the last."""
        kept = [sample for sample in self.breakdowns if sample[0] >= start]
        if len(kept) < 2:
            return 0.0, {}, {}
        (t0, endpoints0, origins0), (t1, endpoints1, origins1) = kept[0], kept[-1]
        return (
            (t1 - t0) / 60,
            _difference(endpoints1, endpoints0),
            _difference(origins1, origins0),
        )


def _difference(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {
        name: after[name] - before.get(name, 0)
        for name in sorted(after)
        if after[name] - before.get(name, 0)
    }


APP_CALLS_PREFIX = ":1:zendesk:cache:stats:calls:"


def app_calls_by_origin(redis_url: str) -> dict[str, int]:
    """The app's count of its upstream calls: "<view or background work>|<method>|<endpoint>"."""
    client = _redis(redis_url)
    keys = list(client.scan_iter(match=APP_CALLS_PREFIX + "*", count=1000))
    values = client.mget(keys) if keys else []
    return {
        key.decode().removeprefix(APP_CALLS_PREFIX): int(value)
        for key, value in zip(keys, values, strict=True)
        if value is not None
    }


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


# -- where the machine's CPU went ----------------------------------------------------------------
CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _proc_stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds of the process and its reaped children) from /proc."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    ticks = sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
    return int(fields[1]), ticks / CLOCK_TICKS


def _process_table() -> dict[int, tuple[int, float]]:
    table = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (found := _proc_stat(int(entry.name))) is not None:
            table[int(entry.name)] = found
    return table


def _machine_busy() -> float:
    """CPU seconds the whole machine has been busy (every core), from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return (sum(values[:8]) - idle) / CLOCK_TICKS


class CpuMeter:
    """CPU seconds per part of the run (the app, the sandbox, ...), each a process tree, and
    the benchmark's own threads (the simulated browsers), against the machine's whole busy
    time: how much of the 2 cores the load generator itself takes, and what others took."""

    def __init__(self, groups: dict[str, list[int]]) -> None:
        self.groups = groups
        self.start = self._read()

    def _read(self) -> dict[str, float]:
        table = _process_table()
        children: dict[int, list[int]] = defaultdict(list)
        for pid, (parent, _seconds) in table.items():
            children[parent].append(pid)
        owned: set[int] = set()
        reading: dict[str, float] = {}
        for name, roots in self.groups.items():
            pids, stack = set(), [pid for pid in roots if pid in table]
            while stack:
                pid = stack.pop()
                if pid not in pids:
                    pids.add(pid)
                    stack.extend(children.get(pid, ()))
            owned |= pids
            reading[name] = sum(table[pid][1] for pid in pids)
        # The benchmark's own threads only (utime, stime): its children are the groups above.
        own = os.times()
        reading["benchmark (browsers, stamper)"] = own.user + own.system
        reading["machine"] = _machine_busy()
        reading["wall"] = time.monotonic()
        return reading

    def shares(self) -> dict[str, Any]:
        """Seconds and share of the machine's capacity (wall x cores) since the start."""
        end = self._read()
        wall = end["wall"] - self.start["wall"]
        capacity = wall * (os.cpu_count() or 1)
        used = {
            name: round(end[name] - self.start.get(name, 0.0), 1)
            for name in end
            if name not in ("machine", "wall")
        }
        machine = end["machine"] - self.start["machine"]
        used["everything else on the machine"] = round(max(0.0, machine - sum(used.values())), 1)
        return {
            "wall_seconds": round(wall, 1),
            "cores": os.cpu_count(),
            "machine_busy_share": round(machine / capacity, 3) if capacity else None,
            "cpu_seconds": used,
            "share_of_machine": {
                name: round(seconds / capacity, 3) if capacity else None
                for name, seconds in used.items()
            },
        }


# -- one scenario ---------------------------------------------------------------------------------
@dataclass
class Stack:
    sandbox: SandboxServer
    redis_url: str
    database_url: str
    workdir: Path
    pids: dict[str, int] = field(default_factory=dict)  # PostgreSQL, Redis, the sandbox
    # Per team size: how its sign-in went and the browsers' cookies (sessions live in
    # PostgreSQL, which every scenario shares), so later scenarios need not sign in again.
    signed_in: dict[int, tuple[dict[str, Any], list[Any]]] = field(default_factory=dict)
    features: dict[str, bool] = field(default_factory=dict)


CACHE_OUTCOMES = ("hit", "miss", "stale", "failed")
LANES = ("interactive", "background")


def _redis(redis_url: str):
    import redis

    return redis.Redis.from_url(redis_url)


def cache_stats(redis_url: str) -> dict[str, Any]:
    """The app's own counters (ZENDESK_CACHE_STATS): how every read was answered, and what
    the shared budget granted and refused per lane. The hit ratio is the share of reads
    answered fresh from the cache without asking Zendesk."""
    client = _redis(redis_url)
    counts = {}
    for outcome in CACHE_OUTCOMES:
        raw = client.get(f":1:zendesk:cache:stats:{outcome}")
        counts[outcome] = int(raw) if raw is not None else 0
    reads = sum(counts.values())
    lanes = {
        f"{lane} {outcome}": int(client.get(f":1:zendesk:budget:stats:{lane}:{outcome}") or 0)
        for lane in LANES
        for outcome in ("granted", "refused")
    }
    prefix = ":1:zendesk:budget:stats:refused-by:"
    refused_by = {
        key.decode().removeprefix(prefix): int(client.get(key) or 0)
        for key in client.scan_iter(match=f"{prefix}*", count=500)
    }
    return {
        **counts,
        "hit_ratio": round(counts["hit"] / reads, 3) if reads else None,
        "budget": lanes,
        "budget_refused_by": dict(sorted(refused_by.items(), key=lambda kv: -kv[1])),
    }


def flush_redis(redis_url: str) -> None:
    _redis(redis_url).flushdb()


def forget_budget_and_counters(redis_url: str) -> None:
    """After a warm start: the budget's windows and the counters start again; the cache stays."""
    client = _redis(redis_url)
    for pattern in (":1:zendesk:budget:*", ":1:zendesk:cache:stats:*"):
        keys = list(client.scan_iter(match=pattern, count=1000))
        if keys:
            client.delete(*keys)


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


# While signing in and warming: the sandbox and the app's budget without a limit that matters
# (the app's budget believes Zendesk's own remaining count, so both are raised together).
WARM_LIMIT_PER_MINUTE = 100_000
UNLIMITED = {
    "rate_limit_per_minute": WARM_LIMIT_PER_MINUTE,
    "tickets_index_rate_limit_per_minute": WARM_LIMIT_PER_MINUTE,
}


def run_scenario(stack: Stack, args: argparse.Namespace, name: str, agents: int) -> dict[str, Any]:
    """One scenario on a freshly started app and an empty Redis, with new sign-ins.

    Warm start (the default): every browser signs in and opens its inbox once (page and
    poll) with the sandbox and the app's budget unlimited, as a team's cache is by mid-day;
    what that cost Zendesk is reported; then the app is started again with the plan's
    budget on the same Redis and database (sessions and cache kept, the budget's windows and
    the counters emptied) and the run is measured. `--cold` leaves the warming to the budget.
    """
    sandbox = stack.sandbox
    missing = {
        "webhooks": "webhooks: not available in this build (no POST /webhooks/zendesk)",
        "change_feed": "change feed: not available in this build (no manage.py change_feed)",
    }
    if name in missing and not stack.features.get(name):
        return {"scenario": name, "agents": agents, "available": False, "reason": missing[name]}
    env = app_environment(
        args,
        sandbox_url=sandbox.base_url,
        database_url=stack.database_url,
        redis_url=stack.redis_url,
    )
    if name == "naive":
        env["ZENDESK_NAIVE_PROXY"] = "true"
    if name == "webhooks":
        env["ZENDESK_WEBHOOK_SECRET"] = WEBHOOK_SECRET
    flush_redis(stack.redis_url)
    sandbox.control("POST", "faults", json=UNLIMITED).raise_for_status()  # while signing in
    label = f"{name}-{agents}"
    first_env = (
        env if args.cold else {**env, "ZENDESK_RATE_LIMIT_PER_MINUTE": str(WARM_LIMIT_PER_MINUTE)}
    )
    app = start_app(first_env, args.instances, stack.workdir, label)
    extras: list[tuple[str, subprocess.Popen]] = []
    try:
        browsers = make_browsers(sandbox, args, agents, app.urls)
        sandbox.control("POST", "stats/reset").raise_for_status()
        if agents in stack.signed_in:  # this team signed in for an earlier scenario
            sign_in = dict(stack.signed_in[agents][0], reused=True)
            for browser, cookies in zip(browsers, stack.signed_in[agents][1], strict=True):
                browser.session.cookies.update(cookies)
            say(f"{name} at {agents} agents: app up, sessions kept from the first scenario")
        else:
            say(f"{name} at {agents} agents: app up, signing in")
            sign_in = sign_in_all(browsers, sandbox.info["demo_password"])
            sign_in["upstream"] = {
                k: sandbox.control("GET", "stats").json()["by_endpoint"].get(k, 0)
                for k in SIGN_IN_ENDPOINTS
            }
            if not sign_in["failed"]:
                stack.signed_in[agents] = (
                    sign_in,
                    [browser.session.cookies.copy() for browser in browsers],
                )
        warm: dict[str, Any] = {"cold": True}
        if not args.cold:
            warm = warm_start(browsers, args)
            app.stop()
            forget_budget_and_counters(stack.redis_url)
            app = start_app(env, args.instances, stack.workdir, f"{label}-measured")
            for i, browser in enumerate(browsers):
                browser.app_url = app.urls[i % len(app.urls)]
        if name == "webhooks":
            point_webhooks_at(sandbox, app.urls[0])
        if name in ("webhooks", "change_feed"):
            # As the README's deployment runs it: the change feed beside the webhooks too.
            log = (stack.workdir / f"change-feed-{label}.log").open("w")
            command = [sys.executable, "manage.py", "change_feed"]
            extras.append(
                (
                    "change feed",
                    subprocess.Popen(
                        command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
                    ),
                )
            )
        if extras:
            wait_for_the_feed(stack.redis_url, extras[0][1])
        result = measure(stack, args, name, agents, app, browsers, extras)
        sign_in["users_me_rechecks_during_run"] = result.pop("rechecks")
        return {**result, "sign_in": sign_in, "warm_start": warm}
    finally:
        for _name, process in extras:
            process.terminate()
            process.wait(timeout=30)
        app.stop()
        if name == "webhooks":
            with contextlib.suppress(requests.RequestException):
                sandbox.control("POST", "webhooks", json={})


FEED_ALIVE_KEY = ":1:zendesk:cache:feed-alive"


def wait_for_the_feed(redis_url: str, feed: subprocess.Popen, seconds: float = 90) -> None:
    """Measure once the change feed has run (its mark in the shared cache): until then the
    app keeps lists and counts for their short lifetimes, and a warm cache older than those
    would be asked for again by every agent at once, which is not the deployment's state."""
    deadline = time.monotonic() + seconds
    while not _redis(redis_url).exists(FEED_ALIVE_KEY):
        if feed.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("the change feed did not run; see its log in the work directory")
        time.sleep(0.5)


def make_browsers(
    sandbox: SandboxServer, args: argparse.Namespace, agents: int, urls: list[str]
) -> list[Browser]:
    rng = random.Random(agents)
    browsers = []
    for i, person in enumerate(choose_agents(sandbox, agents)):
        visible = rng.random() >= args.hidden
        notifier = rng.random() < args.notifiers
        browsers.append(
            Browser(person, urls[i % len(urls)], visible=visible, notifier=notifier, args=args)
        )
    return browsers


def warm_start(browsers: list[Browser], args: argparse.Namespace) -> dict[str, Any]:
    """Every inbox opened once (page, poll), 16 at a time; what it cost Zendesk."""
    started = time.perf_counter()
    ignored = Measures(warm_after=math.inf)
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(lambda browser: browser.warm(ignored), browsers))
    return {"cold": False, "seconds": round(time.perf_counter() - started, 1)}


def point_webhooks_at(sandbox: SandboxServer, app_url: str) -> None:
    """The sandbox's webhook for ticket changes, signed with the secret the app is given."""
    sandbox.control(
        "POST", "webhooks", json={"url": f"{app_url}/webhooks/zendesk", "secret": WEBHOOK_SECRET}
    ).raise_for_status()


def sign_in_all(browsers: list[Browser], password: str) -> dict[str, Any]:
    """Every browser through the OAuth pages, 8 at a time (the notifier tabs then turn desktop
    notifications on); seconds and failures."""
    started = time.perf_counter()

    def one(browser: Browser) -> bool:
        try:
            browser.sign_in(password)
            if browser.notifier:
                browser.notifications_on()
        except (RuntimeError, KeyError, requests.RequestException):
            return False
        return True

    with ThreadPoolExecutor(max_workers=8) as pool:
        failures = sum(1 for ok in pool.map(one, browsers) if not ok)
    return {
        "agents": len(browsers),
        "failed": failures,
        "seconds": round(time.perf_counter() - started, 1),
    }


def measure(
    stack: Stack,
    args: argparse.Namespace,
    name: str,
    agents: int,
    app: AppInstances,
    browsers: list[Browser],
    extras: list[tuple[str, subprocess.Popen]],
) -> dict[str, Any]:
    sandbox = stack.sandbox
    warm_stats = sandbox.control("GET", "stats").json()
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
    cpu = CpuMeter(
        {
            "app (gunicorn)": [process.pid for process in app.processes],
            "sandbox": [sandbox.process.pid],
            "sandbox simulator": [simulator.pid],
            **{label: [process.pid] for label, process in extras},
            **{label: [pid] for label, pid in stack.pids.items()},
        }
    )
    sampler = StatsSampler(sandbox, stop, stack.redis_url)
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
    cpu_shares = cpu.shares()
    simulator.terminate()
    simulator.wait(timeout=30)
    stats = sandbox.control("GET", "stats").json()
    sandbox.control("POST", "faults", json={}).raise_for_status()
    unseen = sum(len(b.stamps) for b in browsers)
    mean, peak = rates(sampler.samples, measures.warm_after)
    # The stamper's own writes are not the app's upstream calls: taken out of the rates.
    measured_minutes = max(duration - warmup, 1) / 60
    stamps_per_minute = round(stamper.made / measured_minutes, 1)
    by_endpoint = {k: v for k, v in stats["by_endpoint"].items() if " /api/v2/" in k}
    rechecks = stats["by_endpoint"].get("GET /api/v2/users/me", 0)
    replies = sum(b.replies for b in browsers)
    changes_per_minute = round(
        args.simulate_rate + stamps_per_minute + replies / (duration / 60), 1
    )
    upstream_mean = round(max(0.0, mean - stamps_per_minute), 1)
    warm_calls = api_calls(warm_stats) - sum(
        warm_stats["by_endpoint"].get(k, 0) for k in SIGN_IN_ENDPOINTS if " /api/v2/" in k
    )
    return {
        "scenario": name,
        "available": True,
        "agents": agents,
        "restricted_agents": sum(1 for b in browsers if b.person["restricted"]),
        "visible_tabs": sum(1 for b in browsers if b.visible),
        "notifier_tabs": sum(1 for b in browsers if b.notifier),
        "instances": len(app.urls),
        "seconds": round(duration, 1),
        "warmup_seconds": round(warmup, 1),
        "upstream_per_minute": {
            "mean": upstream_mean,
            "peak": round(max(0.0, peak - stamps_per_minute), 1),
        },
        "ticket_changes_per_minute": changes_per_minute,
        "upstream_per_change": round(upstream_mean / changes_per_minute, 2)
        if changes_per_minute
        else None,
        "upstream_total": api_calls(stats) - stamper.made,
        "warm_start_upstream": None if args.cold else warm_calls,
        "rate_limited_429": int(stats["rate_limited"]),
        "without_data_after_warmup": dict(measures.without_data),
        "latency_ms": {
            kind: percentiles(measures.latencies[kind])
            for kind in KINDS
            if kind in measures.latencies
        },
        "staleness_s": {
            "seen": len(measures.staleness),
            "unseen": unseen,
            "p50": round(_pct(measures.staleness, 50), 1),
            "p95": round(_pct(measures.staleness, 95), 1),
        },
        "cache": cache_stats(stack.redis_url),
        "errors": dict(measures.errors),
        "replies": replies,
        "rechecks": rechecks,
        "stamps": {"made": stamper.made, "refused": stamper.refused},
        "cpu": cpu_shares,
        "upstream_by_endpoint": by_endpoint,
        **answered_how(measures),
        "upstream_after_warmup": upstream_breakdown(
            sampler, measures, stamper.made, measured_minutes
        ),
    }


def answered_how(measures: Measures) -> dict[str, Any]:
    """Latency per kind split by what the app's Server-Timing said (answered from cache, or
    waited on Zendesk), how many requests of each kind waited, and the app's own time."""
    kinds = [kind for kind in KINDS if kind in measures.latencies]
    return {
        "latency_by_source_ms": {
            kind: {
                source: percentiles(measures.by_source[kind][source])
                for source in (FROM_CACHE, WAITED)
            }
            for kind in kinds
        },
        "waited_on_zendesk": {
            kind: {
                "requests": len(measures.by_source[kind][WAITED]),
                "of": len(measures.latencies[kind]),
                "zendesk_calls": measures.zendesk_calls[kind],
            }
            for kind in kinds
        },
        "app_ms": {kind: percentiles(measures.app_seconds[kind]) for kind in kinds},
        "app_cpu_ms": {kind: percentiles(measures.cpu_seconds[kind]) for kind in kinds},
        "db_queries_mean": {
            kind: round(statistics.fmean(measures.db_queries[kind]), 2)
            for kind in kinds
            if measures.db_queries[kind]
        },
        "poll_from_cache_by_how_ms": {
            kind: {how: percentiles(values) for how, values in sorted(split.items())}
            for kind, split in measures.poll_how.items()
        },
    }


# What grows with the team by design, each on its own line: sign-in and the users/me
# re-checks; the agents' own writes and the reads right after them.
SIGN_IN_ORIGINS = ("auth_start", "auth_callback", "signin")
OWN_WORK_KINDS = (DRAFT, REPLY, AFTER_REPLY)


def upstream_breakdown(
    sampler: StatsSampler, measures: Measures, stamps: int, measured_minutes: float
) -> dict[str, Any]:
    """Upstream calls a minute after the warm-up, by endpoint (the sandbox's count, the
    stamper's own POSTs taken out), by what made them (the app's count: the view, the
    webhook re-reads, the change feed), and in lines: sign-in and re-checks, the agents'
    own writes and the reads right after them (from the Server-Timing of those answers),
    and the rest, on which the 20 % target is judged."""
    minutes, endpoints, origins = sampler.since(measures.warm_after)
    if not minutes:
        return {}
    per_minute = lambda n: round(n / minutes, 1)  # noqa: E731
    endpoints = {k: v for k, v in endpoints.items() if " /api/v2/" in k or "/oauth/" in k}
    stamp_posts = min(stamps, endpoints.get("POST /api/v2/tickets", 0))
    if stamp_posts:
        endpoints["POST /api/v2/tickets"] -= stamp_posts  # the stamper's, not the app's
    total = sum(endpoints.values())
    sign_in = sum(
        n
        for name, n in origins.items()
        if name.split("|")[0] in SIGN_IN_ORIGINS or name.endswith("|/api/v2/users/me")
    )
    own_work = sum(measures.zendesk_calls[kind] for kind in OWN_WORK_KINDS) * (
        minutes / measured_minutes
    )
    by_origin: dict[str, int] = defaultdict(int)
    for name, n in origins.items():
        by_origin[name.split("|")[0]] += n
    return {
        "minutes": round(minutes, 2),
        "per_minute": per_minute(total),
        "by_endpoint_per_minute": {k: per_minute(v) for k, v in endpoints.items() if v},
        "by_origin_per_minute": {
            k: per_minute(v) for k, v in sorted(by_origin.items(), key=lambda kv: -kv[1])
        },
        "by_origin_and_endpoint": origins,
        "by_request_kind_per_minute": {
            kind: round(measures.zendesk_calls[kind] / measured_minutes, 1)
            for kind in KINDS
            if measures.zendesk_calls.get(kind)
        },
        "lines_per_minute": {
            "sign-in and users/me re-checks": per_minute(sign_in),
            "agents' own writes and the reads right after them": per_minute(own_work),
            "the rest (the 20 % target)": per_minute(max(0.0, total - sign_in - own_work)),
        },
    }


def _pct(values: list[float], percent: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(percent / 100 * len(ordered)) - 1)]


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
        pids = {"PostgreSQL": started["postgres"].pid, "Redis": started["redis"].process.pid}
        yield Stack(
            started["sandbox"], started["redis"].url, started["postgres"].url, workdir, pids
        )
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
                    if name == "naive" and agents not in naive_sizes(args, sizes):
                        continue
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
            "notifier_share_of_hidden": args.notifiers,
            "notifier_poll_seconds": args.notifier_seconds or hidden_poll_seconds(),
            "navigate_seconds": args.navigate_seconds,
            "ticket_seconds": args.ticket_seconds,
            "reply_share": args.reply_share,
            "simulate_rate_per_minute": args.simulate_rate,
            "stamp_seconds": args.stamp_seconds,
            "warm_start": not args.cold,
        },
        "features": stack_features[0],
        "not_simulated": not_simulated(stack_features[0]),
        "scenarios": results,
        "total_seconds": round(time.perf_counter() - started, 1),
    }


def naive_sizes(args: argparse.Namespace, sizes: list[int]) -> list[int]:
    """Where the naive proxy runs: beside the product at the targets' size in a sweep (at 200
    agents it is two thousand requests a minute of 429s, the slowest scenario, and says
    nothing the 50-agent run does not), at every size when asked."""
    if args.naive_at:
        return [int(size) for size in args.naive_at.split(",") if size.strip()]
    return [50] if args.sweep else sizes


def not_simulated(features: dict[str, bool]) -> list[str]:
    """What a team does that this run does not, and why."""
    if features.get("ticket_page"):
        return []
    return ["agents opening tickets and replying: not available in this build"]


# -- report --------------------------------------------------------------------------------------
def _trio(figures: dict[str, Any] | None) -> str:
    return f"{figures['p50']} / {figures['p95']}" if figures else "-"


def table(summary: dict[str, Any]) -> str:
    """The markdown tables: cost and freshness, latency per kind of request, sign-in and the
    warm start, and where the machine's CPU went."""
    cost = [
        "| scenario | agents | upstream/min after warm-up, mean (peak 30 s) | ticket changes/min "
        "| upstream per change | 429s | answers without data | staleness p50 / p95 s (seen, "
        "unseen) | cache hit ratio | budget refused (interactive / background) | errors |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    latency = [
        "| scenario | agents | " + " | ".join(f"{kind} p50 / p95 ms" for kind in KINDS) + " |",
        "|---|---|" + "---|" * len(KINDS),
    ]
    sign_in = [
        "| scenario | agents | sign-in upstream (tokens + users/me) | sign-in s | failed | "
        "users/me re-checks during run | warm start: upstream (per agent) |",
        "|---|---|---|---|---|---|---|",
    ]
    cpu = [
        "| scenario | agents | machine busy | app | sandbox | simulator | change feed | "
        "PostgreSQL | Redis | benchmark (browsers) | everything else |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    skipped = []
    for row in summary["scenarios"]:
        if not row["available"]:
            skipped.append(f"- {row['scenario']}: {row['reason']}")
            continue
        head = f"| {row['scenario']} | {row['agents']} |"
        stale, budget, per_minute = (
            row["staleness_s"],
            row["cache"]["budget"],
            row["upstream_per_minute"],
        )
        cost.append(
            f"{head} {per_minute['mean']} ({per_minute['peak']}) | "
            f"{row['ticket_changes_per_minute']} | {row['upstream_per_change']} | "
            f"{row['rate_limited_429']} | {sum(row['without_data_after_warmup'].values())} | "
            f"{stale['p50']} / {stale['p95']} ({stale['seen']}, {stale['unseen']}) | "
            f"{row['cache']['hit_ratio']} | {budget['interactive refused']} / "
            f"{budget['background refused']} | {sum(row['errors'].values())} |"
        )
        latency.append(head + "".join(f" {_trio(row['latency_ms'].get(kind))} |" for kind in KINDS))
        warm = row["warm_start_upstream"]
        per_agent = f"{warm} ({round(warm / row['agents'], 1)})" if warm is not None else "cold"
        upstream = row["sign_in"]["upstream"]
        sign_in.append(
            f"{head} {sum(upstream.values())} | {row['sign_in']['seconds']} | "
            f"{row['sign_in']['failed']} | {row['sign_in']['users_me_rechecks_during_run']} | "
            f"{per_agent} |"
        )
        shares = row["cpu"]["share_of_machine"]

        def share(name: str, shares=shares) -> str:
            value = shares.get(name)
            return f"{round(value * 100)} %" if value is not None else "-"

        cpu.append(
            f"{head} {round(row['cpu']['machine_busy_share'] * 100)} % | "
            + " | ".join(
                share(name)
                for name in (
                    "app (gunicorn)",
                    "sandbox",
                    "sandbox simulator",
                    "change feed",
                    "PostgreSQL",
                    "Redis",
                    "benchmark (browsers, stamper)",
                    "everything else on the machine",
                )
            )
            + " |"
        )
    notes = [*skipped, *(f"- {n}" for n in summary["not_simulated"])]
    rows = [row for row in summary["scenarios"] if row["available"]]
    return "\n".join(
        [
            *cost,
            "",
            *latency,
            "",
            *answered_table(rows),
            "",
            *poll_how_table(rows),
            "",
            *upstream_table(rows),
            "",
            *sign_in,
            "",
            *cpu,
            "",
            *notes,
        ]
    )


def _quad(figures: dict[str, Any] | None) -> str:
    if not figures or not figures["count"]:
        return "-"
    return f"{figures['count']}: {figures['p50']} / {figures['p95']} / {figures['p99']}"


def answered_table(rows: list[dict[str, Any]]) -> list[str]:
    """Latency per kind, answered from cache vs waited on Zendesk (the app's Server-Timing),
    and the app's own time for the same requests: the targets are judged on the first."""
    lines = [
        f"| scenario | agents | request | {FROM_CACHE}: n: p50 / p95 / p99 ms | "
        f"{WAITED}: n: p50 / p95 / p99 ms | Zendesk calls on the request path | "
        "app's own time (Server-Timing) n: p50 / p95 / p99 ms | of which its CPU p50 / p95 ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        split = row.get("latency_by_source_ms", {})
        for kind in KINDS:
            if kind not in split:
                continue
            waited = row["waited_on_zendesk"][kind]
            app, cpu = row["app_ms"][kind], row.get("app_cpu_ms", {}).get(kind)
            lines.append(
                f"| {row['scenario']} | {row['agents']} | {kind} | "
                f"{_quad(split[kind][FROM_CACHE])} | {_quad(split[kind][WAITED])} | "
                f"{waited['zendesk_calls']} | {_quad(app)} | {_trio(cpu) if cpu else '-'} |"
            )
    return lines


def poll_how_table(rows: list[dict[str, Any]]) -> list[str]:
    """Polls answered from cache, by how the app found the answer: its last answer still
    stood ("kept", one cache read) or it was computed again from the cache's parts."""
    hows = {
        "kept": "kept (its last answer stood)",
        "moved": "computed: its inputs moved on",
        "expired": "computed: it expired",
        "counts": "computed: approximate counts due or changed",
        "none": "computed: none kept",
    }
    lines = [
        "| scenario | agents | request | "
        + " | ".join(f"{label}: n: p50 / p95 / p99 ms" for label in hows.values())
        + " | database queries per request (mean) |",
        "|---|---|---|" + "---|" * (len(hows) + 1),
    ]
    for row in rows:
        for kind, split in row.get("poll_from_cache_by_how_ms", {}).items():
            lines.append(
                f"| {row['scenario']} | {row['agents']} | {kind} | "
                + " | ".join(_quad(split.get(how)) for how in hows)
                + f" | {row.get('db_queries_mean', {}).get(kind, '-')} |"
            )
    return lines


def upstream_table(rows: list[dict[str, Any]]) -> list[str]:
    """Upstream calls a minute after the warm-up in lines, and what made them."""
    line_names = (
        "sign-in and users/me re-checks",
        "agents' own writes and the reads right after them",
        "the rest (the 20 % target)",
    )
    lines = [
        "| scenario | agents | upstream/min (app's calls) | "
        + " | ".join(line_names)
        + " | by what made them (calls/min) |",
        "|---|---|---|" + "---|" * len(line_names) + "---|",
    ]
    for row in rows:
        breakdown = row.get("upstream_after_warmup") or {}
        if not breakdown:
            continue
        origins = ", ".join(
            f"{name} {rate}" for name, rate in breakdown["by_origin_per_minute"].items()
        )
        lines.append(
            f"| {row['scenario']} | {row['agents']} | {breakdown['per_minute']} | "
            + " | ".join(str(breakdown["lines_per_minute"][name]) for name in line_names)
            + f" | {origins} |"
        )
    return lines


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
        print(f"Took {summary['total_seconds']:.0f} s. JSON: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
