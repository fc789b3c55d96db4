"""The inbox pages: the sign-in front door, the ticket lists, the sidebar poll and the theme.

The ticket list is the example other pages copy: a direct load renders the whole page, an
htmx request only the `ticket-list` partial (same template, `{% partialdef %}`; the partial's
name is the DOM id it replaces), `vary_on_headers("HX-Request")` so no cache mixes them up,
and the URL carries the state (`hx-push-url`) so reload, back and shared links work.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_GET, require_POST, require_safe
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import trigger_client_event

from inbox import services
from inbox.auth import agent_required, current_agent
from inbox.models import AgentAccount
from inbox.services import inbox as inbox_services
from inbox.services import poll as poll_services
from inbox.services.poll import PollState
from inbox.views_signin import render_with_zendesk_form_action
from inbox.zendesk.errors import (
    Forbidden,
    NotFound,
    PaginationTooDeep,
    SessionExpired,
    ZendeskError,
)
from inbox.zendesk.records import Page, Ticket

logger = logging.getLogger(__name__)
# Longer query strings are refused: no link the app makes comes close (cursors included).
MAX_QUERY_LENGTH = 2048
# Zendesk's cursors are base64 of JSON: letters, digits and a few signs, never very long.
CURSOR = re.compile(r"[A-Za-z0-9_\-+/=.]{1,1024}")
MAX_ZENDESK_ID = 2**63 - 1  # Zendesk ids are 64-bit
# The table's columns in order: key, header label and, for a column Zendesk can sort by, the
# order its first click gives (None: not sortable). Cursor sorts page by link, the others by
# number (inbox_services.CURSOR_SORTS / OFFSET_SORTS).
COLUMNS: tuple[tuple[str, str, str | None], ...] = (
    ("id", "ID", "asc"),
    ("subject", "Subject", "asc"),
    ("requester", "Requester", "asc"),
    ("status", "Status", "asc"),
    ("priority", "Priority", None),
    ("assignee", "Assignee", "asc"),
    ("group", "Group", "asc"),
    ("updated_at", "Updated", "desc"),
    ("comments", "Cmts", None),
)
SORT_COLUMNS = {key: first for key, _label, first in COLUMNS if first is not None}
COLUMN_LABELS = {key: label for key, label, _first in COLUMNS}
PAGE_NUMBER = re.compile(r"[0-9]{1,9}")
MAX_EXTERNAL_ID = 255
STATUS_LABELS = {
    "new": "New",
    "open": "Open",
    "pending": "Pending",
    "hold": "On-hold",
    "solved": "Solved",
    "closed": "Closed",
}
EMPTY_MESSAGES = {
    "assigned": "No tickets are assigned to you. New work assigned to you appears here.",
    "ccd": "You are not CC'd on any ticket.",
    "followed": "You do not follow any ticket.",
    "requested": "You have not requested any ticket.",
    "recent": "You have not opened a ticket yet. Tickets you open appear here, newest first.",
    "all": "Zendesk has no tickets you can see.",
}


class BadListRequest(Exception):
    """The address asks for something the list cannot show; the message says what."""


def private_no_store[V: Callable[..., HttpResponse]](view: V) -> V:
    """Signed-in pages hold an agent's tickets: no browser or proxy may keep a copy."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        patch_cache_control(response, private=True, no_store=True)
        return response

    return wrapper  # type: ignore[return-value]


# -- the front door ---------------------------------------------------------------------------
@require_safe  # monitors probe with HEAD; gunicorn and runserver send no body for it
@vary_on_headers("HX-Request", "Cookie")
def home(request: HttpRequest) -> HttpResponse:
    """Signed out: the sign-in page (one button straight to Zendesk). Signed in: the inbox."""
    if current_agent(request) is None:
        return render_with_zendesk_form_action(
            request, "inbox/welcome.html", {"zendesk_url": settings.ZENDESK_URL, "next": "/"}
        )
    return ticket_list(request, view_key=inbox_services.DEFAULT_VIEW.key)


