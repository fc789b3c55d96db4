"""The agent's activity stream (what others did to their tickets) and what they have not seen.

The last-seen mark lives on the agent's row (`AgentAccount.activities_seen_at`), not in the
session, so "unread" follows the agent from laptop to phone. Activities are always cached per
agent: Zendesk answers each agent with their own stream.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from inbox.models import ActivityRead, AgentAccount, NotificationPreference
from inbox.services.credentials import with_agent_credentials
from inbox.services.freshness import (
    activities_family,
    agent_marks_family,
    agent_tickets_family,
    cached_as_agent,
    combined,
    tickets_family,
)
from inbox.zendesk import budget, cache, client
from inbox.zendesk.cache import Fresh
from inbox.zendesk.client import Credentials
from inbox.zendesk.records import Activity, Count, CustomStatus, Page, Ticket, User

# Zendesk keeps an agent's activities for 30 days.
# https://developer.zendesk.com/api-reference/ticketing/tickets/activity_stream/
ACTIVITY_DAYS = 30
# Past this many unread activities the badge says "99+": one page is all we spend on it.
UNREAD_PAGE_SIZE = 100
# Polls (the bell among them) ask on the background lane: a page an agent opens goes first.
POLL_LANE = budget.BACKGROUND
# The bell hands the browser this many of the newest unread activities (for notifications).
BELL_NEWEST = 5
# The drawer reads Zendesk's activities a page at a time, and never more than this many pages
# (Zendesk keeps 30 days; a very busy agent is told to look in Zendesk for older ones).
DRAWER_PAGE_SIZE = 50
DRAWER_MAX_PAGES = 20
# With a verb filter, the drawer reads on until this many matching rows per page asked for.
FILTER_TARGET_PER_PAGE = 10
# A row shows its ticket's status as the agent's lists do: custom status labels included.
TICKET_INCLUDE = ("custom_statuses",)
# The verbs the drawer can filter by (Zendesk has no verb filter: the drawer filters itself).
# https://developer.zendesk.com/api-reference/ticketing/tickets/activity_stream/
VERBS = ("tickets.assignment", "tickets.comment", "tickets.priority_increase")


@dataclass(frozen=True)
class UnreadCount:
    """How many activities the agent has not seen; `at_least` when there are more than `value`."""

    value: int
    at_least: bool = False

    def __str__(self) -> str:
        return f"{self.value}+" if self.at_least else str(self.value)


def activity_feed(
    *,
    agent: AgentAccount,
    after: str | None = None,
    page_size: int = 50,
    lane: str = budget.INTERACTIVE,
) -> Fresh[Page]:
    """One page of the agent's activities, newest first (actors in `users`)."""
    return _cached_stream(
        agent=agent,
        operation="activities_list",
        params={"after": after, "page_size": page_size},
        fetch=lambda credentials: client.activities_list(
            credentials, after=after, page_size=page_size, lane=lane
        ),
    )


def activity_unread_count(
    *, agent: AgentAccount, lane: str = budget.INTERACTIVE
) -> Fresh[UnreadCount]:
    """Activities newer than the agent's last-seen mark that the agent has not opened (all of
    the last 30 days if there is no mark yet)."""
    bell = activity_bell(agent=agent, lane=lane)
    return Fresh(
        value=bell.value.unread,
        fetched_at=bell.fetched_at,
        stale=bell.stale,
        stale_reason=bell.stale_reason,
    )


@dataclass(frozen=True)
class Bell:
    """What the bell shows: the unread count and the newest unread activities (for desktop
    notifications), and a fingerprint of both for the poll's "nothing new"."""

    unread: UnreadCount
    newest: tuple[Activity, ...] = ()
    version: str = field(default="")

    @property
    def badge(self) -> str:
        """The badge text: "" for none, "99+" past 99."""
        if self.unread.value == 0 and not self.unread.at_least:
            return ""
        if self.unread.value > 99 or self.unread.at_least:
            return "99+"
        return str(self.unread.value)


def activity_bell(*, agent: AgentAccount, lane: str = budget.INTERACTIVE) -> Fresh[Bell]:
    """The unread count and newest unread activities.

    One cached read of the activities since the mark (`since`), newest first; the opened ids
    come from the app's own table, so a poll within the cache lifetime asks Zendesk nothing.
    """
    seen_at = agent.activities_seen_at
    page = _since_page(agent=agent, seen_at=seen_at, lane=lane)
    return _bell_from(agent, seen_at, page)


