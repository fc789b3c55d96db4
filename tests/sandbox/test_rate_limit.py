"""The sandbox limits API calls the way Zendesk does: per-account and List Tickets limits."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import requests

from tests.sandboxserver import SandboxServer

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "recorded"
TIMEOUT = 5


@pytest.fixture
def limited(sandbox: SandboxServer):
    """Set a fault set for one test and always clear it afterwards."""

    def set_faults(**faults) -> None:
        sandbox.control("POST", "faults", json=faults).raise_for_status()

    yield set_faults
    sandbox.control("POST", "faults", json={})


def agent_get(sandbox: SandboxServer, path: str) -> requests.Response:
    headers = sandbox.basic_auth(sandbox.agent()["email"])
    return requests.get(f"{sandbox.base_url}{path}", headers=headers, timeout=TIMEOUT)


def me(sandbox: SandboxServer) -> requests.Response:
    return agent_get(sandbox, "/api/v2/users/me.json")


def ticket_list(sandbox: SandboxServer) -> requests.Response:
    return agent_get(sandbox, "/api/v2/tickets.json")


def test_it_counts_remaining_calls_down_in_both_header_families(sandbox, limited):
    limited(rate_limit_per_minute=4)

    responses = [me(sandbox) for _ in range(4)]

    assert [r.status_code for r in responses] == [200] * 4
    assert [r.headers["X-Rate-Limit-Remaining"] for r in responses] == ["3", "2", "1", "0"]
    assert [r.headers["ratelimit-remaining"] for r in responses] == ["3", "2", "1", "0"]
    assert {r.headers["X-Rate-Limit"] for r in responses} == {"4"}
    assert {r.headers["ratelimit-limit"] for r in responses} == {"4"}
    assert all(1 <= int(r.headers["ratelimit-reset"]) <= 60 for r in responses)


def test_it_uses_the_enterprise_limit_by_default(sandbox):
    response = me(sandbox)

    assert response.headers["X-Rate-Limit"] == "700"
    assert response.headers["X-Rate-Limit-Remaining"] == "699"


def test_it_answers_429_with_a_whole_retry_after_past_the_limit(sandbox, limited):
    limited(rate_limit_per_minute=2)
    me(sandbox), me(sandbox)

    refused = me(sandbox)

    assert refused.status_code == 429
    assert refused.json() == {
        "error": "APIRateLimitExceeded",
        "description": "Number of allowed API requests per minute exceeded",
    }
    assert refused.headers["Retry-After"].isdigit()
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["X-Rate-Limit-Remaining"] == "0"


def test_it_can_answer_429_with_zendesks_plain_text_body(sandbox, limited):
    limited(rate_limit_per_minute=1, rate_limit_body="text")
    me(sandbox)

    refused = me(sandbox)

    assert refused.status_code == 429
    assert refused.headers["Content-Type"].startswith("text/plain")
    assert refused.text == (FIXTURES / "429_plain_text_body.txt").read_text()


def test_it_recovers_when_the_window_closes(sandbox, limited):
    limited(rate_limit_per_minute=1, rate_limit_window_seconds=2)
    assert me(sandbox).status_code == 200
    refused = me(sandbox)
    assert refused.status_code == 429

    time.sleep(int(refused.headers["Retry-After"]))

    recovered = me(sandbox)
    assert recovered.status_code == 200
    assert recovered.headers["X-Rate-Limit-Remaining"] == "0"


def test_it_limits_list_tickets_on_its_own_budget(sandbox, limited):
    limited(tickets_index_rate_limit_per_minute=2)

    first, second, third = (ticket_list(sandbox) for _ in range(3))

    assert first.headers["Zendesk-RateLimit-tickets-index"].startswith("total=2; remaining=1; ")
    assert second.headers["Zendesk-RateLimit-tickets-index"].startswith("total=2; remaining=0; ")
    assert third.status_code == 429
    assert "Retry-After" in third.headers
    assert me(sandbox).status_code == 200, "other endpoints keep the account budget"


def test_it_tells_list_tickets_callers_the_default_limit_of_100(sandbox):
    header = ticket_list(sandbox).headers["Zendesk-RateLimit-tickets-index"]

    total, remaining, resets = (part.split("=") for part in header.split("; "))
    assert total == ["total", "100"]
    assert remaining == ["remaining", "99"]
    assert resets[0] == "resets"
    assert 1 <= int(resets[1]) <= 60


def test_it_sends_the_list_header_only_for_the_list(sandbox):
    assert "Zendesk-RateLimit-tickets-index" not in me(sandbox).headers


def test_it_never_limits_the_control_surface(sandbox, limited):
    limited(rate_limit_per_minute=1)
    me(sandbox)

    controls = [sandbox.control("GET", "faults") for _ in range(3)]

    assert [r.status_code for r in controls] == [200] * 3
    assert "X-Rate-Limit" not in controls[0].headers


def test_it_counts_429s_in_the_stats(sandbox, limited):
    limited(rate_limit_per_minute=1)
    me(sandbox), me(sandbox), me(sandbox)

    stats = sandbox.control("GET", "stats").json()

    assert stats["requests"] == 3
    assert stats["rate_limited"] == 2
    assert stats["by_status"] == {"200": 1, "429": 2}
