"""Zendesk's limit of 30 updates per ticket per user in 10 minutes, and the control lifting it.

https://developer.zendesk.com/api-reference/introduction/rate-limits/
"""

from __future__ import annotations

import pytest
import requests

from tests.sandboxserver import SandboxServer

TIMEOUT = 10


def put_status(sandbox: SandboxServer, email: str, ticket_id: int, status: str):
    return requests.put(
        f"{sandbox.base_url}/api/v2/tickets/{ticket_id}.json",
        json={"ticket": {"status": status}},
        headers=sandbox.basic_auth(email),
        timeout=TIMEOUT,
    )


def new_ticket(sandbox: SandboxServer, email: str) -> int:
    response = requests.post(
        f"{sandbox.base_url}/api/v2/tickets.json",
        json={"ticket": {"subject": "Busy", "comment": {"body": "Many updates."}}},
        headers=sandbox.basic_auth(email),
        timeout=TIMEOUT,
    )
    assert response.status_code == 201, response.text
    return response.json()["ticket"]["id"]


def update_many(sandbox: SandboxServer, email: str, ticket_id: int, times: int) -> list[int]:
    statuses = ["open", "pending"]
    return [
        put_status(sandbox, email, ticket_id, statuses[n % 2]).status_code for n in range(times)
    ]


@pytest.fixture
def limited(sandbox: SandboxServer):
    """The shared sandbox with Zendesk's limit on; its start-up value (lifted) afterwards."""
    response = sandbox.control("POST", "update_limit", json={"per_ticket_per_user": 30})
    assert response.status_code == 200, response.text
    yield sandbox
    sandbox.control("POST", "update_limit", json={}).raise_for_status()


def test_the_31st_update_of_a_ticket_within_ten_minutes_is_429_with_retry_after(limited):
    ana = limited.agent(role="agent", restricted=False, suspended=False)
    ticket_id = new_ticket(limited, ana["email"])

    assert update_many(limited, ana["email"], ticket_id, 30) == [200] * 30
    refused = put_status(limited, ana["email"], ticket_id, "hold")

    assert refused.status_code == 429
    assert refused.json()["error"] == "APIRateLimitExceeded"
    assert 1 <= int(refused.headers["Retry-After"]) <= 600
    shown = limited.get(f"/api/v2/tickets/{ticket_id}.json", as_email=ana["email"]).json()
    assert shown["ticket"]["status"] != "hold"  # the refused update wrote nothing


def test_the_limit_is_per_user_and_per_ticket(limited):
    ana, ben = limited.agents(role="agent", restricted=False, suspended=False)[:2]
    busy = new_ticket(limited, ana["email"])
    other = new_ticket(limited, ana["email"])
    update_many(limited, ana["email"], busy, 30)

    assert put_status(limited, ben["email"], busy, "hold").status_code == 200
    assert put_status(limited, ana["email"], other, "hold").status_code == 200


def test_lifting_the_limit_lets_every_update_through(limited):
    ana = limited.agent(role="agent", restricted=False, suspended=False)
    ticket_id = new_ticket(limited, ana["email"])
    lifted = limited.control("POST", "update_limit", json={"per_ticket_per_user": None})

    assert lifted.json()["per_ticket_per_user"] is None
    assert set(update_many(limited, ana["email"], ticket_id, 35)) == {200}


@pytest.mark.parametrize("body", [{"per_ticket_per_user": 0}, {"per_ticket_per_user": "30"}, []])
def test_the_control_refuses_nonsense(sandbox, body):
    response = sandbox.control("POST", "update_limit", json=body)

    assert response.status_code == 400
    assert response.json()["error"] == "InvalidControl"


@pytest.mark.slow
def test_the_limit_is_on_by_default_and_a_reset_restores_it(default_sandbox):
    assert default_sandbox.control("GET", "update_limit").json()["per_ticket_per_user"] == 30
    default_sandbox.control("POST", "update_limit", json={"per_ticket_per_user": None})

    default_sandbox.reset()

    assert default_sandbox.control("GET", "update_limit").json()["per_ticket_per_user"] == 30
