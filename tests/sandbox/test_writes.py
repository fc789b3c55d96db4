"""Ticket writes over real HTTP: audits, safe updates, validation, and the activities they cause.

Each test creates the tickets it writes to, so tests do not depend on one another or on
the seed's tickets.
"""

from __future__ import annotations

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from tests.sandboxserver import SandboxServer

TIMEOUT = 10
RECORDED_CLOSED_TICKET_422 = {
    "error": "RecordInvalid",
    "description": "Record validation errors",
    "details": {"status": [{"description": "Status: closed prevents ticket update"}]},
}


# -- helpers -------------------------------------------------------------------------------


def post_ticket(
    sandbox: SandboxServer, email: str, ticket: Any, headers: dict | None = None
) -> requests.Response:
    return requests.post(
        f"{sandbox.base_url}/api/v2/tickets.json",
        json={"ticket": ticket},
        headers={**sandbox.basic_auth(email), **(headers or {})},
        timeout=TIMEOUT,
    )


def put_ticket(sandbox: SandboxServer, email: str, ticket_id: Any, ticket: Any):
    return requests.put(
        f"{sandbox.base_url}/api/v2/tickets/{ticket_id}.json",
        json={"ticket": ticket},
        headers=sandbox.basic_auth(email),
        timeout=TIMEOUT,
    )


def send_raw(sandbox: SandboxServer, method: str, path: str, email: str, data: bytes | str):
    return requests.request(
        method,
        f"{sandbox.base_url}{path}",
        data=data,
        headers={**sandbox.basic_auth(email), "Content-Type": "application/json"},
        timeout=TIMEOUT,
    )


def activities_on(sandbox: SandboxServer, email: str, ticket_id: int) -> list[dict]:
    """The agent's activities about one ticket (newest first)."""
    response = sandbox.get("/api/v2/activities.json?page[size]=100", as_email=email)
    assert response.status_code == 200, response.text
    return [a for a in response.json()["activities"] if a["target"]["ticket"]["id"] == ticket_id]


def activity_count(sandbox: SandboxServer, email: str) -> int:
    return sandbox.get("/api/v2/activities/count.json", as_email=email).json()["count"]["value"]


def new_ticket(sandbox: SandboxServer, email: str, **fields: Any) -> dict:
    body = {"subject": "Printer on fire", "comment": {"body": "It is on fire."}, **fields}
    response = post_ticket(sandbox, email, body)
    assert response.status_code == 201, response.text
    return response.json()["ticket"]


@pytest.fixture
def team(sandbox: SandboxServer) -> dict[str, dict]:
    """Two unrestricted agents, the admin, the restricted agent and an end user."""
    agents = sandbox.agents(role="agent", restricted=False, suspended=False)
    return {
        "ana": agents[0],
        "ben": agents[1],
        "admin": sandbox.agent(role="admin"),
        "restricted": sandbox.agent(restricted=True),
        "customer": sandbox.info["end_users"][0],
        "suspended": sandbox.agent(suspended=True),
    }


# -- create --------------------------------------------------------------------------------


def test_it_creates_a_ticket_with_its_audit_and_location(sandbox, team):
    response = post_ticket(
        sandbox,
        team["ana"]["email"],
        {
            "subject": "Cannot export invoices",
            "comment": {"body": "The export button does nothing."},
            "requester_id": team["customer"]["id"],
            "priority": "high",
            "type": "problem",
            "tags": ["billing", "export"],
            "external_id": "crm-create-1",
        },
    )

    assert response.status_code == 201
    body = response.json()
    ticket = body["ticket"]
    assert response.headers["Location"].endswith(f"/api/v2/tickets/{ticket['id']}.json")
    assert ticket["subject"] == "Cannot export invoices"
    assert ticket["description"] == "The export button does nothing."
    assert ticket["status"] == "new"
    assert ticket["requester_id"] == team["customer"]["id"]
    assert ticket["submitter_id"] == team["ana"]["id"]
    assert ticket["priority"] == "high"
    assert ticket["tags"] == ["billing", "export"]
    audit = body["audit"]
    assert audit["ticket_id"] == ticket["id"]
    assert audit["author_id"] == team["ana"]["id"]
    comment_event = audit["events"][0]
    assert comment_event["type"] == "Comment"
    assert comment_event["body"] == "The export button does nothing."
    assert comment_event["public"] is True
    created = {e["field_name"]: e["value"] for e in audit["events"] if e["type"] == "Create"}
    assert created["subject"] == "Cannot export invoices"
    assert created["status"] == "new"
    assert created["requester_id"] == str(team["customer"]["id"])
    shown = sandbox.get(f"/api/v2/tickets/{ticket['id']}.json", as_email=team["ana"]["email"])
    assert shown.json()["ticket"]["subject"] == "Cannot export invoices"
    comments = sandbox.get(
        f"/api/v2/tickets/{ticket['id']}/comments.json", as_email=team["ana"]["email"]
    )
    assert [c["body"] for c in comments.json()["comments"]] == ["The export button does nothing."]


