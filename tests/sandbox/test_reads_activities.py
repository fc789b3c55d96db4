"""Activities over HTTP: what others did to the caller's tickets in the last 30 days."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import requests

from tests.sandboxserver import API, assert_bad_request

TITLE = re.compile(
    r"^.+ (assigned ticket #\d+ to you\."
    r"|commented on ticket #\d+: .+\."
    r"|increased the priority of ticket #\d+ to (high|urgent)\.)$"
)


def parse(stamp: str) -> dt.datetime:
    return dt.datetime.fromisoformat(stamp)


def test_it_never_shows_an_agent_their_own_actions(pristine):
    for agent in pristine.agents(suspended=False):
        activities = pristine.walk_cursor("activities", agent["email"], "activities")
        assert all(a["user_id"] == agent["id"] for a in activities), agent["email"]
        assert all(a["actor_id"] != agent["id"] for a in activities), agent["email"]


def test_it_keeps_a_comment_out_of_its_authors_own_feed(sandbox):
    sandbox.reset()
    agent = sandbox.plain_agents()[0]
    assigned = sandbox.get_json(f"users/{agent['id']}/tickets/assigned", agent["email"])
    open_ticket = next(t for t in assigned["tickets"] if t["status"] in ("open", "pending"))
    response = requests.put(
        f"{sandbox.base_url}{API}/tickets/{open_ticket['id']}.json",
        json={"ticket": {"comment": {"body": "Looking into it.", "public": True}}},
        headers=sandbox.basic_auth(agent["email"]),
        timeout=30,
    )
    assert response.status_code == 200, response.text[:300]
    mine = sandbox.get_json("activities", agent["email"], **{"page[size]": 100})["activities"]
    assert not any("Looking into it" in a["title"] for a in mine)


def test_it_covers_the_last_30_days_newest_first_with_zendesk_titles(pristine):
    email = pristine.admin_email
    activities = pristine.walk_cursor("activities", email, "activities", size=50)
    assert len(activities) > 20
    stamps = [(parse(a["created_at"]), a["id"]) for a in activities]
    assert stamps == sorted(stamps, reverse=True)
    now = dt.datetime.now(dt.UTC)
    assert all(now - dt.timedelta(days=30, minutes=5) <= s <= now for s, _ in stamps)
    assert all(TITLE.match(a["title"]) for a in activities), [a["title"] for a in activities[:5]]
    verbs = {a["verb"] for a in activities}
    assert verbs <= {"tickets.assignment", "tickets.comment", "tickets.priority_increase"}
    assert {"tickets.assignment", "tickets.comment"} <= verbs


def test_system_actions_have_actor_minus_one(pristine):
    everyone = []
    for agent in pristine.agents(suspended=False):
        everyone += pristine.walk_cursor("activities", agent["email"], "activities")
    system = [a for a in everyone if a["actor_id"] == -1]
    assert system
    # An actor object, never null (the OpenAPI description's ActivityObject).
    assert all(a["actor"]["id"] == -1 for a in system)
    assert any(a["verb"] == "tickets.priority_increase" for a in everyone)


def test_it_sideloads_actors_and_the_user(pristine):
    email = pristine.admin_email
    body = pristine.get_json("activities", email, **{"page[size]": 20})
    actor_ids = {a["actor_id"] for a in body["activities"]}
    assert {u["id"] for u in body["actors"]} == actor_ids
    assert [u["email"] for u in body["users"]] == [email]


def test_since_keeps_only_newer_activities(pristine):
    email = pristine.admin_email
    everything = pristine.walk_cursor("activities", email, "activities")
    middle = everything[len(everything) // 2]["created_at"]
    newer = pristine.walk_cursor("activities", email, "activities", since=middle)
    assert newer
    assert all(parse(a["created_at"]) >= parse(middle) for a in newer)
    assert len(newer) < len(everything)
    count = pristine.get_json("activities/count", email, since=middle)["count"]["value"]
    assert count == len(newer)


def test_offset_pages_and_count_agree(pristine):
    email = pristine.admin_email
    count = pristine.get_json("activities/count", email)["count"]["value"]
    body = pristine.get_json("activities", email, per_page=10)
    assert body["count"] == count
    assert len(body["activities"]) == 10
    assert body["next_page"]


def test_page_before_walks_back_and_last_page_is_empty(pristine):
    email = pristine.admin_email
    first = pristine.get_json("activities", email, **{"page[size]": 3})
    second = pristine.get(first["links"]["next"], as_email=email).json()
    back = pristine.get(second["links"]["prev"], as_email=email).json()
    assert [a["id"] for a in back["activities"]] == [a["id"] for a in first["activities"]]
    body = first
    while body["meta"]["has_more"]:
        body = pristine.get(
            body["links"]["next"].replace("page%5Bsize%5D=3", "page%5Bsize%5D=100"),
            as_email=email,
        ).json()
    last = pristine.get(body["links"]["next"], as_email=email).json()
    assert last == {
        "activities": [],
        "actors": [],
        "users": [],
        "meta": {"has_more": False, "after_cursor": None, "before_cursor": None},
        "links": {"prev": None, "next": None},
    }


def test_it_shows_one_activity_but_not_someone_elses(pristine):
    admin_email = pristine.admin_email
    mine = pristine.get_json("activities", admin_email, **{"page[size]": 1})["activities"][0]
    shown = pristine.get_json(f"activities/{mine['id']}", admin_email)["activity"]
    assert shown == mine
    other = pristine.plain_agents()[0]["email"]
    response = pristine.get(f"{API}/activities/{mine['id']}", as_email=other)
    assert response.status_code == 404


@pytest.mark.parametrize(
    "query",
    ["activities?since=yesterday", "activities?page[size]=0", "activities/abc",
     "activities?page[size]=5&page[before]=%%%"],
)  # fmt: skip
def test_it_answers_bad_activity_input_with_a_400(pristine, query):
    assert_bad_request(pristine.get(f"{API}/{query}", as_email=pristine.admin_email))