def activity_bell_cached(*, agent: AgentAccount) -> Fresh[Bell] | None:
    """The bell if its Zendesk part is still fresh in the cache, else None; never asks Zendesk.

    A full page draws the badge at once from here, so its first poll finds nothing new.
    """
    seen_at = agent.activities_seen_at
    (page,) = cache.cached_hits([_since_read(agent, seen_at)])
    return None if page is None else _bell_from(agent, seen_at, page)


def _bell_from(agent: AgentAccount, seen_at: dt.datetime | None, page: Fresh[Page]) -> Fresh[Bell]:
    opened = activity_opened_ids(agent=agent)
    unread = [
        activity
        for activity in page.value.items
        if (seen_at is None or activity.created_at is None or activity.created_at > seen_at)
        and activity.id not in opened
    ]
    count = UnreadCount(value=len(unread), at_least=page.value.has_more)
    newest = tuple(unread[:BELL_NEWEST])
    version = _fingerprint(
        {"count": str(count), "newest": [activity.id for activity in newest], "stale": page.stale}
    )
    return Fresh(
        value=Bell(unread=count, newest=newest, version=version),
        fetched_at=page.fetched_at,
        stale=page.stale,
        stale_reason=page.stale_reason,
    )


def _since_page(*, agent: AgentAccount, seen_at: dt.datetime | None, lane: str) -> Fresh[Page]:
    return _cached_stream(
        agent=agent,
        operation="activities_since",
        params=_since_params(seen_at),
        fetch=lambda credentials: client.activities_list(
            credentials, since=seen_at, page_size=UNREAD_PAGE_SIZE, lane=lane
        ),
    )


def _since_read(agent: AgentAccount, seen_at: dt.datetime | None) -> cache.CachedRead:
    """The bell's one read (what `_since_page` reads), for reading it from the cache alone."""
    return _stream_read(agent, "activities_since", _since_params(seen_at))


def _since_params(seen_at: dt.datetime | None) -> dict[str, Any]:
    return {"since": seen_at.isoformat() if seen_at else None, "size": UNREAD_PAGE_SIZE}


def _fingerprint(shown: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(shown, sort_keys=True).encode()).hexdigest()[:16]


def _cached_stream[T](
    *,
    agent: AgentAccount,
    operation: str,
    params: dict[str, Any],
    fetch: Callable[[Credentials], T],
) -> Fresh[T]:
    """One cached read of the agent's own activity stream (`_stream_read`)."""
    read = _stream_read(agent, operation, params)
    return with_agent_credentials(
        agent, lambda credentials: cache.cached_read_call(read, lambda: fetch(credentials))
    )


def _stream_read(agent: AgentAccount, operation: str, params: dict[str, Any]) -> cache.CachedRead:
    """A read of the agent's own activity stream: never shared (Zendesk answers each agent
    with their own), and invalidated with the agent's activities family."""
    return cache.CachedRead(
        kind="activities",
        base_url=settings.ZENDESK_URL,
        operation=operation,
        params=params,
        user_id=agent.zendesk_user_id,
        restricted=agent.restricted,
        families=(activities_family(settings.ZENDESK_URL, agent.zendesk_user_id),),
    )


def activity_mark_seen(
    *,
    agent: AgentAccount,
    seen_at: dt.datetime | None = None,
    shown_at_mark: Iterable[int] | None = None,
) -> None:
    """Remember that the agent has seen their activities up to `seen_at` (default: now).

    Pass the newest activity's `created_at` the agent was shown, so one that arrived while the
    page was open still counts as unread. Zendesk stamps `created_at` in whole seconds, so
    one that arrived in that same second would pass for seen: pass also `shown_at_mark`, the
    ids of the activities shown with that very stamp. The mark then stops just before that
    second, and those (only those) are recorded as read.
    """
    mark = seen_at or timezone.now()
    shown = list(dict.fromkeys(shown_at_mark or ()))
    if shown_at_mark is not None:
        mark -= dt.timedelta(microseconds=1)
    if agent.activities_seen_at is None or agent.activities_seen_at < mark:
        agent.activities_seen_at = mark
        agent.save(update_fields=["activities_seen_at"])
        # What was opened at or before the mark is read by the mark itself now; what was opened
        # before Zendesk's 30 days began can no longer be listed at all.
        ActivityRead.objects.filter(agent=agent, activity_created_at__lte=mark).delete()
        forgotten = timezone.now() - dt.timedelta(days=ACTIVITY_DAYS + 1)
        ActivityRead.objects.filter(agent=agent, opened_at__lt=forgotten).delete()
    elif not shown:
        return
    if shown:
        ActivityRead.objects.bulk_create(
            [
                ActivityRead(agent=agent, activity_id=activity_id, activity_created_at=seen_at)
                for activity_id in shown
            ],
            ignore_conflicts=True,  # opened already, or marked from two tabs at once
        )
    _marks_changed(agent)