# -- the ticket list --------------------------------------------------------------------------
@dataclass(frozen=True)
class ListQuery:
    """What the address asks of a list, checked: sort, page size, the page (a cursor for
    cursor sorts, a number for offset sorts) and the external id filter."""

    sort: str
    page_size: int
    after: str | None = None
    before: str | None = None
    page: int | None = None
    external_id: str | None = None

    @property
    def column(self) -> str:
        return self.sort.removeprefix("-")

    @property
    def numbered(self) -> bool:
        """Pages by number (an offset sort), not by cursor."""
        return self.column in inbox_services.OFFSET_SORTS

    @property
    def page_number(self) -> int:
        return self.page or 1

    def params(self, **changes: Any) -> str:
        """The query string of this list with some values changed (None drops a value)."""
        values = {
            "sort": self.sort,
            "external_id": self.external_id,
            "size": self.page_size,
            "page": self.page,
            "after": self.after,
            "before": self.before,
            **changes,
        }
        kept = {name: value for name, value in values.items() if value not in (None, "")}
        return "?" + urlencode(kept) if kept else "?"


def _last_page(page_size: int) -> int:
    """The last page number Zendesk answers at this size (offset pagination's depth)."""
    return inbox_services.OFFSET_DEPTH // page_size


def _depth_sentence(column: str, page_size: int) -> str:
    return (
        f"Zendesk lists only the first {inbox_services.OFFSET_DEPTH:,} tickets sorted by "
        f"{COLUMN_LABELS[column].lower()} (page {_last_page(page_size)} at {page_size} a page). "
        "Sort by ID, status or updated to page through every ticket, or filter by external ID."
    )


class TooDeep(BadListRequest):
    """A page number past Zendesk's offset depth: said with a way back to the last page."""

    def __init__(self, column: str, page_size: int) -> None:
        super().__init__(_depth_sentence(column, page_size))
        self.last_page = _last_page(page_size)


def _page_number(request: HttpRequest, sort: str, page_size: int) -> int | None:
    text = request.GET.get("page")
    if text is None:
        return None
    column = sort.removeprefix("-")
    if column not in inbox_services.OFFSET_SORTS:
        raise BadListRequest(
            f"Sorted by {COLUMN_LABELS.get(column, column).lower()}, the list pages with "
            "Next and Previous, not by page number."
        )
    if not PAGE_NUMBER.fullmatch(text) or int(text) < 1:
        if text.isascii() and text.isdigit() and int(text) > 0:  # more digits than any page
            raise TooDeep(column, page_size)
        raise BadListRequest(f"Pages are numbered 1, 2, 3 …, not {text[:20]!r}.")
    if int(text) > _last_page(page_size):
        raise TooDeep(column, page_size)
    return int(text) if int(text) > 1 else None


def _external_id(request: HttpRequest, view: inbox_services.InboxView) -> str | None:
    external_id = request.GET.get("external_id", "").strip()
    if not external_id:
        return None
    if not view.sortable:
        raise BadListRequest(f"{view.label} cannot be filtered by external ID.")
    if len(external_id) > MAX_EXTERNAL_ID or not external_id.isprintable():
        raise BadListRequest(
            f"An external ID is up to {MAX_EXTERNAL_ID} printable characters, as your other "
            "system shows it."
        )
    return external_id


