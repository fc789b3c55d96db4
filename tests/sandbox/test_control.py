"""The control surface: GET /_sandbox/ describes the account, POST /_sandbox/reset restores it."""

from __future__ import annotations

import pytest
import requests

from tests.sandboxoauth import tokens_for
from tests.sandboxserver import API, start_sandbox


def test_it_describes_the_seeded_account_and_how_to_sign_in(sandbox):
    info = sandbox.control("GET", "").json()
    assert info["account"]["url"] == sandbox.base_url
    assert info["account"]["subdomain"]
    roles = [(a["role"], a["restricted"], a["suspended"]) for a in info["agents"]]
    assert roles.count(("admin", False, False)) == 1
    assert roles.count(("agent", False, False)) >= 4
    assert ("agent", True, False) in roles
    assert any(suspended for _, _, suspended in roles)
    assert all(agent["group_ids"] for agent in info["agents"])
    assert info["end_users"]
    assert info["api_token"]
    assert info["demo_password"]
    client = info["oauth_client"]
    assert client["client_id"]
    assert client["client_secret"]
    assert any("callback" in uri for uri in client["redirect_uris"])


def test_the_api_token_it_gives_lets_every_active_agent_in(sandbox):
    for agent in sandbox.agents(suspended=False):
        assert sandbox.get_json("users/me", agent["email"])["user"]["id"] == agent["id"]


def test_reset_restores_the_seed_after_a_write(sandbox):
    sandbox.reset()
    email = sandbox.admin_email
    before = sandbox.get_json("tickets/count", email)["count"]["value"]
    first = sandbox.get_json("tickets", email, **{"page[size]": 5})["tickets"]
    created = requests.post(
        f"{sandbox.base_url}{API}/tickets.json",
        json={"ticket": {"subject": "Printer on fire", "comment": {"body": "Help, smoke."}}},
        headers=sandbox.basic_auth(email),
        timeout=30,
    )
    assert created.status_code == 201, created.text[:300]
    assert sandbox.get_json("tickets/count", email)["count"]["value"] == before + 1

    sandbox.reset()
    assert sandbox.get_json("tickets/count", email)["count"]["value"] == before
    again = sandbox.get_json("tickets", email, **{"page[size]": 5})["tickets"]
    assert [(t["id"], t["subject"], t["assignee_id"]) for t in again] == [
        (t["id"], t["subject"], t["assignee_id"]) for t in first
    ]


def test_reset_gives_agents_the_same_ids_and_recent_tickets(sandbox):
    sandbox.reset()
    agent = sandbox.plain_agents()[0]
    recent = [t["id"] for t in sandbox.get_json("tickets/recent", agent["email"])["tickets"]]
    sandbox.reset()
    assert sandbox.plain_agents()[0]["id"] == agent["id"]
    again = [t["id"] for t in sandbox.get_json("tickets/recent", agent["email"])["tickets"]]
    assert again == recent


def test_reset_keeps_an_oauth_sign_in_working(sandbox):
    email = sandbox.plain_agents()[0]["email"]
    token = tokens_for(sandbox, email)["access_token"]
    sandbox.reset()
    response = sandbox.get(f"{API}/users/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.json()["user"]["email"] == email


@pytest.mark.slow
def test_reset_reseeds_with_the_arguments_the_server_was_seeded_with(tmp_path):
    small = start_sandbox(tmp_path, seed_args=("--tickets", "40", "--agents", "8"))
    try:
        small.reset()
        assert len(small.agents(suspended=False)) == 8
        email = small.agent(role="admin")["email"]
        every_id = ",".join(str(n) for n in range(1, 60))
        shown = small.get_json("tickets/show_many", email, ids=every_id)["tickets"]
        assert len(shown) == 40
    finally:
        small.stop()


def test_a_user_can_be_suspended_and_reinstated_until_the_next_reset(sandbox):
    agent = sandbox.agent(role="agent", restricted=False, suspended=False)
    email = agent["email"]

    suspended = sandbox.control("POST", f"users/{agent['id']}", json={"suspended": True})

    assert suspended.json() == {"id": agent["id"], "suspended": True}
    assert sandbox.get("/api/v2/users/me.json", as_email=email).status_code == 401
    sandbox.control("POST", f"users/{agent['id']}", json={"suspended": False})
    assert sandbox.get("/api/v2/users/me.json", as_email=email).status_code == 200


def test_a_user_can_be_restricted_and_demoted_as_an_admin_would(sandbox):
    agent = sandbox.agent(role="agent", restricted=False, suspended=False)

    changed = sandbox.control(
        "POST", f"users/{agent['id']}", json={"restricted_agent": True, "role": "end-user"}
    )

    assert changed.json() == {"id": agent["id"], "restricted_agent": True, "role": "end-user"}
    me = sandbox.get_json("users/me", agent["email"])["user"]
    assert (me["restricted_agent"], me["role"]) == (True, "end-user")
    sandbox.control(
        "POST", f"users/{agent['id']}", json={"restricted_agent": False, "role": "agent"}
    )


@pytest.mark.parametrize(
    "body",
    [{}, {"suspended": "yes"}, {"suspended": 1}, {"role": "owner"}, {"name": ""}, {"email": "x"}],
    ids=repr,
)
def test_the_user_control_refuses_nonsense(sandbox, body):
    agent = sandbox.agent(role="agent", restricted=False, suspended=False)

    response = sandbox.control("POST", f"users/{agent['id']}", json=body)

    assert response.status_code == 400