def test_it_creates_the_requester_from_a_name_and_email(sandbox, team):
    email = f"new-{uuid.uuid4().hex[:8]}@customer.example.com"

    ticket = new_ticket(
        sandbox, team["ana"]["email"], requester={"name": "Nova Customer", "email": email}
    )

    user = sandbox.get(
        f"/api/v2/users/{ticket['requester_id']}.json", as_email=team["ana"]["email"]
    )
    assert user.json()["user"]["email"] == email
    assert user.json()["user"]["role"] == "end-user"


def test_it_derives_a_missing_subject_from_the_description(sandbox, team):
    response = post_ticket(
        sandbox, team["ana"]["email"], {"comment": {"body": "Login loops forever\nDetails..."}}
    )

    assert response.status_code == 201
    assert response.json()["ticket"]["subject"] == "Login loops forever"


def test_creating_without_a_comment_is_record_invalid(sandbox, team):
    response = post_ticket(sandbox, team["ana"]["email"], {"subject": "No words"})

    assert response.status_code == 422
    assert response.json()["error"] == "RecordInvalid"
    assert "description" in response.json()["details"]


def test_assigning_at_creation_tells_the_assignee_and_nobody_else(sandbox, team):
    ana, ben = team["ana"], team["ben"]
    ben_before = activity_count(sandbox, ben["email"])

    ticket = new_ticket(sandbox, ana["email"], assignee_id=ben["id"])

    assert ticket["status"] == "open"
    [activity] = activities_on(sandbox, ben["email"], ticket["id"])
    assert activity["verb"] == "tickets.assignment"
    assert activity["title"] == f"{ana['name']} assigned ticket #{ticket['id']} to you."
    assert activity["actor_id"] == ana["id"]
    assert activity["object"] == {"ticket": {"id": ticket["id"], "subject": "Printer on fire"}}
    assert activity_count(sandbox, ben["email"]) == ben_before + 1
    assert activities_on(sandbox, ana["email"], ticket["id"]) == []


def test_assigning_to_oneself_makes_no_activity(sandbox, team):
    ana = team["ana"]

    ticket = new_ticket(sandbox, ana["email"], assignee_id=ana["id"])

    assert ticket["assignee_id"] == ana["id"]
    assert activities_on(sandbox, ana["email"], ticket["id"]) == []


def test_end_users_cannot_use_the_tickets_api_to_create(sandbox, team):
    response = post_ticket(sandbox, team["customer"]["email"], {"comment": {"body": "Hi"}})

    assert response.status_code == 403


# -- idempotent create ---------------------------------------------------------------------


def test_a_repeated_idempotency_key_returns_the_first_ticket(sandbox, team):
    key = {"Idempotency-Key": uuid.uuid4().hex}
    external_id = f"idem-{uuid.uuid4().hex[:8]}"
    body = {"subject": "Once only", "comment": {"body": "Retry me"}, "external_id": external_id}

    first = post_ticket(sandbox, team["ana"]["email"], body, headers=key)
    second = post_ticket(sandbox, team["ana"]["email"], body, headers=key)

    assert first.status_code == second.status_code == 201
    assert first.headers["x-idempotency-lookup"] == "miss"
    assert second.headers["x-idempotency-lookup"] == "hit"
    assert second.json()["ticket"]["id"] == first.json()["ticket"]["id"]
    assert second.headers["Location"] == first.headers["Location"]
    found = sandbox.get(
        f"/api/v2/tickets.json?external_id={external_id}", as_email=team["ana"]["email"]
    )
    assert len(found.json()["tickets"]) == 1


