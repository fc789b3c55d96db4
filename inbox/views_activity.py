"""The activity drawer: what other people did that affects the agent, the bell's part of the
poll, opening an activity, "mark all as seen" and the notification preferences.

The drawer is one template (`inbox/activity.html`) with one partial, `activity-panel`, that
htmx swaps whole: the filter links, "load more" and "mark all as seen" all answer with it, so
the rows are folded again over everything loaded. A direct load renders the same panel as a
page (links work without js, and a shared address shows the same list).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import trigger_client_event

from inbox import services
from inbox.auth import agent_required
from inbox.models import AgentAccount
from inbox.services import activities
from inbox.services import inbox as inbox_services
from inbox.views_inbox import STATUS_LABELS, private_no_store, relative_time, stale_sentence
from inbox.zendesk.errors import Forbidden, NotFound, ZendeskError
from inbox.zendesk.records import Activity, Count, Ticket, User, parse_datetime

# The filters the drawer offers, by the short name its address carries.
FILTERS: dict[str, tuple[str, str]] = {
    "": ("", "All"),
    "assignment": ("tickets.assignment", "Assignments"),
    "comment": ("tickets.comment", "Comments"),
    "priority": ("tickets.priority_increase", "Priority raised"),
}
VERB_LABELS = {
    "tickets.assignment": "Assignment",
    "tickets.comment": "Comment",
    "tickets.priority_increase": "Priority raised",
}
PAGES = re.compile(r"[1-9][0-9]?")
MAX_ALSO = 100
MAX_ID = 2**63 - 1


class BadActivityRequest(Exception):
    """The address or form asks for something the drawer cannot do; the message says what."""


# -- the bell (answered inside the inbox poll) -----------------------------------------------
@dataclass(frozen=True)
class BellNews:
    """One new activity as the browser needs it for a desktop notification (text only)."""

    id: int
    title: str
    body: str
    url: str


@dataclass(frozen=True)
class BellView:
    """The bell as the header and the poll show it; `known` False when Zendesk gave nothing."""

    known: bool
    badge: str = ""
    unread: int = 0
    label: str = "Activity"
    news: tuple[BellNews, ...] = ()
    desktop: bool = False
    sound: bool = False
    do_not_disturb: bool = False


def bell_for_poll(agent: AgentAccount) -> BellView:
    """The bell alone, for a poll whose counts Zendesk refused (the bell still answers).

    Asked on the background lane, like the rest of the poll; Zendesk down with nothing saved
    leaves the bell as it is.
    """
    notify = activities.notification_settings_get(agent=agent)
    try:
        answer = activities.activity_bell(agent=agent, lane=activities.POLL_LANE)
    except services.ZendeskUnavailable:
        return bell_view(None, notify)
    return bell_view(answer.value, notify)


def bell_view(bell: activities.Bell | None, notify: activities.NotificationSettings) -> BellView:
    """The bell's badge, newest unread activities and the agent's notification choices."""
    if bell is None:
        return BellView(known=False)
    label = "Activity" if not bell.badge else f"Activity, {bell.badge} unread"
    return BellView(
        known=True,
        badge=bell.badge,
        unread=bell.unread.value,
        label=label,
        news=tuple(_news(activity) for activity in bell.newest),
        desktop=notify.desktop,
        sound=notify.sound,
        do_not_disturb=notify.do_not_disturb,
    )


def _news(activity: Activity) -> BellNews:
    url = ticket_url(activity.ticket_id) if activity.ticket_id else _show_url(activity.id)
    body = activity.ticket_subject
    if activity.verb == "tickets.comment" and activity.comment_value:
        body = " ".join(activity.comment_value.split())[:160]
    return BellNews(id=activity.id, title=activity.title, body=body, url=url)


def ticket_url(ticket_id: int) -> str:
    """The ticket page's address (its view lives in another module; the URL is agreed)."""
    try:
        return reverse("ticket", args=[ticket_id])
    except NoReverseMatch:
        return f"/tickets/{int(ticket_id)}"


