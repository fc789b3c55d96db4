"""Custom fields on the ticket page's form, over real HTTP to the sandbox: each field shown with
the ticket's value, only the fields the agent changed sent (a cleared one as null), a field
required to solve said beside the field before Zendesk is asked, Zendesk's own 422 placed by
the field's title when the app's list of fields was older than the admin's change, drafts that
keep typed values, and bad input answered with a 400."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import pytest
from django.core.cache import cache

from benchmarks.team_pages import form_fields
from inbox import services
from inbox.models import TicketDraft
from inbox.views_create import CUSTOM
from sandbox.ticket_fields import (
    ESCALATED_ID,
    ORDER_NUMBER_ID,
    PLATFORMS_ID,
    PRODUCT_AREA_ID,
    SEATS_ID,
    TICKET_FIELDS,
)
from tests.inbox.test_ticket_views import colleague_changes, new_ticket, show

pytestmark = pytest.mark.django_db
AREA = f"{CUSTOM}{PRODUCT_AREA_ID}"
ORDER = f"{CUSTOM}{ORDER_NUMBER_ID}"
PLATFORMS = f"{CUSTOM}{PLATFORMS_ID}"
ESCALATED = f"{CUSTOM}{ESCALATED_ID}"
SEATS = f"{CUSTOM}{SEATS_ID}"


def form_of(client, ticket_id: int) -> tuple[str, dict[str, list[str]]]:
    """The page and its reply form as a browser would send it untouched."""
    response = client.get(f"/tickets/{ticket_id}")
    assert response.status_code == 200
    html = response.content.decode()
    return html, as_posted(html)


def as_posted(html: str) -> dict[str, list[str]]:
    """The reply form's fields as the test client posts them (a name, its values)."""
    sent: dict[str, list[str]] = {}
    for name, value in form_fields(html, "reply-form"):
        sent.setdefault(name, []).append(value)
    return sent


def values(sandbox, ticket_id: int, email: str) -> dict[int, Any]:
    return {e["id"]: e["value"] for e in show(sandbox, ticket_id, email)["custom_fields"]}


def require(sandbox, *ids: int) -> None:
    answer = sandbox.control("POST", "ticket_fields/required", json={"ids": list(ids)})
    assert answer.status_code == 200, answer.text
    cache.clear()  # the app's list of fields (cached for an hour) learns it at once


@pytest.fixture
def nothing_required(inbox_sandbox):
    yield
    inbox_sandbox.control("POST", "ticket_fields/required", json={"ids": []})


@pytest.fixture
def filled(inbox_sandbox, agent) -> int:
    return new_ticket(
        inbox_sandbox,
        agent.email,
        custom_fields=[
            {"id": ORDER_NUMBER_ID, "value": "ORD-7"},
            {"id": PRODUCT_AREA_ID, "value": "api"},
            {"id": PLATFORMS_ID, "value": ["platform_web", "platform_ios"]},
            {"id": ESCALATED_ID, "value": True},
        ],
    )


@pytest.fixture
def sent_updates(monkeypatch) -> list[dict[str, Any]]:
    """Every update the view hands the service, passed on unchanged."""
    calls: list[dict[str, Any]] = []
    real = services.ticket_update

    def spy(**kwargs):
        calls.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(services, "ticket_update", spy)
    return calls


# -- showing ------------------------------------------------------------------------------------
def test_the_form_shows_every_field_with_the_tickets_value(agent_client, filled):
    html, form = form_of(agent_client, filled)

    assert sorted(int(i) for i in form["custom_shown"]) == sorted(f.id for f in TICKET_FIELDS)
    assert form[ORDER] == ["ORD-7"]
    assert form[AREA] == ["api"]
    assert sorted(form[PLATFORMS]) == ["platform_ios", "platform_web"]
    assert form[ESCALATED] == ["1"]
    assert form[SEATS] == [""]
    assert 'id="ticket-fields"' in html
    assert "required to solve" not in html


