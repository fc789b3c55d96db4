"""Committed ticket writes reach a webhook receiver as Zendesk's ticket events; refused ones don't."""

from __future__ import annotations

import pytest
import requests

from tests.sandboxserver import SandboxServer
from tests.stubserver import Answer, StubServer

TIMEOUT = 10


@pytest.fixture
def receiver(sandbox: SandboxServer):
    """A webhook endpoint on a free loopback port, the sandbox's webhook pointed at it."""
    with StubServer(default=Answer(200, b"")) as stub:
        url = f"{stub.base_url}/hook"
        assert sandbox.control("POST", "webhooks", json={"url": url}).status_code == 200
        yield stub
        sandbox.control("POST", "webhooks", json={})


def events(receiver: StubServer, count: int) -> list[dict]:
    """The first `count` events the receiver got, as JSON."""
    return [seen.json() for seen in receiver.wait_for(count)]


def write(sandbox: SandboxServer, method: str, path: str, body: dict) -> requests.Response:
    email = sandbox.agent(role="admin")["email"]
    return requests.request(
        method,
        f"{sandbox.base_url}{path}",
        json=body,
        headers=sandbox.basic_auth(email),
        timeout=TIMEOUT,
    )


def test_a_create_and_an_update_reach_the_webhook_as_ticket_events(sandbox, receiver):
    created = write(
        sandbox, "POST", "/api/v2/tickets.json", {"ticket": {"comment": {"body": "Hi"}}}
    )
    ticket_id = created.json()["ticket"]["id"]
    updated = write(
        sandbox,
        "PUT",
        f"/api/v2/tickets/{ticket_id}.json",
        {"ticket": {"status": "pending", "comment": {"body": "Waiting on you", "public": True}}},
    )
    assert updated.status_code == 200

    received = events(receiver, 4)

    assert {event["subject"] for event in received} == {f"zen:ticket:{ticket_id}"}
    by_type = {event["type"]: event for event in received}
    assert set(by_type) == {
        "zen:event-type:ticket.created",
        "zen:event-type:ticket.status_changed",
        "zen:event-type:ticket.custom_status_changed",
        "zen:event-type:ticket.comment_added",
    }
    assert by_type["zen:event-type:ticket.status_changed"]["event"] == {
        "previous": "new",
        "current": "pending",
    }
    comment = by_type["zen:event-type:ticket.comment_added"]["event"]["comment"]
    assert comment["body"] == "Waiting on you"


def test_a_refused_write_sends_nothing(sandbox, receiver):
    created = write(
        sandbox, "POST", "/api/v2/tickets.json", {"ticket": {"comment": {"body": "Hi"}}}
    )
    events(receiver, 1)
    ticket_id = created.json()["ticket"]["id"]

    refused = write(
        sandbox, "PUT", f"/api/v2/tickets/{ticket_id}.json", {"ticket": {"status": "nonsense"}}
    )
    marker = write(
        sandbox, "PUT", f"/api/v2/tickets/{ticket_id}.json", {"ticket": {"priority": "high"}}
    )

    assert refused.status_code == 422
    assert marker.status_code == 200
    types = [event["type"] for event in events(receiver, 2)]
    assert types == ["zen:event-type:ticket.created", "zen:event-type:ticket.priority_changed"]
