"""What the service layer's cache, single flight and shared budget buy a team, measured.

Starts a seeded sandbox (its own process and port), signs N agents in through its OAuth pages,
and has every agent "open the inbox" R times from a pool of W workers (a team's concurrent
requests). Opening the inbox is what the inbox page asks for: ticket_counts, the "assigned" and
"all" lists, and the unread activity count. The same workload runs as:

  A    naive proxy: the same client calls (inbox.zendesk.client), no cache, no rate budget
  B    Agent Inbox services (inbox.services) on a local-memory cache, with the shared budget
  B+r  the same on Redis: --redis URL or REDIS_TEST_URL, else a throwaway redis-server
  C-A  A with the sandbox limited to --limit requests a minute (Zendesk Team plan: 200)
  C-B  B with the same limit and ZENDESK_RATE_LIMIT_PER_MINUTE=--limit, its cache holding the
       answers of one earlier inbox open per agent, aged past their TTL (a team mid-day)
  hits every read answered from a warm cache, on local memory and (with --redis) on Redis in
       the same run: what a hit costs on each, with Redis's own command counters

Upstream calls and 429s are the sandbox's own counts (GET /_sandbox/stats, reset before each
scenario); latencies are per request (one of the four reads), as the agent waits for it.

    .venv/bin/python benchmarks/team_load.py [--agents 50] [--rounds 3] [--workers 8] [--json]

The benchmark never imports `sandbox`: it runs it as a process, as the tests do.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import os
import platform
import shlex
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_OUT = ROOT / "benchmarks" / "out" / "latest.json"
# The sandbox's default account limit (Enterprise plan): the app is told the same in A and B.
SANDBOX_DEFAULT_LIMIT = 700
# C-B's cache is aged by this much: past every TTL of an inbox read (30 s at most), well
# within the time a last good answer is kept for stale-while-error (24 h).
CACHE_AGE_SECONDS = 60.0
# Every answer, generation and single-flight outcome of 50 agents fits, with room to spare.
LOCMEM_ENTRIES = 100_000
# Outcomes of one answer an agent is shown.
FRESH, STALE, FAILED = "fresh", "stale", "failed"


# -- set-up ----------------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=50, help="agents signed in (default 50)")
    parser.add_argument("--rounds", type=int, default=3, help="inbox opens per agent (default 3)")
    parser.add_argument("--workers", type=int, default=8, help="concurrent requests (default 8)")
    parser.add_argument(
        "--seed-agents", type=int, default=50, help="agents the sandbox is seeded with (default 50)"
    )
    parser.add_argument(
        "--limit", type=int, default=200, help="requests a minute in scenario C (default 200)"
    )
    parser.add_argument(
        "--redis",
        default=os.environ.get("REDIS_TEST_URL"),
        help="also run B on this Redis (default: $REDIS_TEST_URL, else a throwaway "
        "redis-server on a free port when one is installed; '' for none; FLUSHES that database)",
    )
    parser.add_argument(
        "--no-redis", action="store_true", help="skip the Redis runs (local memory only)"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where the JSON goes")
    parser.add_argument("--json", action="store_true", help="print the JSON summary, no table")
    return parser.parse_args(argv)


def setup_django(workdir: Path) -> None:
    """The app's test settings, on a throwaway SQLite file (worker threads share it)."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    os.environ["TEST_DATABASE_URL"] = f"sqlite:///{workdir / 'app.sqlite3'}"
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    # Failures are counted in the results; a log line per 429 would drown the table.
    logging.disable(logging.WARNING)


def point_app_at(base_url: str) -> None:
    from django.conf import settings

    settings.ZENDESK_URL = base_url
    settings.ZENDESK_READ_TIMEOUT = 30.0  # two shared cores: slow is not down
    settings.ZENDESK_CONNECT_TIMEOUT = 5.0
    settings.ZENDESK_RETRY_BACKOFF = 0.05