def _list_query(request: HttpRequest, view: inbox_services.InboxView) -> ListQuery:
    if len(request.META.get("QUERY_STRING", "")) > MAX_QUERY_LENGTH:
        raise BadListRequest("This address is longer than any list link; open the view again.")
    sort = request.GET.get("sort", view.default_sort)
    if not view.sortable:
        if "sort" in request.GET:
            raise BadListRequest(f"{view.label} is always newest first; it cannot be sorted.")
    elif sort.removeprefix("-") not in SORT_COLUMNS:
        columns = ", ".join(sorted(SORT_COLUMNS))
        raise BadListRequest(f"A list sorts by {columns} (a leading - for descending).")
    size_text = request.GET.get("size", str(inbox_services.PAGE_SIZES[0]))
    if size_text not in {str(size) for size in inbox_services.PAGE_SIZES}:
        sizes = ", ".join(str(size) for size in inbox_services.PAGE_SIZES)
        raise BadListRequest(f"A page shows {sizes} tickets, not {size_text[:20]!r}.")
    external_id = _external_id(request, view)
    after, before = request.GET.get("after") or None, request.GET.get("before") or None
    if after and before:
        raise BadListRequest("A page link goes forward or back, not both.")
    for cursor in (after, before):
        if cursor is not None and not CURSOR.fullmatch(cursor):
            raise BadListRequest("This page link is not one the list made; start again.")
    if not view.sortable and (after or before or "page" in request.GET):
        raise BadListRequest(f"{view.label} is one page; it has no next page.")
    if (after or before) and sort.removeprefix("-") in inbox_services.OFFSET_SORTS:
        raise BadListRequest("This page link is not one the list made; start again.")
    page = _page_number(request, sort, int(size_text))
    return ListQuery(
        sort=sort if view.sortable else "",
        page_size=int(size_text),
        after=after,
        before=before,
        page=page,
        external_id=external_id,
    )


@dataclass(frozen=True)
class Row:
    """One ticket as the list shows it (names from the page's sideloads)."""

    id: int
    subject: str
    requester: str
    assignee: str
    group: str
    status: str  # the status category, for its colour
    status_label: str
    priority: str
    updated_iso: str
    updated_relative: str
    updated_full: str
    comment_count: int | None


def relative_time(moment: dt.datetime, now: dt.datetime, zone: dt.tzinfo) -> str:
    """How long ago, as an agent says it ("5 min ago", "yesterday", "12 Nov")."""
    seconds = (now - moment).total_seconds()
    local, today = moment.astimezone(zone), now.astimezone(zone).date()
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if local.date() == today:
        return f"{int(seconds // 3600)} h ago"
    if local.date() == today - dt.timedelta(days=1):
        return "yesterday"
    if (today - local.date()).days < 7:
        return f"{(today - local.date()).days} days ago"
    if local.year == today.year:
        return f"{local.day} {local:%b}"
    return f"{local.day} {local:%b %Y}"


def _rows(page: Page, agent: AgentAccount) -> list[dict[str, Any]]:
    """The page's rows as dicts: the template engine tries `row[name]` before `row.name`, and
    a dataclass makes every one of a page's few hundred lookups fail first (a third of the
    page's render time)."""
    zone, now = inbox_services.agent_zone(agent), timezone.now()

    def name(user_id: int | None, nobody: str) -> str:
        if user_id is None:
            return nobody
        user = page.users.get(user_id)
        return user.name if user else f"User {user_id}"

    def row(ticket: Ticket) -> Row:
        custom = page.custom_statuses.get(ticket.custom_status_id or 0)
        category = custom.status_category if custom else ticket.status
        label = custom.agent_label if custom else STATUS_LABELS.get(ticket.status, ticket.status)
        group = page.groups.get(ticket.group_id or 0)
        updated = ticket.updated_at or ticket.created_at or now
        return Row(
            id=ticket.id,
            subject=ticket.subject or "(no subject)",
            requester=name(ticket.requester_id, "Unknown"),
            assignee=name(ticket.assignee_id, "Unassigned"),
            group=group.name if group else ("" if ticket.group_id is None else "Group"),
            status=category if category in STATUS_LABELS else "open",
            status_label=label,
            priority=(ticket.priority or "").capitalize() or "-",
            updated_iso=updated.isoformat(),
            updated_relative=relative_time(updated, now, zone),
            updated_full=updated.astimezone(zone).strftime("%a %d %b %Y, %H:%M ")
            + str(getattr(zone, "key", "UTC")),
            comment_count=ticket.comment_count,
        )

    return [vars(row(ticket)) for ticket in page.items]


@dataclass(frozen=True)
class SortLink:
    column: str
    label: str
    href: str
    aria_sort: str  # ascending | descending | none
    next_order: str