def test_the_same_idempotency_key_with_another_body_is_refused(sandbox, team):
    key = {"Idempotency-Key": uuid.uuid4().hex}
    post_ticket(sandbox, team["ana"]["email"], {"comment": {"body": "First"}}, headers=key)

    response = post_ticket(
        sandbox, team["ana"]["email"], {"comment": {"body": "Other"}}, headers=key
    )

    assert response.status_code == 400
    assert response.json()["error"] == "IdempotentRequestError"


def test_idempotency_keys_belong_to_one_user(sandbox, team):
    key = {"Idempotency-Key": uuid.uuid4().hex}
    body = {"comment": {"body": "Same words"}}

    ana = post_ticket(sandbox, team["ana"]["email"], body, headers=key)
    ben = post_ticket(sandbox, team["ben"]["email"], body, headers=key)

    assert ben.headers["x-idempotency-lookup"] == "miss"
    assert ben.json()["ticket"]["id"] != ana.json()["ticket"]["id"]


# -- update --------------------------------------------------------------------------------


def test_a_public_reply_tells_the_assignee_with_zendesks_title(sandbox, team):
    ana, ben = team["ana"], team["ben"]
    ticket = new_ticket(sandbox, ana["email"], assignee_id=ben["id"])

    response = put_ticket(
        sandbox, ana["email"], ticket["id"], {"comment": {"body": "update 2", "public": True}}
    )

    assert response.status_code == 200
    event = response.json()["audit"]["events"][0]
    assert event["type"] == "Comment"
    assert event["body"] == "update 2"
    activities = activities_on(sandbox, ben["email"], ticket["id"])
    assert [a["verb"] for a in activities] == ["tickets.comment", "tickets.assignment"]
    assert activities[0]["title"] == f"{ana['name']} commented on ticket #{ticket['id']}: update 2."
    assert activities[0]["object"] == {"comment": {"value": "update 2", "public": True}}


def test_a_private_note_is_private_and_still_tells_the_assignee(sandbox, team):
    ana, ben = team["ana"], team["ben"]
    ticket = new_ticket(sandbox, ana["email"], assignee_id=ben["id"])

    put_ticket(
        sandbox, ana["email"], ticket["id"], {"comment": {"body": "Internal: VIP", "public": False}}
    )

    comments = sandbox.get(f"/api/v2/tickets/{ticket['id']}/comments.json", as_email=ana["email"])
    assert comments.json()["comments"][-1]["public"] is False
    latest = activities_on(sandbox, ben["email"], ticket["id"])[0]
    assert latest["object"]["comment"]["public"] is False


def test_the_assignee_replying_to_their_own_ticket_makes_no_activity(sandbox, team):
    ana, ben = team["ana"], team["ben"]
    ticket = new_ticket(sandbox, ana["email"], assignee_id=ben["id"])

    put_ticket(sandbox, ben["email"], ticket["id"], {"comment": {"body": "On it"}})

    assert [a["verb"] for a in activities_on(sandbox, ben["email"], ticket["id"])] == [
        "tickets.assignment"
    ]


def test_raising_the_priority_tells_the_assignee_but_lowering_does_not(sandbox, team):
    ana, ben = team["ana"], team["ben"]
    ticket = new_ticket(sandbox, ana["email"], assignee_id=ben["id"], priority="normal")

    raised = put_ticket(sandbox, ana["email"], ticket["id"], {"priority": "urgent"})
    put_ticket(sandbox, ana["email"], ticket["id"], {"priority": "low"})

    assert raised.status_code == 200
    change = raised.json()["audit"]["events"][0]
    assert change == {
        "id": change["id"],
        "type": "Change",
        "value": "urgent",
        "field_name": "priority",
        "previous_value": "normal",
    }
    verbs = [a["verb"] for a in activities_on(sandbox, ben["email"], ticket["id"])]
    assert verbs == ["tickets.priority_increase", "tickets.assignment"]
    title = activities_on(sandbox, ben["email"], ticket["id"])[0]["title"]
    assert title == f"{ana['name']} increased the priority of ticket #{ticket['id']} to urgent."