def sign_in_agents(sandbox: Any, count: int) -> list[Any]:
    """AgentAccount rows holding real OAuth tokens from the sandbox's pages (four at a time)."""
    from tests.inbox.conftest import access_token, agent_account

    signable = [
        person
        for person in sandbox.info["agents"]
        if person["role"] in ("agent", "admin") and not person["suspended"]
    ]
    if len(signable) < count:
        raise SystemExit(
            f"--agents {count}: the sandbox has only {len(signable)} agents who can sign in "
            "(raise --seed-agents)."
        )
    chosen = signable[:count]
    with ThreadPoolExecutor(max_workers=4) as pool:  # the tokens; SQLite rows one at a time
        list(pool.map(lambda person: access_token(sandbox, person["email"]), chosen))
    return [agent_account(sandbox, person) for person in chosen]


# -- one inbox open ----------------------------------------------------------------------------
@dataclass
class Sample:
    """One request of an inbox open: how long the agent waited and what each answer was."""

    name: str
    seconds: float
    outcomes: list[str]


InboxOpen = Callable[[Any], list[Sample]]


def timed(name: str, call: Callable[[], list[str]]) -> Sample:
    started = time.perf_counter()
    outcomes = call()
    return Sample(name=name, seconds=time.perf_counter() - started, outcomes=outcomes)


def naive_inbox_open(agent: Any) -> list[Sample]:
    """The four reads straight through the client: every one is a call to Zendesk."""
    from django.conf import settings

    from inbox.zendesk import client
    from inbox.zendesk.client import Credentials
    from inbox.zendesk.errors import ZendeskError

    credentials = Credentials(
        base_url=settings.ZENDESK_URL,
        access_token=agent.access_token,
        user_id=agent.zendesk_user_id,
    )

    def answer(call: Callable[[], Any]) -> str:
        try:
            call()
        except ZendeskError:
            return FAILED
        return FRESH

    def counts() -> list[str]:
        with ThreadPoolExecutor(max_workers=3) as pool:  # side by side, as the service does
            views = ("assigned", "ccd", "all")
            return list(
                pool.map(
                    lambda view: answer(
                        lambda: client.tickets_count(
                            credentials, view=view, user_id=agent.zendesk_user_id
                        )
                    ),
                    views,
                )
            )

    def listing(view: str) -> list[str]:
        return [
            answer(
                lambda: client.tickets_list(credentials, view=view, user_id=agent.zendesk_user_id)
            )
        ]

    return [
        timed("ticket_counts", counts),
        timed("ticket_list(assigned)", lambda: listing("assigned")),
        timed("ticket_list(all)", lambda: listing("all")),
        timed(
            "activity_unread_count", lambda: [answer(lambda: client.activities_count(credentials))]
        ),
    ]


def service_inbox_open(agent: Any) -> list[Sample]:
    """The four reads through the services: cache, single flight and budget in front."""
    from inbox import services
    from inbox.zendesk.errors import ZendeskError

    def outcome(fresh: Any) -> str:
        if fresh.value is None:
            return FAILED  # a count Zendesk could not give and nothing saved
        return STALE if fresh.stale else FRESH

    def answers(call: Callable[[], Any], count: int = 1) -> list[str]:
        try:
            result = call()
        except ZendeskError:
            return [FAILED] * count
        parts = result.values() if isinstance(result, dict) else [result]
        return [outcome(part) for part in parts]

    return [
        timed("ticket_counts", lambda: answers(lambda: services.ticket_counts(agent=agent), 3)),
        timed(
            "ticket_list(assigned)",
            lambda: answers(lambda: services.ticket_list(agent=agent, view="assigned")),
        ),
        timed(
            "ticket_list(all)",
            lambda: answers(lambda: services.ticket_list(agent=agent, view="all")),
        ),
        timed(
            "activity_unread_count",
            lambda: answers(lambda: services.activity_unread_count(agent=agent)),
        ),
    ]


# -- the app's state between scenarios ----------------------------------------------------------
@contextlib.contextmanager
def without_budget() -> Iterator[None]:
    """A naive proxy has no shared budget: nothing refuses a call, nothing learns from a 429."""
    from inbox.zendesk import budget

    with (
        mock.patch.object(budget, "reserve", return_value=None),
        mock.patch.object(budget, "record_response", return_value=None),
    ):
        yield


@contextlib.contextmanager
def app_limit(per_minute: int) -> Iterator[None]:
    from django.conf import settings

    before = settings.ZENDESK_RATE_LIMIT_PER_MINUTE
    settings.ZENDESK_RATE_LIMIT_PER_MINUTE = per_minute
    try:
        yield
    finally:
        settings.ZENDESK_RATE_LIMIT_PER_MINUTE = before


