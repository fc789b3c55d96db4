"""Sandbox views: every read endpoint of the Zendesk subset the Inbox uses.

Each view checks input (bad input is a Zendesk-shaped 400, never a 500), narrows to what
the caller may see (sandbox.visibility), pages (sandbox.pagination) and renders
(sandbox.serializers). Paths and shapes follow
https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/ and its sibling pages.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from typing import Any

from django.db.models import (
    Case,
    Count,
    IntegerField,
    QuerySet,
    Value,
    When,
    prefetch_related_objects,
)
from django.http import HttpRequest, JsonResponse
from django.utils import timezone

from sandbox import errors, serializers
from sandbox.auth import Caller, api_view
from sandbox.models import (
    Activity,
    Comment,
    CustomStatus,
    Group,
    Organization,
    RecentView,
    Ticket,
    User,
)
from sandbox.pagination import Ordering, as_utc, is_cursor_mode, paginate
from sandbox.routing import route
from sandbox.uploads import prefetch_attachments
from sandbox.visibility import visible_ticket, visible_tickets

MAX_SHOW_MANY = 100
MAX_ID = 2**63 - 1  # SQLite's (and Zendesk's) integer range
ACTIVITY_WINDOW = dt.timedelta(days=30)
STATUS_ORDER = ["new", "open", "pending", "hold", "solved", "closed"]
# Cursor-mode `sort` values for tickets and the field each sorts on.
TICKET_CURSOR_SORTS = {
    "id": "id",
    "updated_at": "updated_at",
    "created_at": "created_at",
    "status": "status_rank",
}
# Offset-mode `sort_by` values (Zendesk's list) and the field each sorts on.
TICKET_OFFSET_SORTS = {
    "assignee": "assignee__name",
    "assignee.name": "assignee__name",
    "created_at": "created_at",
    "group": "group__name",
    "id": "id",
    "requester": "requester__name",
    "requester.name": "requester__name",
    "status": "status_rank",
    "subject": "subject",
    "updated_at": "updated_at",
}
TICKET_INCLUDES = {"users", "groups", "organizations", "comment_count", "custom_statuses"}
_ASCII_INTEGER = re.compile(r"-?[0-9]+")


# -- input ------------------------------------------------------------------------------------


def parse_id(raw: str, *, name: str = "id") -> int:
    # ASCII digits only: int() would also read Arabic-Indic digits, "1_0" and " 1".
    if not isinstance(raw, str) or not _ASCII_INTEGER.fullmatch(raw):
        raise errors.bad_request("InvalidValue", f"{name} must be a number, got {raw!r}")
    value = int(raw)
    if not 1 <= value <= MAX_ID:
        raise errors.bad_request("InvalidValue", f"{name} must be a positive 64-bit number")
    return value


def parse_ids(request: HttpRequest) -> list[int]:
    """`ids=1,2,3` as show_many takes it: at most 100, all numbers."""
    raw = request.GET.get("ids", "")
    parts = [part.strip() for part in raw.split(",") if part.strip()]
    if not parts:
        raise errors.bad_request("InvalidValue", "ids is required: a comma-separated list of ids")
    if len(parts) > MAX_SHOW_MANY:
        raise errors.too_many_values(MAX_SHOW_MANY)
    return list(dict.fromkeys(parse_id(part, name="ids") for part in parts))


def parse_since(raw: str) -> dt.datetime:
    try:
        return as_utc(dt.datetime.fromisoformat(raw.strip()))
    except (ValueError, OverflowError):  # OverflowError: no UTC time (year 9999 at -14:00)
        raise errors.bad_request("InvalidValue", "since must be an ISO 8601 time") from None


def includes(request: HttpRequest) -> set[str]:
    return {name.strip() for name in request.GET.get("include", "").split(",") if name.strip()}


def list_url(request: HttpRequest) -> str:
    return serializers.base_url(request) + request.path


def _agent(caller: Caller) -> User:
    user = caller.user
    if user is None or not user.is_agent:
        raise errors.forbidden()
    return user


# -- tickets ----------------------------------------------------------------------------------


def with_status_rank(queryset: QuerySet[Ticket]) -> QuerySet[Ticket]:
    """Status sorts in Zendesk's lifecycle order (new < open < ... < closed), not A-Z."""
    ranks = [When(status=status, then=Value(rank)) for rank, status in enumerate(STATUS_ORDER)]
    return queryset.annotate(
        status_rank=Case(*ranks, default=Value(99), output_field=IntegerField())
    )


