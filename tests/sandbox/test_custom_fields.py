"""Custom field values over real HTTP, as Zendesk takes them: `custom_fields: [{id, value}]` on
create and update, checked against the account's ticket fields, kept, read back, audited.
https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/#setting-custom-field-values
"""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.sandboxserver import SandboxServer

TIMEOUT = 10


def fields_by_type(sandbox: SandboxServer) -> dict[str, dict[str, Any]]:
    listed = sandbox.get_json("ticket_fields", sandbox.admin_email)["ticket_fields"]
    return {field["type"]: field for field in listed}


def values(ticket: dict[str, Any]) -> dict[int, Any]:
    return {entry["id"]: entry["value"] for entry in ticket["custom_fields"]}


def write(sandbox: SandboxServer, method: str, path: str, ticket: dict[str, Any]):
    return requests.request(
        method,
        f"{sandbox.base_url}{path}",
        json={"ticket": ticket},
        headers=sandbox.basic_auth(sandbox.agent(role="agent", restricted=False)["email"]),
        timeout=TIMEOUT,
    )


def create(sandbox: SandboxServer, custom_fields: Any) -> requests.Response:
    return write(
        sandbox,
        "POST",
        "/api/v2/tickets",
        {"subject": "Fields", "comment": {"body": "With values."}, "custom_fields": custom_fields},
    )


def test_the_account_has_a_field_of_each_kind_agents_fill_in(sandbox):
    kinds = fields_by_type(sandbox)

    assert set(kinds) == {
        "tagger",
        "text",
        "textarea",
        "integer",
        "decimal",
        "checkbox",
        "date",
        "multiselect",
        "regexp",
    }
    assert kinds["regexp"]["regexp_for_validation"]
    assert kinds["checkbox"]["tag"]
    assert kinds["multiselect"]["custom_field_options"]


def test_values_set_on_create_are_kept_read_back_and_audited(sandbox):
    kinds = fields_by_type(sandbox)
    wanted = {
        kinds["text"]["id"]: "ORD-1",
        kinds["textarea"]["id"]: "Opened the app.\nIt crashed.",
        kinds["integer"]["id"]: "12",
        kinds["decimal"]["id"]: "19.99",
        kinds["checkbox"]["id"]: True,
        kinds["date"]["id"]: "2026-12-01",
        kinds["tagger"]["id"]: kinds["tagger"]["custom_field_options"][1]["value"],
        kinds["multiselect"]["id"]: [
            option["value"] for option in kinds["multiselect"]["custom_field_options"][:2]
        ],
        kinds["regexp"]["id"]: "AB-1234",
    }

    response = create(sandbox, [{"id": key, "value": value} for key, value in wanted.items()])

    assert response.status_code == 201, response.text
    created = response.json()
    assert {key: values(created["ticket"])[key] for key in wanted} == wanted
    read = sandbox.get_json(f"tickets/{created['ticket']['id']}", sandbox.admin_email)
    assert {key: values(read["ticket"])[key] for key in wanted} == wanted
    assert read["ticket"]["fields"] == read["ticket"]["custom_fields"]
    # Drop-downs, multi-selects and checkboxes are tags too, as in Zendesk.
    assert kinds["checkbox"]["tag"] in read["ticket"]["tags"]
    audited = {
        event["field_name"]: event["value"]
        for event in created["audit"]["events"]
        if event["type"] == "Create"
    }
    assert {int(name): value for name, value in audited.items() if name.isdigit()} == wanted


def test_an_update_changes_values_and_audits_each_change(sandbox):
    kinds = fields_by_type(sandbox)
    text, tagger = kinds["text"], kinds["tagger"]
    first, second = (option["value"] for option in tagger["custom_field_options"][:2])
    made = create(sandbox, [{"id": text["id"], "value": "A"}, {"id": tagger["id"], "value": first}])
    ticket_id = made.json()["ticket"]["id"]

    response = write(
        sandbox,
        "PUT",
        f"/api/v2/tickets/{ticket_id}",
        {
            "custom_fields": [
                {"id": text["id"], "value": "B"},
                {"id": tagger["id"], "value": second},
            ]
        },
    )

    assert response.status_code == 200, response.text
    assert values(response.json()["ticket"])[text["id"]] == "B"
    assert values(response.json()["ticket"])[tagger["id"]] == second
    assert first not in response.json()["ticket"]["tags"]
    changes = {
        event["field_name"]: (event["previous_value"], event["value"])
        for event in response.json()["audit"]["events"]
        if event["type"] == "Change"
    }
    assert changes[str(text["id"])] == ("A", "B")
    assert changes[str(tagger["id"])] == (first, second)


@pytest.mark.parametrize(
    ("kind", "value", "sentence"),
    [
        ("integer", "twelve", "must be a whole number"),
        ("decimal", "1,5", "must be a number"),
        ("date", "31/12/2026", "must be a date"),
        ("checkbox", "yes", "must be true or false"),
        ("tagger", "no-such-option", "is not one of its options"),
        ("multiselect", ["no-such-option"], "is not among its options"),
        ("regexp", "ab-12", "is invalid"),
    ],
)
def test_a_value_the_field_cannot_take_is_refused_with_its_title(sandbox, kind, value, sentence):
    field = fields_by_type(sandbox)[kind]

    response = create(sandbox, [{"id": field["id"], "value": value}])

    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "RecordInvalid"
    (detail,) = body["details"]["base"]
    assert detail["description"].startswith(f"{field['title']}: ")
    assert sentence in detail["description"]
    assert detail["error"] == "InvalidValue"


def test_an_unknown_field_id_is_refused_and_nothing_is_created(sandbox):
    before = sandbox.get_json("tickets/count", sandbox.admin_email)["count"]["value"]

    response = create(sandbox, [{"id": 999999, "value": "x"}])

    assert response.status_code == 422
    assert response.json()["details"]["base"] == [
        {"description": "Field 999999: is not a ticket field", "error": "InvalidValue"}
    ]
    after = sandbox.get_json("tickets/count", sandbox.admin_email)["count"]["value"]
    assert after == before


def test_custom_fields_that_are_not_a_list_of_objects_are_refused(sandbox):
    response = create(sandbox, {"id": 1, "value": "x"})

    assert response.status_code == 422
    assert "custom_fields" in response.json()["details"]
