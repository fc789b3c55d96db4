"""Traffic stats and the fault control surface: what an operator reads and sets."""

from __future__ import annotations

import pytest
import requests

from tests.sandboxserver import SandboxServer

TIMEOUT = 5


def agent_get(sandbox: SandboxServer, path: str) -> requests.Response:
    headers = sandbox.basic_auth(sandbox.agent()["email"])
    return requests.get(f"{sandbox.base_url}{path}", headers=headers, timeout=TIMEOUT)


def stats(sandbox: SandboxServer) -> dict:
    return sandbox.control("GET", "stats").json()


def test_stats_start_empty_after_a_reset(sandbox):
    agent_get(sandbox, "/api/v2/users/me.json")

    sandbox.control("POST", "stats/reset").raise_for_status()

    assert stats(sandbox) == {
        "arrived": 0,
        "requests": 0,
        "by_status": {},
        "by_endpoint": {},
        "rate_limited": 0,
    }


def test_stats_count_exactly_the_calls_made_by_normalized_endpoint(sandbox):
    calls = [
        agent_get(sandbox, "/api/v2/tickets.json"),
        agent_get(sandbox, "/api/v2/tickets"),
        agent_get(sandbox, "/api/v2/tickets/1.json"),
        agent_get(sandbox, "/api/v2/tickets/2/comments.json"),
        agent_get(sandbox, "/api/v2/tickets/3/comments"),
    ]

    counted = stats(sandbox)

    assert counted["requests"] == len(calls)
    assert counted["by_endpoint"] == {
        "GET /api/v2/tickets": 2,
        "GET /api/v2/tickets/{id}": 1,
        "GET /api/v2/tickets/{id}/comments": 2,
    }
    expected_statuses: dict[str, int] = {}
    for call in calls:
        expected_statuses[str(call.status_code)] = (
            expected_statuses.get(str(call.status_code), 0) + 1
        )
    assert counted["by_status"] == expected_statuses
    assert counted["rate_limited"] == 0


def test_stats_count_oauth_calls_but_not_the_control_surface(sandbox):
    requests.post(f"{sandbox.base_url}/oauth/tokens", json={}, timeout=TIMEOUT)
    sandbox.control("GET", "faults")
    sandbox.control("GET", "stats")

    assert stats(sandbox)["by_endpoint"] == {"POST /oauth/tokens": 1}


def test_faults_read_back_with_every_default(sandbox):
    shown = sandbox.control("GET", "faults").json()

    assert shown == {
        "rate_limit_per_minute": 700,
        "tickets_index_rate_limit_per_minute": 100,
        "rate_limit_window_seconds": 60,
        "rate_limit_body": "json",
        "latency_ms": 0,
        "jitter_ms": 0,
        "error_rate": 0,
        "hang_rate": 0,
        "hang_seconds": 30,
        "garbage_rate": 0,
        "garbage_body": "any",
        "hang_after_write_rate": 0,
        "garbage_after_write_rate": 0,
        "outage": False,
        "path_prefix": "",
    }


def test_posting_faults_replaces_the_whole_set(sandbox):
    try:
        sandbox.control("POST", "faults", json={"latency_ms": 5, "error_rate": 0.5})
        sandbox.control("POST", "faults", json={"jitter_ms": 3})

        shown = sandbox.control("GET", "faults").json()

        assert shown["jitter_ms"] == 3
        assert shown["latency_ms"] == 0
        assert shown["error_rate"] == 0
    finally:
        sandbox.control("POST", "faults", json={})


@pytest.mark.parametrize(
    ("fault_set", "named"),
    [
        ({"error_rate": 1.5}, "error_rate"),
        ({"hang_rate": -0.1}, "hang_rate"),
        ({"garbage_rate": "often"}, "garbage_rate"),
        ({"latency_ms": True}, "latency_ms"),
        ({"rate_limit_per_minute": 0}, "rate_limit_per_minute"),
        ({"rate_limit_per_minute": 2.5}, "rate_limit_per_minute"),
        ({"rate_limit_body": "xml"}, "rate_limit_body"),
        ({"garbage_body": "xml"}, "garbage_body"),
        ({"outage": "sometimes"}, "outage"),
        ({"path_prefix": "api"}, "path_prefix"),
        ({"chaos_monkey": 1}, "chaos_monkey"),
        ([1, 2], "object"),
    ],
)
def test_bad_fault_sets_answer_400_naming_the_problem(sandbox, fault_set, named):
    response = sandbox.control("POST", "faults", json=fault_set)

    assert response.status_code == 400
    assert response.json()["error"] == "InvalidControl"
    assert named in response.json()["description"]


def test_a_body_that_is_not_json_answers_400(sandbox):
    response = sandbox.control("POST", "faults", data=b"{latency_ms: 5")

    assert response.status_code == 400
    assert "JSON" in response.json()["description"]


def test_a_refused_fault_set_leaves_the_current_one_in_force(sandbox):
    try:
        sandbox.control("POST", "faults", json={"latency_ms": 5}).raise_for_status()

        sandbox.control("POST", "faults", json={"latency_ms": 10, "error_rate": 7})

        assert sandbox.control("GET", "faults").json()["latency_ms"] == 5
    finally:
        sandbox.control("POST", "faults", json={})