def ticket_ordering(request: HttpRequest) -> Ordering:
    """`sort=[-]field` (cursor style) or `sort_by` + `sort_order` (offset style)."""
    if "sort" in request.GET or is_cursor_mode(request):
        sort = request.GET.get("sort") or "id"
        descending = sort.startswith("-")
        name = sort.removeprefix("-")
        if name not in TICKET_CURSOR_SORTS:
            raise errors.bad_request(
                "InvalidValue", f"sort must be one of {sorted(TICKET_CURSOR_SORTS)}"
            )
        prefix = "-" if descending else ""
        if name == "id":
            return Ordering(f"{prefix}nice_id", (("id", descending),))
        return Ordering(
            f"{prefix}{name},nice_id", ((TICKET_CURSOR_SORTS[name], descending), ("id", descending))
        )
    sort_by = request.GET.get("sort_by") or "id"
    sort_order = request.GET.get("sort_order") or "asc"
    if sort_by not in TICKET_OFFSET_SORTS:
        raise errors.bad_request(
            "InvalidValue", f"sort_by must be one of {sorted(TICKET_OFFSET_SORTS)}"
        )
    if sort_order not in ("asc", "desc"):
        raise errors.bad_request("InvalidValue", "sort_order must be asc or desc")
    descending = sort_order == "desc"
    field = TICKET_OFFSET_SORTS[sort_by]
    keys = ((field, descending),) if field == "id" else ((field, descending), ("id", descending))
    return Ordering(f"{sort_by} {sort_order}", keys)


def ticket_sideloads(tickets: list[Ticket], wanted: set[str], *, base_url: str) -> dict[str, Any]:
    """`include=users,groups,organizations,custom_statuses` lists beside the tickets."""
    sideloads: dict[str, Any] = {}
    if "users" in wanted:
        user_ids: set[int] = set()
        for ticket in tickets:
            user_ids.update(
                filter(None, (ticket.requester_id, ticket.submitter_id, ticket.assignee_id))
            )
            user_ids.update(user.id for user in ticket.email_ccs.all())
            user_ids.update(user.id for user in ticket.followers.all())
        sideloads["users"] = users_json(User.objects.filter(id__in=user_ids), base_url=base_url)
    if "groups" in wanted:
        group_ids = {t.group_id for t in tickets if t.group_id}
        sideloads["groups"] = [
            serializers.group_json(group, base_url=base_url)
            for group in Group.objects.filter(id__in=group_ids).order_by("id")
        ]
    if "organizations" in wanted:
        organization_ids = {t.organization_id for t in tickets if t.organization_id}
        sideloads["organizations"] = [
            serializers.organization_json(organization, base_url=base_url)
            for organization in Organization.objects.filter(id__in=organization_ids).order_by("id")
        ]
    if "custom_statuses" in wanted:
        status_ids = {t.custom_status_id for t in tickets if t.custom_status_id}
        sideloads["custom_statuses"] = [
            serializers.custom_status_json(status, base_url=base_url)
            for status in CustomStatus.objects.filter(id__in=status_ids).order_by("id")
        ]
    return sideloads


def tickets_json(tickets: list[Ticket], wanted: set[str], *, base_url: str) -> list[dict[str, Any]]:
    prefetch_related_objects(tickets, "email_ccs", "followers", "requester")
    rendered = [serializers.ticket_json(ticket, base_url=base_url) for ticket in tickets]
    if "comment_count" in wanted:
        counts = dict(
            Comment.objects.filter(ticket_id__in=[t.id for t in tickets])
            .values_list("ticket_id")
            .annotate(total=Count("id"))
        )
        for body in rendered:
            body["comment_count"] = counts.get(body["id"], 0)
    return rendered


def users_json(users: Iterable[User], *, base_url: str) -> list[dict[str, Any]]:
    return [
        serializers.user_json(user, base_url=base_url) for user in sorted(users, key=lambda u: u.id)
    ]


