"""Faults on demand: the sandbox fails the ways Zendesk and the network in front of it fail."""

from __future__ import annotations

import json
import time

import pytest
import requests

from tests.sandboxserver import SandboxServer

SHORT_TIMEOUT = 0.5  # a client that gives up fast, so hangs cost the test half a second
TIMEOUT = 5


@pytest.fixture
def faults(sandbox: SandboxServer):
    """Set a fault set for one test and always clear it afterwards (hangs end at once)."""

    def set_faults(**fault_set) -> dict:
        response = sandbox.control("POST", "faults", json=fault_set)
        response.raise_for_status()
        return response.json()

    yield set_faults
    sandbox.control("POST", "faults", json={})


def agent_get(
    sandbox: SandboxServer, path: str = "/api/v2/users/me.json", *, timeout: float = TIMEOUT
) -> requests.Response:
    headers = sandbox.basic_auth(sandbox.agent()["email"])
    return requests.get(f"{sandbox.base_url}{path}", headers=headers, timeout=timeout)


def is_json(response: requests.Response) -> bool:
    try:
        json.loads(response.content)
    except ValueError:
        return False
    return True


def test_it_answers_normally_without_faults(sandbox):
    response = agent_get(sandbox)

    assert response.status_code == 200
    assert is_json(response)


def test_an_outage_answers_503_with_an_edge_page_everywhere(sandbox, faults):
    faults(outage=True)

    responses = [agent_get(sandbox, path) for path in ("/api/v2/users/me", "/api/v2/tickets")]

    assert [r.status_code for r in responses] == [503, 503]
    assert all(r.headers["Content-Type"].startswith("text/html") for r in responses)
    assert not any(is_json(r) for r in responses)


def test_an_outage_leaves_the_control_surface_working(sandbox, faults):
    faults(outage=True)

    response = sandbox.control("GET", "faults")

    assert response.status_code == 200
    assert response.json()["outage"] is True


def test_a_refusing_outage_drops_the_connection(sandbox, faults):
    faults(outage="refuse")

    with pytest.raises(requests.ConnectionError):
        agent_get(sandbox)
    assert sandbox.control("GET", "stats").json()["by_status"] == {"refused": 1}


def test_clearing_faults_ends_an_outage(sandbox, faults):
    faults(outage=True)
    assert agent_get(sandbox).status_code == 503

    faults()

    assert agent_get(sandbox).status_code == 200


def test_error_faults_answer_500_502_or_503_at_random(sandbox, faults):
    faults(error_rate=1)

    statuses = {agent_get(sandbox).status_code for _ in range(12)}

    assert statuses <= {500, 502, 503}
    assert len(statuses) >= 2, "the status is picked at random"


def test_garbage_faults_answer_200_with_bodies_no_json_parser_accepts(sandbox, faults):
    faults(garbage_rate=1)

    responses = [agent_get(sandbox) for _ in range(8)]

    assert {r.status_code for r in responses} == {200}
    assert not any(is_json(r) for r in responses)
    kinds = {r.headers["Content-Type"].split(";")[0] for r in responses}
    assert kinds <= {"text/html", "application/json"}


def test_latency_delays_every_answer(sandbox, faults):
    faults(latency_ms=600)

    started = time.monotonic()
    response = agent_get(sandbox)

    assert time.monotonic() - started >= 0.6
    assert response.status_code == 200


def test_latency_beyond_the_client_timeout_times_the_client_out(sandbox, faults):
    faults(latency_ms=3000)

    with pytest.raises(requests.Timeout):
        agent_get(sandbox, timeout=SHORT_TIMEOUT)


def test_a_hang_outlasts_the_client_and_ends_when_faults_are_cleared(sandbox, faults):
    faults(hang_rate=1, hang_seconds=60)

    with pytest.raises(requests.Timeout):
        agent_get(sandbox, timeout=SHORT_TIMEOUT)
    faults()

    assert agent_get(sandbox).status_code == 200
    deadline = time.monotonic() + 10  # far below the 60 s hang
    while sandbox.control("GET", "stats").json()["by_status"].get("504") != 1:
        assert time.monotonic() < deadline, "the hung request did not end when faults cleared"
        time.sleep(0.05)


def test_path_prefix_confines_faults_to_matching_paths(sandbox, faults):
    faults(outage=True, path_prefix="/api/v2/tickets")

    assert agent_get(sandbox, "/api/v2/tickets.json").status_code == 503
    assert agent_get(sandbox, "/api/v2/users/me.json").status_code == 200


def test_faults_apply_to_oauth_too(sandbox, faults):
    faults(outage=True)

    response = requests.post(f"{sandbox.base_url}/oauth/tokens", json={}, timeout=TIMEOUT)

    assert response.status_code == 503


@pytest.mark.parametrize(
    ("body", "content_type"), [("html", "text/html"), ("cut_json", "application/json")]
)
def test_garbage_can_be_pinned_to_one_kind_of_body(sandbox, faults, body, content_type):
    faults(garbage_rate=1, garbage_body=body)

    responses = [agent_get(sandbox) for _ in range(6)]

    assert {r.status_code for r in responses} == {200}
    assert not any(is_json(r) for r in responses)
    assert {r.headers["Content-Type"].split(";")[0] for r in responses} == {content_type}


def test_a_hanging_call_is_counted_as_arrived_while_it_hangs(sandbox, faults):
    faults(hang_rate=1, hang_seconds=60)

    with pytest.raises(requests.Timeout):
        agent_get(sandbox, timeout=SHORT_TIMEOUT)
    counted = sandbox.control("GET", "stats").json()
    faults()

    assert counted["arrived"] == 1
    assert counted["requests"] == 0, "its answer is not sent yet"