@dataclass(frozen=True)
class HeaderCell:
    """One column header; `link` when this view's Zendesk list can sort by the column."""

    column: str
    label: str
    link: SortLink | None

    @property
    def css(self) -> str:
        """The cells' class: `col-updated` for updated_at, as the rows write it."""
        return self.column.removesuffix("_at")


def _sort_links(view: inbox_services.InboxView, query: ListQuery) -> dict[str, SortLink]:
    if not view.sortable:  # Zendesk's recent list has one order
        return {}
    current, descending = query.column, query.sort.startswith("-")
    links = {}
    for column, first in SORT_COLUMNS.items():
        if column == current:
            flip = "asc" if descending else "desc"
            aria = "descending" if descending else "ascending"
        else:
            flip, aria = first, "none"
        sort = ("-" if flip == "desc" else "") + column
        links[column] = SortLink(
            column=column,
            label=COLUMN_LABELS[column],
            href=query.params(sort=sort, after=None, before=None, page=None),
            aria_sort=aria,
            next_order="descending" if flip == "desc" else "ascending",
        )
    return links


def _header(sort_links: dict[str, SortLink]) -> list[HeaderCell]:
    return [HeaderCell(key, label, sort_links.get(key)) for key, label, _first in COLUMNS]


def _pager(query: ListQuery, page: Page | None) -> dict[str, str | None]:
    """Previous / next links: by number for offset sorts (stopping at Zendesk's depth, and
    saying so), else from the cursors Zendesk gave (has_more is about the direction the agent
    moved in)."""
    if page is None:
        return {"previous": None, "next": None, "position": None, "stops": None}
    if query.numbered:
        return _numbered_pager(query, page)
    moved_back = query.before is not None
    more_forward = moved_back or page.has_more
    more_back = (query.after is not None) or (moved_back and page.has_more)
    return {
        "next": query.params(after=page.after_cursor, before=None)
        if more_forward and page.after_cursor
        else None,
        "previous": query.params(before=page.before_cursor, after=None)
        if more_back and page.before_cursor
        else None,
        "position": None,
        "stops": None,
    }


def _numbered_pager(query: ListQuery, page: Page) -> dict[str, str | None]:
    number, size = query.page_number, query.page_size
    reachable = number < _last_page(size)
    position = None
    if page.items:
        first = (number - 1) * size + 1
        total = f" of {page.count:,}" if page.count is not None else ""
        position = f"Tickets {first:,} to {first + len(page.items) - 1:,}{total}"
    return {
        "next": query.params(page=number + 1) if page.next_page and reachable else None,
        "previous": query.params(page=number - 1 if number > 2 else None) if number > 1 else None,
        "position": position,
        "stops": _depth_sentence(query.column, size) if page.next_page and not reachable else None,
    }


def _view_url(view: inbox_services.InboxView) -> str:
    if view.organization_id is not None:
        return reverse("inbox_organization", args=[view.organization_id])
    if view.key == inbox_services.DEFAULT_VIEW.key:
        return reverse("home")
    return reverse("inbox_view", args=[view.key])


def _render_list(
    request: HttpRequest,
    view: inbox_services.InboxView,
    context: dict[str, Any],
    *,
    status: int = 200,
) -> HttpResponse:
    context = {
        "view": view,
        "view_url": _view_url(view),
        "current_view": view.key,
        "page_sizes": inbox_services.PAGE_SIZES,
        "empty_message": EMPTY_MESSAGES.get(view.key, f"{view.label} has no tickets."),
        **context,
    }
    if request.htmx:
        return render(request, "inbox/tickets.html#ticket-list", context, status=status)
    return render(request, "inbox/tickets.html", context, status=status)