def ticket_list_response(request: HttpRequest, queryset: QuerySet[Ticket]) -> JsonResponse:
    """Page, sort, filter by external_id and sideload: shared by every ticket list."""
    ordering = ticket_ordering(request)
    external_id = request.GET.get("external_id")
    if external_id is not None:
        queryset = queryset.filter(external_id=external_id)
    page = paginate(request, with_status_rank(queryset), ordering, url=list_url(request))
    return tickets_page_response(request, page.rows, page.fields)


def tickets_page_response(
    request: HttpRequest, tickets: list[Ticket], fields: dict[str, Any]
) -> JsonResponse:
    base_url = serializers.base_url(request)
    wanted = includes(request) & TICKET_INCLUDES
    rendered = tickets_json(tickets, wanted, base_url=base_url)
    if is_cursor_mode(request):
        # Recorded cursor-paginated lists carry no `fields` (offset lists, show and create do).
        # The OpenAPI description gives every ticket `fields`; the recording wins:
        # https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/#list-tickets
        for ticket in rendered:
            del ticket["fields"]
    body: dict[str, Any] = {"tickets": rendered}
    body.update(ticket_sideloads(tickets, wanted, base_url=base_url))
    body.update(fields)
    return JsonResponse(body)


def count_response(queryset: QuerySet) -> JsonResponse:
    return JsonResponse(serializers.count_json(queryset.count(), refreshed_at=timezone.now()))


def live_tickets(caller: Caller) -> QuerySet[Ticket]:
    """What /tickets lists: visible and not archived."""
    return visible_tickets(_agent(caller)).filter(archived=False)


def organization_tickets(caller: Caller, organization_id: str) -> QuerySet[Ticket]:
    organization = Organization.objects.filter(id=parse_id(organization_id)).first()
    if organization is None:
        raise errors.not_found()
    return live_tickets(caller).filter(organization_id=organization.id)


def user_tickets(caller: Caller, user_id: str, relation: str) -> QuerySet[Ticket]:
    """requested | ccd | followed | assigned; archived tickets stay in user lists."""
    user = User.objects.filter(id=parse_id(user_id)).first()
    if user is None:
        raise errors.not_found()
    visible = visible_tickets(_agent(caller))
    if relation == "requested":
        return visible.filter(requester_id=user.id)
    if relation == "assigned":
        return visible.filter(assignee_id=user.id)
    through = Ticket.email_ccs.through if relation == "ccd" else Ticket.followers.through
    return visible.filter(id__in=through.objects.filter(user_id=user.id).values("ticket_id"))


@api_view(agents_only=True)
def ticket_list(request: HttpRequest, caller: Caller) -> JsonResponse:
    return ticket_list_response(request, live_tickets(caller))


@api_view(agents_only=True)
def ticket_count(request: HttpRequest, caller: Caller) -> JsonResponse:
    return count_response(live_tickets(caller))


@api_view(agents_only=True)
def organization_ticket_list(
    request: HttpRequest, caller: Caller, organization_id: str
) -> JsonResponse:
    return ticket_list_response(request, organization_tickets(caller, organization_id))


@api_view(agents_only=True)
def organization_ticket_count(
    request: HttpRequest, caller: Caller, organization_id: str
) -> JsonResponse:
    return count_response(organization_tickets(caller, organization_id))


def _user_ticket_views(relation: str) -> None:
    """Register the list (and, where Zendesk has one, the count) of one user relation."""

    @api_view(agents_only=True)
    def listing(request: HttpRequest, caller: Caller, user_id: str) -> JsonResponse:
        return ticket_list_response(request, user_tickets(caller, user_id, relation))

    @api_view(agents_only=True)
    def counting(request: HttpRequest, caller: Caller, user_id: str) -> JsonResponse:
        return count_response(user_tickets(caller, user_id, relation))

    route(rf"users/(?P<user_id>[^/.]+)/tickets/{relation}", "GET", listing)
    if relation in ("ccd", "assigned"):
        route(rf"users/(?P<user_id>[^/.]+)/tickets/{relation}/count", "GET", counting)


