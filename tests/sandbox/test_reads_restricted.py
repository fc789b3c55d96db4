"""A restricted agent (ticket_restriction "groups") never sees a ticket outside their groups,
unless CC'd or following it: not in lists, counts, show, show_many or conversations."""

from __future__ import annotations

import pytest

from tests.sandboxserver import API


def may_see(agent: dict, ticket: dict) -> bool:
    return (
        ticket["group_id"] in agent["group_ids"]
        or agent["id"] in ticket["email_cc_ids"]
        or agent["id"] in ticket["follower_ids"]
    )


@pytest.fixture
def everything(pristine) -> list[dict]:
    return pristine.walk_cursor("tickets", pristine.admin_email, "tickets")


def test_the_restricted_agent_lists_only_what_they_may_see(pristine, everything):
    agent = pristine.restricted_agent()
    seen = pristine.walk_cursor("tickets", agent["email"], "tickets")
    expected = [t["id"] for t in everything if may_see(agent, t)]
    assert [t["id"] for t in seen] == expected
    assert len(expected) < len(everything)
    # CCs and follows reach outside the agent's group.
    assert any(t["group_id"] not in agent["group_ids"] for t in seen)
    count = pristine.get_json("tickets/count", agent["email"])["count"]["value"]
    assert count == len(expected)


def test_the_restricted_agent_is_forbidden_a_ticket_of_another_group(pristine, everything):
    agent = pristine.restricted_agent()
    hidden = next(t for t in everything if not may_see(agent, t))
    for path in (f"tickets/{hidden['id']}", f"tickets/{hidden['id']}/comments"):
        response = pristine.get(f"{API}/{path}", as_email=agent["email"])
        assert response.status_code == 403, path
        assert response.json()["error"]["title"] == "Forbidden"


def test_the_restricted_agent_gets_only_visible_tickets_from_show_many(pristine, everything):
    agent = pristine.restricted_agent()
    sample = everything[:60]
    ids = ",".join(str(t["id"]) for t in sample)
    shown = pristine.get_json("tickets/show_many", agent["email"], ids=ids)["tickets"]
    assert [t["id"] for t in shown] == [t["id"] for t in sample if may_see(agent, t)]


def test_the_restricted_agent_sees_only_visible_tickets_in_user_and_org_lists(pristine, everything):
    agent = pristine.restricted_agent()
    org_id = everything[0]["organization_id"]
    org_list = pristine.walk_cursor(f"organizations/{org_id}/tickets", agent["email"], "tickets")
    assert all(may_see(agent, t) for t in org_list)
    org_count = pristine.get_json(f"organizations/{org_id}/tickets/count", agent["email"])
    assert org_count["count"]["value"] == len(org_list)
    assignee = next(t["assignee_id"] for t in everything if t["assignee_id"])
    for relation in ("assigned", "requested", "ccd", "followed"):
        user_id = everything[0]["requester_id"] if relation == "requested" else assignee
        listed = pristine.walk_cursor(
            f"users/{user_id}/tickets/{relation}", agent["email"], "tickets"
        )
        assert all(may_see(agent, t) for t in listed), relation
    assigned_count = pristine.get_json(f"users/{assignee}/tickets/assigned/count", agent["email"])
    assert assigned_count["count"]["value"] == len(
        pristine.walk_cursor(f"users/{assignee}/tickets/assigned", agent["email"], "tickets")
    )


def test_the_restricted_agents_recent_tickets_are_all_visible(pristine):
    agent = pristine.restricted_agent()
    recent = pristine.get_json("tickets/recent", agent["email"])["tickets"]
    assert recent
    assert all(may_see(agent, t) for t in recent)