def sidebar_context(state: PollState) -> dict[str, Any]:
    """What the sidebar's badges and organizations, and the bell, render from: every full
    page (through the `shell` context processor) and the poll. `poll_version` covers both, so
    a page drawn from the cache polls to a 204."""
    from inbox.views_activity import bell_view

    bell = bell_view(state.bell, state.notify)
    sidebar = state.sidebar
    if sidebar is None:
        return {"sidebar": None, "bell": bell, "poll_version": ""}
    return {
        "sidebar": sidebar,
        "bell": bell,
        "counts_note": counts_note(sidebar),
        "poll_version": state.version,
        "sidebar_views": [(view, sidebar.badges.get(view.key)) for view in inbox_services.VIEWS],
        "organization_links": [
            (view, _view_url(view), sidebar.badges.get(view.key)) for view in sidebar.organizations
        ],
    }


def counts_note(sidebar: inbox_services.Sidebar) -> str:
    """Why the counts may be old, how old the numbers shown are, and that they refresh alone:
    "Counts may be out of date: Zendesk is not answering right now; the numbers shown are from
    2 minutes ago. They update on their own once Zendesk answers again." ("" when fresh)."""
    if not sidebar.stale_message:
        return ""
    reason = sidebar.stale_message.rstrip(".")
    shown = any(badge.value is not None and badge.stale for badge in sidebar.badges.values())
    if shown and sidebar.fetched_at is not None:
        minutes = int(max(0.0, (timezone.now() - sidebar.fetched_at).total_seconds()) // 60)
        age = "less than a minute" if minutes < 1 else f"{minutes} minute{'s' * (minutes != 1)}"
        reason += f"; the numbers shown are from {age} ago"
    return (
        f"Counts may be out of date: {reason}. They update on their own once Zendesk answers again."
    )


def shell_sidebar_context(agent: AgentAccount) -> dict[str, Any]:
    """The sidebar and the bell of a full page, from the cache alone (never Zendesk)."""
    return sidebar_context(poll_services.poll_state_cached(agent=agent))


@require_safe  # HEAD too: the home page answers with this view for a signed-in agent
@agent_required
@private_no_store
@vary_on_headers("HX-Request")
def ticket_list(
    request: HttpRequest, view_key: str | None = None, organization_id: int | None = None
) -> HttpResponse:
    """One page of one view: a direct load renders the page, htmx the `ticket-list` partial."""
    if organization_id is not None:
        if not 0 < organization_id <= MAX_ZENDESK_ID:
            return _render_list(
                request,
                inbox_services.organization_view(organization_id=0),
                {"error_message": "There is no such organization in Zendesk."},
                status=404,
            )
        view = inbox_services.organization_view(organization_id=organization_id)
    else:
        found = inbox_services.inbox_view_find(key=view_key or "")
        if found is None:
            return _render_list(
                request,
                inbox_services.InboxView(view_key or "", "Unknown view", "", "", "", ""),
                {"error_message": "There is no such view. Pick one from the list of views."},
                status=404,
            )
        view = found
    try:
        query = _list_query(request, view)
    except BadListRequest as bad:
        fallback = ListQuery(sort=view.default_sort, page_size=inbox_services.PAGE_SIZES[0])
        context: dict[str, Any] = {"query": fallback, "error_message": str(bad)}
        if isinstance(bad, TooDeep):
            last = request.GET.copy()
            last["page"] = str(bad.last_page)
            context.update(back_page=bad.last_page, back_page_href="?" + last.urlencode())
        return _render_list(request, view, context, status=400)
    return _list_answer(request, view, query)


def _list_answer(
    request: HttpRequest, view: inbox_services.InboxView, query: ListQuery
) -> HttpResponse:
    agent = request.agent
    try:
        answer = inbox_services.inbox_page(
            agent=agent,
            view=view,
            sort=query.sort,
            page_size=query.page_size,
            after=query.after,
            before=query.before,
            page=query.page,
            external_id=query.external_id,
        )
    except services.ZendeskUnavailable as error:
        return _render_list(
            request,
            view,
            {"query": query, "error_message": str(error), "retry": True},
            status=200 if request.htmx else 503,
        )
    except (NotFound, Forbidden) as error:
        return _render_list(
            request, view, {"query": query, "error_message": error.user_message}, status=404
        )
    except PaginationTooDeep:  # Zendesk stopped sooner than its documented depth
        back = max(1, query.page_number - 1)
        context = {
            "query": query,
            "error_message": _depth_sentence(query.column, query.page_size),
            "back_page": back,
            "back_page_href": query.params(page=back if back > 1 else None),
        }
        return _render_list(request, view, context, status=400)
    except ZendeskError as error:
        if error.status_code == 400:  # a cursor Zendesk no longer knows, or never made
            message = "This page link is no longer valid. Start again from the first page."
            return _render_list(
                request, view, {"query": query, "error_message": message}, status=400
            )
        if isinstance(error, SessionExpired):
            raise  # agent_required ends the session and says so
        logger.warning("Zendesk refused a ticket list: %s", error)
        return _render_list(
            request,
            view,
            {"query": query, "error_message": error.user_message, "retry": True},
            status=200 if request.htmx else 502,
        )
    if view.organization_id is not None:
        view = _named_organization(view, answer.value)
    sort_links = _sort_links(view, query)
    return _render_list(
        request,
        view,
        {
            "query": query,
            "rows": _rows(answer.value, agent),
            "header": _header(sort_links),
            "sort_links": sort_links,
            "clear_filter_href": query.params(external_id=None, page=None, after=None, before=None),
            "pager": _pager(query, answer.value),
            "stale_message": stale_sentence(answer),
        },
    )


def _named_organization(view: inbox_services.InboxView, page: Page) -> inbox_services.InboxView:
    organization = page.organizations.get(view.organization_id or 0)
    if organization is None or not organization.name:
        return view
    return inbox_services.organization_view(organization_id=organization.id, name=organization.name)


def stale_sentence(answer: services.Fresh[Any] | None, showing: str = "data from") -> str | None:
    """ "Zendesk is not answering; showing data from 4 minutes ago.": what failed and how old
    the saved copy on screen is, for every page and partial that shows one (None when fresh)."""
    if answer is None or not answer.stale:
        return None
    minutes = int(answer.age_seconds // 60)
    age = "less than a minute" if minutes < 1 else f"{minutes} minute{'s' * (minutes != 1)}"
    reason = (answer.stale_message or "").rstrip(".")
    return f"{reason}; showing {showing} {age} ago."


# -- the poll ---------------------------------------------------------------------------------
@require_GET
@agent_required
@private_no_store
def poll(request: HttpRequest) -> HttpResponse:
    """The sidebar's badges and organizations, and the bell, as out-of-band swaps.

    The browser sends the version it shows; nothing new is a 204 (htmx swaps nothing).
    """
    from inbox.views_activity import bell_for_poll

    try:
        state = poll_services.poll_state(agent=request.agent)
    except SessionExpired:
        raise  # agent_required ends the session and says so
    except ZendeskError as error:  # a refusal, not an outage (outages leave numbers out)
        logger.warning("Zendesk refused the sidebar counts: %s", error)
        return render(
            request,
            "inbox/poll.html",
            {"refused": error.user_message, "bell": bell_for_poll(request.agent)},
        )
    if request.GET.get("version") == state.version:
        return HttpResponse(status=204)
    return render(request, "inbox/poll.html", sidebar_context(state))


# -- preferences ------------------------------------------------------------------------------
@require_POST
@agent_required
@private_no_store
def theme_set(request: HttpRequest) -> HttpResponse:
    """Keep the chosen theme on the server; htmx gets the switch back, a form a redirect."""
    theme = request.POST.get("theme", "")
    if theme not in inbox_services.THEME_ORDER:
        return render(
            request,
            "inbox/bad_request.html",
            {"reason": "Themes are system, light or dark."},
            status=400,
        )
    inbox_services.theme_set(agent=request.agent, theme=theme)
    if not request.htmx:
        return HttpResponseRedirect(reverse("home"))
    response = render(request, "inbox/partials/_theme_toggle.html")
    return trigger_client_event(response, "inbox:theme", {"value": theme})