def _marks_changed(agent: AgentAccount) -> None:
    """The agent's own marks changed: what the poll keeps for them is out of date."""
    cache.bump(agent_marks_family(settings.ZENDESK_URL, agent.pk))


def activity_opened_ids(*, agent: AgentAccount) -> frozenset[int]:
    """The activities the agent opened that the mark has not passed yet."""
    return frozenset(ActivityRead.objects.filter(agent=agent).values_list("activity_id", flat=True))


def activity_open_record(*, agent: AgentAccount, activities: Iterable[Activity]) -> None:
    """Remember that the agent opened these activities (every device then shows them read)."""
    seen_at = agent.activities_seen_at
    recorded = False
    for activity in activities:
        if (
            seen_at is not None
            and activity.created_at is not None
            and activity.created_at <= seen_at
        ):
            continue  # the mark already says so
        try:
            with transaction.atomic():
                _row, created = ActivityRead.objects.get_or_create(
                    agent=agent,
                    activity_id=activity.id,
                    defaults={"activity_created_at": activity.created_at},
                )
        except IntegrityError:  # opened in two tabs at the same moment: once is enough
            continue
        recorded = recorded or created
    if recorded:
        _marks_changed(agent)


def activity_detail(
    *, agent: AgentAccount, activity_id: int, lane: str = budget.INTERACTIVE
) -> Fresh[Activity]:
    """One of the agent's activities (NotFound when Zendesk does not know it for this agent)."""
    return _cached_stream(
        agent=agent,
        operation="activity_show",
        params={"id": int(activity_id)},
        fetch=lambda credentials: client.activity_show(credentials, activity_id, lane=lane),
    )


def activity_total(*, agent: AgentAccount, lane: str = budget.INTERACTIVE) -> Fresh[Count]:
    """Zendesk's approximate count of the agent's activities of the last 30 days."""

    def fetch_as(credentials: Credentials) -> Fresh[Count]:
        return cached_as_agent(
            agent=agent,
            credentials=credentials,
            kind="count",
            operation="activities_count",
            params={},
            families=[activities_family(credentials.base_url, agent.zendesk_user_id)],
            fetch=lambda: client.activities_count(credentials, lane=lane),
        )

    return with_agent_credentials(agent, fetch_as)


# -- the drawer ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Feed:
    """The activities the drawer loaded (newest first) and what it knows beside them.

    `tickets` holds the current state of every ticket the agent can still see; a ticket
    missing from it is one Zendesk no longer shows the agent. `pages` is how many pages were
    read; `has_more` whether Zendesk has older ones (within its 30 days).
    """

    activities: tuple[Activity, ...]
    users: dict[int, User]
    tickets: dict[int, Ticket]
    custom_statuses: dict[int, CustomStatus]
    pages: int
    has_more: bool
    capped: bool = False  # stopped at DRAWER_MAX_PAGES with more left


def activity_drawer_feed(
    *, agent: AgentAccount, pages: int = 1, verb: str | None = None
) -> Fresh[Feed]:
    """At least `pages` pages of the agent's activities, and with a verb filter more, until
    the filter shows FILTER_TARGET_PER_PAGE rows per page asked for or Zendesk runs out.

    Each page is cached by its cursor, so "load more" reads again only the new page (the
    drawer folds the whole list again, which needs every page). Tickets come with one
    show_many per page, cached, never one call per row.
    """
    if verb is not None and verb not in VERBS:
        raise ValueError(f"Unknown verb {verb!r}.")
    pages = max(1, min(DRAWER_MAX_PAGES, pages))
    answers: list[Fresh[Page]] = []
    ticket_answers: list[Fresh[Page]] = []
    after: str | None = None
    matched = 0
    while True:
        answer = activity_feed(agent=agent, after=after, page_size=DRAWER_PAGE_SIZE)
        answers.append(answer)
        ticket_answers.append(_tickets_of(agent=agent, page=answer.value))
        matched += sum(1 for item in answer.value.items if verb is None or item.verb == verb)
        more = answer.value.has_more and bool(answer.value.after_cursor)
        wanted = len(answers) < pages or (
            verb is not None and matched < FILTER_TARGET_PER_PAGE * pages
        )
        if not more or not wanted or len(answers) >= DRAWER_MAX_PAGES:
            break
        after = answer.value.after_cursor
    activities: list[Activity] = []
    users: dict[int, User] = {}
    tickets: dict[int, Ticket] = {}
    statuses: dict[int, CustomStatus] = {}
    for answer in answers:
        activities.extend(answer.value.items)
        users.update(answer.value.users)
    for answer in ticket_answers:
        tickets.update({ticket.id: ticket for ticket in answer.value.items})
        statuses.update(answer.value.custom_statuses)
    has_more = answers[-1].value.has_more and bool(answers[-1].value.after_cursor)
    feed = Feed(
        activities=tuple(activities),
        users=users,
        tickets=tickets,
        custom_statuses=statuses,
        pages=len(answers),
        has_more=has_more and len(answers) < DRAWER_MAX_PAGES,
        capped=has_more and len(answers) >= DRAWER_MAX_PAGES,
    )
    return combined(feed, [*answers, *ticket_answers])


