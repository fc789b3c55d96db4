"""Every read answers in the shape of Zendesk's OpenAPI description (the Inbox's subset).

The description marks few fields nullable while real Zendesk sends null for many, so every
property is made nullable before validating; types, required fields and structure still count.
Lists without an entry of their own (organization, user and recent tickets) use
TicketsResponse; their counts use the schema of /tickets/count.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from tests.sandboxserver import API

SPEC_FILE = Path(__file__).resolve().parent.parent / "fixtures" / "inbox-subset-openapi.yaml"
SPEC = yaml.safe_load(SPEC_FILE.read_text())
IGNORED_KEYWORDS = {"example", "examples"}


def nullable(node: Any) -> Any:
    """Every typed schema also accepts null; examples (not schemas) are dropped."""
    if isinstance(node, list):
        return [nullable(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: nullable(value) for key, value in node.items() if key not in IGNORED_KEYWORDS}
    if isinstance(node.get("type"), str):
        node["type"] = [node["type"], "null"]
    if isinstance(node.get("enum"), list):
        node["enum"] = [*node["enum"], None]
    return node


COMPONENTS = nullable(SPEC["components"])


def response_schema(path: str) -> dict[str, Any]:
    ok = SPEC["paths"][path]["get"]["responses"]["200"]
    return nullable(ok["content"]["application/json"]["schema"])


def assert_valid(schema: dict[str, Any], body: dict[str, Any]) -> None:
    validator = Draft202012Validator({**schema, "components": COMPONENTS})
    problems = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(body)]
    assert not problems, problems[:5]


TICKETS = {"$ref": "#/components/schemas/TicketsResponse"}


def cases(sandbox) -> list[tuple[dict, str, dict]]:
    """(schema, path under /api/v2, query) for every read the sandbox serves."""
    email = sandbox.admin_email
    ticket = sandbox.get_json("tickets", email, **{"page[size]": 1})["tickets"][0]
    activity = sandbox.get_json("activities", email, **{"page[size]": 1})["activities"][0]
    user_id, org_id = ticket["assignee_id"] or ticket["requester_id"], ticket["organization_id"]
    count = response_schema("/api/v2/tickets/count")
    includes = {"include": "users,groups,organizations,comment_count,custom_statuses"}
    return [
        (response_schema("/api/v2/tickets"), "tickets", {"page[size]": 5, **includes}),
        (response_schema("/api/v2/tickets"), "tickets", {"per_page": 5, "sort_by": "status"}),
        (count, "tickets/count", {}),
        (response_schema("/api/v2/tickets/{ticket_id}"), f"tickets/{ticket['id']}", includes),
        (response_schema("/api/v2/tickets/show_many"), "tickets/show_many", {"ids": "2,3,4"}),
        (
            response_schema("/api/v2/tickets/{ticket_id}/comments"),
            f"tickets/{ticket['id']}/comments",
            {"include": "users", "page[size]": 10},
        ),
        (response_schema("/api/v2/activities"), "activities", {"page[size]": 10}),
        (response_schema("/api/v2/activities"), "activities", {"per_page": 10}),
        (
            response_schema("/api/v2/activities/{activity_id}"),
            f"activities/{activity['id']}",
            {},
        ),
        (response_schema("/api/v2/activities/count"), "activities/count", {}),
        (response_schema("/api/v2/users/me"), "users/me", {}),
        (response_schema("/api/v2/users/{user_id}"), f"users/{user_id}", {}),
        (response_schema("/api/v2/users/show_many"), "users/show_many", {"ids": str(user_id)}),
        (response_schema("/api/v2/custom_statuses"), "custom_statuses", {}),
        (TICKETS, f"organizations/{org_id}/tickets", {"page[size]": 5}),
        (count, f"organizations/{org_id}/tickets/count", {}),
        (TICKETS, f"users/{user_id}/tickets/requested", {}),
        (TICKETS, f"users/{user_id}/tickets/ccd", {}),
        (TICKETS, f"users/{user_id}/tickets/followed", {}),
        (TICKETS, f"users/{user_id}/tickets/assigned", {"per_page": 5}),
        (count, f"users/{user_id}/tickets/assigned/count", {}),
        (count, f"users/{user_id}/tickets/ccd/count", {}),
        (TICKETS, "tickets/recent", {}),
    ]


def test_every_read_matches_the_openapi_description(sandbox):
    email = sandbox.admin_email
    for schema, path, query in cases(sandbox):
        body = sandbox.get_json(path, email, **query)
        assert_valid(schema, body)


def test_the_anonymous_user_matches_the_openapi_description(sandbox):
    response = sandbox.get(f"{API}/users/me")
    assert_valid(response_schema("/api/v2/users/me"), response.json())


@pytest.mark.parametrize(
    "body",
    [{"tickets": [{"id": "seven"}]}, {"tickets": {"id": 7}}],
)
def test_the_validation_itself_catches_a_wrong_shape(body):
    with pytest.raises(AssertionError):
        assert_valid(TICKETS, body)
