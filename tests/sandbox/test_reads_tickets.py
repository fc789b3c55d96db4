"""Ticket reads over HTTP: lists, pagination, sorting, sideloads, show, counts, bad input."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs, urlparse

import pytest

from tests.sandboxserver import API, assert_bad_request


def test_it_walks_every_live_ticket_exactly_once_in_id_order(pristine):
    email = pristine.admin_email
    tickets = pristine.walk_cursor("tickets", email, "tickets", size=100)
    ids = [ticket["id"] for ticket in tickets]
    assert ids == sorted(set(ids))
    count = pristine.get_json("tickets/count", email)["count"]["value"]
    assert len(ids) == count
    assert 400 < count < 600  # the archived closed tickets are left out


def test_it_leaves_archived_tickets_out_of_the_list_but_shows_them_by_id(pristine):
    email = pristine.admin_email
    listed = {t["id"] for t in pristine.walk_cursor("tickets", email, "tickets")}
    archived = sorted(set(range(1, 601)) - listed)
    assert 30 <= len(archived) <= 100
    ticket = pristine.get_json(f"tickets/{archived[0]}", email)["ticket"]
    assert ticket["status"] == "closed"


def test_it_walks_back_with_page_before(pristine):
    email = pristine.admin_email
    first = pristine.get_json("tickets", email, **{"page[size]": 5})
    second = pristine.get(first["links"]["next"], as_email=email).json()
    back = pristine.get(second["links"]["prev"], as_email=email).json()
    assert [t["id"] for t in back["tickets"]] == [t["id"] for t in first["tickets"]]
    # A full page says has_more even when nothing is before it (as recorded); the page
    # before it is empty.
    assert back["meta"]["has_more"] is True
    before = pristine.get(back["links"]["prev"], as_email=email).json()
    assert before["tickets"] == []
    assert before["meta"]["has_more"] is False


def test_it_gives_opaque_base64_json_cursors_and_links_to_itself(pristine):
    body = pristine.get_json("tickets", pristine.admin_email, **{"page[size]": 2})
    cursor = json.loads(base64.b64decode(body["meta"]["after_cursor"]))
    assert cursor["o"] == "nice_id"
    link = urlparse(body["links"]["next"])
    assert f"{link.scheme}://{link.netloc}" == pristine.base_url
    assert parse_qs(link.query)["page[size]"] == ["2"]


def test_it_ends_with_an_empty_page_and_null_cursors(pristine):
    email = pristine.admin_email
    last_id = max(t["id"] for t in pristine.walk_cursor("tickets", email, "tickets"))
    body = pristine.get_json("tickets", email, **{"page[size]": 100, "sort": "id"})
    while body["meta"]["has_more"]:
        body = pristine.get(body["links"]["next"], as_email=email).json()
    assert body["tickets"][-1]["id"] == last_id
    after = pristine.get(body["links"]["next"], as_email=email).json()
    assert after["tickets"] == []
    assert after["meta"] == {"has_more": False, "after_cursor": None, "before_cursor": None}
    assert after["links"] == {"prev": None, "next": None}


@pytest.mark.parametrize("sort", ["updated_at", "-updated_at", "created_at", "-id", "status"])
def test_it_sorts_cursor_pages_monotonically(pristine, sort):
    tickets = pristine.walk_cursor("tickets", pristine.admin_email, "tickets", size=100, sort=sort)
    order = ["new", "open", "pending", "hold", "solved", "closed"]
    name = sort.removeprefix("-")
    keys = [(order.index(t["status"]) if name == "status" else t[name], t["id"]) for t in tickets]
    assert keys == sorted(keys, reverse=sort.startswith("-"))
    assert len({t["id"] for t in tickets}) == len(tickets)


@pytest.mark.parametrize(
    ("sort_by", "key"),
    [("created_at", "created_at"), ("updated_at", "updated_at"), ("subject", "subject")],
)
def test_it_sorts_offset_pages_by_sort_by_and_sort_order(pristine, sort_by, key):
    body = pristine.get_json(
        "tickets", pristine.admin_email, sort_by=sort_by, sort_order="desc", per_page=50
    )
    values = [t[key] for t in body["tickets"]]
    assert values == sorted(values, reverse=True)
    assert len(values) == 50


def test_it_pages_by_offset_with_count_and_links(pristine):
    email = pristine.admin_email
    body = pristine.get_json("tickets", email, per_page=100, page=2)
    assert body["count"] == pristine.get_json("tickets/count", email)["count"]["value"]
    assert len(body["tickets"]) == 100
    assert "page=3" in body["next_page"]
    assert "page=1" in body["previous_page"]
    first = pristine.get_json("tickets", email, per_page=100, page=1)
    assert first["previous_page"] is None
    assert first["tickets"][-1]["id"] < body["tickets"][0]["id"]


def test_it_sideloads_users_groups_organizations_statuses_and_comment_counts(pristine):
    body = pristine.get_json(
        "tickets",
        pristine.admin_email,
        include="users,groups,organizations,comment_count,custom_statuses",
        **{"page[size]": 20},
    )
    users = {u["id"] for u in body["users"]}
    for ticket in body["tickets"]:
        assert ticket["requester_id"] in users
        assert ticket["comment_count"] >= 1
        assert set(ticket["email_cc_ids"]) <= users
    assert {g["id"] for g in body["groups"]} >= {t["group_id"] for t in body["tickets"]}
    statuses = {s["id"]: s for s in body["custom_statuses"]}
    assert all(t["custom_status_id"] in statuses for t in body["tickets"])
    assert body["organizations"]


def test_it_filters_by_external_id(pristine):
    email = pristine.admin_email
    with_external = next(
        t for t in pristine.walk_cursor("tickets", email, "tickets") if t["external_id"]
    )
    body = pristine.get_json("tickets", email, external_id=with_external["external_id"])
    assert [t["id"] for t in body["tickets"]] == [with_external["id"]]


def test_it_shows_one_ticket_and_many(pristine):
    email = pristine.admin_email
    ticket = pristine.get_json("tickets/5.json", email)["ticket"]
    assert ticket["id"] == 5
    assert ticket["url"] == f"{pristine.base_url}/api/v2/tickets/5.json"
    many = pristine.get_json("tickets/show_many", email, ids="3,5,7")
    assert [t["id"] for t in many["tickets"]] == [3, 5, 7]


def test_it_answers_404_for_a_missing_ticket(pristine):
    response = pristine.get(f"{API}/tickets/999999", as_email=pristine.admin_email)
    assert response.status_code == 404
    assert response.json() == {"error": "RecordNotFound", "description": "Not found"}


def test_it_lists_a_tickets_conversation_both_ways_with_authors(pristine):
    email = pristine.admin_email
    ticket_id = next(
        t["id"]
        for t in pristine.get_json("tickets", email, include="comment_count")["tickets"]
        if t["comment_count"] >= 3
    )
    forward = pristine.walk_cursor(
        f"tickets/{ticket_id}/comments", email, "comments", size=1, include="users"
    )
    backward = pristine.walk_cursor(
        f"tickets/{ticket_id}/comments", email, "comments", size=2, sort="-created_at"
    )
    assert [c["id"] for c in forward] == [c["id"] for c in reversed(backward)]
    first = forward[0]
    ticket = pristine.get_json(f"tickets/{ticket_id}", email)["ticket"]
    assert first["body"] == ticket["description"]
    assert first["html_body"].startswith('<div class="zd-comment"')
    with_users = pristine.get_json(f"tickets/{ticket_id}/comments", email, include="users")
    assert {c["author_id"] for c in with_users["comments"]} <= {
        u["id"] for u in with_users["users"]
    }


def test_it_lists_organization_and_user_tickets_with_matching_counts(pristine):
    email = pristine.admin_email
    sample = pristine.get_json("tickets", email, **{"page[size]": 1})["tickets"][0]
    org_id = sample["organization_id"]
    org_tickets = pristine.walk_cursor(f"organizations/{org_id}/tickets", email, "tickets")
    assert org_tickets
    assert {t["organization_id"] for t in org_tickets} == {org_id}
    org_count = pristine.get_json(f"organizations/{org_id}/tickets/count", email)
    assert org_count["count"]["value"] == len(org_tickets)

    agent_id = pristine.plain_agents()[0]["id"]
    assigned = pristine.walk_cursor(f"users/{agent_id}/tickets/assigned", email, "tickets")
    assert assigned
    assert {t["assignee_id"] for t in assigned} == {agent_id}
    count = pristine.get_json(f"users/{agent_id}/tickets/assigned/count", email)
    assert count["count"]["value"] == len(assigned)


def test_it_lists_requested_ccd_and_followed_tickets_of_a_user(pristine):
    email = pristine.admin_email
    tickets = pristine.walk_cursor("tickets", email, "tickets")
    ccd = next(t for t in tickets if t["email_cc_ids"])
    cc_user = ccd["email_cc_ids"][0]
    ccd_list = pristine.walk_cursor(f"users/{cc_user}/tickets/ccd", email, "tickets")
    assert ccd["id"] in {t["id"] for t in ccd_list}
    assert all(cc_user in t["email_cc_ids"] for t in ccd_list)
    ccd_count = pristine.get_json(f"users/{cc_user}/tickets/ccd/count", email)
    assert ccd_count["count"]["value"] == len(ccd_list)

    followed = next(t for t in tickets if t["follower_ids"])
    follower = followed["follower_ids"][0]
    followed_list = pristine.walk_cursor(f"users/{follower}/tickets/followed", email, "tickets")
    assert all(follower in t["follower_ids"] for t in followed_list)

    requester = tickets[0]["requester_id"]
    requested = pristine.walk_cursor(f"users/{requester}/tickets/requested", email, "tickets")
    assert {t["requester_id"] for t in requested} == {requester}


def test_it_lists_the_callers_recently_viewed_tickets_newest_first(pristine):
    for agent in pristine.plain_agents()[:2]:
        body = pristine.get_json("tickets/recent", agent["email"])
        assert 5 <= len(body["tickets"]) <= 15
        assert all(t["status"] for t in body["tickets"])
    first = pristine.get_json("tickets/recent", pristine.plain_agents()[0]["email"])
    second = pristine.get_json("tickets/recent", pristine.plain_agents()[1]["email"])
    assert [t["id"] for t in first["tickets"]] != [t["id"] for t in second["tickets"]]
    walked = pristine.walk_cursor(
        "tickets/recent", pristine.plain_agents()[0]["email"], "tickets", size=3
    )
    assert [t["id"] for t in walked] == [t["id"] for t in first["tickets"]]


def test_counts_have_a_value_and_an_offset_timestamp(pristine):
    count = pristine.get_json("tickets/count", pristine.admin_email)["count"]
    assert isinstance(count["value"], int)
    assert count["refreshed_at"].endswith("+00:00")


@pytest.mark.parametrize(
    "query",
    [
        "tickets?page[size]=0",
        "tickets?page[size]=1000",
        "tickets?page[size]=abc",
        "tickets?page[size]=2&page[after]=not-a-cursor",
        "tickets?page[size]=2&page[after]=eyJvIjoibmljZV9pZCJ9",
        "tickets?sort=priority",
        "tickets?sort_by=mood",
        "tickets?sort_by=id&sort_order=sideways",
        "tickets?page=101&per_page=100",
        "tickets?page=x",
        "tickets/abc",
        "tickets/show_many?ids=1,two",
        "tickets/show_many?ids=" + ",".join(str(n) for n in range(1, 102)),
        "tickets/show_many",
        "tickets/1/comments?sort=author",
        "organizations/xyz/tickets",
        "users/me1/tickets/assigned",
    ],
)
def test_it_answers_bad_input_with_a_zendesk_400(pristine, query):
    assert_bad_request(pristine.get(f"{API}/{query}", as_email=pristine.admin_email))


def forged_cursor(label: str, values: list) -> str:
    inner = base64.b64encode(json.dumps(values).encode()).decode()
    return base64.b64encode(json.dumps({"o": label, "v": inner}).encode()).decode()


@pytest.mark.parametrize(
    ("sort", "cursor"),
    [
        ("id", forged_cursor("nice_id", ["abc"])),
        ("id", forged_cursor("nice_id", [10**30])),
        ("id", forged_cursor("nice_id", [1, 2])),
        ("id", forged_cursor("-nice_id", [5])),
        ("updated_at", forged_cursor("updated_at,nice_id", [5, 1])),
        ("updated_at", forged_cursor("updated_at,nice_id", [{"t": "soon"}, 1])),
        ("created_at", forged_cursor("created_at,nice_id", ["yesterday", 1])),
    ],
)
def test_it_refuses_forged_cursors_with_a_400(pristine, sort, cursor):
    for direction in ("after", "before"):
        response = pristine.get(
            f"{API}/tickets",
            as_email=pristine.admin_email,
            params={"sort": sort, "page[size]": 5, f"page[{direction}]": cursor},
        )
        assert_bad_request(response)


def test_it_refuses_ids_beyond_64_bits_with_a_400(pristine):
    for path in ("tickets/99999999999999999999999", "users/-5", "activities/0"):
        assert_bad_request(pristine.get(f"{API}/{path}", as_email=pristine.admin_email))


def test_it_refuses_more_than_100_ids_with_toomanyvalues(pristine):
    ids = ",".join(str(n) for n in range(1, 102))
    response = pristine.get(f"{API}/tickets/show_many?ids={ids}", as_email=pristine.admin_email)
    assert response.json()["error"] == "TooManyValues"


def test_it_refuses_offset_pages_past_ten_thousand_records(pristine):
    response = pristine.get(f"{API}/tickets?page=101&per_page=100", as_email=pristine.admin_email)
    assert response.json()["errors"][0]["code"] == "InvalidPaginationDepth"


def test_it_forbids_end_users_the_agent_lists(pristine):
    end_user = pristine.info["end_users"][0]["email"]
    for path in ("tickets", "tickets/count", "tickets/recent", "activities"):
        response = pristine.get(f"{API}/{path}", as_email=end_user)
        assert response.status_code == 403, path
        assert response.json()["error"]["title"] == "Forbidden"


def test_it_requires_credentials_for_ticket_lists(pristine):
    response = pristine.get(f"{API}/tickets")
    assert response.status_code == 401
