"""Zendesk Support API: one plain function per operation the app uses.

Each takes the agent's `Credentials` first, keyword-only arguments after, and a `lane`
for the team's rate budget (interactive page loads before background refreshes). Each returns
typed records (inbox.zendesk.records) and raises only inbox.zendesk.errors exceptions.
The client is given credentials and never looks them up: the services run each call through
`with_agent_credentials(agent, fn)`, which refreshes an expired token once on 401.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict, Unpack

from inbox.zendesk import budget, http
from inbox.zendesk.errors import InvalidResponse, OutcomeUnknown
from inbox.zendesk.records import (
    Activity,
    Comment,
    Count,
    CreatedTicket,
    CustomStatus,
    Group,
    GroupMembership,
    Organization,
    Page,
    Ticket,
    TicketDetail,
    TicketField,
    Upload,
    User,
    zendesk_time,
)

TicketListView = Literal[
    "all", "assigned", "ccd", "followed", "requested", "recent", "organization"
]
TicketCountView = Literal["all", "assigned", "ccd", "organization"]
# What offset pages of tickets can be sorted by (`sort_by`).
TicketOffsetSort = Literal[
    "assignee",
    "assignee.name",
    "created_at",
    "group",
    "id",
    "requester",
    "requester.name",
    "status",
    "subject",
    "updated_at",
]
MAX_PAGE_SIZE = 100
MAX_SHOW_MANY = 100


@dataclass(frozen=True)
class Credentials:
    """Who calls, and where: the Zendesk base URL, an OAuth access token, and its user id."""

    base_url: str
    access_token: str = field(repr=False)
    user_id: int


# -- plumbing -------------------------------------------------------------------------------


def _get(credentials: Credentials, path: str, *, lane: str, params: dict | None = None) -> Any:
    reply = http.request(
        "GET",
        f"{credentials.base_url}/api/v2/{path}",
        access_token=credentials.access_token,
        params=params,
        lane=lane,
    )
    return _expect_object(reply.body)


def _expect_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise InvalidResponse("Zendesk answered with JSON that is not an object.")
    return body


def _parse(parser: Callable[[], Any]) -> Any:
    """Run a records parser; a body with the wrong shape is an InvalidResponse, not a crash."""
    try:
        return parser()
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise InvalidResponse(
            f"Zendesk answered with JSON of an unexpected shape ({error.__class__.__name__})."
        ) from None


def _cursor_params(
    *, page_size: int, after: str | None = None, before: str | None = None
) -> dict[str, Any]:
    params: dict[str, Any] = {"page[size]": max(1, min(MAX_PAGE_SIZE, page_size))}
    if after:
        params["page[after]"] = after
    if before:
        params["page[before]"] = before
    return params


def _offset_params(*, page: int, per_page: int) -> dict[str, int]:
    if page < 1:
        raise ValueError("Page numbers start at 1.")
    return {"page": int(page), "per_page": max(1, min(MAX_PAGE_SIZE, per_page))}


def _include(include: Iterable[str]) -> dict[str, str]:
    names = ",".join(include)
    return {"include": names} if names else {}


def _ids_param(ids: Iterable[int]) -> str:
    id_list = [int(i) for i in ids]
    if len(id_list) > MAX_SHOW_MANY:
        raise ValueError(f"Zendesk shows at most {MAX_SHOW_MANY} records at once.")
    return ",".join(str(i) for i in id_list)


def iterate_pages(
    fetch: Callable[[str | None], Page], *, max_pages: int | None = None
) -> Iterator[Page]:
    """Yield pages from `fetch(after_cursor)` until Zendesk says `has_more: false`.

    Stops on `has_more`, never on `links.next` (set even on Zendesk's last page), and on a
    missing cursor (a page claiming more without a cursor cannot be followed).
    """
    after: str | None = None
    fetched = 0
    while True:
        page = fetch(after)
        fetched += 1
        yield page
        if not page.has_more or not page.after_cursor:
            return
        if max_pages is not None and fetched >= max_pages:
            return
        after = page.after_cursor


# -- users ----------------------------------------------------------------------------------


def users_me(credentials: Credentials, *, lane: str = budget.INTERACTIVE) -> User:
    """The user behind the token. https://developer.zendesk.com/api-reference/ticketing/users/users/#show-the-currently-authenticated-user

    Answers 200 with an "Anonymous user" (id None) without valid credentials: check `is_agent`.
    """
    body = _get(credentials, "users/me", lane=lane)
    return _parse(lambda: User.from_api(body["user"]))


def user_show(credentials: Credentials, user_id: int, *, lane: str = budget.INTERACTIVE) -> User:
    """One user. https://developer.zendesk.com/api-reference/ticketing/users/users/#show-user"""
    body = _get(credentials, f"users/{int(user_id)}", lane=lane)
    return _parse(lambda: User.from_api(body["user"]))


def users_show_many(
    credentials: Credentials, *, ids: Iterable[int], lane: str = budget.INTERACTIVE
) -> tuple[User, ...]:
    """Up to 100 users by id. https://developer.zendesk.com/api-reference/ticketing/users/users/#show-many-users"""
    body = _get(credentials, "users/show_many", params={"ids": _ids_param(ids)}, lane=lane)
    return _parse(lambda: tuple(User.from_api(user) for user in body["users"]))


# -- finding a requester and an assignee (creating a ticket) ---------------------------------

MAX_PEOPLE_PER_PAGE = 100


def users_search(
    credentials: Credentials,
    *,
    query: str,
    per_page: int = 10,
    lane: str = budget.INTERACTIVE,
) -> tuple[User, ...]:
    """People whose name or email matches `query` (Zendesk's search syntax), first page only.

    https://developer.zendesk.com/api-reference/ticketing/users/users/#search-users
    Zendesk's search index lags writes: never use it to confirm one.
    """
    params = {"query": query, "page": 1, "per_page": max(1, min(MAX_PEOPLE_PER_PAGE, per_page))}
    body = _get(credentials, "users/search", params=params, lane=lane)
    return _parse(lambda: tuple(User.from_api(user) for user in body["users"]))


def users_autocomplete(
    credentials: Credentials,
    *,
    name: str,
    per_page: int = 10,
    lane: str = budget.INTERACTIVE,
) -> tuple[User, ...]:
    """People whose name starts with `name` (2 characters at least), first page only.

    https://developer.zendesk.com/api-reference/ticketing/users/users/#autocomplete-users
    """
    params = {"name": name, "page": 1, "per_page": max(1, min(MAX_PEOPLE_PER_PAGE, per_page))}
    body = _get(credentials, "users/autocomplete", params=params, lane=lane)
    return _parse(lambda: tuple(User.from_api(user) for user in body["users"]))


def group_memberships_assignable(
    credentials: Credentials,
    group_id: int,
    *,
    lane: str = budget.INTERACTIVE,
    max_pages: int = 10,
) -> Page:
    """The memberships of the agents a ticket in the group can be assigned to, with the
    agents sideloaded (`users`), as one Page (up to `max_pages` pages of 100).

    https://developer.zendesk.com/api-reference/ticketing/groups/group_memberships/#list-assignable-memberships
    """
    path = f"groups/{int(group_id)}/memberships/assignable"

    def fetch(after: str | None) -> Page:
        params = {**_cursor_params(page_size=MAX_PAGE_SIZE, after=after), "include": "users"}
        body = _get(credentials, path, params=params, lane=lane)
        return _parse(lambda: Page.from_api(body, key="group_memberships", record=GroupMembership))

    pages = list(iterate_pages(fetch, max_pages=max_pages))
    return Page(
        items=tuple(membership for page in pages for membership in page.items),
        has_more=pages[-1].has_more,
        users={user_id: user for page in pages for user_id, user in page.users.items()},
    )


# -- organizations --------------------------------------------------------------------------


def organizations_show_many(
    credentials: Credentials, *, ids: Iterable[int], lane: str = budget.INTERACTIVE
) -> tuple[Organization, ...]:
    """Up to 100 organizations by id (names for a list of tickets).

    https://developer.zendesk.com/api-reference/ticketing/organizations/organizations/#show-many-organizations
    """
    body = _get(credentials, "organizations/show_many", params={"ids": _ids_param(ids)}, lane=lane)
    return _parse(lambda: tuple(Organization.from_api(entry) for entry in body["organizations"]))


# -- tickets --------------------------------------------------------------------------------


def _ticket_list_path(
    credentials: Credentials, view: str, user_id: int | None, organization_id: int | None
) -> str:
    if view == "all":
        return "tickets"
    if view == "recent":
        return "tickets/recent"
    if view == "organization":
        if organization_id is None:
            raise ValueError("The organization view needs an organization_id.")
        return f"organizations/{int(organization_id)}/tickets"
    if view in ("assigned", "ccd", "followed", "requested"):
        return f"users/{int(user_id or credentials.user_id)}/tickets/{view}"
    raise ValueError(f"Unknown ticket view {view!r}.")


def tickets_list(
    credentials: Credentials,
    *,
    view: TicketListView,
    user_id: int | None = None,
    organization_id: int | None = None,
    external_id: str | None = None,
    sort: str = "-updated_at",
    page_size: int = 25,
    after: str | None = None,
    before: str | None = None,
    page: int | None = None,
    sort_by: TicketOffsetSort | None = None,
    sort_order: Literal["asc", "desc"] = "asc",
    include: Iterable[str] = ("users",),
    lane: str = budget.INTERACTIVE,
) -> Page:
    """One page of a ticket list; `items` are Tickets, `users` the sideloaded people.

    https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/#list-tickets
    `assigned|ccd|followed|requested` list the tickets of `user_id` (default: the caller);
    `external_id` keeps only the tickets linked to that record elsewhere.

    Cursor mode (the default): `sort` (`[-]updated_at|id|status`), `after` / `before`.
    Offset mode, when `page` (from 1) is given: `sort_by` + `sort_order`, `page_size` as
    `per_page`; the Page then carries `count`, `next_page` and `previous_page`. Zendesk stops
    offset pages at 10,000 records: past them it raises PaginationTooDeep.
    https://developer.zendesk.com/api-reference/introduction/pagination/
    """
    path = _ticket_list_path(credentials, view, user_id, organization_id)
    params: dict[str, Any] = _include(include)
    if external_id is not None:
        params["external_id"] = external_id
    if page is None:
        params.update(_cursor_params(page_size=page_size, after=after, before=before))
        if sort:
            params["sort"] = sort
    else:
        if after or before:
            raise ValueError("A page number and a cursor cannot be used together.")
        params.update(_offset_params(page=page, per_page=page_size))
        if sort_by:
            params.update(sort_by=sort_by, sort_order=sort_order)
    body = _get(credentials, path, params=params, lane=lane)
    return _parse(lambda: Page.from_api(body, key="tickets", record=Ticket, page_number=page))


def tickets_count(
    credentials: Credentials,
    *,
    view: TicketCountView,
    user_id: int | None = None,
    organization_id: int | None = None,
    lane: str = budget.INTERACTIVE,
) -> Count:
    """An approximate ticket count. https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/#count-tickets"""
    if view not in ("all", "assigned", "ccd", "organization"):
        raise ValueError(f"Zendesk has no count for the {view!r} view.")
    path = _ticket_list_path(credentials, view, user_id, organization_id) + "/count"
    body = _get(credentials, path, lane=lane)
    return _parse(lambda: Count.from_api(body))


def ticket_show(
    credentials: Credentials,
    ticket_id: int,
    *,
    include: Iterable[str] = ("users", "groups", "organizations", "custom_statuses"),
    lane: str = budget.INTERACTIVE,
) -> TicketDetail:
    """One ticket (without comments) and its sideloads, as a TicketDetail.

    https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/#show-ticket
    """
    body = _get(credentials, f"tickets/{int(ticket_id)}", params=_include(include), lane=lane)
    return _parse(lambda: TicketDetail.from_api(body))


def tickets_show_many(
    credentials: Credentials,
    *,
    ids: Iterable[int],
    include: Iterable[str] = ("users",),
    lane: str = budget.INTERACTIVE,
) -> Page:
    """Up to 100 tickets by id, as one Page without more (tickets the caller may not see are left out).

    https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/#show-multiple-tickets
    """
    params = {"ids": _ids_param(ids), **_include(include)}
    body = _get(credentials, "tickets/show_many", params=params, lane=lane)
    return _parse(lambda: Page.from_api(body, key="tickets", record=Ticket))


def ticket_comments(
    credentials: Credentials,
    ticket_id: int,
    *,
    after: str | None = None,
    page_size: int = 100,
    sort: str = "created_at",
    include: Iterable[str] = ("users",),
    lane: str = budget.INTERACTIVE,
) -> Page:
    """One cursor page of a ticket's comments (oldest first by default), with their authors.

    https://developer.zendesk.com/api-reference/ticketing/tickets/ticket_comments/#list-comments
    """
    params = {**_cursor_params(page_size=page_size, after=after), "sort": sort, **_include(include)}
    body = _get(credentials, f"tickets/{int(ticket_id)}/comments", params=params, lane=lane)
    return _parse(lambda: Page.from_api(body, key="comments", record=Comment))


# Fields an update may set to null (None elsewhere means "leave as it is").
CLEARABLE_FIELDS = frozenset({"assignee_id", "group_id"})


class EmailCC(TypedDict, total=False):
    """One change to a ticket's email CCs: `action` "put" adds, "delete" removes (by id or email).

    https://developer.zendesk.com/documentation/ticketing/managing-tickets/creating-and-updating-tickets/#setting-email-ccs
    """

    user_id: int
    user_email: str
    user_name: str
    action: Literal["put", "delete"]


class Requester(TypedDict, total=False):
    """A requester by email (found, or created as an end user), for a new ticket."""

    email: str
    name: str


class CustomField(TypedDict):
    id: int
    value: Any


class TicketFields(TypedDict, total=False):
    """What a ticket write may send, named as in Zendesk's ticket body (`ticket_type` is
    Zendesk's `type`; `comment_body`, `public` and `upload_tokens` make up the `comment`).
    Fields left out (or None) are not sent, so Zendesk leaves them as they are.

    https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/#json-format
    """

    comment_body: str | None
    public: bool
    upload_tokens: Sequence[str] | None
    subject: str | None
    status: str | None
    custom_status_id: int | None
    priority: str | None
    ticket_type: str | None
    assignee_id: int | None
    group_id: int | None
    tags: Sequence[str] | None
    email_ccs: Sequence[EmailCC] | None
    custom_fields: Sequence[CustomField] | None
    requester_id: int | None
    requester: Requester | None
    external_id: str | None
    due_at: dt.datetime | None


def _ticket_body(fields: TicketFields) -> dict[str, Any]:
    """The `ticket` object Zendesk takes, from the typed fields. None is left out (unchanged);
    an empty `tags` list is sent (it clears the tags)."""
    given: dict[str, Any] = {name: value for name, value in fields.items() if value is not None}
    body: dict[str, Any] = {}
    comment_body = given.pop("comment_body", None)
    public = given.pop("public", True)
    upload_tokens = list(given.pop("upload_tokens", ()))
    if upload_tokens and comment_body is None:
        raise ValueError("Uploaded files are attached by a comment: give comment_body too.")
    if comment_body is not None:
        comment: dict[str, Any] = {"body": comment_body, "public": bool(public)}
        if upload_tokens:
            comment["uploads"] = upload_tokens
        body["comment"] = comment
    if "ticket_type" in given:
        given["type"] = given.pop("ticket_type")
    for name in ("tags", "email_ccs", "custom_fields"):
        if name in given:
            given[name] = [dict(item) if isinstance(item, dict) else item for item in given[name]]
    if "due_at" in given:
        given["due_at"] = zendesk_time(given["due_at"])
    body.update(given)
    return body


def _ticket_write(
    credentials: Credentials,
    method: str,
    path: str,
    ticket: dict[str, Any],
    *,
    lane: str,
    headers: dict[str, str] | None = None,
) -> Ticket:
    reply = http.request(
        method,
        f"{credentials.base_url}/api/v2/{path}",
        access_token=credentials.access_token,
        json={"ticket": ticket},
        headers=headers,
        lane=lane,
    )
    body = _expect_object(reply.body)
    return _parse(lambda: Ticket.from_api(body["ticket"]))


def ticket_create(
    credentials: Credentials,
    *,
    idempotency_key: str,
    lane: str = budget.INTERACTIVE,
    **fields: Unpack[TicketFields],
) -> CreatedTicket:
    """Create a ticket at most once per `idempotency_key` (safe to retry after a lost answer).

    Returns a CreatedTicket (a Ticket) whose `idempotency_lookup` is Zendesk's
    `x-idempotency-lookup`: "hit" when an earlier request with the key had created it.
    The same key with a different body is refused (a 400 ZendeskError).

    https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/#create-ticket
    https://developer.zendesk.com/api-reference/ticketing/introduction/#idempotency
    """
    reply = http.request(
        "POST",
        f"{credentials.base_url}/api/v2/tickets",
        access_token=credentials.access_token,
        json={"ticket": ticket_create_body(fields)},
        headers={"Idempotency-Key": idempotency_key},
        lane=lane,
    )
    body = _expect_object(reply.body)
    lookup = reply.headers.get("x-idempotency-lookup")
    return _parse(
        lambda: dataclasses.replace(
            CreatedTicket.from_api(body["ticket"]), idempotency_lookup=lookup or None
        )
    )


def ticket_create_body(fields: TicketFields) -> dict[str, Any]:
    """The `ticket` object a create sends for these fields: what an idempotency key is tied
    to (Zendesk refuses the key with any other body)."""
    return _ticket_body(fields)


def ticket_update(
    credentials: Credentials,
    ticket_id: int,
    *,
    safe_update_stamp: str | None = None,
    clear: Sequence[str] = (),
    lane: str = budget.INTERACTIVE,
    **fields: Unpack[TicketFields],
) -> Ticket:
    """Update a ticket: a comment and field changes in one request, as Zendesk takes them.

    Never retried: a PUT with a comment is not idempotent. With `safe_update_stamp` (the
    `updated_at` the agent saw) a concurrent change makes Zendesk answer 409, raised as Conflict.
    `clear` names fields sent as null (e.g. "assignee_id" to unassign), since None means
    "leave as it is". A lost answer raises OutcomeUnknown: read the ticket to find out.

    https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/#update-ticket
    https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/#protecting-against-ticket-update-collisions
    """
    ticket = _ticket_body(fields)
    for name in clear:
        if name not in CLEARABLE_FIELDS:
            raise ValueError(f"{name!r} cannot be cleared by an update.")
        ticket[name] = None
    if safe_update_stamp:
        ticket.update({"safe_update": True, "updated_stamp": safe_update_stamp})
    try:
        return _ticket_write(credentials, "PUT", f"tickets/{int(ticket_id)}", ticket, lane=lane)
    except InvalidResponse:
        # A 2xx we cannot read came after the write: it may have happened.
        raise OutcomeUnknown(
            "Zendesk answered the update with a body we could not read; it may have happened."
        ) from None


# -- the ticket page: assignable groups and agents, uploads, ticket fields --------------------
# How many pages of groups or members a picker walks (100 a page): a bound, never a silent cut
# for accounts this size; larger accounts see the first 1,000.
MAX_PICKER_PAGES = 10


def groups_assignable(
    credentials: Credentials, *, lane: str = budget.INTERACTIVE
) -> tuple[Group, ...]:
    """The groups the caller may assign tickets to.

    https://developer.zendesk.com/api-reference/ticketing/groups/groups/#list-assignable-groups
    """
    groups: list[Group] = []

    def fetch(after: str | None) -> Page:
        params = _cursor_params(page_size=MAX_PAGE_SIZE, after=after)
        body = _get(credentials, "groups/assignable", params=params, lane=lane)
        return _parse(lambda: Page.from_api(body, key="groups", record=Group))

    for page in iterate_pages(fetch, max_pages=MAX_PICKER_PAGES):
        groups.extend(page.items)
    return tuple(groups)


def group_agents_assignable(
    credentials: Credentials, group_id: int, *, lane: str = budget.INTERACTIVE
) -> tuple[User, ...]:
    """The agents a ticket in this group can be assigned to, in membership order.

    https://developer.zendesk.com/api-reference/ticketing/groups/group_memberships/#list-assignable-memberships
    """
    page = group_memberships_assignable(
        credentials, group_id, lane=lane, max_pages=MAX_PICKER_PAGES
    )
    return tuple(page.users[m.user_id] for m in page.items if m.user_id in page.users)


def upload_create(
    credentials: Credentials,
    *,
    file_name: str,
    content: bytes,
    content_type: str = "application/octet-stream",
    lane: str = budget.INTERACTIVE,
) -> Upload:
    """Store a file for a comment to take: the token goes into the comment's `uploads`.

    https://developer.zendesk.com/api-reference/ticketing/tickets/ticket-attachments/#upload-files
    A file over the account's limit raises PayloadTooLarge (413).
    """
    reply = http.request(
        "POST",
        f"{credentials.base_url}/api/v2/uploads",
        access_token=credentials.access_token,
        params={"filename": file_name},
        data=content,
        headers={"Content-Type": content_type or "application/octet-stream"},
        lane=lane,
    )
    body = _expect_object(reply.body)
    return _parse(lambda: Upload.from_api(body))


def ticket_fields(
    credentials: Credentials, *, lane: str = budget.INTERACTIVE
) -> tuple[TicketField, ...]:
    """The account's ticket fields (labels for a ticket's `custom_fields`).

    https://developer.zendesk.com/api-reference/ticketing/tickets/ticket_fields/#list-ticket-fields
    """
    body = _get(credentials, "ticket_fields", lane=lane)
    return _parse(lambda: tuple(TicketField.from_api(entry) for entry in body["ticket_fields"]))


# -- activities -----------------------------------------------------------------------------


def activities_list(
    credentials: Credentials,
    *,
    since: dt.datetime | str | None = None,
    after: str | None = None,
    page_size: int = 50,
    lane: str = budget.INTERACTIVE,
) -> Page:
    """One cursor page of the caller's ticket activities (newest first), actors in `users`.

    https://developer.zendesk.com/api-reference/ticketing/tickets/activity_stream/#list-activities
    """
    params = _cursor_params(page_size=page_size, after=after)
    if since is not None:
        params["since"] = since if isinstance(since, str) else zendesk_time(since)
    body = _get(credentials, "activities", params=params, lane=lane)
    return _parse(lambda: Page.from_api(body, key="activities", record=Activity))


def activity_show(
    credentials: Credentials, activity_id: int, *, lane: str = budget.INTERACTIVE
) -> Activity:
    """One activity. https://developer.zendesk.com/api-reference/ticketing/tickets/activity_stream/#show-activity"""
    body = _get(credentials, f"activities/{int(activity_id)}", lane=lane)
    return _parse(lambda: Activity.from_api(body["activity"]))


def activities_count(credentials: Credentials, *, lane: str = budget.INTERACTIVE) -> Count:
    """Approximate number of the caller's activities. https://developer.zendesk.com/api-reference/ticketing/tickets/activity_stream/#count-activities"""
    body = _get(credentials, "activities/count", lane=lane)
    return _parse(lambda: Count.from_api(body))


# -- account --------------------------------------------------------------------------------


def custom_statuses(
    credentials: Credentials, *, lane: str = budget.INTERACTIVE
) -> tuple[CustomStatus, ...]:
    """The account's ticket status labels. https://developer.zendesk.com/api-reference/ticketing/tickets/custom_ticket_statuses/#list-custom-ticket-statuses"""
    body = _get(credentials, "custom_statuses", lane=lane)
    return _parse(
        lambda: tuple(CustomStatus.from_api(status) for status in body["custom_statuses"])
    )
