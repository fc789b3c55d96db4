"""Users and custom statuses over HTTP: users/me (also anonymous), show, show_many."""

from __future__ import annotations

import pytest

from tests.sandboxserver import API, assert_bad_request


def test_users_me_answers_the_caller(sandbox):
    email = sandbox.admin_email
    user = sandbox.get_json("users/me", email)["user"]
    assert user["email"] == email
    assert user["role"] == "admin"
    assert user["url"] == f"{sandbox.base_url}/api/v2/users/{user['id']}.json"
    assert "/" in user["iana_time_zone"]


def test_users_me_without_credentials_is_the_anonymous_user(sandbox):
    response = sandbox.get(f"{API}/users/me")
    assert response.status_code == 200
    user = response.json()["user"]
    assert user["id"] is None
    assert user["role"] == "end-user"
    assert user["name"] == "Anonymous user"


def test_users_me_tells_a_restricted_agent_what_they_may_see(sandbox):
    user = sandbox.get_json("users/me", sandbox.restricted_agent()["email"])["user"]
    assert user["restricted_agent"] is True
    assert user["ticket_restriction"] == "groups"


def test_users_show_and_show_many(sandbox):
    email = sandbox.admin_email
    ids = [agent["id"] for agent in sandbox.agents()][:3]
    user = sandbox.get_json(f"users/{ids[0]}.json", email)["user"]
    assert user["id"] == ids[0]
    many = sandbox.get_json("users/show_many", email, ids=",".join(map(str, ids)))["users"]
    assert [u["id"] for u in many] == sorted(ids)


def test_the_suspended_agent_is_flagged_and_cannot_sign_in(sandbox):
    suspended = sandbox.agent(suspended=True)
    user = sandbox.get_json(f"users/{suspended['id']}", sandbox.admin_email)["user"]
    assert user["suspended"] is True
    assert sandbox.get(f"{API}/users/me", as_email=suspended["email"]).status_code == 401


def test_an_end_user_sees_themselves_but_not_others(sandbox):
    end_user = sandbox.info["end_users"][0]
    me = sandbox.get_json(f"users/{end_user['id']}", end_user["email"])["user"]
    assert me["role"] == "end-user"
    other = sandbox.info["end_users"][1]["id"]
    assert sandbox.get(f"{API}/users/{other}", as_email=end_user["email"]).status_code == 403


def test_a_missing_user_is_404(sandbox):
    response = sandbox.get(f"{API}/users/1", as_email=sandbox.admin_email)
    assert response.status_code == 404


@pytest.mark.parametrize("query", ["users/abc", "users/show_many?ids=a,b", "users/show_many"])
def test_bad_user_input_is_a_400(sandbox, query):
    assert_bad_request(sandbox.get(f"{API}/{query}", as_email=sandbox.admin_email))


def test_custom_statuses_cover_every_category_with_extra_labels(sandbox):
    statuses = sandbox.get_json("custom_statuses", sandbox.admin_email)["custom_statuses"]
    categories = {s["status_category"] for s in statuses}
    assert categories == {"new", "open", "pending", "hold", "solved"}
    assert "Waiting on engineering" in {s["agent_label"] for s in statuses}
    defaults = [s for s in statuses if s["default"]]
    assert {s["status_category"] for s in defaults} == categories
    pending = sandbox.get_json("custom_statuses", sandbox.admin_email, status_categories="pending")
    assert {s["status_category"] for s in pending["custom_statuses"]} == {"pending"}