# -- sending ------------------------------------------------------------------------------------
def test_only_the_field_the_agent_changed_is_sent(
    agent_client, agent, inbox_sandbox, filled, sent_updates
):
    _, form = form_of(agent_client, filled)
    form[ORDER] = ["ORD-8"]
    form["body"] = ["Updated the order number."]

    response = agent_client.post(f"/tickets/{filled}/update", form)

    assert response.status_code == 303
    assert sent_updates[0]["custom_fields"] == [{"id": ORDER_NUMBER_ID, "value": "ORD-8"}]
    now = values(inbox_sandbox, filled, agent.email)
    assert now[ORDER_NUMBER_ID] == "ORD-8"
    assert now[PRODUCT_AREA_ID] == "api"
    assert sorted(now[PLATFORMS_ID]) == ["platform_ios", "platform_web"]


def test_a_reply_without_field_changes_sends_no_fields(agent_client, filled, sent_updates):
    _, form = form_of(agent_client, filled)
    form["body"] = ["Just a reply."]
    form[ORDER] = ["  ORD-7 "]  # the same value, however typed
    form[PLATFORMS] = ["platform_ios", "platform_web"]  # in another order

    assert agent_client.post(f"/tickets/{filled}/update", form).status_code == 303
    assert sent_updates[0]["custom_fields"] == []


def test_cleared_fields_are_sent_as_cleared(agent_client, agent, inbox_sandbox, filled):
    _, form = form_of(agent_client, filled)
    form[ORDER] = [""]
    form[AREA] = [""]
    del form[PLATFORMS]  # nothing ticked
    del form[ESCALATED]  # unticked

    assert agent_client.post(f"/tickets/{filled}/update", form).status_code == 303
    now = values(inbox_sandbox, filled, agent.email)
    assert (now[ORDER_NUMBER_ID], now[PRODUCT_AREA_ID], now[PLATFORMS_ID]) == (None, None, None)
    assert now[ESCALATED_ID] is False


def test_a_field_that_is_not_on_the_form_is_left_as_it_is(
    agent_client, agent, inbox_sandbox, filled
):
    _, form = form_of(agent_client, filled)
    form["custom_shown"] = [str(ORDER_NUMBER_ID)]
    del form[PLATFORMS], form[ESCALATED]
    form[ORDER] = ["ORD-9"]

    assert agent_client.post(f"/tickets/{filled}/update", form).status_code == 303
    now = values(inbox_sandbox, filled, agent.email)
    assert now[ORDER_NUMBER_ID] == "ORD-9"
    assert now[ESCALATED_ID] is True
    assert sorted(now[PLATFORMS_ID]) == ["platform_ios", "platform_web"]


# -- required to solve --------------------------------------------------------------------------
def test_solving_without_a_required_field_is_said_beside_it_and_nothing_is_sent(
    agent_client, agent, inbox_sandbox, ticket_id, nothing_required
):
    require(inbox_sandbox, PRODUCT_AREA_ID)
    html, form = form_of(agent_client, ticket_id)
    assert "(1 required to solve)" in html
    inbox_sandbox.control("POST", "stats/reset")
    form["body"] = ["All done, closing this."]
    form["submit_as"] = ["solved"]

    response = agent_client.post(f"/tickets/{ticket_id}/update", form)

    assert response.status_code == 400
    page = unescape(response.content.decode())
    assert re.search(rf'id="{AREA}-error">Product area is required to solve the ticket', page)
    assert '<details class="ticket-fields" id="ticket-fields" open>' in page
    stats = inbox_sandbox.control("GET", "stats").json()["by_endpoint"]
    assert "PUT /api/v2/tickets/{id}" not in stats
    assert show(inbox_sandbox, ticket_id, agent.email)["status"] != "solved"
    draft = TicketDraft.objects.get(agent=agent, ticket_id=ticket_id)
    assert draft.body == "All done, closing this."

    form[AREA] = ["billing"]
    again = agent_client.post(f"/tickets/{ticket_id}/update", form)

    assert again.status_code == 303
    ticket = show(inbox_sandbox, ticket_id, agent.email)
    assert ticket["status"] == "solved"
    assert "billing" in ticket["tags"]


