"""The Zendesk client over real HTTP against the sandbox, with a token from its OAuth flow."""

from __future__ import annotations

import uuid

import pytest

from inbox.zendesk import client
from inbox.zendesk.errors import (
    Conflict,
    Forbidden,
    Invalid,
    InvalidResponse,
    NotFound,
    PaginationTooDeep,
    RateLimited,
    Unauthorized,
    UpstreamUnavailable,
)
from inbox.zendesk.records import Activity, Comment, Ticket
from tests.inbox.conftest import credentials_for_email, endpoint_calls

pytestmark = pytest.mark.django_db


@pytest.fixture
def without_budget(monkeypatch):
    """Zendesk's own 429s, unshielded: the team budget (issue E) would refuse the call first."""
    monkeypatch.setattr("inbox.zendesk.budget.reserve", lambda lane="interactive": None)
    monkeypatch.setattr("inbox.zendesk.budget.record_response", lambda status, headers: None)


@pytest.fixture
def admin(zendesk):
    return credentials_for_email(zendesk, zendesk.agent(role="admin")["email"])


@pytest.fixture
def restricted_agent(zendesk):
    return credentials_for_email(zendesk, zendesk.agent(restricted=True)["email"])


def all_tickets(credentials, **filters) -> list[Ticket]:
    pages = client.iterate_pages(
        lambda after: client.tickets_list(
            credentials, page_size=100, after=after, include=(), **filters
        )
    )
    return [ticket for page in pages for ticket in page.items]


# -- reads ----------------------------------------------------------------------------------


def test_it_knows_who_signed_in(admin, zendesk):
    me = client.users_me(admin)
    assert me.id == zendesk.agent(role="admin")["id"]
    assert me.is_agent
    assert me.iana_time_zone


def test_it_follows_ticket_cursors_until_zendesk_says_there_is_no_more(admin):
    tickets = all_tickets(admin, view="all", sort="id")
    ids = [ticket.id for ticket in tickets]
    assert len(ids) > 100  # more than one page was followed
    assert ids == sorted(set(ids))  # no ticket twice, none skipped out of order
    assert len(ids) == client.tickets_count(admin, view="all").value


def test_it_pages_tickets_by_number_sorted_as_asked(admin):
    first = client.tickets_list(
        admin, view="all", page=1, page_size=10, sort_by="id", sort_order="desc", include=()
    )
    second = client.tickets_list(
        admin, view="all", page=2, page_size=10, sort_by="id", sort_order="desc", include=()
    )
    first_ids = [ticket.id for ticket in first.items]
    second_ids = [ticket.id for ticket in second.items]
    assert first_ids == sorted(first_ids, reverse=True)
    assert len(first_ids) == 10
    assert max(second_ids) < min(first_ids)  # page 2 goes on where page 1 stopped
    assert first.count == client.tickets_count(admin, view="all").value
    assert (first.previous_page, first.next_page) == (None, 2)
    assert (second.previous_page, second.next_page) == (1, 3)
    assert first.has_more