def forget_budget() -> None:
    """Start the team's budget afresh (windows, 429 block, Zendesk's last count), keeping answers."""
    from django.core.cache import cache

    from inbox.zendesk import budget

    now = budget.clock()
    windows = [budget._window_key(now + offset) for offset in (-60, 0, 60, 120)]
    cache.delete_many(
        [budget.BLOCKED_KEY, budget.UPSTREAM_KEY, budget.UPSTREAM_SINCE_KEY, *windows]
    )


@contextlib.contextmanager
def cache_aged(seconds: float) -> Iterator[None]:
    """The cache's clock moved on by `seconds`: every saved answer is that much older."""
    from inbox.zendesk import cache

    def aged_clock() -> float:
        return time.time() + seconds

    with mock.patch.object(cache, "clock", aged_clock):
        yield


@contextlib.contextmanager
def app_cache(backend: dict[str, Any]) -> Iterator[None]:
    """The app's cache on `backend` for a scenario, empty at its start and its end."""
    from django.core.cache import cache
    from django.test import override_settings

    with override_settings(CACHES={"default": backend}):
        cache.clear()
        try:
            yield
        finally:
            cache.clear()


def locmem(max_entries: int | None = LOCMEM_ENTRIES) -> dict[str, Any]:
    """Local memory, sized for the team (Django's default keeps 300 entries, then culls)."""
    options = {} if max_entries is None else {"OPTIONS": {"MAX_ENTRIES": max_entries}}
    return {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "team-load",
        **options,
    }


def redis(url: str) -> dict[str, Any]:
    """Redis as production runs it (config/settings.py): one connection pool per process."""
    return {"BACKEND": "inbox.zendesk.redis_cache.SharedPoolRedisCache", "LOCATION": url}


@contextlib.contextmanager
def redis_for(args: argparse.Namespace, workdir: Path) -> Iterator[None]:
    """Redis for the B-on-Redis and hit runs: the one given, else a throwaway redis-server on
    a free port (stopped by its own pid at the end), else none (local memory only)."""
    from tests.redisserver import redis_server_binary, start_redis

    if args.no_redis:
        args.redis = ""
    if args.redis is not None or redis_server_binary() is None:
        args.redis = args.redis or ""
        yield
        return
    server = start_redis(workdir)
    args.redis = server.url
    try:
        yield
    finally:
        server.stop()


def redis_counters(url: str, *, reset: bool = False) -> dict[str, Any]:
    """Redis's own counters since its last reset: commands (and how many of them read a key:
    GET, MGET), HELLO handshakes, connections, and the commands by name."""
    import redis as redis_lib

    server = redis_lib.Redis.from_url(url)
    try:
        if reset:
            server.config_resetstat()
        commands = server.info("commandstats")
        stats = server.info("stats")
    finally:
        server.close()
    by_command = {
        name.removeprefix("cmdstat_"): int(row["calls"]) for name, row in commands.items()
    }
    return {
        "commands": sum(by_command.values()),
        "reads": by_command.get("get", 0) + by_command.get("mget", 0),
        "hello": by_command.get("hello", 0),
        "connections": int(stats["total_connections_received"]),
        "by_command": by_command,
    }


# -- running and measuring ---------------------------------------------------------------------
@dataclass
class Result:
    """One scenario's figures."""

    label: str
    sandbox_limit: int
    upstream_calls: int
    rate_limited: int
    answers: Counter
    latencies: list[float] = field(repr=False)
    wall_seconds: float
    by_endpoint: dict[str, int]
    redis: dict[str, int] | None = None  # Redis's own counters for the run, when on Redis

    def summary(self) -> dict[str, Any]:
        return {
            **({"redis_counters": self.redis} if self.redis else {}),
            "label": self.label,
            "sandbox_limit_per_minute": self.sandbox_limit,
            "upstream_calls": self.upstream_calls,
            "rate_limited_429": self.rate_limited,
            "answers": {kind: self.answers.get(kind, 0) for kind in (FRESH, STALE, FAILED)},
            "requests": len(self.latencies),
            "latency_ms": {
                "p50": round(percentile(self.latencies, 50) * 1000, 1),
                "p95": round(percentile(self.latencies, 95) * 1000, 1),
            },
            "wall_seconds": round(self.wall_seconds, 2),
            "upstream_by_endpoint": self.by_endpoint,
        }