def test_zendesks_refusal_is_placed_beside_the_field_when_the_app_did_not_know(
    agent_client, agent, inbox_sandbox, ticket_id, nothing_required
):
    _, form = form_of(agent_client, ticket_id)  # the list of fields is cached: none required
    inbox_sandbox.control("POST", "ticket_fields/required", json={"ids": [SEATS_ID]})
    form["body"] = ["Solving."]
    form["submit_as"] = ["solved"]

    response = agent_client.post(f"/tickets/{ticket_id}/update", form)

    assert response.status_code == 422
    page = unescape(response.content.decode())
    assert re.search(
        rf'id="{SEATS}-error">Zendesk refused this: Seats affected: is required when solving', page
    )
    assert TicketDraft.objects.get(agent=agent, ticket_id=ticket_id).body == "Solving."
    assert show(inbox_sandbox, ticket_id, agent.email)["status"] != "solved"


def test_other_statuses_need_no_required_field(
    agent_client, agent, inbox_sandbox, ticket_id, nothing_required
):
    require(inbox_sandbox, PRODUCT_AREA_ID)
    _, form = form_of(agent_client, ticket_id)
    form["submit_as"] = ["pending"]
    form["body"] = ["Waiting on you."]

    assert agent_client.post(f"/tickets/{ticket_id}/update", form).status_code == 303
    assert show(inbox_sandbox, ticket_id, agent.email)["status"] == "pending"


def test_after_a_collision_the_form_shows_the_colleagues_value_not_the_old_one(
    agent_client, agent, admin, inbox_sandbox, filled
):
    _, form = form_of(agent_client, filled)
    form[ORDER] = ["ORD-MINE"]
    form["body"] = ["My reply."]
    colleague_changes(
        inbox_sandbox, admin, filled, custom_fields=[{"id": PRODUCT_AREA_ID, "value": "sso"}]
    )

    collided = agent_client.post(f"/tickets/{filled}/update", form)

    assert collided.status_code == 409
    again = as_posted(collided.content.decode())
    assert again[AREA] == ["sso"]  # the colleague's, not the one the agent first saw
    assert again[ORDER] == ["ORD-MINE"]  # the agent's own change, kept
    assert agent_client.post(f"/tickets/{filled}/update", again).status_code == 303
    now = values(inbox_sandbox, filled, agent.email)
    assert (now[PRODUCT_AREA_ID], now[ORDER_NUMBER_ID]) == ("sso", "ORD-MINE")


# -- drafts and failures ------------------------------------------------------------------------
def test_a_draft_keeps_the_typed_field_values(agent_client, filled):
    _, form = form_of(agent_client, filled)
    form[ORDER] = ["ORD-DRAFT"]
    del form[ESCALATED]

    assert agent_client.post(f"/tickets/{filled}/draft", form).status_code == 204
    _, shown = form_of(agent_client, filled)

    assert shown[ORDER] == ["ORD-DRAFT"]
    assert ESCALATED not in shown


def test_a_change_is_not_sent_while_the_fields_cannot_be_read(
    agent_client, agent, inbox_sandbox, filled, no_faults
):
    _, form = form_of(agent_client, filled)
    cache.clear()  # no saved list of fields to fall back on
    outage = {"outage": True, "path_prefix": "/api/v2/ticket_fields"}
    assert inbox_sandbox.control("POST", "faults", json=outage).status_code == 200
    form[ORDER] = ["ORD-10"]
    form["body"] = ["With a new order number."]

    refused = agent_client.post(f"/tickets/{filled}/update", form)

    assert refused.status_code == 400
    assert "Nothing was sent; your text and the fields you changed are kept." in unescape(
        refused.content.decode()
    )
    assert values(inbox_sandbox, filled, agent.email)[ORDER_NUMBER_ID] == "ORD-7"

    form[ORDER] = ["ORD-7"]
    assert agent_client.post(f"/tickets/{filled}/update", form).status_code == 303


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"custom_shown": ["not-an-id"]}, "list of custom fields"),
        ({AREA: ["not-an-option"]}, "choose from the list"),
        ({PLATFORMS: ["platform_web", "platform_mars"]}, "choose from the list"),
        ({ORDER: ["a", "b"]}, "more than once"),
    ],
)
def test_bad_field_input_is_a_400_that_says_what_was_wrong(agent_client, filled, change, says):
    _, form = form_of(agent_client, filled)
    form.update(change)

    response = agent_client.post(f"/tickets/{filled}/update", form)

    assert response.status_code == 400
    assert says in unescape(response.content.decode())
