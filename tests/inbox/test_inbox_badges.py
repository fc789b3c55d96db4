"""The sidebar's numbers answer the question an agent asks, or show nothing rather than a wrong
number: to-do for "Assigned to me", Zendesk's counts where it has them, an exact count for a
list that fit one page when it was opened, and the organizations the agent works with."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from inbox import services
from inbox.services import inbox
from inbox.zendesk.cache import Fresh
from inbox.zendesk.records import Count, Page, Ticket

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)


def badge_text(html: str, key: str) -> str | None:
    """The visible number of one badge in a poll answer (None: no number)."""
    found = re.search(rf'<span id="count-{key}" hx-swap-oob="innerHTML">(.*?)\n</span>', html, re.S)
    assert found, f"the poll answer has no badge for {key}"
    number = re.search(r'<span class="count-value[^"]*" title="[^"]*">(\d+)', found.group(1))
    return number.group(1) if number else None


def badge_title(html: str, key: str) -> str:
    return re.search(rf'id="count-{key}"[^>]*><span [^>]*title="([^"]*)"', html).group(1)


def test_assigned_counts_the_tickets_still_to_work_on(agent, agent_client, inbox_sandbox):
    assigned = inbox_sandbox.walk_cursor(
        f"users/{agent.zendesk_user_id}/tickets/assigned", agent.email, "tickets"
    )
    unsolved = [t for t in assigned if t["status"] in ("new", "open", "pending", "hold")]
    assert 0 < len(unsolved) < len(assigned), "the seed should give the agent both kinds"

    html = agent_client.get("/inbox/poll").content.decode()

    assert badge_text(html, "assigned") == str(len(unsolved))
    assert "still to work on" in badge_title(html, "assigned")


def test_ccd_and_all_are_zendesks_counts_and_say_they_are_approximate(
    agent, agent_client, inbox_sandbox
):
    html = agent_client.get("/inbox/poll").content.decode()

    everything = inbox_sandbox.walk_cursor("tickets", agent.email, "tickets")
    assert badge_text(html, "all") == str(len(everything))
    assert "approximate count, refreshed at" in badge_title(html, "all")
    assert badge_text(html, "ccd") is not None


def page_of(statuses: list[str], *, has_more: bool) -> Fresh[Page]:
    tickets = tuple(
        Ticket(id=index, subject="", status=status, priority=None, type=None)
        for index, status in enumerate(statuses, start=1)
    )
    return Fresh(
        value=Page(items=tickets, has_more=has_more, after_cursor="x", before_cursor=None),
        fetched_at=NOW,
    )


def all_time(value: int) -> Fresh[Count]:
    return Fresh(value=Count(value=value, refreshed_at=NOW), fetched_at=NOW)


def test_to_do_is_exact_when_the_first_page_reaches_a_solved_ticket(agent):
    badge = inbox._todo_badge(
        page_of(["new", "open", "solved"], has_more=True), all_time(900), agent
    )

    assert (badge.value, badge.suffix) == (2, "")


def test_without_a_cheap_to_do_count_the_all_time_count_shows_labelled_as_such(agent):
    badge = inbox._todo_badge(page_of(["open"] * 100, has_more=True), all_time(900), agent)

    assert (badge.value, badge.suffix) == (900, "all")
    assert "solved and closed included" in badge.title


def test_following_has_no_number_until_opened_then_the_exact_one(
    agent, agent_client, inbox_sandbox
):
    followed = inbox_sandbox.walk_cursor(
        f"users/{agent.zendesk_user_id}/tickets/followed", agent.email, "tickets"
    )
    assert 25 < len(followed) <= 100, "the seed's followed list should need two small pages"

    before = agent_client.get("/inbox/poll").content.decode()
    agent_client.get("/views/followed?size=25")  # more than one page: still no number
    partly = agent_client.get("/inbox/poll").content.decode()
    agent_client.get("/views/followed?size=100")
    after = agent_client.get("/inbox/poll").content.decode()

    assert badge_text(before, "followed") is None
    assert badge_text(partly, "followed") is None
    assert badge_text(after, "followed") == str(len(followed))
    assert "when you opened this view at" in badge_title(after, "followed")


def test_an_opened_count_goes_away_when_the_agents_tickets_change(
    agent, agent_client, inbox_sandbox
):
    agent_client.get("/views/requested")
    assert badge_text(agent_client.get("/inbox/poll").content.decode(), "requested") is not None
    assigned = inbox_sandbox.walk_cursor(
        f"users/{agent.zendesk_user_id}/tickets/assigned", agent.email, "tickets"
    )
    open_one = next(t for t in assigned if t["status"] in ("new", "open"))

    services.ticket_update(agent=agent, ticket_id=open_one["id"], priority="high")

    assert badge_text(agent_client.get("/inbox/poll").content.decode(), "requested") is None


def test_organizations_come_from_assigned_and_ccd_tickets_most_active_first(
    agent, agent_client, inbox_sandbox, settings
):
    settings.INBOX_MAX_ORGANIZATIONS = 2
    tickets = inbox_sandbox.walk_cursor(
        f"users/{agent.zendesk_user_id}/tickets/assigned",
        agent.email,
        "tickets",
        sort="status",
    )[:100]
    tally: dict[int, int] = {}
    for ticket in tickets:
        if ticket["organization_id"]:
            tally[ticket["organization_id"]] = tally.get(ticket["organization_id"], 0) + 1

    html = agent_client.get("/inbox/poll").content.decode()

    linked = [int(i) for i in re.findall(r'href="/views/organizations/(\d+)"', html)]
    assert len(linked) == 2
    assert (
        tally[linked[0]]
        >= tally[linked[1]]
        >= max((n for org, n in tally.items() if org not in linked), default=0)
    )


def test_zendesk_down_leaves_numbers_out_and_says_the_counts_may_be_old(
    agent_client, inbox_sandbox
):
    inbox_sandbox.control("POST", "faults", json={"outage": True})
    try:
        response = agent_client.get("/inbox/poll")
    finally:
        inbox_sandbox.control("POST", "faults", json={})

    html = response.content.decode()
    assert response.status_code == 200
    for key in ("assigned", "ccd", "all"):
        assert badge_text(html, key) is None
    assert "Counts may be out of date: Zendesk is not answering right now." in html


def test_a_change_in_an_organization_leaves_its_approximate_count_for_its_lifetime(
    agent, inbox_sandbox
):
    """An organization's badge is Zendesk's approximate count, like "All tickets": a change
    to one of its tickets (which moves its list on) does not ask for the count again."""
    from inbox.services.freshness import agent_view_family, organization_tickets_family
    from inbox.zendesk import cache

    base_url = inbox_sandbox.base_url
    first = inbox.sidebar_counts(agent=agent)
    assert first.organizations, "the seeded agent's tickets name organizations"
    cache.bump(
        agent_view_family(base_url, agent.zendesk_user_id, "assigned"),  # the sidebar rebuilds
        *(
            organization_tickets_family(base_url, org.organization_id)
            for org in first.organizations
        ),
    )
    inbox_sandbox.control("POST", "stats/reset")

    again = inbox.sidebar_counts(agent=agent)
    asked = inbox_sandbox.control("GET", "stats").json()["by_endpoint"]

    assert "GET /api/v2/users/{id}/tickets/assigned" in asked
    assert "GET /api/v2/organizations/{id}/tickets/count" not in asked
    for org in first.organizations:
        assert again.badges[org.key].value == first.badges[org.key].value