def test_the_last_numbered_page_has_no_next_page(admin):
    total = client.tickets_count(admin, view="all").value
    last_number = -(-total // 100)
    last = client.tickets_list(admin, view="all", page=last_number, page_size=100, include=())
    assert last.next_page is None
    assert not last.has_more
    assert last.count == total
    assert len(last.items) == total - (last_number - 1) * 100


def test_numbered_pages_past_zendesks_depth_limit_are_a_clear_error(admin):
    with pytest.raises(PaginationTooDeep) as raised:
        client.tickets_list(admin, view="all", page=101, page_size=100)
    assert raised.value.status_code == 400
    assert raised.value.error_code == "InvalidPaginationDepth"


def test_it_finds_tickets_by_their_external_id(admin):
    linked = next(
        ticket for ticket in all_tickets(admin, view="all", sort="id") if ticket.external_id
    )
    page = client.tickets_list(admin, view="all", external_id=linked.external_id, include=())
    assert [ticket.external_id for ticket in page.items] == [linked.external_id]
    numbered = client.tickets_list(
        admin, view="all", external_id=linked.external_id, page=1, include=()
    )
    assert [ticket.id for ticket in numbered.items] == [linked.id]
    assert numbered.count == 1


def test_it_lists_and_counts_the_tickets_assigned_to_the_agent(admin):
    tickets = all_tickets(admin, view="assigned")
    assert tickets
    assert all(ticket.assignee_id == admin.user_id for ticket in tickets)
    assert client.tickets_count(admin, view="assigned").value == len(tickets)


def test_it_sideloads_the_people_on_a_ticket_page(admin):
    page = client.tickets_list(admin, view="all", page_size=5)
    assert page.has_more
    requester_ids = {ticket.requester_id for ticket in page.items}
    assert requester_ids <= set(page.users)


def test_it_shows_a_ticket_with_its_comments_and_their_authors(admin):
    ticket = client.tickets_list(admin, view="all", page_size=1, include=()).items[0]
    detail = client.ticket_show(admin, ticket.id)
    assert detail.ticket.id == ticket.id
    assert detail.ticket.requester_id in detail.users
    comments = client.ticket_comments(admin, ticket.id)
    assert comments.items
    assert all(isinstance(comment, Comment) for comment in comments.items)
    assert {comment.author_id for comment in comments.items} <= set(comments.users)


def test_it_shows_many_tickets_and_users_at_once(admin):
    ids = [t.id for t in client.tickets_list(admin, view="all", page_size=3, include=()).items]
    assert [t.id for t in client.tickets_show_many(admin, ids=ids).items] == sorted(ids)
    users = client.users_show_many(admin, ids=[admin.user_id])
    assert [user.id for user in users] == [admin.user_id]
    assert client.user_show(admin, admin.user_id).id == admin.user_id


def test_it_reads_activities_and_their_count(admin):
    page = client.activities_list(admin, page_size=5)
    assert page.items
    assert all(isinstance(activity, Activity) for activity in page.items)
    first = page.items[0]
    assert client.activity_show(admin, first.id) == first
    assert client.activities_count(admin).value >= len(page.items)


def test_it_reads_the_custom_statuses(admin):
    statuses = client.custom_statuses(admin)
    assert {"open", "pending", "solved"} <= {status.status_category for status in statuses}


# -- writes ---------------------------------------------------------------------------------


def test_it_creates_a_ticket_once_per_idempotency_key(admin, zendesk):
    key = str(uuid.uuid4())
    ticket = {"subject": "Printer on fire", "comment_body": "Smoke everywhere."}
    first = client.ticket_create(admin, idempotency_key=key, **ticket)
    again = client.ticket_create(admin, idempotency_key=key, **ticket)
    assert first.id == again.id
    assert first.subject == "Printer on fire"


def test_a_stale_safe_update_is_a_conflict(admin):
    ticket = client.ticket_create(
        admin,
        subject="Safe update",
        comment_body="first",
        idempotency_key=str(uuid.uuid4()),
    )
    updated = client.ticket_update(
        admin,
        ticket.id,
        comment_body="second",
        public=False,
        safe_update_stamp=ticket.updated_stamp,
    )
    assert updated.id == ticket.id
    client.ticket_update(admin, ticket.id, priority="high")
    with pytest.raises(Conflict) as raised:
        client.ticket_update(
            admin, ticket.id, priority="low", safe_update_stamp=ticket.updated_stamp
        )
    assert "Someone else changed this ticket" in raised.value.user_message


def test_a_comment_on_a_closed_ticket_is_refused_with_the_reason(admin):
    closed = client.tickets_list(admin, view="all", sort="-status", page_size=1, include=())
    ticket = closed.items[0]
    assert ticket.status == "closed"
    with pytest.raises(Invalid) as raised:
        client.ticket_update(admin, ticket.id, comment_body="Too late")
    assert raised.value.details
    assert "closed" in str(raised.value).lower()


# -- errors ---------------------------------------------------------------------------------


def test_a_bad_token_is_unauthorized(zendesk):
    nobody = client.Credentials(base_url=zendesk.base_url, access_token="not-a-token", user_id=1)
    with pytest.raises(Unauthorized):
        client.tickets_list(nobody, view="all")


def test_a_restricted_agent_is_forbidden_a_ticket_outside_their_groups(
    admin, restricted_agent, zendesk
):
    restricted = zendesk.agent(restricted=True)
    people = ("requester_id", "submitter_id", "assignee_id")
    hidden = next(
        ticket
        for ticket in all_tickets(admin, view="all")
        if ticket.group_id not in restricted["group_ids"]
        and restricted["id"] not in {getattr(ticket, name) for name in people}
        and restricted["id"]
        not in ticket.collaborator_ids + ticket.follower_ids + ticket.email_cc_ids
    )
    with pytest.raises(Forbidden):
        client.ticket_show(restricted_agent, hidden.id)


def test_a_missing_ticket_is_not_found(admin):
    with pytest.raises(NotFound):
        client.ticket_show(admin, 999_999_999)


def test_a_rate_limited_call_says_how_long_to_wait(admin, zendesk, without_budget):
    zendesk.control("POST", "faults", json={"rate_limit_per_minute": 1}).raise_for_status()
    client.users_me(admin)
    with pytest.raises(RateLimited) as raised:
        client.users_me(admin)
    assert raised.value.retry_after is not None
    assert raised.value.retry_after > 0


def test_a_plain_text_429_is_still_rate_limited(admin, zendesk, without_budget):
    zendesk.control(
        "POST", "faults", json={"rate_limit_per_minute": 1, "rate_limit_body": "text"}
    ).raise_for_status()
    client.users_me(admin)
    with pytest.raises(RateLimited):
        client.users_me(admin)


def test_a_hanging_zendesk_times_out_instead_of_hanging_the_page(admin, zendesk, settings):
    settings.ZENDESK_READ_TIMEOUT = 0.5
    zendesk.control("POST", "faults", json={"hang_rate": 1, "path_prefix": "/api/v2/users/me"})
    with pytest.raises(UpstreamUnavailable) as raised:
        client.users_me(admin)
    assert "did not answer" in str(raised.value)
    assert "0.5 s" in str(raised.value)


def test_an_outage_is_retried_a_bounded_number_of_times_then_reported(admin, zendesk, settings):
    settings.ZENDESK_MAX_RETRIES = 2
    zendesk.control("POST", "faults", json={"outage": True}).raise_for_status()
    zendesk.control("POST", "stats/reset")
    with pytest.raises(UpstreamUnavailable) as raised:
        client.users_me(admin)
    assert "503" in str(raised.value)
    assert endpoint_calls(zendesk, "GET /api/v2/users/me") == 3


def test_a_ticket_create_with_an_idempotency_key_is_retried_but_an_update_is_not(
    admin, zendesk, settings
):
    settings.ZENDESK_MAX_RETRIES = 2
    ticket = client.tickets_list(admin, view="all", page_size=1, include=()).items[0]
    zendesk.control("POST", "faults", json={"outage": True}).raise_for_status()
    zendesk.control("POST", "stats/reset")
    with pytest.raises(UpstreamUnavailable):
        client.ticket_create(admin, subject="x", comment_body="y", idempotency_key="k-1")
    with pytest.raises(UpstreamUnavailable):
        client.ticket_update(admin, ticket.id, comment_body="z")
    assert endpoint_calls(zendesk, "POST /api/v2/tickets") == 3
    assert endpoint_calls(zendesk, "PUT /api/v2/tickets/{id}") == 1


def test_a_refused_connection_is_upstream_unavailable(settings):
    settings.ZENDESK_MAX_RETRIES = 0
    nowhere = client.Credentials(base_url="http://127.0.0.1:9", access_token="t", user_id=1)
    with pytest.raises(UpstreamUnavailable) as raised:
        client.users_me(nowhere)
    assert "connect" in str(raised.value).lower()


def test_a_garbage_body_is_an_invalid_response(admin, zendesk):
    zendesk.control("POST", "faults", json={"garbage_rate": 1}).raise_for_status()
    with pytest.raises(InvalidResponse):
        client.tickets_list(admin, view="all")
