"""Faults after a committed write: the change happened, but the answer never arrives readable.

These are what "timed out, but it happened" looks like over real HTTP: the client gives up
(or cannot parse the answer) while the ticket already carries the write, so the only way to
know is to read the ticket again.
"""

from __future__ import annotations

import json
import time
import uuid

import pytest
import requests

from tests.sandbox.test_writes import new_ticket, post_ticket, put_ticket
from tests.sandboxserver import SandboxServer

SHORT_TIMEOUT = 0.5
TIMEOUT = 10


@pytest.fixture
def faults(sandbox: SandboxServer):
    def set_faults(**fault_set) -> dict:
        response = sandbox.control("POST", "faults", json=fault_set)
        assert response.status_code == 200, response.text
        return response.json()

    yield set_faults
    sandbox.control("POST", "faults", json={})


@pytest.fixture
def agent(sandbox: SandboxServer) -> str:
    return sandbox.agent(role="admin")["email"]


def comment_bodies(sandbox: SandboxServer, email: str, ticket_id: int) -> list[str]:
    response = sandbox.get(f"/api/v2/tickets/{ticket_id}/comments.json", as_email=email)
    assert response.status_code == 200, response.text
    return [comment["body"] for comment in response.json()["comments"]]


def is_json(response: requests.Response) -> bool:
    try:
        json.loads(response.content)
    except ValueError:
        return False
    return True


def test_a_hang_after_write_times_the_client_out_but_the_comment_is_saved(sandbox, faults, agent):
    ticket = new_ticket(sandbox, agent)
    faults(hang_after_write_rate=1, hang_seconds=60, path_prefix="/api/v2/tickets")
    body = f"Sent just before the network died {uuid.uuid4()}"

    with pytest.raises(requests.Timeout):
        requests.put(
            f"{sandbox.base_url}/api/v2/tickets/{ticket['id']}.json",
            json={"ticket": {"comment": {"body": body}}},
            headers=sandbox.basic_auth(agent),
            timeout=SHORT_TIMEOUT,
        )

    # Reads are not writes: the same fault set lets the client look at once.
    assert body in comment_bodies(sandbox, agent, ticket["id"])


def test_a_hang_after_write_ends_with_a_504_edge_page_when_faults_are_cleared(
    sandbox, faults, agent
):
    ticket = new_ticket(sandbox, agent)
    faults(hang_after_write_rate=1, hang_seconds=60, path_prefix="/api/v2/tickets")

    with pytest.raises(requests.Timeout):
        put_ticket_quickly(sandbox, agent, ticket["id"], {"priority": "urgent"})
    faults()

    deadline = time.monotonic() + 10  # far below the 60 s hang
    while sandbox.control("GET", "stats").json()["by_status"].get("504") != 1:
        assert time.monotonic() < deadline, "the held answer did not end when faults cleared"
        time.sleep(0.05)
    shown = sandbox.get(f"/api/v2/tickets/{ticket['id']}.json", as_email=agent).json()
    assert shown["ticket"]["priority"] == "urgent"


def put_ticket_quickly(sandbox: SandboxServer, email: str, ticket_id: int, fields: dict):
    return requests.put(
        f"{sandbox.base_url}/api/v2/tickets/{ticket_id}.json",
        json={"ticket": fields},
        headers=sandbox.basic_auth(email),
        timeout=SHORT_TIMEOUT,
    )


def test_a_refused_write_is_answered_at_once_because_nothing_happened(sandbox, faults, agent):
    ticket = new_ticket(sandbox, agent)
    faults(hang_after_write_rate=1, hang_seconds=60)

    response = put_ticket(sandbox, agent, ticket["id"], {"priority": "whenever"})

    assert response.status_code == 422
    assert response.json()["error"] == "RecordInvalid"


def test_garbage_after_a_create_answers_an_unreadable_200_and_the_ticket_exists(
    sandbox, faults, agent
):
    external_id = f"after-write-{uuid.uuid4()}"
    faults(garbage_after_write_rate=1, path_prefix="/api/v2/tickets")

    response = post_ticket(
        sandbox,
        agent,
        {"subject": "Lost answer", "comment": {"body": "Hi"}, "external_id": external_id},
    )

    assert response.status_code == 200
    assert not is_json(response)
    found = sandbox.get("/api/v2/tickets.json", as_email=agent, params={"external_id": external_id})
    assert [t["external_id"] for t in found.json()["tickets"]] == [external_id]


def test_after_write_faults_are_confined_by_path_prefix(sandbox, faults, agent):
    ticket = new_ticket(sandbox, agent)
    faults(hang_after_write_rate=1, garbage_after_write_rate=1, path_prefix="/api/v2/uploads")

    response = put_ticket(sandbox, agent, ticket["id"], {"priority": "low"})

    assert response.status_code == 200
    assert response.json()["ticket"]["priority"] == "low"


@pytest.mark.parametrize("key", ["hang_after_write_rate", "garbage_after_write_rate"])
@pytest.mark.parametrize("value", [1.5, -0.1, "always", True])
def test_after_write_rates_must_be_between_0_and_1(sandbox, key, value):
    response = sandbox.control("POST", "faults", json={key: value})

    assert response.status_code == 400
    assert key in response.json()["description"]
