"""Records parse the responses recorded from real Zendesk accounts (tests/fixtures/recorded)."""

from __future__ import annotations

import datetime as dt
import json
import pickle
from pathlib import Path

from inbox.zendesk.errors import Invalid, invalid_details
from inbox.zendesk.records import (
    Activity,
    Comment,
    Count,
    Page,
    Ticket,
    TicketDetail,
    TokenGrant,
    User,
)

RECORDED = Path(__file__).resolve().parent.parent / "fixtures" / "recorded"


def recorded(name: str):
    return json.loads((RECORDED / name).read_text())


def test_it_reads_a_cursor_page_of_tickets_with_its_cursors():
    page = Page.from_api(
        recorded("tickets_list_cursor_page_size1.json"), key="tickets", record=Ticket
    )
    assert page.has_more is True
    assert page.after_cursor == "eyJvIjoibmljZV9pZCIsInYiOiJhUUVBQUFBQUFBQUEifQ=="
    (ticket,) = page.items
    assert ticket.id == 1
    assert ticket.subject == "Sample ticket: Meet the ticket"
    assert (ticket.status, ticket.priority, ticket.type) == ("open", "normal", "incident")
    assert ticket.tags == ("sample", "support", "zendesk")
    assert ticket.via_channel == "sample_ticket"
    assert ticket.created_at == dt.datetime(2023, 9, 9, 23, 52, 5, tzinfo=dt.UTC)


def test_it_gives_the_updated_stamp_a_safe_update_sends_back():
    ticket = Ticket.from_api(recorded("ticket_update_200_no_comment.json")["ticket"])
    assert ticket.updated_stamp == "2023-09-18T23:26:01Z"


def test_it_treats_an_empty_last_page_as_the_end():
    page = Page.from_api(
        recorded("activities_cursor_last_page_empty.json"), key="activities", record=Activity
    )
    assert page.items == ()
    assert page.has_more is False
    assert page.after_cursor is None


def test_it_reads_an_activity_with_its_ticket_actor_and_comment():
    page = Page.from_api(
        recorded("activities_cursor_page_size1_has_more.json"), key="activities", record=Activity
    )
    (activity,) = page.items
    assert activity.verb == "tickets.comment"
    assert activity.title == "Person 2 commented on ticket #15192: update 2."
    assert (activity.ticket_id, activity.ticket_subject) == (15192, "hey yo")
    assert activity.comment_value == "update 2"
    assert activity.user is not None
    assert activity.user.iana_time_zone == "Europe/Moscow"
    assert activity.user.photo_url.endswith("/photo.jpg")
    assert page.has_more is True


def test_it_reads_comments_with_attachments():
    page = Page.from_api(recorded("ticket_comments_cursor.json"), key="comments", record=Comment)
    (comment,) = page.items
    assert comment.plain_body == "Some comment"
    assert comment.public is True
    assert comment.attachments[0].file_name == "README.md"
    assert page.has_more is False
    assert page.after_cursor


def test_it_reads_the_signed_in_admin_from_users_me():
    user = User.from_api(recorded("users_me_admin.json")["user"])
    assert user.is_agent
    assert (user.role, user.restricted_agent, user.suspended) == ("admin", False, False)
    assert user.iana_time_zone == "America/New_York"


def test_it_does_not_take_the_anonymous_user_for_an_agent():
    user = User.from_api({"id": None, "name": "Anonymous user", "role": "end-user"})
    assert not user.is_agent


def test_it_reads_a_count_whose_time_has_an_offset_instead_of_z():
    count = Count.from_api(recorded("views_count.json"))
    assert count.value == 9
    assert count.refreshed_at == dt.datetime(2023, 9, 18, 23, 37, 39, tzinfo=dt.UTC)
    assert Count.from_api({"count": {"value": 100001, "refreshed_at": None}}).refreshed_at is None


def test_it_reads_a_created_ticket():
    ticket = Ticket.from_api(recorded("ticket_create_201.json")["ticket"])
    assert (ticket.id, ticket.status, ticket.priority) == (33, "new", None)
    assert ticket.description == "Some comment"


def test_records_survive_pickling_for_the_cache():
    page = Page.from_api(
        recorded("activities_cursor_page_size1_has_more.json"), key="activities", record=Activity
    )
    detail = TicketDetail.from_api(recorded("ticket_create_201.json"))
    assert pickle.loads(pickle.dumps(page))  # noqa: S301 == page
    assert pickle.loads(pickle.dumps(detail))  # noqa: S301 == detail


def test_it_turns_a_422_body_into_field_messages():
    details = invalid_details(recorded("422_RecordInvalid_closed_ticket.json"))
    assert details == {"status": ["Status: closed prevents ticket update"]}
    assert "closed prevents ticket update" in str(Invalid(details=details))


def test_a_token_grant_never_shows_its_tokens_in_its_repr():
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    grant = TokenGrant.from_api(
        {"access_token": "secret-access", "refresh_token": "secret-refresh", "expires_in": 300},
        now=now,
    )
    assert grant.expires_at == now + dt.timedelta(seconds=300)
    assert "secret" not in repr(grant)
