"""Fields required to solve a ticket, over real HTTP: an admin marks a field required
(`required` in GET /api/v2/ticket_fields), and solving a ticket with it empty is refused with
Zendesk's 422, one sentence a field starting with its title, under `base` with the field's id
and type. https://developer.zendesk.com/api-reference/ticketing/tickets/ticket_fields/
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import requests

from sandbox.ticket_fields import PRODUCT_AREA_ID, SEATS_ID
from tests.sandbox.test_simulate import run_simulation
from tests.sandboxserver import SandboxServer

TIMEOUT = 10


def require(sandbox: SandboxServer, *ids: int) -> requests.Response:
    return sandbox.control("POST", "ticket_fields/required", json={"ids": list(ids)})


@pytest.fixture
def required(sandbox: SandboxServer):
    """The product area and the seats count required to solve; nothing required after."""
    assert require(sandbox, PRODUCT_AREA_ID, SEATS_ID).status_code == 200
    yield sandbox
    require(sandbox)


def as_agent(sandbox: SandboxServer) -> dict[str, str]:
    return sandbox.basic_auth(sandbox.agent(role="agent", restricted=False)["email"])


def new_ticket(sandbox: SandboxServer, **extra: Any) -> dict[str, Any]:
    response = requests.post(
        f"{sandbox.base_url}/api/v2/tickets",
        json={"ticket": {"subject": "To solve", "comment": {"body": "Please help."}, **extra}},
        headers=as_agent(sandbox),
        timeout=TIMEOUT,
    )
    assert response.status_code == 201, response.text
    return response.json()["ticket"]


def update(sandbox: SandboxServer, ticket_id: int, **fields: Any) -> requests.Response:
    return requests.put(
        f"{sandbox.base_url}/api/v2/tickets/{ticket_id}",
        json={"ticket": fields},
        headers=as_agent(sandbox),
        timeout=TIMEOUT,
    )


def listed(sandbox: SandboxServer) -> dict[int, dict[str, Any]]:
    body = sandbox.get_json("ticket_fields", sandbox.admin_email)
    return {field["id"]: field for field in body["ticket_fields"]}


def test_the_fields_an_admin_requires_are_listed_as_required(required):
    fields = listed(required)

    assert {i for i, field in fields.items() if field["required"]} == {PRODUCT_AREA_ID, SEATS_ID}
    require(required)
    assert not any(field["required"] for field in listed(required).values())


def test_solving_with_required_fields_empty_is_refused_field_by_field(required):
    ticket = new_ticket(required)

    response = update(required, ticket["id"], status="solved")

    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "RecordInvalid"
    assert body["details"]["base"] == [
        {
            "description": "Product area: is required when solving a ticket",
            "error": None,
            "ticket_field_id": PRODUCT_AREA_ID,
            "ticket_field_type": "FieldTagger",
        },
        {
            "description": "Seats affected: is required when solving a ticket",
            "error": None,
            "ticket_field_id": SEATS_ID,
            "ticket_field_type": "FieldInteger",
        },
    ]
    after = required.get_json(f"tickets/{ticket['id']}", required.admin_email)["ticket"]
    assert after["status"] == ticket["status"]  # nothing of the update was applied


def test_values_given_in_the_same_update_let_the_ticket_be_solved(required):
    ticket = new_ticket(required)

    response = update(
        required,
        ticket["id"],
        status="solved",
        custom_fields=[{"id": PRODUCT_AREA_ID, "value": "billing"}, {"id": SEATS_ID, "value": "3"}],
    )

    assert response.status_code == 200, response.text
    assert response.json()["ticket"]["status"] == "solved"


def test_other_statuses_and_comments_on_a_solved_ticket_need_no_value(required):
    ticket = new_ticket(required)

    assert update(required, ticket["id"], status="pending").status_code == 200
    require(required)
    assert update(required, ticket["id"], status="solved").status_code == 200
    require(required, PRODUCT_AREA_ID)
    # Solved before the field became required: it still takes a comment.
    response = update(required, ticket["id"], comment={"body": "One more thing.", "public": False})
    assert response.status_code == 200, response.text


def test_a_value_set_before_counts(required):
    ticket = new_ticket(
        required,
        custom_fields=[{"id": PRODUCT_AREA_ID, "value": "sso"}, {"id": SEATS_ID, "value": "0"}],
    )

    assert update(required, ticket["id"], status="solved").status_code == 200


def test_the_control_refuses_what_is_not_a_field(sandbox):
    for body in ({"ids": [1]}, {"ids": "all"}, {"ids": [True]}, {}):
        response = sandbox.control("POST", "ticket_fields/required", json=body)
        assert response.status_code == 400, body
        assert "field ids" in response.json()["description"]


def test_a_reset_puts_the_seed_back(sandbox):
    require(sandbox, PRODUCT_AREA_ID)
    sandbox.reset()

    assert not any(field["required"] for field in listed(sandbox).values())


@pytest.mark.slow
def test_the_simulator_fills_the_required_drop_down_before_solving(required):
    """The simulation solves tickets as an agent would: choosing a product area first."""
    require(required, PRODUCT_AREA_ID)
    lines = run_simulation(required, "--duration", "5", "--rate", "1200", "--seed", "2")

    solved = [int(n) for n in re.findall(r"set status solved on #(\d+) ", "\n".join(lines))]
    assert solved, "the simulation solved nothing"
    assert not [line for line in lines if "skipped" in line]
    for ticket_id in solved:
        ticket = required.get_json(f"tickets/{ticket_id}", required.admin_email)["ticket"]
        area = next(e["value"] for e in ticket["custom_fields"] if e["id"] == PRODUCT_AREA_ID)
        assert area in {"billing", "mobile", "api", "sso"}
