"""Committed ticket writes reach a webhook receiver as Zendesk's ticket events; refused ones don't."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from tests.sandboxserver import SandboxServer

TIMEOUT = 10


class Receiver(ThreadingHTTPServer):
    """A webhook endpoint on a free loopback port that keeps what it is sent."""

    def __init__(self) -> None:
        self.events: list[dict] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(handler) -> None:
                length = int(handler.headers.get("Content-Length", 0))
                self.events.append(json.loads(handler.rfile.read(length)))
                handler.send_response(200)
                handler.end_headers()

            def log_message(handler, *args) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"

    def wait_for(self, count: int, seconds: float = 10) -> list[dict]:
        deadline = time.monotonic() + seconds
        while len(self.events) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.events


@pytest.fixture
def receiver(sandbox: SandboxServer):
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    assert sandbox.control("POST", "webhooks", json={"url": server.url}).status_code == 200
    yield server
    sandbox.control("POST", "webhooks", json={})
    server.shutdown()
    server.server_close()


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

    events = receiver.wait_for(4)

    assert {event["subject"] for event in events} == {f"zen:ticket:{ticket_id}"}
    by_type = {event["type"]: event for event in events}
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
    receiver.wait_for(1)
    ticket_id = created.json()["ticket"]["id"]

    refused = write(
        sandbox, "PUT", f"/api/v2/tickets/{ticket_id}.json", {"ticket": {"status": "nonsense"}}
    )
    marker = write(
        sandbox, "PUT", f"/api/v2/tickets/{ticket_id}.json", {"ticket": {"priority": "high"}}
    )

    assert refused.status_code == 422
    assert marker.status_code == 200
    types = [event["type"] for event in receiver.wait_for(2)]
    assert types == ["zen:event-type:ticket.created", "zen:event-type:ticket.priority_changed"]
