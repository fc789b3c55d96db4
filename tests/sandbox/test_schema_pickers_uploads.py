"""The pickers' and uploads' answers in the shape of Zendesk's OpenAPI description.

Same rules as test_schema.py (every property may be null; types, required fields and
structure still count), against the operations copied in pickers-uploads-openapi.yaml; the
comments that carry seeded attachments are checked against the Inbox subset's schema.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from jsonschema import Draft202012Validator

from tests.sandbox.test_schema import assert_valid as assert_valid_subset
from tests.sandbox.test_schema import nullable
from tests.sandbox.test_schema import response_schema as subset_schema

SPEC_FILE = Path(__file__).resolve().parent.parent / "fixtures" / "pickers-uploads-openapi.yaml"
SPEC = yaml.safe_load(SPEC_FILE.read_text())
COMPONENTS = nullable(SPEC["components"])


def schema_of(path: str, method: str = "get", status: str = "200") -> dict[str, Any]:
    answer = SPEC["paths"][path][method]["responses"][status]
    return nullable(answer["content"]["application/json"]["schema"])


def assert_valid(schema: dict[str, Any], body: dict[str, Any]) -> None:
    validator = Draft202012Validator({**schema, "components": COMPONENTS})
    problems = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(body)]
    assert not problems, problems[:5]


def test_every_picker_read_matches_the_openapi_description(sandbox):
    email = sandbox.admin_email
    group_id = sandbox.agent(role="admin")["group_ids"][0]
    name = sandbox.info["end_users"][0]["name"]
    memberships = schema_of("/api/v2/group_memberships/assignable")
    cases = [
        (schema_of("/api/v2/groups"), "groups", {}),
        (schema_of("/api/v2/groups"), "groups", {"page[size]": 1}),
        (schema_of("/api/v2/groups/assignable"), "groups/assignable", {}),
        (memberships, "group_memberships/assignable", {"include": "users,groups"}),
        (memberships, f"groups/{group_id}/memberships/assignable", {"page[size]": 2}),
        (memberships, f"groups/{group_id}/memberships", {}),
        (schema_of("/api/v2/users/search"), "users/search", {"query": name.split()[-1]}),
        (schema_of("/api/v2/users/autocomplete"), "users/autocomplete", {"name": name[:2]}),
    ]
    for schema, path, query in cases:
        body = sandbox.get_json(path, email, **query)
        assert_valid(schema, body)


def test_an_upload_answer_matches_the_openapi_description(sandbox):
    email = sandbox.admin_email
    response = requests.post(
        f"{sandbox.base_url}/api/v2/uploads.json?filename=a.txt",
        data=b"hello",
        headers={**sandbox.basic_auth(email), "Content-Type": "text/plain"},
        timeout=10,
    )

    assert response.status_code == 201
    assert_valid(schema_of("/api/v2/uploads", "post", "201"), response.json())


def test_comments_with_seeded_attachments_match_the_inbox_subset(sandbox):
    email = sandbox.admin_email
    checked = 0
    for ticket_id in range(1, 41):
        body = sandbox.get_json(f"tickets/{ticket_id}/comments", email)
        if any(comment["attachments"] for comment in body["comments"]):
            assert_valid_subset(subset_schema("/api/v2/tickets/{ticket_id}/comments"), body)
            checked += 1
    assert checked, "the seed puts attachments on some of the first tickets' comments"


@pytest.mark.parametrize(
    "body",
    [
        {"upload": {"token": 7, "attachments": []}},
        {"upload": {"token": "t", "attachments": [{"size": "big"}]}},
    ],
)
def test_the_validation_itself_catches_a_wrong_upload_shape(body):
    with pytest.raises(AssertionError):
        assert_valid(schema_of("/api/v2/uploads", "post", "201"), body)