def test_reassigning_tells_the_new_assignee_only(sandbox, team):
    ana, ben, admin = team["ana"], team["ben"], team["admin"]
    ticket = new_ticket(sandbox, ana["email"], assignee_id=ben["id"])

    response = put_ticket(sandbox, admin["email"], ticket["id"], {"assignee_id": ana["id"]})

    assert response.status_code == 200
    assert response.json()["ticket"]["assignee_id"] == ana["id"]
    [activity] = activities_on(sandbox, ana["email"], ticket["id"])
    assert activity["title"] == f"{admin['name']} assigned ticket #{ticket['id']} to you."
    assert len(activities_on(sandbox, ben["email"], ticket["id"])) == 1


def test_status_changes_are_audited_and_move_updated_at_every_time(sandbox, team):
    ana = team["ana"]
    ticket = new_ticket(sandbox, ana["email"], assignee_id=ana["id"])
    stamps = [ticket["updated_at"]]

    for status in ("pending", "hold", "solved"):
        response = put_ticket(sandbox, ana["email"], ticket["id"], {"status": status})
        assert response.status_code == 200
        stamps.append(response.json()["ticket"]["updated_at"])

    assert len(set(stamps)) == 4
    assert stamps == sorted(stamps)
    last = response.json()["audit"]["events"][0]
    assert (last["field_name"], last["previous_value"], last["value"]) == (
        "status",
        "hold",
        "solved",
    )


def test_tags_and_type_can_be_replaced(sandbox, team):
    ana = team["ana"]
    ticket = new_ticket(sandbox, ana["email"], tags=["one"])

    response = put_ticket(
        sandbox, ana["email"], ticket["id"], {"tags": ["two", "three"], "type": "task"}
    )

    assert response.json()["ticket"]["tags"] == ["two", "three"]
    assert response.json()["ticket"]["type"] == "task"


# -- safe update, closed tickets, validation -----------------------------------------------


def test_a_safe_update_with_the_current_stamp_succeeds(sandbox, team):
    ana = team["ana"]
    ticket = new_ticket(sandbox, ana["email"])

    response = put_ticket(
        sandbox,
        ana["email"],
        ticket["id"],
        {"status": "open", "safe_update": True, "updated_stamp": ticket["updated_at"]},
    )

    assert response.status_code == 200


def test_a_safe_update_with_a_stale_stamp_is_a_409_even_within_the_same_second(sandbox, team):
    ana, ben = team["ana"], team["ben"]
    ticket = new_ticket(sandbox, ana["email"])
    put_ticket(sandbox, ben["email"], ticket["id"], {"priority": "high"})

    response = put_ticket(
        sandbox,
        ana["email"],
        ticket["id"],
        {"comment": {"body": "Mine"}, "safe_update": True, "updated_stamp": ticket["updated_at"]},
    )

    assert response.status_code == 409
    assert response.json() == {"error": "DatabaseConflict", "description": "Database collision"}
    comments = sandbox.get(f"/api/v2/tickets/{ticket['id']}/comments.json", as_email=ana["email"])
    assert len(comments.json()["comments"]) == 1


def test_commenting_on_a_closed_ticket_is_the_recorded_422(sandbox, team):
    ana = team["ana"]
    ticket = new_ticket(sandbox, ana["email"], assignee_id=ana["id"])
    assert put_ticket(sandbox, ana["email"], ticket["id"], {"status": "closed"}).status_code == 200

    response = put_ticket(sandbox, ana["email"], ticket["id"], {"comment": {"body": "Late"}})

    assert response.status_code == 422
    assert response.json() == RECORDED_CLOSED_TICKET_422


