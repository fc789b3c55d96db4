"""The create form's custom fields and Zendesk's refusals next to the fields, over real HTTP to
the sandbox: values land on the ticket, a bad value comes back next to its field with
everything typed kept, oversized values are refused before Zendesk is asked.
"""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import pytest
from django.core.cache import cache

from tests.inbox.conftest import api_calls
from tests.inbox.test_ticket_new import (
    CREATE,
    form_token,
    landed_on,
    ticket_form,
    tickets_with_subject,
    token_in,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def zendesk_now(inbox_sandbox, settings):
    """The sandbox as Zendesk, quick retries."""
    settings.ZENDESK_RETRY_BACKOFF = 0.01
    return inbox_sandbox


def fields_by_type(sandbox) -> dict[str, dict[str, Any]]:
    listed = sandbox.get_json("ticket_fields", sandbox.admin_email)["ticket_fields"]
    return {field["type"]: field for field in listed}


def field_values(ticket: dict[str, Any]) -> dict[int, Any]:
    return {entry["id"]: entry["value"] for entry in ticket["custom_fields"]}


def test_the_form_shows_the_accounts_custom_fields_with_their_labels(zendesk_now, agent_client):
    kinds = fields_by_type(zendesk_now)

    page = unescape(agent_client.get("/tickets/new").content.decode())

    for field in kinds.values():
        assert field["title"] in page
    assert f'<label for="field-cf_{kinds["text"]["id"]}">Order number' in page
    assert f'<input type="date" id="field-cf_{kinds["date"]["id"]}"' in page
    assert f'<select id="field-cf_{kinds["tagger"]["id"]}"' in page
    assert f'<textarea id="field-cf_{kinds["textarea"]["id"]}"' in page
    option = kinds["multiselect"]["custom_field_options"][0]
    assert f'name="cf_{kinds["multiselect"]["id"]}" value="{option["value"]}"' in page


def test_a_ticket_created_with_custom_fields_has_them(zendesk_now, agent_client):
    sandbox = zendesk_now
    kinds = fields_by_type(sandbox)
    platforms = [o["value"] for o in kinds["multiselect"]["custom_field_options"][:2]]
    area = kinds["tagger"]["custom_field_options"][2]["value"]
    form: dict[str, Any] = ticket_form(sandbox, form_token(agent_client))
    form.update(
        {
            f"cf_{kinds['text']['id']}": "ORD-77",
            f"cf_{kinds['textarea']['id']}": "Opened the invoice.\nIt was blank.",
            f"cf_{kinds['integer']['id']}": "3",
            f"cf_{kinds['decimal']['id']}": "12.50",
            f"cf_{kinds['checkbox']['id']}": "1",
            f"cf_{kinds['date']['id']}": "2026-12-24",
            f"cf_{kinds['tagger']['id']}": area,
            f"cf_{kinds['multiselect']['id']}": platforms,
            f"cf_{kinds['regexp']['id']}": "QX-2048",
        }
    )

    ticket_id = landed_on(agent_client.post("/tickets/new", form))

    (made,) = tickets_with_subject(sandbox, form["subject"])
    assert made["id"] == ticket_id
    assert {kind: field_values(made)[field["id"]] for kind, field in kinds.items()} == {
        "text": "ORD-77",
        "textarea": "Opened the invoice.\nIt was blank.",
        "integer": "3",
        "decimal": "12.50",
        "checkbox": True,
        "date": "2026-12-24",
        "tagger": area,
        "multiselect": platforms,
        "regexp": "QX-2048",
    }
    # The ticket's page shows them, labelled (its values come back from Zendesk).
    page = unescape(agent_client.get(f"/tickets/{ticket_id}").content.decode())
    assert "<dt>Order number</dt><dd>ORD-77</dd>" in page
    assert "<dt>Seats affected</dt><dd>3</dd>" in page


def test_a_value_zendesk_refuses_comes_back_next_to_its_field_with_everything_kept(
    zendesk_now, agent_client
):
    sandbox = zendesk_now
    kinds = fields_by_type(sandbox)
    seats, order = kinds["integer"], kinds["text"]
    form: dict[str, Any] = ticket_form(sandbox, form_token(agent_client))
    form.update({f"cf_{seats['id']}": "twelve", f"cf_{order['id']}": "ORD-9"})

    refused = agent_client.post("/tickets/new", form)

    assert refused.status_code == 422
    page = unescape(refused.content.decode())
    assert re.search(
        rf'id="cf_{seats["id"]}-error">Seats affected: must be a whole number</p>', page
    )
    assert f'href="#field-cf_{seats["id"]}">Seats affected</a>' in page
    assert f'name="cf_{seats["id"]}" value="twelve"' in page
    assert f'name="cf_{order["id"]}" value="ORD-9"' in page
    assert form["description"] in page
    assert tickets_with_subject(sandbox, form["subject"]) == []

    corrected = {**form, "form_token": token_in(refused), f"cf_{seats['id']}": "12"}
    ticket_id = landed_on(agent_client.post("/tickets/new", corrected))
    (made,) = tickets_with_subject(sandbox, form["subject"])
    assert made["id"] == ticket_id
    assert field_values(made)[seats["id"]] == "12"


def test_an_oversized_custom_value_is_a_400_before_zendesk(zendesk_now, agent_client):
    sandbox = zendesk_now
    order = fields_by_type(sandbox)["text"]
    form: dict[str, Any] = ticket_form(sandbox, form_token(agent_client))
    form[f"cf_{order['id']}"] = "9" * 1001
    sandbox.control("POST", "stats/reset")

    refused = agent_client.post("/tickets/new", form)

    assert refused.status_code == 400
    page = unescape(refused.content.decode())
    assert "Order number is too long: at most 1,000 characters (it has 1,001)" in page
    assert form["description"] in page
    assert api_calls(sandbox, CREATE) == 0


def test_custom_values_are_kept_in_the_draft(zendesk_now, agent_client):
    sandbox = zendesk_now
    kinds = fields_by_type(sandbox)
    token = form_token(agent_client)
    platform = kinds["multiselect"]["custom_field_options"][1]["value"]
    draft = {
        "form_token": token,
        "subject": "Half typed",
        f"cf_{kinds['text']['id']}": "ORD-5",
        f"cf_{kinds['multiselect']['id']}": [platform],
    }

    saved = agent_client.post("/tickets/new/draft", draft, headers={"HX-Request": "true"})

    assert saved.status_code == 200
    page = unescape(agent_client.get("/tickets/new").content.decode())
    assert f'name="cf_{kinds["text"]["id"]}" value="ORD-5"' in page
    assert f'name="cf_{kinds["multiselect"]["id"]}" value="{platform}" checked' in page


def test_an_end_user_as_assignee_is_refused_next_to_the_assignee_with_the_text_kept(
    zendesk_now, agent, agent_client
):
    sandbox = zendesk_now
    customer = sandbox.info["end_users"][2]
    group_id = sandbox.agent(id=agent.zendesk_user_id)["group_ids"][0]
    form = ticket_form(
        sandbox,
        form_token(agent_client),
        group_id=str(group_id),
        assignee_id=str(customer["id"]),
    )

    refused = agent_client.post("/tickets/new", form)

    assert refused.status_code == 422
    page = unescape(refused.content.decode())
    assert 'id="assignee_id-error">Assignee: is invalid</p>' in page
    assert 'aria-invalid="true" aria-describedby="assignee_id-error"' in page
    assert f'<option value="{customer["id"]}" selected>' in page
    assert form["description"] in page
    assert form["subject"] in page
    assert tickets_with_subject(sandbox, form["subject"]) == []


def test_values_for_fields_zendesk_cannot_list_are_kept_and_nothing_is_created(
    zendesk_now, agent_client
):
    sandbox = zendesk_now
    order = fields_by_type(sandbox)["text"]
    token = form_token(agent_client)
    cache.clear()
    sandbox.control(
        "POST", "faults", json={"outage": True, "path_prefix": "/api/v2/ticket_fields"}
    ).raise_for_status()
    try:
        form: dict[str, Any] = ticket_form(sandbox, token)
        form[f"cf_{order['id']}"] = "ORD-404"

        refused = agent_client.post("/tickets/new", form)
    finally:
        sandbox.control("POST", "faults", json={}).raise_for_status()

    assert refused.status_code == 503
    page = unescape(refused.content.decode())
    assert "Zendesk could not list the custom fields to check yours" in page
    assert f'<input type="hidden" name="cf_{order["id"]}" value="ORD-404">' in page
    assert form["description"] in page
    assert tickets_with_subject(sandbox, form["subject"]) == []