def percentile(values: list[float], percent: float) -> float:
    """Nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(percent / 100 * len(ordered)) - 1)]


def run_workload(agents: list[Any], inbox_open: InboxOpen, *, rounds: int, workers: int):
    """Every agent opens the inbox `rounds` times (round after round), `workers` at a time."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(inbox_open, agent) for _ in range(rounds) for agent in agents]
        return [sample for future in futures for sample in future.result()]


def api_stats(sandbox: Any) -> tuple[int, int, dict[str, int]]:
    """Calls on /api/v2 since the last reset (OAuth not counted), and how many were 429s."""
    stats = sandbox.control("GET", "stats").json()
    by_endpoint = {
        name: count for name, count in stats["by_endpoint"].items() if " /api/v2/" in name
    }
    return sum(by_endpoint.values()), int(stats["rate_limited"]), by_endpoint


def set_sandbox_limit(sandbox: Any, per_minute: int | None) -> None:
    """Replace the sandbox's fault set (which also opens fresh rate-limit windows)."""
    faults = {} if per_minute is None else {"rate_limit_per_minute": per_minute}
    sandbox.control("POST", "faults", json=faults).raise_for_status()


def measure(
    sandbox: Any,
    label: str,
    agents: list[Any],
    inbox_open: InboxOpen,
    *,
    rounds: int,
    workers: int,
    sandbox_limit: int,
) -> Result:
    sandbox.control("POST", "stats/reset").raise_for_status()
    started = time.perf_counter()
    samples = run_workload(agents, inbox_open, rounds=rounds, workers=workers)
    wall = time.perf_counter() - started
    calls, rate_limited, by_endpoint = api_stats(sandbox)
    return Result(
        label=label,
        sandbox_limit=sandbox_limit,
        upstream_calls=calls,
        rate_limited=rate_limited,
        answers=Counter(outcome for sample in samples for outcome in sample.outcomes),
        latencies=[sample.seconds for sample in samples],
        wall_seconds=wall,
        by_endpoint=by_endpoint,
    )


def run_scenarios(sandbox: Any, agents: list[Any], args: argparse.Namespace) -> dict[str, Result]:
    load = {"rounds": args.rounds, "workers": args.workers}
    results: dict[str, Result] = {}

    def services_on(name: str, label: str, backend: dict[str, Any]) -> None:
        set_sandbox_limit(sandbox, None)
        with app_cache(backend), app_limit(SANDBOX_DEFAULT_LIMIT):
            results[name] = measure(
                sandbox, label, agents, service_inbox_open,
                sandbox_limit=SANDBOX_DEFAULT_LIMIT, **load,
            )  # fmt: skip

    set_sandbox_limit(sandbox, None)
    with without_budget():
        results["A"] = measure(
            sandbox, "A naive proxy", agents, naive_inbox_open,
            sandbox_limit=SANDBOX_DEFAULT_LIMIT, **load,
        )  # fmt: skip
    services_on("B", "B services (locmem)", locmem())
    if args.redis:
        redis_counters(args.redis, reset=True)
        services_on("B_redis", "B services (Redis)", redis(args.redis))
        results["B_redis"].redis = redis_counters(args.redis)
    services_on("B_locmem_300", "B locmem 300 entries", locmem(None))

    set_sandbox_limit(sandbox, args.limit)
    with without_budget():
        results["C_A"] = measure(
            sandbox, f"C-A naive proxy @{args.limit}/min", agents, naive_inbox_open,
            sandbox_limit=args.limit, **load,
        )  # fmt: skip

    # C-B: a team mid-day. One inbox open per agent fills the cache (unlimited, not counted),
    # then the cache is aged past every TTL and the limit drops to the plan's.
    set_sandbox_limit(sandbox, None)
    with app_cache(locmem()):
        with app_limit(SANDBOX_DEFAULT_LIMIT):
            run_workload(agents, service_inbox_open, rounds=1, workers=args.workers)
        set_sandbox_limit(sandbox, args.limit)
        forget_budget()
        with app_limit(args.limit), cache_aged(CACHE_AGE_SECONDS):
            results["C_B"] = measure(
                sandbox, f"C-B services @{args.limit}/min", agents, service_inbox_open,
                sandbox_limit=args.limit, **load,
            )  # fmt: skip
    set_sandbox_limit(sandbox, None)
    return results


