"""A restricted agent (ticket_restriction "groups") never sees a ticket outside their groups,
unless CC'd or following it: not in lists, counts, show, show_many or conversations."""

from __future__ import annotations

import pytest

from tests.sandbox.reads_support import API, admin, get_json, restricted, walk_cursor


@pytest.fixture(scope="module")
def _seeded(sandbox_session):
    sandbox_session.reset()


@pytest.fixture
def pristine(_seeded, sandbox):
    return sandbox


def may_see(agent: dict, ticket: dict) -> bool:
    return (
        ticket["group_id"] in agent["group_ids"]
        or agent["id"] in ticket["email_cc_ids"]
        or agent["id"] in ticket["follower_ids"]
    )


@pytest.fixture
def everything(pristine) -> list[dict]:
    return walk_cursor(pristine, "tickets", admin(pristine), "tickets")


def test_the_restricted_agent_lists_only_what_they_may_see(pristine, everything):
    agent = restricted(pristine)
    seen = walk_cursor(pristine, "tickets", agent["email"], "tickets")
    expected = [t["id"] for t in everything if may_see(agent, t)]
    assert [t["id"] for t in seen] == expected
    assert len(expected) < len(everything)
    # CCs and follows reach outside the agent's group.
    assert any(t["group_id"] not in agent["group_ids"] for t in seen)
    count = get_json(pristine, "tickets/count", agent["email"])["count"]["value"]
    assert count == len(expected)


def test_the_restricted_agent_is_forbidden_a_ticket_of_another_group(pristine, everything):
    agent = restricted(pristine)
    hidden = next(t for t in everything if not may_see(agent, t))
    for path in (f"tickets/{hidden['id']}", f"tickets/{hidden['id']}/comments"):
        response = pristine.get(f"{API}/{path}", as_email=agent["email"])
        assert response.status_code == 403, path
        assert response.json()["error"]["title"] == "Forbidden"


def test_the_restricted_agent_gets_only_visible_tickets_from_show_many(pristine, everything):
    agent = restricted(pristine)
    sample = everything[:60]
    ids = ",".join(str(t["id"]) for t in sample)
    shown = get_json(pristine, "tickets/show_many", agent["email"], ids=ids)["tickets"]
    assert [t["id"] for t in shown] == [t["id"] for t in sample if may_see(agent, t)]


def test_the_restricted_agent_sees_only_visible_tickets_in_user_and_org_lists(pristine, everything):
    agent = restricted(pristine)
    org_id = everything[0]["organization_id"]
    org_list = walk_cursor(pristine, f"organizations/{org_id}/tickets", agent["email"], "tickets")
    assert all(may_see(agent, t) for t in org_list)
    org_count = get_json(pristine, f"organizations/{org_id}/tickets/count", agent["email"])
    assert org_count["count"]["value"] == len(org_list)
    assignee = next(t["assignee_id"] for t in everything if t["assignee_id"])
    for relation in ("assigned", "requested", "ccd", "followed"):
        user_id = everything[0]["requester_id"] if relation == "requested" else assignee
        listed = walk_cursor(
            pristine, f"users/{user_id}/tickets/{relation}", agent["email"], "tickets"
        )
        assert all(may_see(agent, t) for t in listed), relation
    assigned_count = get_json(pristine, f"users/{assignee}/tickets/assigned/count", agent["email"])
    assert assigned_count["count"]["value"] == len(
        walk_cursor(pristine, f"users/{assignee}/tickets/assigned", agent["email"], "tickets")
    )


def test_the_restricted_agents_recent_tickets_are_all_visible(pristine):
    agent = restricted(pristine)
    recent = get_json(pristine, "tickets/recent", agent["email"])["tickets"]
    assert recent
    assert all(may_see(agent, t) for t in recent)