@pytest.mark.parametrize(
    ("fields", "detail"),
    [
        ({"status": "done"}, "status"),
        ({"priority": "critical"}, "priority"),
        ({"type": "bug"}, "type"),
        ({"priority": 5}, "priority"),
        ({"assignee_id": 1}, "assignee"),
        ({"comment": {"body": "   "}}, "comment"),
        ({"comment": {"body": "x", "public": "yes"}}, "comment"),
        ({"group_id": 42}, "group"),
        ({"tags": "fine"}, None),
    ],
)
def test_invalid_values_are_record_invalid_with_details(sandbox, team, fields, detail):
    ticket = new_ticket(sandbox, team["ana"]["email"])

    response = put_ticket(sandbox, team["ana"]["email"], ticket["id"], fields)

    if detail is None:
        assert response.status_code == 200
    else:
        assert response.status_code == 422
        assert response.json()["error"] == "RecordInvalid"
        assert detail in response.json()["details"]


def test_an_end_user_cannot_be_assigned(sandbox, team):
    ticket = new_ticket(sandbox, team["ana"]["email"])

    response = put_ticket(
        sandbox, team["ana"]["email"], ticket["id"], {"assignee_id": team["customer"]["id"]}
    )

    # As a real account answers (https://github.com/facetoe/zenpy/issues/628).
    assert response.status_code == 422
    assert response.json() == {
        "error": "RecordInvalid",
        "description": "Record validation errors",
        "details": {"assignee": [{"description": "Assignee: is invalid", "error": "InvalidValue"}]},
    }


def test_an_end_user_cannot_be_made_the_assignee_of_a_new_ticket(sandbox, team):
    response = post_ticket(
        sandbox,
        team["ana"]["email"],
        {
            "subject": "Assigned to a customer",
            "comment": {"body": "Should not be allowed."},
            "assignee_id": team["customer"]["id"],
        },
    )

    assert response.status_code == 422
    assert response.json()["details"] == {
        "assignee": [{"description": "Assignee: is invalid", "error": "InvalidValue"}]
    }


@pytest.mark.parametrize("ticket_id", [999999, "abc"])
def test_updating_an_unknown_ticket_is_404(sandbox, team, ticket_id):
    response = put_ticket(sandbox, team["ana"]["email"], ticket_id, {"status": "open"})

    assert response.status_code == 404
    assert response.json() == {"error": "RecordNotFound", "description": "Not found"}


def test_a_restricted_agent_cannot_update_a_ticket_outside_their_groups(sandbox, team):
    restricted = team["restricted"]
    all_groups = {g for agent in sandbox.info["agents"] for g in agent["group_ids"]}
    elsewhere = sorted(all_groups - set(restricted["group_ids"]))[0]
    ticket = new_ticket(sandbox, team["ana"]["email"], group_id=elsewhere)

    response = put_ticket(sandbox, restricted["email"], ticket["id"], {"status": "open"})

    assert response.status_code == 403


def test_an_end_user_may_comment_on_their_own_ticket_only(sandbox, team):
    customer = team["customer"]
    theirs = new_ticket(sandbox, team["ana"]["email"], requester_id=customer["id"])
    other = new_ticket(sandbox, team["ana"]["email"])

    own_comment = put_ticket(sandbox, customer["email"], theirs["id"], {"comment": {"body": "Hi"}})
    own_status = put_ticket(sandbox, customer["email"], theirs["id"], {"status": "solved"})
    elsewhere = put_ticket(sandbox, customer["email"], other["id"], {"comment": {"body": "Hi"}})

    assert own_comment.status_code == 200
    assert own_status.status_code == 403
    assert elsewhere.status_code == 403


# -- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    ["{not json", "[1, 2]", '"ticket"', '{"ticket": [1]}', '{"ticket": "x"}', '{"other": {}}', ""],
)
@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_malformed_bodies_are_400_in_zendesks_shape(sandbox, team, data, method):
    path = "/api/v2/tickets.json" if method == "POST" else "/api/v2/tickets/1.json"

    response = send_raw(sandbox, method, path, team["admin"]["email"], data)

    assert response.status_code == 400
    assert set(response.json()) == {"error", "description"}


