"""The team's rate budget under real traffic, and the cache and budget shared across processes.

The sandbox's account limit is lowered (POST /_sandbox/faults) and the app told the same limit;
Zendesk's answers are counted with GET /_sandbox/stats (`rate_limited`: 429s it sent).
A second app process (tests.settings_redis) shares the test's Redis.
"""

from __future__ import annotations

import threading
import time

import pytest
from django.core.cache import cache as django_cache

from inbox import services
from inbox.models import AgentAccount
from inbox.zendesk import budget
from tests.inbox.conftest import access_token, agent_account, api_calls, run_app_process

pytestmark = pytest.mark.django_db

AGENT_SCRIPT = """
import os, sys, threading, time
import django
django.setup()
from django.core.cache import cache
from inbox import crypto, services
from inbox.models import AgentAccount

agent = AgentAccount(
    zendesk_user_id=int(os.environ["AGENT_ID"]), restricted=False, name="agent", role="agent",
    access_token_encrypted=crypto.encrypt(os.environ["AGENT_TOKEN"]),
)

def list_all():
    cache.incr("test:started")
    while not cache.get("test:go"):
        time.sleep(0.01)
    return services.ticket_list(agent=agent, view="all")

if sys.argv[1] == "together":
    answers = []
    threads = [threading.Thread(target=lambda: answers.append(list_all())) for _ in range(4)]
    for thread in threads: thread.start()
    for thread in threads: thread.join()
    same = len({tuple(t.id for t in answer.value.items) for answer in answers}) == 1
    print(len(answers) if same else "answers differ")
else:
    try:
        services.ticket_list(agent=agent, view="assigned")
        print("answered")
    except services.ZendeskUnavailable as error:
        print(error.reason)
"""


def team(sandbox, count: int) -> list[AgentAccount]:
    seeded = sandbox.agents(role="agent", restricted=False, suspended=False)[:count]
    accounts = [agent_account(sandbox, agent) for agent in seeded]
    sandbox.control("POST", "stats/reset")
    return accounts


def ticket_ids(sandbox, agent: AgentAccount, count: int) -> list[int]:
    path = f"/api/v2/tickets.json?page[size]={count}&sort=-updated_at"
    return [t["id"] for t in sandbox.get(path, as_email=agent.email).json()["tickets"]]


def stats(sandbox) -> dict:
    return sandbox.control("GET", "stats").json()


@pytest.mark.slow
def test_a_team_on_a_low_limit_never_draws_a_429_and_falls_back_to_saved_answers(
    on_sandbox, settings, clock
):
    on_sandbox.control("POST", "faults", json={"rate_limit_per_minute": 20})
    settings.ZENDESK_RATE_LIMIT_PER_MINUTE = 20
    agents = team(on_sandbox, 3)
    tickets = ticket_ids(on_sandbox, agents[0], 30)
    on_sandbox.control("POST", "stats/reset")

    first_list = services.ticket_list(agent=agents[0], view="all")
    refused = []
    for ticket_id in tickets:
        for agent in agents:
            try:
                services.ticket_detail(agent=agent, ticket_id=ticket_id)
            except services.ZendeskUnavailable as error:
                refused.append(error.reason)
        if refused:
            break

    assert stats(on_sandbox)["rate_limited"] == 0
    assert api_calls(on_sandbox) <= budget.deployment_limit()
    assert refused[0] == "budget_exhausted"
    clock.offset = 60  # past the list's TTL, inside the (real) budget window
    saved = services.ticket_list(agent=agents[1], view="all")
    assert saved.stale
    assert saved.stale_reason == "budget_exhausted"
    assert saved.age_seconds >= 60
    assert [t.id for t in saved.value.items] == [t.id for t in first_list.value.items]


@pytest.mark.slow
def test_agents_asking_at_the_same_time_on_a_low_limit_never_draw_a_429(on_sandbox, settings):
    on_sandbox.control("POST", "faults", json={"rate_limit_per_minute": 20})
    settings.ZENDESK_RATE_LIMIT_PER_MINUTE = 20
    agents = team(on_sandbox, 3)
    outcomes: list[str] = []

    def browse(agent: AgentAccount) -> None:
        for page_size in range(1, 30):
            try:
                services.ticket_list(agent=agent, view="assigned", page_size=page_size)
                outcomes.append("answered")
            except services.ZendeskUnavailable as error:
                outcomes.append(error.reason)

    threads = [threading.Thread(target=browse, args=(agent,)) for agent in agents]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert stats(on_sandbox)["rate_limited"] == 0
    assert "budget_exhausted" in outcomes
    assert 0 < outcomes.count("answered") <= 2 * budget.deployment_limit()


@pytest.mark.redis
@pytest.mark.slow
def test_after_a_429_no_process_calls_zendesk_until_retry_after(on_sandbox, redis_cache, settings):
    on_sandbox.control("POST", "faults", json={"rate_limit_per_minute": 3})
    (alice,) = team(on_sandbox, 1)
    for _ in range(3):  # another integration spends the account's minute
        on_sandbox.get("/api/v2/users/me.json", as_email=alice.email)
    reasons = []
    for view in ("assigned", "all"):
        try:
            services.ticket_list(agent=alice, view=view)
        except services.ZendeskUnavailable as error:
            reasons.append(error.reason)
    # The second read never reached Zendesk (one 429 counted), and the agent is told why: Zendesk
    # asked the team to slow down, not that the team spent its own share.
    assert reasons == ["rate_limited", "rate_limited"]
    assert stats(on_sandbox)["rate_limited"] == 1
    calls_before = api_calls(on_sandbox)

    other = run_app_process(
        AGENT_SCRIPT,
        "once",
        redis_url=redis_cache,
        sandbox=on_sandbox,
        AGENT_ID=str(alice.zendesk_user_id),
        AGENT_TOKEN=access_token(on_sandbox, alice.email),
    )
    output, errors = other.communicate(timeout=60)
    assert other.returncode == 0, errors
    assert output.strip() == "rate_limited"  # held by the shared block, not asked
    assert api_calls(on_sandbox) == calls_before


@pytest.mark.redis
@pytest.mark.slow
def test_identical_requests_in_two_processes_make_one_upstream_call(on_sandbox, redis_cache):
    on_sandbox.control("POST", "faults", json={"latency_ms": 300})
    alice, bob = team(on_sandbox, 2)
    django_cache.set("test:started", 0, timeout=None)
    processes = [
        run_app_process(
            AGENT_SCRIPT,
            "together",
            redis_url=redis_cache,
            sandbox=on_sandbox,
            AGENT_ID=str(agent.zendesk_user_id),
            AGENT_TOKEN=access_token(on_sandbox, agent.email),
        )
        for agent in (alice, bob)
    ]
    deadline = time.monotonic() + 60
    while django_cache.get("test:started") < 8:
        assert time.monotonic() < deadline, [p.communicate() for p in processes]
        time.sleep(0.05)
    django_cache.set("test:go", 1, timeout=None)
    outputs = [process.communicate(timeout=60) for process in processes]
    assert [output.strip() for output, _ in outputs] == ["4", "4"], outputs
    assert api_calls(on_sandbox, "GET /api/v2/tickets") == 1