def _show_url(activity_id: int) -> str:
    return reverse("activity_show", args=[activity_id])


# -- the drawer ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Actor:
    """Who did it, as the avatar shows them: a photo, initials, or Zendesk itself."""

    name: str
    photo_url: str
    system: bool


@dataclass(frozen=True)
class ActivityRow:
    id: int
    verb: str
    verb_label: str
    title: str
    comment: str
    comment_public: bool | None
    actor: Actor
    created_iso: str
    created_relative: str
    created_full: str
    unread: bool


@dataclass(frozen=True)
class FoldRow:
    """One row of the drawer: one activity, or several on one ticket folded together."""

    key: str
    ticket_id: int | None
    subject: str
    ticket: Ticket | None
    status: str
    status_label: str
    priority: str
    items: tuple[ActivityRow, ...]

    @property
    def newest(self) -> ActivityRow:
        return self.items[0]

    @property
    def folded(self) -> bool:
        return len(self.items) > 1

    @property
    def unread_count(self) -> int:
        return sum(1 for item in self.items if item.unread)

    @property
    def also_ids(self) -> list[int]:
        return [item.id for item in self.items[1:]]


@dataclass(frozen=True)
class DrawerQuery:
    filter_key: str
    pages: int

    @property
    def verb(self) -> str | None:
        return FILTERS[self.filter_key][0] or None

    def params(self, **changes: Any) -> str:
        values = {"verb": self.filter_key, "pages": self.pages, **changes}
        kept = [f"{name}={value}" for name, value in values.items() if value not in ("", None, 1)]
        return "?" + "&".join(kept) if kept else "?"


def _drawer_query(request: HttpRequest) -> DrawerQuery:
    data = request.POST if request.method == "POST" else request.GET
    filter_key = data.get("verb", "")
    if filter_key not in FILTERS:
        names = ", ".join(name for name in FILTERS if name)
        raise BadActivityRequest(f"Activity can be filtered by {names}, not {filter_key[:30]!r}.")
    pages_text = data.get("pages", "1")
    if not PAGES.fullmatch(pages_text) or int(pages_text) > activities.DRAWER_MAX_PAGES:
        raise BadActivityRequest(
            f"The drawer loads 1 to {activities.DRAWER_MAX_PAGES} pages; this link asks for "
            f"{pages_text[:20]!r}. Open the drawer again."
        )
    return DrawerQuery(filter_key=filter_key, pages=int(pages_text))


def _zone(agent: AgentAccount) -> dt.tzinfo:
    return inbox_services.agent_zone(agent)


def _actor(activity: Activity, users: dict[int, User]) -> Actor:
    if activity.by_system:
        return Actor(name="Zendesk (automatic)", photo_url="", system=True)
    person = activity.actor or users.get(activity.actor_id or 0)
    name = person.name if person and person.name else f"User {activity.actor_id}"
    photo = ""
    if person is not None:
        photo = person.photo_thumbnail_url or person.photo_url or ""
    return Actor(name=name, photo_url=photo, system=False)


def _activity_row(
    activity: Activity,
    *,
    users: dict[int, User],
    agent: AgentAccount,
    opened: frozenset[int],
    now: dt.datetime,
) -> ActivityRow:
    zone = _zone(agent)
    created = activity.created_at or now
    seen_at = agent.activities_seen_at
    unread = (seen_at is None or created > seen_at) and activity.id not in opened
    return ActivityRow(
        id=activity.id,
        verb=activity.verb,
        verb_label=VERB_LABELS.get(activity.verb, "Update"),
        title=activity.title or "(no title)",
        comment=(activity.comment_value or "") if activity.verb == "tickets.comment" else "",
        comment_public=activity.comment_public,
        actor=_actor(activity, users),
        created_iso=created.isoformat(),
        created_relative=relative_time(created, now, zone),
        created_full=created.astimezone(zone).strftime("%a %d %b %Y, %H:%M ")
        + str(getattr(zone, "key", "UTC")),
        unread=unread,
    )