def run_cache_hits(sandbox: Any, agents: list[Any], args: argparse.Namespace) -> dict[str, Any]:
    """What a cache hit costs: every read answered from a warm cache, local memory and Redis
    side by side in the same run (p50 per read; Redis's own counters for the Redis run). On
    Redis a hit is answered by the process's near cache (REDIS_NEAR_CACHE, kept exact by
    Redis's invalidation messages); REDIS_NEAR_CACHE=false measures one MGET a hit instead."""
    from django.conf import settings

    backends = {"locmem": locmem(), **({"redis": redis(args.redis)} if args.redis else {})}
    hits: dict[str, Any] = {}
    set_sandbox_limit(sandbox, None)
    for name, backend in backends.items():
        with app_cache(backend), app_limit(SANDBOX_DEFAULT_LIMIT):
            run_workload(agents, service_inbox_open, rounds=1, workers=args.workers)  # warm
            if name == "redis":
                redis_counters(args.redis, reset=True)
            result = measure(
                sandbox, f"hits ({name})", agents, service_inbox_open,
                rounds=args.rounds, workers=args.workers, sandbox_limit=SANDBOX_DEFAULT_LIMIT,
            )  # fmt: skip
            if name == "redis":
                result.redis = redis_counters(args.redis)
            # The same reads one at a time: what a hit costs without the other threads' turn
            # at the GIL (a thread that waits on Redis gives it up and waits to take it back;
            # one on local memory never gives it up).
            alone = measure(
                sandbox, f"hits one at a time ({name})", agents, service_inbox_open,
                rounds=args.rounds, workers=1, sandbox_limit=SANDBOX_DEFAULT_LIMIT,
            )  # fmt: skip
        hits[name] = result.summary()
        hits[f"{name}_one_at_a_time"] = alone.summary()
    if "redis" in hits:
        hits["near_cache"] = settings.REDIS_NEAR_CACHE
        hits["redis_minus_locmem_p50_ms"] = round(
            hits["redis"]["latency_ms"]["p50"] - hits["locmem"]["latency_ms"]["p50"], 2
        )
        hits["redis_minus_locmem_p50_ms_one_at_a_time"] = round(
            hits["redis_one_at_a_time"]["latency_ms"]["p50"]
            - hits["locmem_one_at_a_time"]["latency_ms"]["p50"],
            2,
        )
    return hits


# -- reporting ---------------------------------------------------------------------------------
def ratio(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 2) if denominator else None


def build_summary(
    args: argparse.Namespace,
    command: str,
    results: dict[str, Result],
    total_seconds: float,
    cache_hits: dict[str, Any] | None = None,
) -> dict[str, Any]:
    from django.conf import settings

    return {
        "command": command,
        "when_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "note": "timings depend on the machine and its load; call counts do not",
        },
        "params": {
            "agents": args.agents,
            "rounds": args.rounds,
            "workers": args.workers,
            "seed_agents": args.seed_agents,
            "limit_c": args.limit,
            "redis": bool(args.redis),
            "c_b_cache_aged_seconds": CACHE_AGE_SECONDS,
            "app_budget_share": settings.ZENDESK_RATE_BUDGET_SHARE,
        },
        "scenarios": {name: result.summary() for name, result in results.items()},
        "cache_hits": cache_hits or {},
        "upstream_ratio_a_over_b": ratio(results["A"].upstream_calls, results["B"].upstream_calls),
        "upstream_ratio_c_a_over_c_b": ratio(
            results["C_A"].upstream_calls, results["C_B"].upstream_calls
        ),
        "total_seconds": round(total_seconds, 1),
    }


def table(summary: dict[str, Any]) -> str:
    header = (
        f"{'scenario':<28}{'limit/min':>10}{'upstream':>10}{'429s':>7}{'fresh':>7}"
        f"{'stale':>7}{'failed':>7}{'p50 ms':>9}{'p95 ms':>9}{'wall s':>8}"
    )
    lines = [header, "-" * len(header)]
    for row in summary["scenarios"].values():
        answers, latency = row["answers"], row["latency_ms"]
        lines.append(
            f"{row['label']:<28}{row['sandbox_limit_per_minute']:>10}{row['upstream_calls']:>10}"
            f"{row['rate_limited_429']:>7}{answers[FRESH]:>7}{answers[STALE]:>7}"
            f"{answers[FAILED]:>7}{latency['p50']:>9}{latency['p95']:>9}{row['wall_seconds']:>8}"
        )
    return "\n".join(lines)


