"""The activity drawer and the bell, over real HTTP to the sandbox: what is unread, what a
change made in Zendesk does to the next poll, folding, filters, load more to the 30-day end,
hostile text shown as text, and bad input answered with a 400/404 that says what."""

from __future__ import annotations

import datetime as dt
import re
import time
from html import unescape
from typing import Any

import pytest
import requests

from inbox.models import ActivityRead, AgentAccount, NotificationPreference
from inbox.services import activities
from inbox.zendesk.records import parse_datetime
from tests.inbox.conftest import agent_account, api_calls, seeded_agent, signed_in_client

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}


# -- helpers --------------------------------------------------------------------------------
def version_of(html: str) -> str:
    return re.search(r'id="poll-version" name="version" value="([0-9a-f]+)"', html).group(1)


def bell_badge(html: str) -> str:
    """The bell's badge text in a poll answer ("" for none)."""
    found = re.search(r'<span id="bell-count" hx-swap-oob="innerHTML">(.*?)</span>\n', html)
    assert found, "the poll answer has no bell"
    return re.sub(r"<span class=\"visually-hidden\">.*", "", found.group(1))


def news_ids(html: str) -> list[int]:
    return [int(value) for value in re.findall(r'data-activity-id="(\d+)"', html)]


def zendesk_activities(sandbox, email: str) -> list[dict]:
    return sandbox.walk_cursor("activities", email, "activities")