def _fold_rows(feed: activities.Feed, agent: AgentAccount, verb: str | None) -> list[FoldRow]:
    now = timezone.now()
    opened = activities.activity_opened_ids(agent=agent)
    shown = [activity for activity in feed.activities if verb is None or activity.verb == verb]
    rows = []
    for fold in activities.activity_folds(shown):
        ticket = feed.tickets.get(fold.ticket_id or 0)
        custom = feed.custom_statuses.get(ticket.custom_status_id or 0) if ticket else None
        status = (custom.status_category if custom else ticket.status) if ticket else ""
        label = custom.agent_label if custom else STATUS_LABELS.get(status, status.capitalize())
        rows.append(
            FoldRow(
                key=f"t{fold.ticket_id}" if fold.ticket_id else f"a{fold.newest.id}",
                ticket_id=fold.ticket_id,
                subject=(ticket.subject if ticket else fold.newest.ticket_subject)
                or "(no subject)",
                ticket=ticket,
                status=status if status in STATUS_LABELS else "open",
                status_label=label,
                priority=(ticket.priority or "").capitalize() if ticket else "",
                items=tuple(
                    _activity_row(item, users=feed.users, agent=agent, opened=opened, now=now)
                    for item in fold.activities
                ),
            )
        )
    return rows


def _total_sentence(answer: services.Fresh[Count] | None, agent: AgentAccount) -> str:
    """The 30-day total, said as what it is: Zendesk's approximate count."""
    if answer is None:
        return "Zendesk did not give the 30-day total just now."
    count = answer.value
    noun = "activity" if count.value == 1 else "activities"
    if count.refreshed_at is None:
        when = "Zendesk counts this many only once a day"
    else:
        local = count.refreshed_at.astimezone(_zone(agent))
        when = f"Zendesk's approximate count, as of {local:%H:%M}"
    return f"About {count.value:,} {noun} in the last 30 days ({when})."


def _panel_context(agent: AgentAccount, query: DrawerQuery) -> dict[str, Any]:
    context: dict[str, Any] = {
        "query": query,
        "filters": [
            (key, label, query.params(verb=key, pages=1)) for key, (_verb, label) in FILTERS.items()
        ],
        "filter_label": FILTERS[query.filter_key][1],
        "notify": activities.notification_settings_get(agent=agent),
    }
    try:
        answer = activities.activity_drawer_feed(agent=agent, pages=query.pages, verb=query.verb)
    except services.ZendeskUnavailable as error:
        context["error_message"] = f"{error} Your activity will show here when it answers."
        return context
    try:
        total: services.Fresh[Count] | None = activities.activity_total(agent=agent)
    except services.ZendeskUnavailable:
        total = None
    feed = answer.value
    rows = _fold_rows(feed, agent, query.verb)
    newest = feed.activities[0].created_at if feed.activities else None
    shown = sum(len(row.items) for row in rows)
    context.update(
        {
            "rows": rows,
            "feed": feed,
            "shown_count": shown,
            "loaded_count": len(feed.activities),
            "unread_count": sum(row.unread_count for row in rows),
            "total_sentence": _total_sentence(total, agent),
            "mark_through": newest.isoformat() if newest else "",
            # Zendesk stamps whole seconds: the ones of the newest second the agent saw, so one
            # that arrives in that same second after the drawer was drawn stays unread.
            "mark_shown": [item.id for item in feed.activities if item.created_at == newest],
            "more_url": query.params(pages=feed.pages + 1) if feed.has_more else None,
            "stale_message": stale_sentence(answer, "activity from"),
        }
    )
    return context


