"""What real recorded Zendesk responses do and the sandbox must do too, one test per finding.

Each test names the behaviour a client written against the sandbox would otherwise never meet
on the real thing. The recordings are in tests/fixtures/recorded/.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.sandboxserver import SandboxServer

API = "/api/v2"
RECORDED = Path(__file__).resolve().parent.parent / "fixtures" / "recorded"
TIMEOUT = 10


def recorded(name: str) -> dict:
    return json.loads((RECORDED / name).read_text())


def admin_email(sandbox: SandboxServer) -> str:
    return sandbox.agent(role="admin")["email"]


def get(sandbox: SandboxServer, path: str, **params) -> requests.Response:
    return sandbox.get(f"{API}/{path}", as_email=admin_email(sandbox), params=params)


def create(sandbox: SandboxServer, ticket: dict) -> requests.Response:
    return requests.post(
        f"{sandbox.base_url}{API}/tickets.json",
        json={"ticket": ticket},
        headers=sandbox.basic_auth(admin_email(sandbox)),
        timeout=TIMEOUT,
    )


# -- 1. description instead of comment -------------------------------------------------------


def test_a_ticket_created_with_a_description_and_no_comment_is_created(sandbox):
    response = create(sandbox, {"subject": "example ticket", "description": "Some comment"})

    assert response.status_code == 201, response.text
    ticket = response.json()["ticket"]
    assert ticket["description"] == "Some comment"
    comments = get(sandbox, f"tickets/{ticket['id']}/comments").json()["comments"]
    assert [c["body"] for c in comments] == ["Some comment"]


def test_a_blank_description_without_a_comment_is_still_record_invalid(sandbox):
    response = create(sandbox, {"subject": "empty", "description": "  "})

    assert response.status_code == 422
    assert "description" in response.json()["details"]


# -- 2. a full last cursor page says has_more --------------------------------------------------


def test_a_full_last_cursor_page_says_has_more_and_the_next_page_is_empty(pristine):
    total = get(pristine, "tickets/1/comments").json()["count"]
    assert 1 < total < 100
    body = get(pristine, "tickets/1/comments", **{"page[size]": total}).json()
    assert len(body["comments"]) == total
    assert body["meta"]["has_more"] is True  # full, and the last: as recorded

    after = pristine.get(body["links"]["next"], as_email=admin_email(pristine)).json()

    empty = recorded("activities_cursor_last_page_empty.json")
    assert after == {"comments": [], "meta": empty["meta"], "links": empty["links"]}


def test_a_short_last_cursor_page_says_no_more(pristine):
    total = get(pristine, "tickets/1/comments").json()["count"]
    body = get(pristine, "tickets/1/comments", **{"page[size]": total + 1}).json()

    assert len(body["comments"]) == total
    assert body["meta"]["has_more"] is False


# -- 3. no `fields` in cursor lists --------------------------------------------------------------


def test_cursor_lists_leave_fields_out_and_offset_lists_show_and_create_keep_them(pristine):
    cursor_ticket = get(pristine, "tickets", **{"page[size]": 1}).json()["tickets"][0]
    recorded_ticket = recorded("tickets_list_cursor_page_size1.json")["tickets"][0]
    assert "fields" not in cursor_ticket
    assert set(cursor_ticket) >= set(recorded_ticket)

    offset_ticket = get(pristine, "tickets", per_page=1).json()["tickets"][0]
    shown = get(pristine, f"tickets/{offset_ticket['id']}").json()["ticket"]
    assert "fields" in offset_ticket
    assert "fields" in shown


# -- 4. show_many's envelope ---------------------------------------------------------------------


def test_show_many_answers_with_the_offset_envelope(pristine):
    body = get(pristine, "tickets/show_many", ids="1,2,3").json()

    assert body["next_page"] is None
    assert body["previous_page"] is None
    assert body["count"] == len(body["tickets"]) == 3


# -- 5. email tickets name their addresses ------------------------------------------------------


def test_email_tickets_name_who_wrote_and_to_which_address(pristine):
    tickets = get(pristine, "tickets", per_page=100).json()["tickets"]
    email_ticket = next(t for t in tickets if t["via"]["channel"] == "email")
    web_ticket = next(t for t in tickets if t["via"]["channel"] == "web")
    requester = get(pristine, f"users/{email_ticket['requester_id']}").json()["user"]

    source = email_ticket["via"]["source"]
    assert source["from"] == {"address": requester["email"], "name": requester["name"]}
    assert set(source["to"]) == {"name", "address"}
    assert "@" in source["to"]["address"]
    assert email_ticket["recipient"] == source["to"]["address"]
    assert web_ticket["via"]["source"] == {"from": {}, "to": {}, "rel": None}
    assert web_ticket["recipient"] is None


# -- 6. ticket fields -----------------------------------------------------------------------------


def test_the_account_lists_its_ticket_fields(pristine):
    fields = get(pristine, "ticket_fields").json()["ticket_fields"]

    assert len(fields) >= 2
    for field in fields:
        assert {"id", "type", "title", "active", "position"} <= set(field)
    tagger = next(f for f in fields if f["type"] == "tagger")
    assert all({"name", "value"} <= set(o) for o in tagger["custom_field_options"])


def test_every_ticket_carries_a_value_for_every_field(pristine):
    field_ids = [f["id"] for f in get(pristine, "ticket_fields").json()["ticket_fields"]]
    tickets = get(pristine, "tickets", per_page=100).json()["tickets"]
    tagger = next(
        f for f in get(pristine, "ticket_fields").json()["ticket_fields"] if f["type"] == "tagger"
    )
    option_tags = {o["value"] for o in tagger["custom_field_options"]}

    for ticket in tickets:
        assert [f["id"] for f in ticket["custom_fields"]] == sorted(field_ids)
        assert ticket["fields"] == ticket["custom_fields"]
    values = [
        next(f["value"] for f in t["custom_fields"] if f["id"] == tagger["id"]) for t in tickets
    ]
    assert set(values) - {None}, "some seeded tickets have a drop-down value"
    assert set(values) - {None} <= option_tags


def test_a_created_ticket_lists_every_field_with_its_value(sandbox):
    tagger = next(
        f for f in get(sandbox, "ticket_fields").json()["ticket_fields"] if f["type"] == "tagger"
    )
    option = tagger["custom_field_options"][0]
    body = {"subject": "Fields", "comment": {"body": "x"}, "tags": [option["value"]]}
    ticket = create(sandbox, body).json()["ticket"]

    assert {"id": tagger["id"], "value": option["value"]} in ticket["custom_fields"]


# -- 7. ETag and 304 -------------------------------------------------------------------------------


def test_json_answers_carry_charset_a_weak_etag_and_zendesks_cache_control(pristine):
    response = get(pristine, "tickets/1")

    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert response.headers["ETag"].startswith('W/"')
    assert response.headers["Cache-Control"] == "max-age=0, private, must-revalidate"


def test_a_get_with_the_etag_answers_304_without_a_body(pristine):
    first = get(pristine, "tickets/1")
    again = pristine.get(
        f"{API}/tickets/1",
        as_email=admin_email(pristine),
        headers={"If-None-Match": first.headers["ETag"]},
    )

    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["ETag"] == first.headers["ETag"]


def test_a_changed_ticket_answers_200_to_its_old_etag(sandbox):
    ticket = create(sandbox, {"subject": "ETag", "comment": {"body": "x"}}).json()["ticket"]
    old = get(sandbox, f"tickets/{ticket['id']}").headers["ETag"]
    requests.put(
        f"{sandbox.base_url}{API}/tickets/{ticket['id']}.json",
        json={"ticket": {"status": "open"}},
        headers=sandbox.basic_auth(admin_email(sandbox)),
        timeout=TIMEOUT,
    ).raise_for_status()

    response = sandbox.get(
        f"{API}/tickets/{ticket['id']}",
        as_email=admin_email(sandbox),
        headers={"If-None-Match": old},
    )

    assert response.status_code == 200
    assert response.json()["ticket"]["status"] == "open"


def test_a_304_counts_against_the_rate_limit(pristine):
    etag = get(pristine, "tickets/1").headers["ETag"]
    headers = {"If-None-Match": etag}
    first = pristine.get(f"{API}/tickets/1", as_email=admin_email(pristine), headers=headers)
    second = pristine.get(f"{API}/tickets/1", as_email=admin_email(pristine), headers=headers)

    assert first.status_code == second.status_code == 304
    remaining = int(first.headers["X-Rate-Limit-Remaining"])
    assert int(second.headers["X-Rate-Limit-Remaining"]) == remaining - 1


# -- 8. photos -----------------------------------------------------------------------------------


def test_most_agents_have_a_photo_the_sandbox_serves(pristine):
    agents = [get(pristine, f"users/{a['id']}").json()["user"] for a in pristine.agents()]
    with_photo = [a for a in agents if a["photo"] is not None]
    assert len(with_photo) > len(agents) / 2

    photo = with_photo[0]["photo"]
    assert {"url", "content_url", "size", "width", "height", "thumbnails"} <= set(photo)
    image = requests.get(photo["content_url"], timeout=TIMEOUT)
    assert image.status_code == 200
    assert image.headers["Content-Type"] == "image/png"
    assert len(image.content) == photo["size"]
    assert struct.unpack(">II", image.content[16:24]) == (photo["width"], photo["height"])
    thumb = photo["thumbnails"][0]
    assert requests.get(thumb["content_url"], timeout=TIMEOUT).content[:8] == b"\x89PNG\r\n\x1a\n"


def test_an_unknown_photo_is_404(pristine):
    response = requests.get(f"{pristine.base_url}/system/photos/1/photo.png", timeout=TIMEOUT)

    assert response.status_code == 404


# -- 9. custom status descriptions ------------------------------------------------------------------


def test_unset_custom_status_descriptions_are_null(pristine):
    statuses = get(pristine, "custom_statuses").json()["custom_statuses"]

    assert statuses
    assert all(s["end_user_description"] is None for s in statuses)
    assert all(s["raw_end_user_description"] is None for s in statuses)


# -- 10. cursor pagination errors ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [{"page[size]": "0"}, {"page[size]": "abc"}, {"page[after]": "not-a-cursor"}],
)
def test_cursor_pagination_errors_use_the_errors_list_shape(pristine, params):
    response = get(pristine, "tickets", **params)

    assert response.status_code == 400
    errors = response.json()["errors"]
    assert errors[0]["code"] == "InvalidPaginationParameter"
    assert errors[0]["title"]
    assert "error" not in response.json()


@pytest.mark.parametrize("size", [" 5", "5 ", "\u0665", "+5", "5_0"])
def test_page_size_accepts_ascii_digits_only(pristine, size):
    response = get(pristine, "tickets", **{"page[size]": size})

    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "InvalidPaginationParameter"


# -- 11. per_page in next_page -----------------------------------------------------------------------


def test_next_page_carries_per_page_only_when_the_request_did(pristine):
    without = get(pristine, "tickets").json()["next_page"]
    with_it = get(pristine, "tickets", per_page=10).json()["next_page"]

    assert "per_page" not in parse_qs(urlsplit(without).query)
    assert parse_qs(urlsplit(with_it).query)["per_page"] == ["10"]


# -- 13. system activities ------------------------------------------------------------------------


def test_system_activities_carry_an_actor_object(pristine):
    system_activity = None
    for agent in pristine.agents(suspended=False):
        response = pristine.get(
            f"{API}/activities", as_email=agent["email"], params={"page[size]": 100}
        )
        body = response.json()
        system_activity = next((a for a in body["activities"] if a["actor_id"] == -1), None)
        if system_activity is not None:
            break
    assert system_activity is not None, "the seed has system activities"

    actor = system_activity["actor"]
    assert isinstance(actor, dict)
    assert actor["id"] == -1
    assert actor["name"]
    assert -1 in [a["id"] for a in body["actors"]]