@api_view(agents_only=True)
def ticket_recent(request: HttpRequest, caller: Caller) -> JsonResponse:
    """What the caller last opened in Zendesk's agent interface, newest first."""
    views = RecentView.objects.filter(
        user=caller.user, ticket__in=live_tickets(caller)
    ).select_related("ticket")
    ordering = Ordering("-viewed_at,id", (("viewed_at", True), ("id", True)))
    page = paginate(request, views, ordering, url=list_url(request))
    return tickets_page_response(request, [view.ticket for view in page.rows], page.fields)


@api_view()
def ticket_show(request: HttpRequest, caller: Caller, ticket_id: str) -> JsonResponse:
    ticket = visible_ticket(caller.user, parse_id(ticket_id))
    base_url = serializers.base_url(request)
    wanted = includes(request) & TICKET_INCLUDES
    body: dict[str, Any] = {"ticket": tickets_json([ticket], wanted, base_url=base_url)[0]}
    body.update(ticket_sideloads([ticket], wanted, base_url=base_url))
    return JsonResponse(body)


@api_view(agents_only=True)
def ticket_show_many(request: HttpRequest, caller: Caller) -> JsonResponse:
    ids = parse_ids(request)
    tickets = list(visible_tickets(_agent(caller)).filter(id__in=ids).order_by("id"))
    # The offset envelope, as recorded show_many answers carry it; the OpenAPI description's
    # TicketsResponse has `tickets` only, and the recording wins:
    # https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/#show-multiple-tickets
    envelope = {"next_page": None, "previous_page": None, "count": len(tickets)}
    return tickets_page_response(request, tickets, envelope)


# -- comments ---------------------------------------------------------------------------------


def comment_ordering(request: HttpRequest) -> Ordering:
    """Oldest first unless `sort=-created_at` (cursor style) or `sort_order=desc` (offset)."""
    sort = request.GET.get("sort")
    sort_order = request.GET.get("sort_order", "asc")
    if sort is not None and sort not in ("created_at", "-created_at"):
        raise errors.bad_request("InvalidValue", "sort must be created_at or -created_at")
    if sort_order not in ("asc", "desc"):
        raise errors.bad_request("InvalidValue", "sort_order must be asc or desc")
    descending = sort == "-created_at" if sort is not None else sort_order == "desc"
    label = "-created_at,id" if descending else "created_at,id"
    return Ordering(label, (("created_at", descending), ("id", descending)))


@api_view()
def ticket_comments(request: HttpRequest, caller: Caller, ticket_id: str) -> JsonResponse:
    ticket = visible_ticket(caller.user, parse_id(ticket_id))
    comments = Comment.objects.filter(ticket=ticket)
    if not caller.user.is_agent:
        comments = comments.filter(public=True)
    page = paginate(request, comments, comment_ordering(request), url=list_url(request))
    prefetch_attachments(page.rows)
    base_url = serializers.base_url(request)
    body: dict[str, Any] = {
        "comments": [serializers.comment_json(comment, base_url=base_url) for comment in page.rows]
    }
    if "users" in includes(request):
        authors = User.objects.filter(id__in={comment.author_id for comment in page.rows})
        body["users"] = users_json(authors, base_url=base_url)
    body.update(page.fields)
    return JsonResponse(body)


# -- activities -------------------------------------------------------------------------------


def caller_activities(request: HttpRequest, caller: Caller) -> QuerySet[Activity]:
    """The last 30 days of what others did that affects the caller (never their own acts)."""
    user = _agent(caller)
    window_start = timezone.now() - ACTIVITY_WINDOW
    activities = Activity.objects.filter(user=user, created_at__gte=window_start).exclude(
        actor_id=user.id
    )
    since = request.GET.get("since")
    if since is not None:
        activities = activities.filter(created_at__gte=parse_since(since))
    return activities


