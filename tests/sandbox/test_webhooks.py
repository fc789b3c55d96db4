"""Signed webhooks: a receiver on loopback gets Zendesk's envelope, signed as Zendesk signs it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sandboxserver import SandboxServer, free_port
from tests.stubserver import Answer, StubServer

VECTORS = json.loads(
    (
        Path(__file__).resolve().parent.parent
        / "fixtures"
        / "recorded"
        / "webhook_signature_test_vectors.json"
    ).read_text()
)["vectors"]
SECRET = "dGVzdHMtb25seS1zZWNyZXQtZm9yLXRoZS1zYW5kYm94"
WAIT_SECONDS = 10
RECEIVER_PATH = "/zendesk/events"


def zendesk_signature(secret: str, timestamp: str, body: bytes) -> str:
    """How a receiver verifies Zendesk: base64(HMAC-SHA256(secret, TIMESTAMP + BODY))."""
    digest = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


@pytest.fixture
def receiver() -> Iterator[StubServer]:
    """A webhook endpoint on a free loopback port (answers 200 unless a test queues others)."""
    with StubServer(default=Answer(200, b"")) as stub:
        stub.url = f"{stub.base_url}{RECEIVER_PATH}"
        yield stub


@pytest.fixture
def webhook(sandbox: SandboxServer, receiver: StubServer) -> Iterator[StubServer]:
    """The sandbox's webhook pointed at the receiver with fast retries; cleared afterwards."""
    config = {"url": receiver.url, "secret": SECRET, "retry_base_seconds": 0.05}
    sandbox.control("POST", "webhooks", json=config).raise_for_status()
    yield receiver
    sandbox.control("POST", "webhooks", json={})