def test_a_body_over_one_megabyte_is_413(sandbox, team):
    huge = json.dumps({"ticket": {"comment": {"body": "x" * (1024 * 1024 + 10)}}})

    response = send_raw(sandbox, "POST", "/api/v2/tickets.json", team["ana"]["email"], huge)

    assert response.status_code == 413
    assert response.json()["error"] == "RequestTooLarge"


def test_writes_need_credentials(sandbox):
    response = requests.put(
        f"{sandbox.base_url}/api/v2/tickets/1.json",
        json={"ticket": {"status": "open"}},
        timeout=TIMEOUT,
    )

    assert response.status_code == 401


# -- concurrency and follow-on rules ----------------------------------------------------------


def test_concurrent_retries_with_one_idempotency_key_create_one_ticket(sandbox, team):
    key = {"Idempotency-Key": uuid.uuid4().hex}
    body = {"subject": "Double click", "comment": {"body": "Submitted twice"}}

    with ThreadPoolExecutor(max_workers=6) as pool:
        responses = list(
            pool.map(lambda _: post_ticket(sandbox, team["ana"]["email"], body, key), range(6))
        )

    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["ticket"]["id"] for r in responses}) == 1
    assert sorted(r.headers["x-idempotency-lookup"] for r in responses) == ["hit"] * 5 + ["miss"]


def test_concurrent_creates_get_distinct_ids(sandbox, team):
    body = {"subject": "Rush hour", "comment": {"body": "Many at once"}}

    with ThreadPoolExecutor(max_workers=6) as pool:
        responses = list(
            pool.map(lambda _: post_ticket(sandbox, team["ana"]["email"], body), range(6))
        )

    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["ticket"]["id"] for r in responses}) == 6


def test_a_requester_reply_reopens_a_pending_ticket_and_tells_the_assignee(sandbox, team):
    ana, customer = team["ana"], team["customer"]
    ticket = new_ticket(sandbox, ana["email"], requester_id=customer["id"], assignee_id=ana["id"])
    put_ticket(sandbox, ana["email"], ticket["id"], {"status": "pending"})

    response = put_ticket(
        sandbox, customer["email"], ticket["id"], {"comment": {"body": "Still broken"}}
    )

    assert response.json()["ticket"]["status"] == "open"
    [activity] = activities_on(sandbox, ana["email"], ticket["id"])
    assert activity["verb"] == "tickets.comment"
    assert activity["actor_id"] == customer["id"]


def test_an_idempotency_key_expires_and_then_creates_again(sandbox, team):
    assert sandbox.control("POST", "idempotency", json={"ttl": 1}).status_code == 200
    try:
        key = {"Idempotency-Key": uuid.uuid4().hex}
        body = {"comment": {"body": "Expiring key"}}
        first = post_ticket(sandbox, team["ana"]["email"], body, key)
        time.sleep(1.2)

        later = post_ticket(sandbox, team["ana"]["email"], body, key)
    finally:
        sandbox.control("POST", "idempotency", json={})

    assert later.headers["x-idempotency-lookup"] == "miss"
    assert later.json()["ticket"]["id"] != first.json()["ticket"]["id"]
    assert sandbox.control("GET", "idempotency").json()["ttl"] == 7200


def test_a_refused_create_can_be_corrected_under_the_same_key(sandbox, team):
    key = {"Idempotency-Key": uuid.uuid4().hex}

    refused = post_ticket(sandbox, team["ana"]["email"], {"subject": "No body"}, key)
    corrected = post_ticket(
        sandbox, team["ana"]["email"], {"subject": "No body", "comment": {"body": "Now"}}, key
    )

    assert refused.status_code == 422
    assert corrected.status_code == 201
    assert corrected.headers["x-idempotency-lookup"] == "miss"


def test_a_comment_may_be_sent_as_html(sandbox, team):
    ticket = new_ticket(sandbox, team["ana"]["email"])

    response = put_ticket(
        sandbox,
        team["ana"]["email"],
        ticket["id"],
        {"comment": {"html_body": "<p>Fixed &amp; deployed</p>", "public": True}},
    )

    assert response.status_code == 200
    assert response.json()["audit"]["events"][0]["body"] == "Fixed & deployed"
