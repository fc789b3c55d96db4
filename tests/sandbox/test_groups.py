"""Groups and memberships for the assignee picker, over real HTTP, as Zendesk serves them."""

from __future__ import annotations

import pytest

from tests.sandboxserver import API, SandboxServer, assert_bad_request


@pytest.fixture(scope="module")
def _seeded(sandbox_session):
    sandbox_session.reset()


@pytest.fixture
def pristine(_seeded, sandbox):
    return sandbox


def all_group_ids(sandbox: SandboxServer) -> set[int]:
    return {group_id for agent in sandbox.agents() for group_id in agent["group_ids"]}


def members(sandbox: SandboxServer, group_id: int, **match) -> set[int]:
    return {a["id"] for a in sandbox.agents(**match) if group_id in a["group_ids"]}


def test_an_agent_lists_every_group_with_zendesks_fields(pristine):
    body = pristine.get_json("groups", pristine.admin_email)

    assert {g["id"] for g in body["groups"]} == all_group_ids(pristine)
    assert body["count"] == len(body["groups"])
    for group in body["groups"]:
        assert group["url"].endswith(f"/api/v2/groups/{group['id']}.json")
        assert set(group) >= {"name", "deleted", "is_public", "created_at", "updated_at"}


def test_groups_page_by_cursor(pristine):
    email = pristine.admin_email

    walked = pristine.walk_cursor("groups", email, "groups", size=1)

    assert [g["id"] for g in walked] == sorted(all_group_ids(pristine))


def test_assignable_memberships_of_a_group_are_its_active_agents(pristine):
    email = pristine.admin_email
    for group_id in all_group_ids(pristine):
        body = pristine.get_json(f"groups/{group_id}/memberships/assignable", email)

        assigned = {m["user_id"] for m in body["group_memberships"]}
        assert assigned == members(pristine, group_id, suspended=False)
        assert {m["group_id"] for m in body["group_memberships"]} == {group_id}


def test_a_membership_answers_at_its_url(pristine):
    email = pristine.admin_email
    membership = pristine.get_json("group_memberships", email)["group_memberships"][0]

    shown = pristine.get(membership["url"], as_email=email)

    assert shown.status_code == 200
    assert shown.json() == {"group_membership": membership}


def test_a_restricted_agent_cannot_read_another_groups_membership(pristine):
    agent = pristine.restricted_agent()
    others = pristine.get_json("group_memberships", pristine.admin_email)["group_memberships"]
    outside = next(m for m in others if m["group_id"] not in agent["group_ids"])

    response = pristine.get(outside["url"], as_email=agent["email"])

    assert response.status_code == 404


def test_a_suspended_agent_is_a_member_but_not_assignable(pristine):
    suspended = pristine.agent(suspended=True)
    group_id = suspended["group_ids"][0]
    email = pristine.admin_email

    everyone = pristine.get_json(f"groups/{group_id}/memberships", email)
    assignable = pristine.get_json(f"groups/{group_id}/memberships/assignable", email)

    assert suspended["id"] in {m["user_id"] for m in everyone["group_memberships"]}
    assert suspended["id"] not in {m["user_id"] for m in assignable["group_memberships"]}


def test_memberships_sideload_the_users_and_groups_a_picker_shows(pristine):
    group_id = min(all_group_ids(pristine))

    body = pristine.get_json(
        f"groups/{group_id}/memberships/assignable",
        pristine.admin_email,
        include="users,groups",
    )

    names = {u["id"]: u["name"] for u in body["users"]}
    expected = {a["id"]: a["name"] for a in pristine.agents(suspended=False)}
    assert names == {user_id: expected[user_id] for user_id in names}
    assert set(names) == {m["user_id"] for m in body["group_memberships"]}
    assert [g["id"] for g in body["groups"]] == [group_id]


def test_the_default_membership_is_the_agents_default_group(pristine):
    body = pristine.get_json("group_memberships/assignable", pristine.admin_email, per_page=100)
    defaults = [m for m in body["group_memberships"] if m["default"]]

    assert {m["user_id"] for m in defaults} == {a["id"] for a in pristine.agents(suspended=False)}


def test_assignable_memberships_page_by_cursor_without_repeats(pristine):
    walked = pristine.walk_cursor(
        "group_memberships/assignable", pristine.admin_email, "group_memberships", size=2
    )

    ids = [m["id"] for m in walked]
    assert len(ids) == len(set(ids)) > 2
    expected = sum(len(members(pristine, g, suspended=False)) for g in all_group_ids(pristine))
    assert len(ids) == expected


def test_a_restricted_agent_gets_only_their_own_groups(pristine):
    agent = pristine.restricted_agent()
    others = all_group_ids(pristine) - set(agent["group_ids"])
    assert others, "the seed has groups the restricted agent is not in"

    for path in ("groups", "groups/assignable"):
        body = pristine.get_json(path, agent["email"])
        assert {g["id"] for g in body["groups"]} == set(agent["group_ids"])
    memberships = pristine.get_json("group_memberships/assignable", agent["email"])
    assert {m["group_id"] for m in memberships["group_memberships"]} == set(agent["group_ids"])


def test_a_restricted_agent_is_forbidden_another_groups_members(pristine):
    agent = pristine.restricted_agent()
    other = min(all_group_ids(pristine) - set(agent["group_ids"]))

    for path in (f"groups/{other}", f"groups/{other}/memberships/assignable"):
        response = pristine.get(f"{API}/{path}", as_email=agent["email"])
        assert response.status_code == 403, path
        assert response.json()["error"]["title"] == "Forbidden"
    own = agent["group_ids"][0]
    assert pristine.get_json(f"groups/{own}/memberships/assignable", agent["email"])


def test_an_unknown_group_is_zendesks_404(pristine):
    response = pristine.get(
        f"{API}/groups/999/memberships/assignable", as_email=pristine.admin_email
    )

    assert response.status_code == 404
    assert response.json() == {"error": "RecordNotFound", "description": "Not found"}


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("groups/seven/memberships/assignable", {}),
        ("groups/0", {}),
        ("groups", {"page[size]": 0}),
        ("groups/assignable", {"page[size]": "many"}),
        ("group_memberships/assignable", {"page[after]": "not-a-cursor"}),
        ("groups", {"exclude_deleted": "maybe"}),
        ("group_memberships", {"per_page": "x"}),
    ],
)
def test_bad_input_is_a_400_in_zendesks_shape(pristine, path, params):
    response = pristine.get(f"{API}/{path}", as_email=pristine.admin_email, params=params)

    assert_bad_request(response)


def test_end_users_and_strangers_may_not_list_groups(pristine):
    end_user = pristine.info["end_users"][0]["email"]

    assert pristine.get(f"{API}/groups", as_email=end_user).status_code == 403
    assert pristine.get(f"{API}/groups/assignable").status_code == 401