def report(summary: dict[str, Any]) -> str:
    params = summary["params"]
    machine = summary["machine"]
    return "\n".join(
        [
            f"Command: {summary['command']}",
            f"{params['agents']} agents x {params['rounds']} inbox opens, {params['workers']} "
            "concurrent; one open = ticket_counts (3 answers) + ticket_list(assigned) + "
            "ticket_list(all) + activity_unread_count",
            f"Machine: {machine['cpus']} CPUs, Python {machine['python']} ({machine['note']})",
            "",
            table(summary),
            "",
            f"Upstream calls A/B: {summary['upstream_ratio_a_over_b']}x   "
            f"C-A/C-B: {summary['upstream_ratio_c_a_over_c_b']}x",
            "upstream = calls the sandbox answered on /api/v2 (429s included); latency is per "
            "request (one of the four reads).",
            f"C-B starts with one earlier open per agent in the cache, aged "
            f"{params['c_b_cache_aged_seconds']:g} s (past every TTL); the app's budget is "
            f"{params['limit_c']}/min x {params['app_budget_share']:g} share "
            f"= {math.floor(params['limit_c'] * params['app_budget_share'])}/min.",
            *hits_report(summary["cache_hits"], summary["scenarios"]),
            f"Total {summary['total_seconds']} s.",
        ]
    )


def hits_report(hits: dict[str, Any], scenarios: dict[str, Any]) -> list[str]:
    """Lines on what a cache hit costs on each backend, and Redis's own counters."""
    lines = []
    near = ", near cache" if hits.get("near_cache") else ""
    for name in ("locmem", "redis", "locmem_one_at_a_time", "redis_one_at_a_time"):
        if name in hits:
            row = hits[name]
            label = f"{name}{near}" if name.startswith("redis") else name
            lines.append(
                f"Cache hit ({label}): p50 {row['latency_ms']['p50']} ms, p95 "
                f"{row['latency_ms']['p95']} ms per read, {row['upstream_calls']} upstream calls."
            )
    if "redis" in hits:
        counters = hits["redis"]["redis_counters"]
        reads = hits["redis"]["requests"]
        by_command = ", ".join(
            f"{name} {calls}" for name, calls in sorted(counters["by_command"].items())
        )
        lines.append(
            f"Redis hit - local-memory hit at p50: {hits['redis_minus_locmem_p50_ms']} ms "
            f"with the run's threads, {hits['redis_minus_locmem_p50_ms_one_at_a_time']} ms one "
            f"at a time; near cache {'on' if hits['near_cache'] else 'off'}: Redis saw "
            f"{counters['commands']} commands for {reads} reads, {counters['reads']} of them "
            f"reading a key (GET/MGET) ({by_command}), {counters['hello']} HELLO, "
            f"{counters['connections']} new connections."
        )
    if "B_redis" in scenarios and "redis_counters" in scenarios["B_redis"]:
        counters = scenarios["B_redis"]["redis_counters"]
        lines.append(
            f"B on Redis: {counters['commands']} commands, {counters['hello']} HELLO, "
            f"{counters['connections']} new connections."
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = shlex.join(
        [os.path.relpath(sys.executable, Path.cwd()), os.path.relpath(__file__, Path.cwd()),
         *(sys.argv[1:] if argv is None else argv)]
    )  # fmt: skip
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="team-load-") as tmp:
        workdir = Path(tmp)
        setup_django(workdir)
        from tests.sandboxserver import start_sandbox

        sandbox = start_sandbox(workdir, seed_args=("--agents", str(args.seed_agents)))
        try:
            with redis_for(args, workdir):
                point_app_at(sandbox.base_url)
                agents = sign_in_agents(sandbox, args.agents)
                results = run_scenarios(sandbox, agents, args)
                cache_hits = run_cache_hits(sandbox, agents, args)
        finally:
            sandbox.stop()
    summary = build_summary(args, command, results, time.perf_counter() - started, cache_hits)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2) + "\n")
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(report(summary))
        print(f"JSON summary: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
