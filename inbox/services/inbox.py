"""The inbox: its views, their lists and count badges, what the agent viewed, and the theme.

Everything here answers from the cache when it can (`cached_as_agent`, scoped exactly as the
ticket services scope it: a restricted agent's answers are never shared) and says how old an
answer is (`Fresh`). Polls ask on the budget's background lane, so a page an agent opens
always goes first.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core.cache import caches
from django.db import IntegrityError, transaction
from django.utils import timezone

from inbox.models import AgentAccount, AgentPreference, ViewedTicket
from inbox.services.credentials import with_agent_credentials
from inbox.services.freshness import (
    agent_view_family,
    cached_as_agent,
    combined,
    tickets_family,
    unavailable,
)
from inbox.services.tickets import (
    APPROXIMATE_COUNT,
    ORGANIZATION_COUNT,
    count_read,
    first_page_read,
    organization_count_read,
    ticket_count,
    ticket_list,
)
from inbox.zendesk import budget, cache, client, request_cost
from inbox.zendesk.cache import Fresh, ZendeskUnavailable
from inbox.zendesk.client import Credentials
from inbox.zendesk.records import Count, Organization, Page, Ticket

# Sideloads a list row needs: names of people and groups, status labels, comment counts. One
# request per page, never one per row.
# https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/#sideloads
LIST_INCLUDE = ("users", "groups", "custom_statuses", "comment_count")
PAGE_SIZES = (25, 50, 100)
# The columns a ticket list sorts by (leading "-" for descending). Every list endpoint but
# the recent one takes both: cursor pagination's `sort` (id, status, updated_at) and offset
# pagination's `sort_by` (the others, by the Zendesk name given here), which pages by number
# and stops at OFFSET_DEPTH records.
# https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/#list-tickets
CURSOR_SORTS = ("id", "status", "updated_at")
OFFSET_SORTS: dict[str, client.TicketOffsetSort] = {
    "subject": "subject",
    "requester": "requester.name",
    "assignee": "assignee.name",
    "group": "group",
}
# https://developer.zendesk.com/api-reference/introduction/pagination/#using-offset-pagination
OFFSET_DEPTH = 10_000
UNSOLVED = ("new", "open", "pending", "hold")
# A sidebar read looks at this many of the agent's assigned and CC'd tickets (one page each).
SIDEBAR_SAMPLE = 100
# ... with what the rows of a list need and the organizations the sidebar names, as the
# views of those lists ask too: an agent opening "Assigned to me" or "CC'd" while their
# sample holds the whole list is shown it from the cache, and a whole page the agent opened
# serves the sidebar as its sample (`_whole_list_cached`), instead of asking Zendesk again.
SAMPLE_INCLUDE = (*LIST_INCLUDE, "organizations")
# The views a sample is taken of, and the sort it is taken in (each view's default sort).
SAMPLED_VIEWS = {"assigned": "status", "ccd": "-updated_at"}
# An "opened" count (a list that fit one page when the agent opened it) is shown this long.
OPENED_COUNT_SECONDS = 600
# Views counted when the agent opened them (see InboxView.counted_by).
OPENED_VIEW_KEYS = ("followed", "requested")
RECENT_KEEP = 100


@dataclass(frozen=True)
class InboxView:
    """One entry of the sidebar: a Zendesk ticket list, how it sorts and how it is counted.

    `counted_by`: "todo" (the agent's unsolved work, from the first page sorted by status),
    "zendesk" (Zendesk's approximate count endpoint), "opened" (exact, when the list fit one
    page the last time the agent opened it) or "" (no number).
    """

    key: str
    label: str
    zendesk_view: str
    shortcut: str
    default_sort: str
    counted_by: str
    sortable: bool = True
    organization_id: int | None = None


VIEWS: tuple[InboxView, ...] = (
    InboxView("assigned", "Assigned to me", "assigned", "a", "status", "todo"),
    InboxView("ccd", "CC'd", "ccd", "c", "-updated_at", "zendesk"),
    InboxView("followed", "Following", "followed", "f", "-updated_at", "opened"),
    InboxView("requested", "Requested by me", "requested", "r", "-updated_at", "opened"),
    InboxView("recent", "Recently viewed", "recent", "v", "", "", sortable=False),
    InboxView("all", "All tickets", "all", "t", "-updated_at", "zendesk"),
)
DEFAULT_VIEW = VIEWS[0]


def inbox_view_find(*, key: str) -> InboxView | None:
    return next((view for view in VIEWS if view.key == key), None)


def organization_view(*, organization_id: int, name: str = "") -> InboxView:
    return InboxView(
        key=f"org-{organization_id}",
        label=name or f"Organization {organization_id}",
        zendesk_view="organization",
        shortcut="",
        default_sort="-updated_at",
        counted_by="zendesk",
        organization_id=organization_id,
    )


# -- the ticket list -------------------------------------------------------------------------
def inbox_page(
    *,
    agent: AgentAccount,
    view: InboxView,
    sort: str,
    page_size: int,
    after: str | None = None,
    before: str | None = None,
    page: int | None = None,
    external_id: str | None = None,
) -> Fresh[Page]:
    """One page of one sidebar view, with the names its rows show (sideloaded).

    `sort` is a column of CURSOR_SORTS or OFFSET_SORTS ("-" first for descending): cursor sorts
    page with `after` / `before`, offset sorts by `page` number. Raises ZendeskUnavailable when
    Zendesk is down and nothing is saved, PaginationTooDeep past Zendesk's offset depth, ZendeskError
    for Zendesk's other refusals (a cursor it does not know: 400).
    """
    if view.zendesk_view == "recent":
        return _recent_page(agent=agent, page_size=page_size)
    column, order = sort.removeprefix("-"), "desc" if sort.startswith("-") else "asc"
    if column not in CURSOR_SORTS and column not in OFFSET_SORTS:
        raise ValueError(f"Ticket lists do not sort by {column!r}.")
    paging: dict[str, Any] = {"sort": sort, "after": after, "before": before}
    if column in OFFSET_SORTS:
        paging = {
            "sort": "",
            "page": page or 1,
            "sort_by": OFFSET_SORTS[column],
            "sort_order": order,
        }

    def fetch_as(credentials: Credentials) -> Fresh[Page]:
        first_page = not (after or before) and (page or 1) == 1
        if first_page and external_id is None:
            whole = _whole_list_cached(agent, credentials, view.zendesk_view, sort)
            if whole is not None and len(whole.value.items) <= page_size:
                return whole  # the rows Zendesk would send, and no next page
        if view.zendesk_view in SAMPLED_VIEWS:
            include = SAMPLE_INCLUDE  # a whole first page serves the sidebar as its sample
        elif view.organization_id:  # titled with its name, sideloaded with its tickets
            include = (*LIST_INCLUDE, "organizations")
        else:
            include = LIST_INCLUDE
        answer = ticket_list(
            agent=agent,
            view=view.zendesk_view,
            organization_id=view.organization_id,
            page_size=page_size,
            external_id=external_id,
            include=include,
            **paging,
        )
        if view.counted_by == "opened" and first_page and external_id is None:
            _opened_count_record(agent, credentials, view, answer)
        return answer

    return with_agent_credentials(agent, fetch_as)


def _whole_list_cached(
    agent: AgentAccount, credentials: Credentials, zendesk_view: str, sort: str
) -> Fresh[Page] | None:
    """A fresh first page of one of the agent's sampled lists in its default sort that holds
    the whole list (Zendesk said there is no more): the sidebar's sample, or a page the agent
    opened, at any page size, read from the cache in one round trip. Never calls Zendesk.

    The sidebar's sample and the view's first page are one list read two ways: whichever was
    read last since the list changed answers the other."""
    if SAMPLED_VIEWS.get(zendesk_view) != sort:
        return None
    reads = [
        first_page_read(
            agent,
            credentials,
            view=zendesk_view,
            sort=sort,
            page_size=size,
            include=SAMPLE_INCLUDE,
        )
        for size in sorted({*PAGE_SIZES, SIDEBAR_SAMPLE})
    ]
    for hit in cache.cached_hits(reads):
        if hit is not None and not hit.stale and not hit.value.has_more:
            return hit
    return None


# -- recently viewed -------------------------------------------------------------------------
def ticket_viewed_record(*, agent: AgentAccount, ticket_id: int) -> None:
    """Remember that the agent opened this ticket in the app (the ticket page calls this).

    Zendesk's recent list counts only views in its own agent interface, not API reads.
    """
    now = timezone.now()
    updated = ViewedTicket.objects.filter(agent=agent, ticket_id=int(ticket_id)).update(
        viewed_at=now
    )
    if not updated:
        try:
            with transaction.atomic():
                ViewedTicket.objects.create(agent=agent, ticket_id=int(ticket_id), viewed_at=now)
        except IntegrityError:  # the same agent opened it in another tab at the same moment
            ViewedTicket.objects.filter(agent=agent, ticket_id=int(ticket_id)).update(viewed_at=now)
    # Keep the table small: an agent's recent list is the newest RECENT_KEEP.
    old = ViewedTicket.objects.filter(agent=agent).order_by("-viewed_at")[RECENT_KEEP:]
    ViewedTicket.objects.filter(pk__in=list(old.values_list("pk", flat=True))).delete()


def _viewed_ids(agent: AgentAccount, limit: int) -> list[int]:
    return list(
        ViewedTicket.objects.filter(agent=agent)
        .order_by("-viewed_at", "-id")
        .values_list("ticket_id", flat=True)[:limit]
    )


def _merge_pages(pages: list[Page], ids: list[int]) -> Page:
    """The tickets of `pages` in the order of `ids`, with every page's sideloads."""
    by_id: dict[int, Ticket] = {}
    users: dict = {}
    groups: dict = {}
    statuses: dict = {}
    for page in pages:
        for ticket in page.items:
            by_id.setdefault(ticket.id, ticket)
        users.update(page.users)
        groups.update(page.groups)
        statuses.update(page.custom_statuses)
    return Page(
        items=tuple(by_id[ticket_id] for ticket_id in ids if ticket_id in by_id),
        has_more=False,
        after_cursor=None,
        before_cursor=None,
        users=users,
        groups=groups,
        custom_statuses=statuses,
    )


def _recent_page(*, agent: AgentAccount, page_size: int) -> Fresh[Page]:
    """Tickets the agent opened in the app (newest first), then Zendesk's own recent list.

    The app's tickets come through show_many, which leaves out any ticket the agent may no
    longer see (https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/#show-multiple-tickets).
    """
    viewed = _viewed_ids(agent, page_size)

    def fetch_as(credentials: Credentials) -> Fresh[Page]:
        zendesk_recent = ticket_list(
            agent=agent, view="recent", sort="", page_size=page_size, include=LIST_INCLUDE
        )
        parts: list[Fresh[Page]] = [zendesk_recent]
        if viewed:
            parts.append(
                cached_as_agent(
                    agent=agent,
                    credentials=credentials,
                    kind="list",
                    operation="tickets_show_many",
                    params={"ids": sorted(viewed), "include": LIST_INCLUDE},
                    families=[tickets_family(credentials.base_url)],
                    fetch=lambda: client.tickets_show_many(
                        credentials, ids=viewed, include=LIST_INCLUDE
                    ),
                )
            )
        order = list(
            dict.fromkeys([*viewed, *(ticket.id for ticket in zendesk_recent.value.items)])
        )[:page_size]
        return combined(_merge_pages([part.value for part in parts], order), parts)

    return with_agent_credentials(agent, fetch_as)


# -- counts ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Badge:
    """A sidebar number and what it means. `value` None: no number rather than a wrong one."""

    value: int | None
    title: str = ""
    suffix: str = ""  # shown after the number: what it counts when that is not obvious
    stale: bool = False
    # When Zendesk last refreshed an approximate count, as the title says it: left out of the
    # sidebar's version, so a count asked again with the same number is still "nothing new".
    as_of: str = ""


@dataclass(frozen=True)
class Sidebar:
    """What the sidebar shows beside its fixed entries: badges by view key, organizations."""

    badges: dict[str, Badge]
    organizations: tuple[InboxView, ...]
    stale_message: str | None = None
    fetched_at: dt.datetime | None = None
    # When its first Zendesk part expires (epoch seconds): each part by its own lifetime (a
    # list kept for minutes while a change feed runs, the approximate counts for 30 s).
    fresh_until: float | None = None
    # ... and its first part other than the approximate counts ("all", organizations), with
    # those counts' reads and the numbers shown: a poll keeps its answer past the counts'
    # short life while the cache's fresh counts say the same numbers (inbox.services.poll).
    lasting_until: float | None = None
    approximate: tuple[tuple[cache.CachedRead, int | None], ...] = ()
    version: str = field(default="")


def agent_zone(agent: AgentAccount) -> dt.tzinfo:
    """The agent's IANA time zone from their Zendesk profile (UTC if Python does not know it)."""
    try:
        return ZoneInfo(agent.iana_time_zone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return dt.UTC


def _when(moment: dt.datetime | None, agent: AgentAccount) -> str:
    """A time of day as the agent reads it, for the badges' hover text."""
    if moment is None:
        return "an unknown time"
    return timezone.localtime(moment, agent_zone(agent)).strftime("%H:%M")


def _zendesk_badge(answer: Fresh[Count | None], agent: AgentAccount, what: str) -> Badge:
    if answer.value is None:
        return Badge(None, title=f"Zendesk did not give the number of {what} just now.")
    count = answer.value
    as_of = _when(count.refreshed_at, agent)
    return Badge(
        count.value,
        title=(
            f"About {count.value} {what}, solved and closed included (Zendesk's approximate "
            f"count, refreshed at {as_of})."
        ),
        stale=answer.stale,
        as_of=as_of,
    )


def _whole(sample: Fresh[Page] | None) -> bool:
    """Whether a one-page sample holds its whole list (Zendesk said there is no more)."""
    return sample is not None and sample.value is not None and not sample.value.has_more


def _todo_from(work: Fresh[Page] | None) -> int | None:
    """How many assigned tickets are still to work on, when the first page sorted by status
    says it: it ends (no more pages) or reaches a solved one. None otherwise."""
    if work is None or work.value is None:
        return None
    tickets = work.value.items
    reaches_solved = bool(tickets) and tickets[-1].status not in UNSOLVED
    if work.value.has_more and not reaches_solved:
        return None
    return sum(1 for ticket in tickets if ticket.status in UNSOLVED)


def _todo_badge(
    work: Fresh[Page] | None, all_time: Fresh[Count | None] | None, agent: AgentAccount
) -> Badge:
    """How many assigned tickets are still to work on, or the all-time count labelled so.

    The first page sorted by status holds every unsolved ticket when it ends (no more pages)
    or reaches a solved one; otherwise only the all-time count is cheap.
    """
    todo = _todo_from(work)
    if todo is not None and work is not None:
        return Badge(
            todo,
            title=f"{todo} tickets assigned to you still to work on (new, open, pending "
            "or on hold).",
            stale=work.stale,
        )
    if all_time is None:
        return Badge(None, title="Zendesk did not give the number of your tickets just now.")
    badge = _zendesk_badge(all_time, agent, "tickets assigned to you")
    if badge.value is None:
        return badge
    return Badge(badge.value, title=badge.title, suffix="all", stale=badge.stale, as_of=badge.as_of)


def _ccd_badge(
    sample: Fresh[Page], count: Fresh[Count | None] | None, agent: AgentAccount
) -> Badge:
    """The CC'd tickets: exactly, from the sample when it holds them all; else Zendesk's
    approximate count."""
    if count is None and _whole(sample):
        total = len(sample.value.items)
        return Badge(
            total,
            title=f"{total} tickets you are CC'd on, solved and closed included.",
            stale=sample.stale,
        )
    if count is None:
        return Badge(None, title="Zendesk did not give the number of tickets you are CC'd on.")
    return _zendesk_badge(count, agent, "tickets you are CC'd on")


def _opened_key(base_url: str, agent: AgentAccount, view_key: str) -> str:
    digest = hashlib.sha256(f"{base_url}|{agent.zendesk_user_id}|{view_key}".encode()).hexdigest()
    return f"inbox:opened-count:{digest[:40]}"


def opened_count_keys(*, agent: AgentAccount, base_url: str) -> list[str]:
    """The cache keys of the agent's "opened" counts (the poll reads them with its state)."""
    return [_opened_key(base_url, agent, key) for key in OPENED_VIEW_KEYS]


def _opened_count_record(
    agent: AgentAccount, credentials: Credentials, view: InboxView, answer: Fresh[Page]
) -> None:
    """Keep the exact size of a list without a count endpoint when it fit one page."""
    if answer.value.has_more or answer.stale:
        return
    family = agent_view_family(credentials.base_url, agent.zendesk_user_id, view.key)
    caches["default"].set(
        _opened_key(credentials.base_url, agent, view.key),
        {
            "count": len(answer.value.items),
            "generation": cache.generations([family])[family],
            "counted_at": answer.fetched_at,
        },
        timeout=OPENED_COUNT_SECONDS,
    )


def _opened_badge(
    credentials: Credentials, agent: AgentAccount, view: InboxView, reads: _SidebarReads
) -> Badge:
    record = reads.values.get(_opened_key(credentials.base_url, agent, view.key))
    family = agent_view_family(credentials.base_url, agent.zendesk_user_id, view.key)
    if not record or record["generation"] != reads.generations[family]:
        return Badge(None, title="Open this view to count its tickets.")
    return Badge(
        record["count"],
        title=f"{record['count']} tickets when you opened this view at "
        f"{_when(record['counted_at'], agent)}.",
    )


def _organizations(pages: list[Fresh[Page]], limit: int) -> list[Organization]:
    """Organizations of the sampled tickets, most tickets first (then most recently updated)."""
    tally: Counter[int] = Counter()
    latest: dict[int, float] = {}
    names: dict[int, Organization] = {}
    for answer in (page for page in pages if page.value is not None):
        names.update(answer.value.organizations)
        for ticket in answer.value.items:
            if ticket.organization_id is None:
                continue
            tally[ticket.organization_id] += 1
            stamp = ticket.updated_at.timestamp() if ticket.updated_at else 0.0
            latest[ticket.organization_id] = max(latest.get(ticket.organization_id, 0.0), stamp)
    ranked = sorted(tally, key=lambda org_id: (-tally[org_id], -latest[org_id], org_id))
    return [names.get(org_id) or Organization(id=org_id, name="") for org_id in ranked[:limit]]


def _quietly(call: Callable[[], Fresh[Any]]) -> Fresh[Any]:
    """One part of the sidebar: Zendesk down with nothing saved leaves that part empty."""
    try:
        return call()
    except ZendeskUnavailable as error:
        return unavailable(error)


def sidebar_counts(*, agent: AgentAccount, lane: str = budget.BACKGROUND) -> Sidebar:
    """Every badge of the sidebar and the agent's organizations, fetched side by side.

    Never raises for Zendesk being down: a number it cannot give is left out (value None)
    and the answer says it is stale. The Zendesk part is kept whole until its oldest part
    would expire (or a write moves the agent's families on), so a poll answered from cache
    costs one cache read instead of a dozen and three thread pools.
    """

    def fetch_as(credentials: Credentials) -> Sidebar:
        reads = _sidebar_reads(agent, credentials)
        zendesk_part = _sidebar_from_cache(agent, credentials, reads)
        request_cost.note("sidebar", "kept" if zendesk_part is not None else "asked")
        if zendesk_part is None:
            zendesk_part = _sidebar_from_zendesk(agent, credentials, lane)
            _sidebar_keep(agent, credentials, zendesk_part)
            reads = _sidebar_reads(agent, credentials)
        return _with_opened_badges(agent, credentials, zendesk_part, reads)

    return with_agent_credentials(agent, fetch_as)


def sidebar_cached(*, agent: AgentAccount) -> Sidebar | None:
    """The sidebar if its Zendesk part is in the cache, else None; never asks Zendesk.

    A full page shows the badges at once from here; the poll brings anything newer.
    """

    def from_cache(credentials: Credentials) -> Sidebar | None:
        reads = _sidebar_reads(agent, credentials)
        zendesk_part = _sidebar_from_cache(agent, credentials, reads)
        if zendesk_part is None:
            return None
        return _with_opened_badges(agent, credentials, zendesk_part, reads)

    return with_agent_credentials(agent, from_cache)


def _with_opened_badges(
    agent: AgentAccount, credentials: Credentials, zendesk_part: Sidebar, reads: _SidebarReads
) -> Sidebar:
    badges = {
        key: _opened_badge(credentials, agent, inbox_view_find(key=key), reads)
        for key in OPENED_VIEW_KEYS
    }
    badges = {**zendesk_part.badges, **badges}
    sidebar = replace(zendesk_part, badges=badges)
    return replace(sidebar, version=sidebar_version(sidebar))


def _sidebar_families(agent: AgentAccount, credentials: Credentials) -> list[str]:
    """What moves the kept sidebar on: the agent's assigned and CC'd lists and counts. A
    change to a ticket they only follow or requested, or that does not concern them, leaves
    it kept (the approximate counts are looked at again when the "all" count expires)."""
    return [
        agent_view_family(credentials.base_url, agent.zendesk_user_id, view)
        for view in ("assigned", "ccd")
    ]


def _opened_families(agent: AgentAccount, credentials: Credentials) -> list[str]:
    return [
        agent_view_family(credentials.base_url, agent.zendesk_user_id, key)
        for key in OPENED_VIEW_KEYS
    ]


def _sidebar_key(agent: AgentAccount, credentials: Credentials) -> str:
    digest = hashlib.sha256(
        f"{credentials.base_url}|{agent.zendesk_user_id}|{agent.restricted}".encode()
    ).hexdigest()
    return f"inbox:sidebar:{digest[:40]}"


@dataclass(frozen=True)
class _SidebarReads:
    """What a poll reads from the cache: the kept sidebar, the opened counts, generations."""

    values: dict[str, Any]
    generations: dict[str, int]


def _sidebar_reads(agent: AgentAccount, credentials: Credentials) -> _SidebarReads:
    """Everything a poll answered from cache needs, in one round trip to the cache (Redis)."""
    keys = [
        _sidebar_key(agent, credentials),
        *(_opened_key(credentials.base_url, agent, key) for key in OPENED_VIEW_KEYS),
    ]
    families = _sidebar_families(agent, credentials) + _opened_families(agent, credentials)
    values, generations = cache.read_with_generations(keys, families)
    return _SidebarReads(values=values, generations=generations or cache.generations(families))


def _sidebar_from_cache(
    agent: AgentAccount, credentials: Credentials, reads: _SidebarReads
) -> Sidebar | None:
    kept = reads.values.get(_sidebar_key(agent, credentials))
    if kept is None:
        return None
    generations, sidebar = kept
    if any(reads.generations.get(family) != number for family, number in generations.items()):
        return None  # a write changed the agent's tickets since (or it was kept otherwise)
    if sidebar.fresh_until is None or sidebar.fresh_until <= cache.clock():
        return None  # a part expired (the cache's own timeout is whole seconds)
    return sidebar


def _sidebar_keep(agent: AgentAccount, credentials: Credentials, sidebar: Sidebar) -> None:
    """Keep a fresh sidebar until its first part would expire; a stale one not at all."""
    if sidebar.stale_message or sidebar.fresh_until is None:
        return
    seconds_left = sidebar.fresh_until - cache.clock()
    if seconds_left < 1:
        return
    caches["default"].set(
        _sidebar_key(agent, credentials),
        (cache.generations(_sidebar_families(agent, credentials)), sidebar),
        timeout=int(seconds_left),
    )


def _sidebar_from_zendesk(agent: AgentAccount, credentials: Credentials, lane: str) -> Sidebar:
    """The badges Zendesk gives (counts, to-do, organizations), asked side by side.

    The assigned and CC'd counts are asked only when their sample (one page) does not hold
    what the badge shows: most agents' lists fit one page, and then the sample says it
    exactly. One request fewer each, at an agent's first poll and after every change that
    concerns them: what fills a team's budget at the start of a day.
    """

    def sample(zendesk_view: str, sort: str) -> Fresh[Page]:
        whole = _whole_list_cached(agent, credentials, zendesk_view, sort)
        if whole is not None:  # the agent opened the whole list since it last changed
            return whole
        return _quietly(
            lambda: ticket_list(
                agent=agent,
                view=zendesk_view,
                sort=sort,
                page_size=SIDEBAR_SAMPLE,
                include=SAMPLE_INCLUDE,
                lane=lane,
            )
        )

    with ThreadPoolExecutor(max_workers=3) as pool:
        # `carried`: the request's Server-Timing counts the calls made side by side too.
        work = pool.submit(request_cost.carried(sample), "assigned", "status")
        copied = pool.submit(request_cost.carried(sample), "ccd", "-updated_at")
        everything = pool.submit(
            request_cost.carried(ticket_count), agent=agent, view="all", lane=lane
        )
        work_answer, ccd_answer = work.result(), copied.result()
        counts = {"all": everything.result()}
    if _todo_from(work_answer) is None:
        counts["assigned"] = ticket_count(agent=agent, view="assigned", lane=lane)
    if not _whole(ccd_answer):
        counts["ccd"] = ticket_count(agent=agent, view="ccd", lane=lane)
    organizations = _organizations([work_answer, ccd_answer], settings.INBOX_MAX_ORGANIZATIONS)
    org_views = tuple(
        organization_view(organization_id=org.id, name=org.name) for org in organizations
    )
    with ThreadPoolExecutor(max_workers=max(1, min(4, len(org_views)))) as pool:
        org_counts = list(
            pool.map(
                request_cost.carried(
                    lambda view: _organization_count(agent, credentials, view, lane)
                ),
                org_views,
            )
        )
    badges = {
        "assigned": _todo_badge(work_answer, counts.get("assigned"), agent),
        "ccd": _ccd_badge(ccd_answer, counts.get("ccd"), agent),
        "all": _zendesk_badge(counts["all"], agent, "tickets you can see"),
    }
    for view, answer in zip(org_views, org_counts, strict=True):
        badges[view.key] = _zendesk_badge(answer, agent, f"tickets of {view.label}")
    whole = combined(None, [*counts.values(), work_answer, ccd_answer, *org_counts])
    approximate = [
        (count_read(agent, credentials, "all"), counts["all"]),
        *(
            (_organization_read(agent, credentials, view), answer)
            for view, answer in zip(org_views, org_counts, strict=True)
        ),
    ]
    lasting = [
        *((answer, "count") for view, answer in counts.items() if view != "all"),
        (work_answer, "list"),
        (ccd_answer, "list"),
    ]
    lifetimes = cache.lifetimes("count", "list", APPROXIMATE_COUNT, ORGANIZATION_COUNT)
    lasting_until = _first_expiry(lasting, lifetimes)
    return Sidebar(
        badges=badges,
        organizations=org_views,
        stale_message=whole.stale_message,
        fetched_at=whole.fetched_at,
        fresh_until=min(
            lasting_until,
            _first_expiry([(answer, read.kind) for read, answer in approximate], lifetimes),
        ),
        lasting_until=lasting_until,
        approximate=tuple((read, count_number(answer)) for read, answer in approximate),
    )


def _first_expiry(parts: list[tuple[Fresh[Any], str]], lifetimes: dict[str, float]) -> float:
    """When the first of these answers expires, each by its kind's lifetime."""
    return min(answer.fetched_at.timestamp() + lifetimes[kind] for answer, kind in parts)


def count_number(answer: Fresh[Count | None] | None) -> int | None:
    """The number a count's badge shows (None: no number)."""
    return answer.value.value if answer is not None and answer.value is not None else None


def _organization_count(
    agent: AgentAccount, credentials: Credentials, view: InboxView, lane: str
) -> Fresh[Count | None]:
    """An organization's badge: Zendesk's approximate count (solved and closed included), so,
    like the "all" count, kept for its own short lifetime rather than asked again after every
    change to one of the organization's tickets (a comment or a new status leaves it as it
    is); the organization's list is still moved on by every change."""
    read = _organization_read(agent, credentials, view)
    return _quietly(
        lambda: cache.cached_read_call(
            read, lambda: _approximate_ask(agent, credentials, read, lane)
        )
    )


def approximate_count_fetch(agent: AgentAccount, read: cache.CachedRead) -> Callable[[], Any]:
    """How to ask Zendesk again for one of the sidebar's approximate counts (`read`, as the
    sidebar named it), on the background lane: for a refresh behind a poll's answer."""
    return lambda: with_agent_credentials(
        agent, lambda credentials: _approximate_ask(agent, credentials, read, budget.BACKGROUND)
    )


def _approximate_ask(
    agent: AgentAccount, credentials: Credentials, read: cache.CachedRead, lane: str
) -> Count:
    """Zendesk's approximate count that `read` names: an organization's, or the agent's "all"."""
    params = read.params
    if params["view"] == "organization":
        return client.tickets_count(
            credentials,
            view="organization",
            organization_id=params["organization_id"],
            lane=lane,
        )
    return client.tickets_count(
        credentials, view=params["view"], user_id=agent.zendesk_user_id, lane=lane
    )


def _organization_read(
    agent: AgentAccount, credentials: Credentials, view: InboxView
) -> cache.CachedRead:
    return organization_count_read(agent, credentials, view.organization_id or 0)


def sidebar_version(sidebar: Sidebar) -> str:
    """A short fingerprint of what the sidebar shows: a poll that sends it back unchanged
    gets "nothing new" (204) instead of the same fragment again.

    Zendesk's approximate counts say when they were refreshed, and every count asked again
    says a new time. That time is left out: a badge whose number did not change is not news,
    and its title keeps the time it was first shown with, still true of that number.
    """
    shown = {
        "badges": {
            key: [badge.value, badge.suffix, badge.title.replace(badge.as_of, ""), badge.stale]
            for key, badge in sorted(sidebar.badges.items())
        },
        "organizations": [[view.key, view.label] for view in sidebar.organizations],
        "stale": sidebar.stale_message,
    }
    return hashlib.sha256(json.dumps(shown, sort_keys=True).encode()).hexdigest()[:16]


# -- preferences -----------------------------------------------------------------------------
THEME_ORDER = [value for value, _label in AgentPreference.THEMES]
THEME_LABELS = dict(AgentPreference.THEMES)


def theme_get(*, agent: AgentAccount | None) -> str:
    """The agent's theme ("system" until they choose; "system" when signed out)."""
    if agent is None:
        return AgentPreference.THEME_SYSTEM
    chosen = AgentPreference.objects.filter(agent=agent).values_list("theme", flat=True).first()
    return chosen or AgentPreference.THEME_SYSTEM


def theme_set(*, agent: AgentAccount, theme: str) -> str:
    """Keep the agent's theme on the server, so it follows them to every browser."""
    if theme not in THEME_ORDER:
        raise ValueError(f"Unknown theme {theme!r}.")
    AgentPreference.objects.update_or_create(agent=agent, defaults={"theme": theme})
    return theme


def theme_next(theme: str) -> str:
    """What the theme switch moves to: system -> light -> dark -> system."""
    position = THEME_ORDER.index(theme) if theme in THEME_ORDER else 0
    return THEME_ORDER[(position + 1) % len(THEME_ORDER)]