def delivery_log(sandbox: SandboxServer, count: int) -> list[dict]:
    """The sandbox's delivery log once it holds `count` attempts (logged after each answer)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while len(attempts := sandbox.control("GET", "webhooks").json()["deliveries"]) < count:
        assert time.monotonic() < deadline, f"logged {len(attempts)} of {count} attempts"
        time.sleep(0.02)
    return attempts


def fire(sandbox: SandboxServer, **payload) -> None:
    response = sandbox.control("POST", "webhooks/test", json={"ticket_id": 1, **payload})
    assert response.status_code == 202, response.text


def test_the_verifier_follows_zendesks_timestamp_then_body_order():
    vector = VECTORS[1]

    signature = zendesk_signature(vector["secret"], vector["timestamp"], vector["body"].encode())

    assert signature == vector["signature_timestamp_then_body"]


def test_the_verifier_rejects_the_old_docs_body_then_timestamp_example():
    vector = VECTORS[0]

    signature = zendesk_signature(vector["secret"], vector["timestamp"], vector["body"].encode())

    assert signature != vector["doc_signature"]
    assert signature == vector["computed_b64_hmac_sha256_timestamp_then_body"]


def test_a_delivery_carries_a_signature_the_receiver_can_verify(sandbox, webhook):
    fire(sandbox)

    [delivery] = webhook.wait_for(1)

    timestamp = delivery.headers["x-zendesk-webhook-signature-timestamp"]
    expected = zendesk_signature(SECRET, timestamp, delivery.body)
    assert hmac.compare_digest(delivery.headers["x-zendesk-webhook-signature"], expected)
    assert timestamp.endswith("Z")
    assert delivery.headers["x-zendesk-webhook-id"]


def test_a_signature_made_with_another_secret_does_not_verify(sandbox, webhook):
    fire(sandbox)

    [delivery] = webhook.wait_for(1)

    timestamp = delivery.headers["x-zendesk-webhook-signature-timestamp"]
    forged = zendesk_signature("not-the-secret", timestamp, delivery.body)
    assert delivery.headers["x-zendesk-webhook-signature"] != forged


def test_a_delivery_is_zendesks_event_subscription_envelope_for_a_real_ticket(sandbox, webhook):
    fire(
        sandbox, event_type="ticket.priority_changed", event={"previous": "LOW", "current": "HIGH"}
    )

    [delivery] = webhook.wait_for(1)

    event = json.loads(delivery.body)
    assert event["type"] == "zen:event-type:ticket.priority_changed"
    assert event["subject"] == "zen:ticket:1"
    assert event["zendesk_event_version"] == "2022-11-06"
    assert event["event"] == {"previous": "LOW", "current": "HIGH"}
    assert event["detail"]["id"] == "1"
    assert event["detail"]["subject"]
    assert isinstance(event["account_id"], int)
    assert len(event["id"]) == 36
    assert event["time"].endswith("Z")


def test_a_failing_receiver_gets_retries_until_it_accepts(sandbox, webhook):
    webhook.answer_queue("POST", RECEIVER_PATH, [(500, None), (503, None)])
    fire(sandbox)

    deliveries = webhook.wait_for(3)

    assert len({d.body for d in deliveries}) == 1, "each retry resends the same event"
    attempts = delivery_log(sandbox, 3)
    assert [(a["attempt"], a["status"]) for a in attempts] == [
        (1, 500),
        (2, 503),
        (3, 200),
    ]


def test_a_receiver_that_never_accepts_gets_a_bounded_number_of_attempts(sandbox, receiver):
    receiver.answer_queue("POST", RECEIVER_PATH, [(500, None)] * 10)
    config = {"url": receiver.url, "retry_base_seconds": 0.02, "max_attempts": 3}
    sandbox.control("POST", "webhooks", json=config).raise_for_status()
    try:
        fire(sandbox)

        receiver.wait_for(3)
        time.sleep(0.3)  # room for a (wrong) fourth attempt: 0.02 * 2**2 s of backoff

        assert len(receiver.requests) == 3
    finally:
        sandbox.control("POST", "webhooks", json={})


def test_an_unreachable_receiver_is_logged_as_a_connection_error(sandbox):
    unreachable = f"http://127.0.0.1:{free_port()}/nobody-listens"
    config = {"url": unreachable, "retry_base_seconds": 0.02, "max_attempts": 2}
    sandbox.control("POST", "webhooks", json=config).raise_for_status()
    try:
        fire(sandbox)

        attempts = delivery_log(sandbox, 2)
        assert [(a["attempt"], a["status"]) for a in attempts] == [(1, None), (2, None)]
        assert all("ConnectionError" in a["error"] for a in attempts)
    finally:
        sandbox.control("POST", "webhooks", json={})


def test_the_config_reads_back_with_the_secret_masked(sandbox, webhook):
    shown = sandbox.control("GET", "webhooks").json()

    assert shown["url"] == webhook.url
    assert SECRET not in json.dumps(shown)
    assert shown["secret"].endswith(SECRET[-4:])


def test_an_empty_config_clears_the_webhook(sandbox, webhook):
    sandbox.control("POST", "webhooks", json={}).raise_for_status()

    response = sandbox.control("POST", "webhooks/test", json={"ticket_id": 1})

    assert response.status_code == 400
    assert sandbox.control("GET", "webhooks").json()["url"] == ""


@pytest.mark.parametrize(
    ("config", "named"),
    [
        ({"url": "ftp://127.0.0.1/hook"}, "url"),
        ({"url": "http://127.0.0.1/hook", "secret": ""}, "secret"),
        ({"url": "http://127.0.0.1/hook", "retry_base_seconds": -1}, "retry_base_seconds"),
        ({"url": "http://127.0.0.1/hook", "max_attempts": 0}, "max_attempts"),
        ({"url": "http://127.0.0.1/hook", "colour": "red"}, "colour"),
    ],
)
def test_bad_webhook_configs_answer_400_naming_the_problem(sandbox, config, named):
    response = sandbox.control("POST", "webhooks", json=config)

    assert response.status_code == 400
    assert named in response.json()["description"]


def test_firing_for_a_missing_ticket_answers_404(sandbox, webhook):
    response = sandbox.control("POST", "webhooks/test", json={"ticket_id": 987654321})

    assert response.status_code == 404


def test_firing_with_a_bad_ticket_id_answers_400(sandbox, webhook):
    response = sandbox.control("POST", "webhooks/test", json={"ticket_id": "one"})

    assert response.status_code == 400
    assert "ticket_id" in response.json()["description"]