def _render_panel(
    request: HttpRequest, agent: AgentAccount, query: DrawerQuery, *, status: int = 200
) -> HttpResponse:
    if request.htmx:
        return render(
            request,
            "inbox/activity.html#activity-panel",
            _panel_context(agent, query),
            status=status,
        )
    context = {**_panel_context(agent, query), "activity_page": True}
    return render(request, "inbox/activity.html", context, status=status)


def _bad_request(request: HttpRequest, reason: str, *, status: int = 400) -> HttpResponse:
    return render(request, "inbox/bad_request.html", {"reason": reason}, status=status)


@require_GET
@agent_required
@private_no_store
@vary_on_headers("HX-Request")
def drawer(request: HttpRequest) -> HttpResponse:
    """The drawer's panel: the newest activities, folded by ticket, filtered by verb."""
    try:
        query = _drawer_query(request)
    except BadActivityRequest as bad:
        return _bad_request(request, str(bad))
    return _render_panel(request, request.agent, query)


@require_POST
@agent_required
@private_no_store
def mark_seen(request: HttpRequest) -> HttpResponse:
    """Move the agent's mark to the newest activity the drawer showed (one that arrived
    since stays unread); the bell follows at once through the poll."""
    try:
        query = _drawer_query(request)
        through = _through(request.POST.get("through", ""))
        shown = _ids(request, "shown")
    except BadActivityRequest as bad:
        return _bad_request(request, str(bad))
    if query.verb is not None:
        _mark_filtered_seen(request.agent, query, through, shown)
    else:
        # A form without `shown` (made before the drawer sent them) marks through `through`.
        activities.activity_mark_seen(
            agent=request.agent, seen_at=through, shown_at_mark=shown or None
        )
    if not request.htmx:
        return HttpResponseRedirect(reverse("activity_drawer") + query.params())
    response = render(
        request, "inbox/activity.html#activity-panel", _panel_context(request.agent, query)
    )
    return trigger_client_event(response, "inbox:poll-now", {})


def _mark_filtered_seen(
    agent: AgentAccount, query: DrawerQuery, through: dt.datetime | None, shown: list[int]
) -> None:
    """Under a filter the drawer showed one kind of activity: those (up to the newest the
    drawer showed) are recorded as read, and the last-seen mark, which would pass every
    kind, stays where it is. Zendesk down: nothing is marked (the panel says why)."""
    try:
        feed = activities.activity_drawer_feed(
            agent=agent, pages=query.pages, verb=query.verb
        ).value
    except services.ZendeskUnavailable:
        return
    marked = [
        activity
        for activity in feed.activities
        if activity.verb == query.verb
        and (
            through is None
            or activity.created_at is None
            or activity.created_at < through
            or (activity.created_at == through and (not shown or activity.id in shown))
        )
    ]
    activities.activity_open_record(agent=agent, activities=marked)


def _through(text: str) -> dt.datetime | None:
    if not text:
        return None
    try:
        moment = parse_datetime(text[:64])
    except ValueError:
        moment = None
    if moment is None:
        raise BadActivityRequest("This form is not one the drawer made; open the drawer again.")
    return min(moment, timezone.now())


def _also_ids(request: HttpRequest) -> list[int]:
    return _ids(request, "also")


def _ids(request: HttpRequest, name: str) -> list[int]:
    """Activity ids the drawer put in its form (`also`: a folded row's; `shown`: the newest
    second's), at most MAX_ALSO of them."""
    values = request.POST.getlist(name)
    if len(values) > MAX_ALSO:
        raise BadActivityRequest(
            f"A form of the drawer holds at most {MAX_ALSO} activities; open the drawer again."
        )
    ids = []
    for value in values:
        if not value.isdigit() or not 0 < int(value) <= MAX_ID:
            raise BadActivityRequest("This form is not one the drawer made; open the drawer again.")
        ids.append(int(value))
    return ids