def admin_puts(sandbox, ticket_id: int, ticket: dict) -> dict:
    admin = sandbox.agent(role="admin")["email"]
    answer = requests.put(
        f"{sandbox.base_url}/api/v2/tickets/{ticket_id}",
        headers=sandbox.basic_auth(admin),
        json={"ticket": ticket},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text[:300]
    return answer.json()["ticket"]


def a_ticket_not_assigned_to(sandbox, user_id: int) -> dict:
    admin = sandbox.agent(role="admin")
    return next(
        ticket
        for ticket in sandbox.walk_cursor("tickets", admin["email"], "tickets")
        if ticket["status"] in ("open", "new")
        and ticket["assignee_id"] not in (user_id, admin["id"])
        and ticket["priority"] in ("low", "normal")
    )


@pytest.fixture
def fresh_sandbox(inbox_sandbox):
    """A sandbox with the pristine seed before and after (these tests write)."""
    inbox_sandbox.reset()
    yield inbox_sandbox
    inbox_sandbox.reset()


@pytest.fixture
def no_cache_lifetime(settings):
    settings.ZENDESK_CACHE_TTL_SECONDS = {"activities": 0, "count": 0, "list": 0}


# -- unread ---------------------------------------------------------------------------------
def test_unread_counts_activities_since_the_mark_that_were_not_opened(agent, inbox_sandbox):
    stream = zendesk_activities(inbox_sandbox, agent.email)
    assert len(stream) >= 6, "the seed gives this agent a few activities"
    mark = parse_datetime(stream[5]["created_at"])
    activities.activity_mark_seen(agent=agent, seen_at=mark)
    newer = [item for item in stream if parse_datetime(item["created_at"]) > mark]
    opened = activities.activity_detail(agent=agent, activity_id=newer[0]["id"]).value

    before = activities.activity_unread_count(agent=agent).value
    activities.activity_open_record(agent=agent, activities=[opened])
    after = activities.activity_unread_count(agent=agent).value

    assert before.value == len(newer)
    assert after.value == len(newer) - 1
    assert not after.at_least


def test_past_99_unread_the_badge_says_99_plus(agent, agent_client, inbox_sandbox):
    stream = zendesk_activities(inbox_sandbox, agent.email)
    assert agent.activities_seen_at is None

    html = agent_client.get("/inbox/poll").content.decode()

    expected = "99+" if len(stream) > 99 else str(len(stream))
    assert bell_badge(html) == expected


def test_moving_the_mark_drops_the_opened_ids_it_passed(agent, inbox_sandbox):
    stream = zendesk_activities(inbox_sandbox, agent.email)
    opened = activities.activity_detail(agent=agent, activity_id=stream[3]["id"]).value
    activities.activity_open_record(agent=agent, activities=[opened])
    assert ActivityRead.objects.filter(agent=agent).count() == 1

    activities.activity_mark_seen(agent=agent, seen_at=parse_datetime(stream[0]["created_at"]))

    assert ActivityRead.objects.filter(agent=agent).count() == 0
    assert activities.activity_unread_count(agent=agent).value.value == 0


# -- the poll -------------------------------------------------------------------------------
def test_a_poll_that_finds_nothing_new_asks_zendesk_nothing_and_answers_204(
    agent, agent_client, inbox_sandbox
):
    first = agent_client.get("/inbox/poll")
    inbox_sandbox.control("POST", "stats/reset")

    again = agent_client.get("/inbox/poll", {"version": version_of(first.content.decode())})

    assert first.status_code == 200
    assert again.status_code == 204
    assert api_calls(inbox_sandbox) == 0


@pytest.mark.parametrize("change", ["assignment", "comment", "priority"])
def test_an_activity_made_in_zendesk_shows_at_the_next_poll(
    change, agent, agent_client, fresh_sandbox, no_cache_lifetime
):
    activities.activity_mark_seen(agent=agent)
    agent.refresh_from_db()
    first = agent_client.get("/inbox/poll").content.decode()
    assert bell_badge(first) == ""
    ticket = a_ticket_not_assigned_to(fresh_sandbox, agent.zendesk_user_id)
    if change != "assignment":  # the agent's ticket first (its own activity would count too)
        admin_puts(fresh_sandbox, ticket["id"], {"assignee_id": agent.zendesk_user_id})
        activities.activity_mark_seen(agent=agent)
        agent.refresh_from_db()
        first = agent_client.get("/inbox/poll").content.decode()
        assert bell_badge(first) == ""

    # Zendesk's created_at has whole seconds: made in the second of the mark, the activity
    # would read as already seen (the drawer marks up to the newest created_at it showed).
    time.sleep(1.05 - time.time() % 1)
    body = {
        "assignment": {"assignee_id": agent.zendesk_user_id},
        "comment": {"comment": {"body": "The customer called back.", "public": False}},
        "priority": {"priority": "urgent"},
    }[change]
    admin_puts(fresh_sandbox, ticket["id"], body)
    answer = agent_client.get("/inbox/poll", {"version": version_of(first)})

    assert answer.status_code == 200
    html = answer.content.decode()
    assert bell_badge(html) == "1"
    newest = zendesk_activities(fresh_sandbox, agent.email)[0]
    assert news_ids(html) == [newest["id"]]
    assert (
        newest["verb"]
        == {
            "assignment": "tickets.assignment",
            "comment": "tickets.comment",
            "priority": "tickets.priority_increase",
        }[change]
    )
    drawer = agent_client.get("/activity/", **HX).content.decode()
    assert f'data-activity-id="{newest["id"]}" data-unread' in drawer


# -- the drawer -----------------------------------------------------------------------------
def rows_of(html: str) -> list[str]:
    return re.findall(r'data-fold="([ta]\d+)"', html)


def test_the_drawer_lists_newest_first_with_ticket_status_from_one_show_many_per_page(
    agent, agent_client, inbox_sandbox
):
    stream = zendesk_activities(inbox_sandbox, agent.email)
    inbox_sandbox.control("POST", "stats/reset")

    html = agent_client.get("/activity/", **HX).content.decode()

    first_page = [item["id"] for item in stream[: activities.DRAWER_PAGE_SIZE]]
    ids = [int(value) for value in re.findall(r'data-activity-id="(\d+)"', html)]
    row_newest = [
        int(re.search(r'data-activity-id="(\d+)"', chunk).group(1))
        for chunk in html.split('data-fold="')[1:]
    ]
    assert set(ids) == set(first_page)
    assert row_newest == sorted(row_newest, key=first_page.index)  # newest first
    assert api_calls(inbox_sandbox, "GET /api/v2/tickets/show_many") == 1
    assert api_calls(inbox_sandbox, "GET /api/v2/tickets/{id}") == 0
    assert re.search(r'class="status status-(new|open|pending|hold|solved|closed)"', html)
    assert "About " in html  # the 30-day total, said as approximate
    assert "approximate count" in html


def test_activities_on_one_ticket_fold_into_one_row_across_pages(
    agent, agent_client, inbox_sandbox, monkeypatch
):
    monkeypatch.setattr(activities, "DRAWER_PAGE_SIZE", 3)
    stream = zendesk_activities(inbox_sandbox, agent.email)
    first_two_pages = stream[:6]
    on_ticket: dict[int, int] = {}
    for item in first_two_pages:
        ticket_id = item["target"]["ticket"]["id"]
        on_ticket[ticket_id] = on_ticket.get(ticket_id, 0) + 1

    one_page = agent_client.get("/activity/", **HX).content.decode()
    two_pages = agent_client.get("/activity/", {"pages": 2}, **HX).content.decode()

    assert len(rows_of(two_pages)) == len(on_ticket)
    assert len(set(rows_of(two_pages))) == len(rows_of(two_pages))  # no ticket twice
    for ticket_id, count in on_ticket.items():
        if count > 1:
            assert f"{count} updates on #{ticket_id}" in two_pages
    assert 'href="/activity/?pages=2"' in one_page
    assert 'href="/activity/?pages=3"' in two_pages


def test_a_filter_shows_one_verb_and_reads_on_until_it_has_enough(
    agent, agent_client, inbox_sandbox, monkeypatch
):
    monkeypatch.setattr(activities, "DRAWER_PAGE_SIZE", 5)
    monkeypatch.setattr(activities, "FILTER_TARGET_PER_PAGE", 3)
    stream = zendesk_activities(inbox_sandbox, agent.email)
    assignments = [item for item in stream if item["verb"] == "tickets.assignment"]
    assert len(assignments) >= 3, "the seed assigns this agent a few tickets"

    html = agent_client.get("/activity/", {"verb": "assignment"}, **HX).content.decode()

    ids = [int(value) for value in re.findall(r'data-activity-id="(\d+)"', html)]
    assert set(ids) <= {item["id"] for item in assignments}
    assert len(set(ids)) >= 3
    assert "verb-ticketscomment" not in html
    assert 'aria-current="true">Assignments</a>' in html


def test_load_more_follows_zendesk_back_to_the_30_day_end(
    agent, agent_client, inbox_sandbox, monkeypatch
):
    monkeypatch.setattr(activities, "DRAWER_PAGE_SIZE", 100)
    stream = zendesk_activities(inbox_sandbox, agent.email)
    url, html, loads = "/activity/", "", 0
    while url:
        html = agent_client.get(url, **HX).content.decode()
        more = re.search(r'hx-get="(/activity/\?[^"]*)"[^>]*data-focus-key="activity-more"', html)
        url = unescape(more.group(1)) if more else ""
        loads += 1
        assert loads <= activities.DRAWER_MAX_PAGES

    shown = {int(value) for value in re.findall(r'data-activity-id="(\d+)"', html)}
    assert shown == {item["id"] for item in stream}
    assert "That is everything from the last 30 days" in html


def test_hostile_title_actor_name_and_comment_are_shown_as_text(
    agent, agent_client, fresh_sandbox, no_cache_lifetime
):
    admin = fresh_sandbox.agent(role="admin")
    hostile_name = '<img src=x onerror="alert(1)">Mallory'
    fresh_sandbox.control("POST", f"users/{admin['id']}", json={"name": hostile_name})
    ticket = a_ticket_not_assigned_to(fresh_sandbox, agent.zendesk_user_id)
    admin_puts(fresh_sandbox, ticket["id"], {"assignee_id": agent.zendesk_user_id})
    admin_puts(
        fresh_sandbox,
        ticket["id"],
        {"comment": {"body": "<script>alert('x')</script><b>bold</b>", "public": True}},
    )

    drawer = agent_client.get("/activity/", **HX).content.decode()
    poll = agent_client.get("/inbox/poll").content.decode()

    for html in (drawer, poll):
        assert "<script>alert" not in html
        assert "<img src=x" not in html
        assert "<b>bold</b>" not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in drawer
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;Mallory" in drawer


# -- opening, marking, preferences ----------------------------------------------------------
def test_opening_a_row_marks_it_seen_and_goes_to_its_ticket(agent, agent_client, inbox_sandbox):
    newest = zendesk_activities(inbox_sandbox, agent.email)[0]

    answer = agent_client.post(f"/activity/{newest['id']}/open")

    assert answer.status_code == 302
    assert answer["Location"] == f"/tickets/{newest['target']['ticket']['id']}"
    assert ActivityRead.objects.filter(agent=agent, activity_id=newest["id"]).exists()
    drawer = agent_client.get("/activity/", **HX).content.decode()
    assert f'data-activity-id="{newest["id"]}" data-unread' not in drawer
    assert f'data-activity-id="{newest["id"]}"' in drawer


def test_opening_a_folded_row_marks_every_activity_in_it(agent, agent_client, inbox_sandbox):
    stream = zendesk_activities(inbox_sandbox, agent.email)
    newest, *others = stream[:3]

    agent_client.post(f"/activity/{newest['id']}/open", {"also": [item["id"] for item in others]})

    assert set(ActivityRead.objects.values_list("activity_id", flat=True)) == {
        item["id"] for item in stream[:3]
    }


def test_an_activity_whose_ticket_the_agent_cannot_see_opens_as_itself(fresh_sandbox):
    """An agent restricted to their assigned tickets loses sight of one given to someone else."""
    inbox_sandbox = fresh_sandbox
    person = seeded_agent(inbox_sandbox, role="agent", restricted=False)
    admin = inbox_sandbox.agent(role="admin")
    stream = zendesk_activities(inbox_sandbox, person["email"])
    account = agent_account(inbox_sandbox, person)
    client = signed_in_client(account)
    restricted = {"restricted_agent": True, "ticket_restriction": "assigned"}
    inbox_sandbox.control("POST", f"users/{person['id']}", json=restricted).raise_for_status()
    try:
        account.restricted = True
        account.save()
        hidden = None
        for item in (entry for entry in stream if entry["verb"] == "tickets.assignment"):
            ticket_id = item["target"]["ticket"]["id"]
            admin_puts(inbox_sandbox, ticket_id, {"assignee_id": admin["id"]})
            if not activities.activity_tickets(agent=account, ticket_ids=[ticket_id]).value.items:
                hidden = item
                break
        assert hidden is not None, "every reassigned ticket is still followed by the agent"

        answer = client.post(f"/activity/{hidden['id']}/open")
        page = client.get(answer["Location"])
    finally:
        unrestricted = {"restricted_agent": False, "ticket_restriction": None}
        inbox_sandbox.control("POST", f"users/{person['id']}", json=unrestricted)

    assert answer["Location"] == f"/activity/{hidden['id']}"
    assert page.status_code == 200
    assert "cannot be shown" in page.content.decode()
    assert ActivityRead.objects.filter(agent=account, activity_id=hidden["id"]).exists()


def mark_seen_form(html: str) -> dict[str, Any]:
    """What the drawer's "Mark all as seen" form sends."""
    return {
        "through": re.search(r'name="through" value="([^"]+)"', html).group(1),
        "shown": re.findall(r'name="shown" value="(\d+)"', html),
    }


def test_mark_all_as_seen_moves_the_mark_to_the_newest_shown(agent, agent_client, inbox_sandbox):
    html = agent_client.get("/activity/", **HX).content.decode()
    form = mark_seen_form(html)

    answer = agent_client.post("/activity/seen", form, **HX)

    agent.refresh_from_db()
    through = dt.datetime.fromisoformat(form["through"])
    assert answer.status_code == 200
    assert form["shown"], "the newest activity shown is named in the form"
    assert through - dt.timedelta(seconds=1) < agent.activities_seen_at <= through
    assert "data-unread" not in answer.content.decode()
    assert "inbox:poll-now" in answer["HX-Trigger"]
    assert bell_badge(agent_client.get("/inbox/poll").content.decode()) == ""


def test_one_that_arrived_in_the_second_of_the_newest_shown_stays_unread(
    agent, agent_client, inbox_sandbox
):
    """Zendesk stamps whole seconds: an activity stamped like the newest one the drawer showed,
    but not among those it showed (drawn after it), is not marked seen with the others."""
    newest = zendesk_activities(inbox_sandbox, agent.email)[0]
    stamp = parse_datetime(newest["created_at"])
    shown_in_that_second = [newest["id"] + 10_000]  # another one, not the newest

    activities.activity_mark_seen(agent=agent, seen_at=stamp, shown_at_mark=shown_in_that_second)

    poll = agent_client.get("/inbox/poll").content.decode()
    assert bell_badge(poll) == "1"
    assert news_ids(poll) == [newest["id"]]
    activities.activity_mark_seen(agent=agent, seen_at=stamp, shown_at_mark=[newest["id"]])
    assert bell_badge(agent_client.get("/inbox/poll").content.decode()) == ""


def test_a_mark_seen_form_without_shown_ids_marks_through_its_moment(
    agent, agent_client, inbox_sandbox
):
    html = agent_client.get("/activity/", **HX).content.decode()
    through = mark_seen_form(html)["through"]

    agent_client.post("/activity/seen", {"through": through}, **HX)

    agent.refresh_from_db()
    assert agent.activities_seen_at == dt.datetime.fromisoformat(through)
    assert bell_badge(agent_client.get("/inbox/poll").content.decode()) == ""


def test_mark_all_as_seen_under_a_filter_marks_only_that_kind(agent, agent_client, inbox_sandbox):
    """The drawer filtered to comments shows comments only: marking them seen leaves the
    assignments and other kinds unread, which the agent was not shown."""
    stream = zendesk_activities(inbox_sandbox, agent.email)
    comments = {item["id"] for item in stream if item["verb"] == "tickets.comment"}
    others = {item["id"] for item in stream if item["verb"] != "tickets.comment"}
    assert comments, "the seeded stream has comments"
    assert others, "... and other kinds"
    html = agent_client.get("/activity/?verb=comment", **HX).content.decode()
    form = {**mark_seen_form(html), "verb": "comment", "pages": "1"}

    answer = agent_client.post("/activity/seen", form, **HX)

    agent.refresh_from_db()
    read = set(ActivityRead.objects.filter(agent=agent).values_list("activity_id", flat=True))
    assert answer.status_code == 200
    assert agent.activities_seen_at is None, "the mark, which passes every kind, did not move"
    assert read
    assert read <= comments
    assert bell_badge(agent_client.get("/inbox/poll").content.decode()) != "", "others unread"


def test_notification_choices_are_kept_per_agent(agent, agent_client, inbox_sandbox):
    answer = agent_client.post("/activity/preferences", {"desktop": "on", "sound": "on"}, **HX)

    assert answer.status_code == 200
    choice = NotificationPreference.objects.get(agent=agent)
    assert (choice.desktop, choice.sound, choice.do_not_disturb) == (True, True, False)
    assert '"desktop": true' in answer["HX-Trigger"]
    assert 'data-desktop="1" data-sound="1" data-dnd="0"' in (
        agent_client.get("/inbox/poll").content.decode()
    )


def test_each_agent_sees_only_their_own_activity(agent, agent_client, inbox_sandbox):
    other = agent_account(
        inbox_sandbox, inbox_sandbox.agents(role="agent", restricted=False, suspended=False)[1]
    )
    theirs = {item["id"] for item in zendesk_activities(inbox_sandbox, other.email)}
    mine = agent_client.get("/activity/", **HX).content.decode()

    shown = {int(value) for value in re.findall(r'data-activity-id="(\d+)"', mine)}
    assert shown
    assert not shown & theirs
    assert AgentAccount.objects.count() == 2


# -- bad input ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("query", "says"),
    [
        ({"verb": "tickets.deleted"}, "filtered by"),
        ({"verb": "<script>"}, "filtered by"),
        ({"pages": "0"}, "loads 1 to"),
        ({"pages": "abc"}, "loads 1 to"),
        ({"pages": "999"}, "loads 1 to"),
    ],
)
def test_a_malformed_filter_or_page_is_a_400_that_says_what(
    agent_client, inbox_sandbox, query, says
):
    answer = agent_client.get("/activity/", query)

    assert answer.status_code == 400
    assert says in answer.content.decode()
    assert "<script>" not in answer.content.decode()


def test_an_unknown_activity_is_a_404(agent_client, inbox_sandbox):
    for answer in (
        agent_client.get("/activity/999999999999"),
        agent_client.post("/activity/999999999999/open"),
        agent_client.get("/activity/99999999999999999999999"),
    ):
        assert answer.status_code == 404
        assert "no such activity" in answer.content.decode()


def test_malformed_forms_are_a_400(agent_client, inbox_sandbox):
    assert agent_client.post("/activity/seen", {"through": "yesterday"}).status_code == 400
    assert agent_client.post("/activity/1/open", {"also": "'; drop"}).status_code == 400
    assert agent_client.post("/activity/preferences", {"volume": "11"}).status_code == 400


def test_the_drawer_needs_a_signed_in_agent(client, inbox_sandbox):
    assert client.get("/activity/").status_code in (302, 401, 403)
    assert client.post("/activity/seen").status_code in (302, 401, 403)
