"""POST /_sandbox/hostile: the given strings everywhere a person can write, raw; reset undoes it."""

from __future__ import annotations

import pytest

from tests.sandboxserver import SandboxServer

SCRIPT = "<script>alert('hostile')</script>"
HTML = '<img src=x onerror="alert(1)">'
TEXT = "hostile \u202etext"


@pytest.fixture
def placed(sandbox: SandboxServer) -> SandboxServer:
    """The shared sandbox with the strings placed; the test itself resets it (and checks)."""
    answer = sandbox.control("POST", "hostile", json={"strings": [SCRIPT, HTML, TEXT]})
    assert answer.status_code == 200, answer.text
    sandbox.info = sandbox.control("GET", "").json()
    return sandbox


def test_it_places_the_strings_raw_and_reset_puts_the_seed_back(placed):
    try:
        _assert_placed(placed)
    finally:
        placed.reset()
    _assert_seeded(placed)


def _assert_placed(placed: SandboxServer) -> None:
    email = placed.admin_email
    tickets = placed.get_json("tickets", email, **{"page[size]": 10})["tickets"]
    strings = {SCRIPT, HTML, TEXT}
    assert {ticket["subject"] for ticket in tickets} == strings
    assert all(ticket["description"] in strings for ticket in tickets)
    tags = {SCRIPT, '<img_src=x_onerror="alert(1)">', "hostile_\u202etext"}  # spaces split tags
    assert all(tags & set(ticket["tags"]) for ticket in tickets)
    comments = placed.get_json(f"tickets/{tickets[0]['id']}/comments", email)["comments"]
    assert comments[0]["html_body"] in strings, "html_body as sent, no markup added or removed"
    assert comments[0]["body"] == tickets[0]["description"]
    assert {agent["name"] for agent in placed.info["agents"]} <= strings
    fields = placed.get_json("ticket_fields", email)["ticket_fields"]
    assert all(field["title"] in strings for field in fields)
    options = [option["name"] for f in fields for option in f.get("custom_field_options", ())]
    assert options
    assert set(options) <= strings
    text_field = next(field["id"] for field in fields if field["type"] == "text")
    values = [f["value"] for f in tickets[0]["custom_fields"] if f["id"] == text_field]
    assert values[0] in strings
    groups = placed.get_json("groups", email)["groups"]
    assert all(group["name"].rsplit(" ", 1)[0] in strings for group in groups)
    activities = placed.get_json("activities", email)["activities"]
    assert activities
    assert all(activity["title"] in strings for activity in activities)


def _assert_seeded(placed: SandboxServer) -> None:
    email = placed.admin_email
    tickets = placed.get_json("tickets", email, **{"page[size]": 10})["tickets"]
    assert not {ticket["subject"] for ticket in tickets} & {SCRIPT, HTML, TEXT}
    fields = placed.get_json("ticket_fields", email)["ticket_fields"]
    assert "Product area" in {field["title"] for field in fields}
    comments = placed.get_json(f"tickets/{tickets[0]['id']}/comments", email)["comments"]
    assert comments[0]["html_body"].startswith('<div class="zd-comment"')


@pytest.mark.parametrize(
    "body",
    [{}, {"strings": []}, {"strings": "x"}, {"strings": [1]}, {"strings": [""]}, []],
)
def test_it_refuses_a_body_without_strings(sandbox, body):
    answer = sandbox.control("POST", "hostile", json=body)
    assert answer.status_code == 400
    assert "strings" in answer.json()["description"]