def _activity_or_404(
    request: HttpRequest, activity_id: int
) -> services.Fresh[Activity] | HttpResponse:
    if not 0 < activity_id <= MAX_ID:
        return _bad_request(request, "There is no such activity.", status=404)
    try:
        return activities.activity_detail(agent=request.agent, activity_id=activity_id)
    except (NotFound, Forbidden):
        return _bad_request(
            request,
            "Zendesk has no such activity for you (activities are kept for 30 days).",
            status=404,
        )
    except services.ZendeskUnavailable as error:
        return _bad_request(request, f"{error} Try again in a moment.", status=503)
    except ZendeskError as error:
        if error.status_code == 400:
            return _bad_request(request, "There is no such activity.", status=404)
        raise


@require_POST
@agent_required
@private_no_store
def activity_open(request: HttpRequest, activity_id: int) -> HttpResponse:
    """Mark the activity (and the others folded with it) as seen, then go to its ticket, or
    to the activity itself when the agent can no longer see the ticket."""
    try:
        also = _also_ids(request)
    except BadActivityRequest as bad:
        return _bad_request(request, str(bad))
    found = _activity_or_404(request, activity_id)
    if isinstance(found, HttpResponse):
        return found
    activity = found.value
    folded = [
        Activity(
            id=other_id,
            title="",
            verb="",
            user_id=None,
            actor_id=None,
            ticket_id=activity.ticket_id,
            ticket_subject="",
            created_at=None,
            updated_at=None,
        )
        for other_id in also
        if other_id != activity.id
    ]
    activities.activity_open_record(agent=request.agent, activities=[activity, *folded])
    if activity.ticket_id is not None and _ticket_visible(request.agent, activity.ticket_id):
        return HttpResponseRedirect(ticket_url(activity.ticket_id))
    return HttpResponseRedirect(_show_url(activity.id))


def _ticket_visible(agent: AgentAccount, ticket_id: int) -> bool:
    try:
        answer = activities.activity_tickets(agent=agent, ticket_ids=[ticket_id])
    except services.ZendeskUnavailable:
        return True  # the ticket page says Zendesk is down better than a guess here
    return any(ticket.id == ticket_id for ticket in answer.value.items)


@require_GET
@agent_required
@private_no_store
@vary_on_headers("HX-Request")
def activity_show(request: HttpRequest, activity_id: int) -> HttpResponse:
    """One activity as Zendesk keeps it, for when its ticket cannot be shown."""
    found = _activity_or_404(request, activity_id)
    if isinstance(found, HttpResponse):
        return found
    activity = found.value
    row = _activity_row(
        activity,
        users={},
        agent=request.agent,
        opened=activities.activity_opened_ids(agent=request.agent),
        now=timezone.now(),
    )
    visible = activity.ticket_id is not None and _ticket_visible(request.agent, activity.ticket_id)
    return render(
        request,
        "inbox/activity_show.html",
        {
            "activity": activity,
            "row": row,
            "ticket_visible": visible,
            "ticket_href": ticket_url(activity.ticket_id) if activity.ticket_id else "",
            "stale_message": stale_sentence(found, "this activity as it was"),
        },
    )


@require_POST
@agent_required
@private_no_store
def preferences_set(request: HttpRequest) -> HttpResponse:
    """Keep the agent's notification choices; the browser learns them from the answer."""
    chosen = {
        name: request.POST.get(name) == "on" for name in ("desktop", "sound", "do_not_disturb")
    }
    unknown = set(request.POST) - {"desktop", "sound", "do_not_disturb", "csrfmiddlewaretoken"}
    if unknown:
        return _bad_request(
            request, "Notification settings are desktop, sound and do_not_disturb (on or off)."
        )
    settings = activities.notification_settings_set(agent=request.agent, **chosen)
    if not request.htmx:
        return HttpResponseRedirect(reverse("activity_drawer"))
    response = render(request, "inbox/activity.html#notify-prefs", {"notify": settings})
    return trigger_client_event(
        response,
        "inbox:notify-prefs",
        {
            "desktop": settings.desktop,
            "sound": settings.sound,
            "do_not_disturb": settings.do_not_disturb,
        },
    )