@api_view(agents_only=True)
def activity_list(request: HttpRequest, caller: Caller) -> JsonResponse:
    ordering = Ordering("-created_at,id", (("created_at", True), ("id", True)))
    activities = caller_activities(request, caller).select_related("user", "actor")
    page = paginate(request, activities, ordering, url=list_url(request))
    base_url = serializers.base_url(request)
    actors = {a.actor.id: a.actor for a in page.rows if a.actor is not None}
    # The system (actor_id -1) is sideloaded like any actor: its record comes first (lowest id).
    has_system = any(a.actor is None for a in page.rows)
    system_actors = [serializers.system_actor_json()] if has_system else []
    users = {a.user.id: a.user for a in page.rows}
    body: dict[str, Any] = {
        "activities": [serializers.activity_json(a, base_url=base_url) for a in page.rows],
        "actors": system_actors + users_json(actors.values(), base_url=base_url),
        "users": users_json(users.values(), base_url=base_url),
    }
    body.update(page.fields)
    return JsonResponse(body)


@api_view(agents_only=True)
def activity_show(request: HttpRequest, caller: Caller, activity_id: str) -> JsonResponse:
    activity = (
        caller_activities(request, caller)
        .select_related("user", "actor")
        .filter(id=parse_id(activity_id))
        .first()
    )
    if activity is None:
        raise errors.not_found()
    base_url = serializers.base_url(request)
    return JsonResponse({"activity": serializers.activity_json(activity, base_url=base_url)})


@api_view(agents_only=True)
def activity_count(request: HttpRequest, caller: Caller) -> JsonResponse:
    return count_response(caller_activities(request, caller))


# -- users and custom statuses ----------------------------------------------------------------


@api_view(allow_anonymous=True)
def user_me(request: HttpRequest, caller: Caller) -> JsonResponse:
    """The caller; without credentials Zendesk answers 200 with an id-less anonymous user."""
    if caller.user is None:
        return JsonResponse({"user": serializers.anonymous_user_json()})
    return JsonResponse(
        {"user": serializers.user_json(caller.user, base_url=serializers.base_url(request))}
    )


@api_view()
def user_show(request: HttpRequest, caller: Caller, user_id: str) -> JsonResponse:
    user = User.objects.filter(id=parse_id(user_id)).first()
    if user is None:
        raise errors.not_found()
    if not caller.user.is_agent and user.id != caller.user.id:
        raise errors.forbidden()
    return JsonResponse(
        {"user": serializers.user_json(user, base_url=serializers.base_url(request))}
    )


@api_view(agents_only=True)
def user_show_many(request: HttpRequest, caller: Caller) -> JsonResponse:
    users = User.objects.filter(id__in=parse_ids(request))
    return JsonResponse({"users": users_json(users, base_url=serializers.base_url(request))})


@api_view(agents_only=True)
def custom_status_list(request: HttpRequest, caller: Caller) -> JsonResponse:
    statuses = CustomStatus.objects.order_by("id")
    categories = [c for c in request.GET.get("status_categories", "").split(",") if c]
    if categories:
        statuses = statuses.filter(status_category__in=categories)
    for flag in ("active", "default"):
        raw = request.GET.get(flag)
        if raw is not None:
            if raw not in ("true", "false"):
                raise errors.bad_request("InvalidValue", f"{flag} must be true or false")
            statuses = statuses.filter(**{flag: raw == "true"})
    base_url = serializers.base_url(request)
    return JsonResponse(
        {
            "custom_statuses": [
                serializers.custom_status_json(status, base_url=base_url) for status in statuses
            ]
        }
    )


route("tickets", "GET", ticket_list)
route("tickets/count", "GET", ticket_count)
route("tickets/recent", "GET", ticket_recent)
route("tickets/show_many", "GET", ticket_show_many)
route(r"tickets/(?P<ticket_id>[^/.]+)", "GET", ticket_show)
route(r"tickets/(?P<ticket_id>[^/.]+)/comments", "GET", ticket_comments)
route(r"organizations/(?P<organization_id>[^/.]+)/tickets", "GET", organization_ticket_list)
route(r"organizations/(?P<organization_id>[^/.]+)/tickets/count", "GET", organization_ticket_count)
for _relation in ("requested", "ccd", "followed", "assigned"):
    _user_ticket_views(_relation)
route("activities", "GET", activity_list)
route("activities/count", "GET", activity_count)
route(r"activities/(?P<activity_id>[^/.]+)", "GET", activity_show)
route("users/me", "GET", user_me)
route("users/show_many", "GET", user_show_many)
route(r"users/(?P<user_id>[^/.]+)", "GET", user_show)
route("custom_statuses", "GET", custom_status_list)