def _tickets_of(*, agent: AgentAccount, page: Page) -> Fresh[Page]:
    """The current tickets of one page of activities, by one cached show_many.

    https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/#show-multiple-tickets
    leaves out the tickets the caller may not see.
    """
    ids = sorted({item.ticket_id for item in page.items if item.ticket_id is not None})
    if not ids:
        now = dt.datetime.now(dt.UTC)
        return Fresh(value=Page(items=(), has_more=False), fetched_at=now)
    return activity_tickets(agent=agent, ticket_ids=ids)


def activity_tickets(
    *, agent: AgentAccount, ticket_ids: list[int], lane: str = budget.INTERACTIVE
) -> Fresh[Page]:
    """Up to 100 tickets by id as the agent may see them now (cached per agent: a restricted
    agent's answer is theirs alone, and a write to a ticket moves the families on)."""

    def fetch_as(credentials: Credentials) -> Fresh[Page]:
        return cached_as_agent(
            agent=agent,
            credentials=credentials,
            kind="list",
            operation="tickets_show_many",
            params={"ids": ticket_ids, "include": TICKET_INCLUDE},
            families=[
                tickets_family(credentials.base_url),
                agent_tickets_family(credentials.base_url, agent.zendesk_user_id),
            ],
            fetch=lambda: client.tickets_show_many(
                credentials, ids=ticket_ids, include=TICKET_INCLUDE, lane=lane
            ),
        )

    return with_agent_credentials(agent, fetch_as)


@dataclass(frozen=True)
class Fold:
    """Activities on one ticket shown as one row, newest first (one activity: a plain row)."""

    ticket_id: int | None
    activities: tuple[Activity, ...]

    @property
    def newest(self) -> Activity:
        return self.activities[0]


def activity_folds(activities: Iterable[Activity]) -> list[Fold]:
    """Fold the activities of each ticket into one row, placed where its newest one is.

    Activities without a ticket are never folded. Run on the whole loaded list, so a ticket
    seen again on a later page joins the row it already has.
    """
    order: list[int | None] = []
    by_ticket: dict[int, list[Activity]] = {}
    loose: list[Fold] = []
    for activity in activities:
        if activity.ticket_id is None:
            loose.append(Fold(ticket_id=None, activities=(activity,)))
            order.append(None)
            continue
        if activity.ticket_id not in by_ticket:
            by_ticket[activity.ticket_id] = []
            order.append(activity.ticket_id)
        by_ticket[activity.ticket_id].append(activity)
    folds: list[Fold] = []
    loose_iter = iter(loose)
    for ticket_id in order:
        if ticket_id is None:
            folds.append(next(loose_iter))
        else:
            folds.append(Fold(ticket_id=ticket_id, activities=tuple(by_ticket[ticket_id])))
    return folds


# -- how the agent wants to hear of new activity -------------------------------------------------
@dataclass(frozen=True)
class NotificationSettings:
    desktop: bool = False
    sound: bool = False
    do_not_disturb: bool = False


def notification_settings_get(*, agent: AgentAccount) -> NotificationSettings:
    """The agent's choices (all off until they choose)."""
    row = NotificationPreference.objects.filter(agent=agent).first()
    if row is None:
        return NotificationSettings()
    return NotificationSettings(
        desktop=row.desktop, sound=row.sound, do_not_disturb=row.do_not_disturb
    )


def notification_settings_set(
    *, agent: AgentAccount, desktop: bool, sound: bool, do_not_disturb: bool
) -> NotificationSettings:
    """Keep the agent's choices on the server, so every browser of theirs follows them."""
    NotificationPreference.objects.update_or_create(
        agent=agent,
        defaults={"desktop": desktop, "sound": sound, "do_not_disturb": do_not_disturb},
    )
    _marks_changed(agent)
    return NotificationSettings(desktop=desktop, sound=sound, do_not_disturb=do_not_disturb)
