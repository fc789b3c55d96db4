"""Ticket reads and writes for views: answered from the cache when fresh, honest about age.

Reads return `Fresh[...]` (value, fetched_at, stale, stale_reason, age_seconds). Writes go
straight to Zendesk and then move the families they touched to a new generation, so the writer
(and the agents the ticket concerns: assignee, requester, CCs, followers) see the change at once.

Sharing: Zendesk answers the "all" and organization lists, a ticket and its comments the same
for every unrestricted agent, so those are cached once for all of them; "my" lists, counts of
"my" lists and anything for a restricted agent are cached per agent.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal

from inbox.models import AgentAccount
from inbox.services.credentials import with_agent_credentials
from inbox.services.freshness import (
    AGENT_VIEWS,
    activities_family,
    agent_tickets_family,
    agent_view_family,
    cached_as_agent,
    combined,
    organization_count_family,
    organization_tickets_family,
    ticket_family,
    tickets_family,
    unavailable,
)
from inbox.zendesk import budget, cache, client, request_cost
from inbox.zendesk.cache import Fresh
from inbox.zendesk.client import Credentials
from inbox.zendesk.errors import ZendeskUnavailable
from inbox.zendesk.records import Comment, Count, CustomStatus, Page, Sideloads, Ticket, User

TICKET_LIST_VIEWS = ("all", "assigned", "ccd", "followed", "requested", "recent", "organization")
# Views Zendesk answers the same for every unrestricted agent.
SHARED_VIEWS = frozenset({"all", "organization"})
# The counts an agent's inbox shows, in the order it shows them.
COUNT_VIEWS = ("assigned", "ccd", "all")
# Comments read at once: the newest page comes with the ticket, earlier ones on demand.
COMMENT_PAGE_SIZE = 50
# Sideloads asked for (part of the cache key: an answer without them is a different answer).
LIST_INCLUDE = ("users",)
TICKET_INCLUDE = ("users", "groups", "organizations", "custom_statuses")
COMMENTS_INCLUDE = ("users",)


@dataclass(frozen=True, kw_only=True)
class TicketThread(Sideloads):
    """A ticket with the newest page of its conversation (oldest first within it) and the
    people, groups and statuses it names; `earlier_cursor` reads the page before it."""

    ticket: Ticket
    comments: tuple[Comment, ...]
    earlier_cursor: str | None = None

    @property
    def has_earlier(self) -> bool:
        return self.earlier_cursor is not None


# -- reads -----------------------------------------------------------------------------------
def _list_families(
    base_url: str, view: str, user_id: int, organization_id: int | None = None
) -> list[str]:
    if view == "organization" and organization_id is not None:
        return [organization_tickets_family(base_url, organization_id)]
    if view in AGENT_VIEWS:  # the agent's own lists: moved on by the part they play
        return [agent_view_family(base_url, user_id, view)]
    # "all", and "recent" (Zendesk's own, whose rows any ticket change can alter)
    return [tickets_family(base_url)]


def ticket_list(
    *,
    agent: AgentAccount,
    view: str,
    sort: str = "-updated_at",
    after: str | None = None,
    before: str | None = None,
    page_size: int = 25,
    page: int | None = None,
    sort_by: client.TicketOffsetSort | None = None,
    sort_order: Literal["asc", "desc"] = "asc",
    external_id: str | None = None,
    organization_id: int | None = None,
    include: tuple[str, ...] = LIST_INCLUDE,
    lane: str = budget.INTERACTIVE,
) -> Fresh[Page]:
    """One page of one of the agent's ticket lists (tickets in `items`, sideloads by id).

    Cursor pages (`sort`, `after` / `before`) by default; numbered pages when `page` is given
    (`sort_by` + `sort_order`: columns only offset pagination sorts by), which Zendesk stops
    at 10,000 records (PaginationTooDeep). `include` is part of the cache key: an answer
    without a sideload is a different answer.
    """
    if view not in TICKET_LIST_VIEWS:
        raise ValueError(f"Unknown ticket view {view!r}.")
    params = _list_params(
        view=view,
        sort=sort,
        after=after,
        before=before,
        page_size=page_size,
        organization_id=organization_id,
        include=include,
        page=page,
        sort_by=sort_by,
        sort_order=sort_order,
        external_id=external_id,
    )

    def fetch_as(credentials: Credentials) -> Fresh[Page]:
        return cached_as_agent(
            agent=agent,
            credentials=credentials,
            kind="list",
            operation="tickets_list",
            params=params,
            shareable=view in SHARED_VIEWS,
            families=_list_families(
                credentials.base_url, view, agent.zendesk_user_id, organization_id
            ),
            fetch=lambda: client.tickets_list(
                credentials,
                view=view,
                user_id=agent.zendesk_user_id,
                organization_id=organization_id,
                external_id=external_id,
                sort=sort,
                page_size=page_size,
                after=after,
                before=before,
                page=page,
                sort_by=sort_by,
                sort_order=sort_order,
                include=include,
                lane=lane,
            ),
        )

    return with_agent_credentials(agent, fetch_as)


def _list_params(
    *,
    view: str,
    sort: str,
    after: str | None,
    before: str | None,
    page_size: int,
    organization_id: int | None,
    include: tuple[str, ...],
    page: int | None = None,
    sort_by: str | None = None,
    sort_order: str = "asc",
    external_id: str | None = None,
) -> dict[str, Any]:
    """The cache parameters of one list page (ticket_list's key, and first_page_read's)."""
    params: dict[str, Any] = {
        "view": view,
        "sort": sort,
        "after": after,
        "before": before,
        "page_size": page_size,
        "organization_id": organization_id,
        "include": include,
    }
    # Added only when used, so the keys of plain cursor pages stay what they always were.
    extra = {"page": page, "sort_by": sort_by, "external_id": external_id}
    params.update({name: value for name, value in extra.items() if value is not None})
    if page is not None:
        params["sort_order"] = sort_order
    return params


def first_page_read(
    agent: AgentAccount,
    credentials: Credentials,
    *,
    view: str,
    sort: str,
    page_size: int,
    include: tuple[str, ...],
) -> cache.CachedRead:
    """The cache entry of the first cursor page of one of the agent's lists, as `ticket_list`
    keeps it: for reading it from the cache alone (`cache.cached_hits`)."""
    return cache.CachedRead(
        kind="list",
        base_url=credentials.base_url,
        operation="tickets_list",
        params=_list_params(
            view=view,
            sort=sort,
            after=None,
            before=None,
            page_size=page_size,
            organization_id=None,
            include=include,
        ),
        user_id=agent.zendesk_user_id,
        restricted=agent.restricted,
        shareable=view in SHARED_VIEWS,
        families=tuple(_list_families(credentials.base_url, view, agent.zendesk_user_id)),
    )


# The "all" count is Zendesk's approximate count (the badge says so, with its time): it is
# refreshed on its own short lifetime (30 s, ttl_for's default, also while a change feed
# runs), not moved on by every ticket change: a team whose tickets change every two seconds
# would otherwise ask Zendesk for it every two seconds, and every agent's badges with it.
# https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/#count-tickets
APPROXIMATE_COUNT = "approximate_count"
# An organization's count is approximate too, but one organization's tickets are created far
# less often: it is moved on by the changes that can alter it (a ticket of it created,
# deleted or moved away: the `org-count:ID` family) and otherwise kept (5 minutes while a
# change feed runs, which cannot see a deletion). A restricted agent's is kept 30 s as "all"
# is: what such an agent may see also changes with a ticket's group or assignee.
ORGANIZATION_COUNT = "organization_count"


def _count_kind(view: str) -> str:
    return APPROXIMATE_COUNT if view == "all" else "count"


def _count_families(base_url: str, view: str, user_id: int) -> list[str]:
    return [] if view == "all" else _list_families(base_url, view, user_id)


def organization_count_read(
    agent: AgentAccount, credentials: Credentials, organization_id: int
) -> cache.CachedRead:
    """The cache entry of an organization's approximate count as the agent reads it."""
    followed = not agent.restricted
    return cache.CachedRead(
        kind=ORGANIZATION_COUNT if followed else APPROXIMATE_COUNT,
        base_url=credentials.base_url,
        operation="tickets_count",
        params={"view": "organization", "organization_id": organization_id},
        user_id=agent.zendesk_user_id,
        restricted=agent.restricted,
        shareable=True,
        families=(organization_count_family(credentials.base_url, organization_id),)
        if followed
        else (),
    )


def count_read(agent: AgentAccount, credentials: Credentials, view: str) -> cache.CachedRead:
    """The cache entry of one of the agent's counts (as `_ticket_count` reads it)."""
    return cache.CachedRead(
        kind=_count_kind(view),
        base_url=credentials.base_url,
        operation="tickets_count",
        params={"view": view},
        user_id=agent.zendesk_user_id,
        restricted=agent.restricted,
        shareable=view in SHARED_VIEWS,
        families=tuple(_count_families(credentials.base_url, view, agent.zendesk_user_id)),
    )


def _ticket_count(
    agent: AgentAccount, credentials: Credentials, view: str, lane: str
) -> Fresh[Count | None]:
    read = count_read(agent, credentials, view)
    try:
        return cache.cached_read_call(
            read,
            lambda: client.tickets_count(
                credentials, view=view, user_id=agent.zendesk_user_id, lane=lane
            ),
        )
    except ZendeskUnavailable as error:
        return unavailable(error)


def ticket_count(
    *, agent: AgentAccount, view: str, lane: str = budget.INTERACTIVE
) -> Fresh[Count | None]:
    """One of the agent's inbox counts (see ticket_counts), value None when Zendesk cannot
    give it and it was never cached."""
    if view not in COUNT_VIEWS:
        raise ValueError(f"Unknown count {view!r}.")
    return with_agent_credentials(
        agent, lambda credentials: _ticket_count(agent, credentials, view, lane)
    )


def ticket_counts(
    *, agent: AgentAccount, lane: str = budget.INTERACTIVE
) -> dict[str, Fresh[Count | None]]:
    """The agent's inbox counts by view (assigned, ccd, all): all three from the cache in one
    round trip when they are there, the others fetched side by side.

    A count Zendesk cannot give (and that was never cached) comes back as value None, stale,
    so the other counts still show.
    """

    def fetch_as(credentials: Credentials) -> dict[str, Fresh[Count | None]]:
        reads = [count_read(agent, credentials, view) for view in COUNT_VIEWS]
        hits = dict(zip(COUNT_VIEWS, cache.cached_hits(reads), strict=True))
        missing = [view for view, hit in hits.items() if hit is None]
        if len(missing) == 1:
            hits[missing[0]] = _ticket_count(agent, credentials, missing[0], lane)
        elif missing:
            with ThreadPoolExecutor(max_workers=len(missing)) as pool:
                futures = {
                    view: pool.submit(
                        request_cost.carried(_ticket_count), agent, credentials, view, lane
                    )
                    for view in missing
                }
                hits.update({view: future.result() for view, future in futures.items()})
        return {view: hits[view] for view in COUNT_VIEWS}

    return with_agent_credentials(agent, fetch_as)


def _comments_page(credentials: Credentials, ticket_id: int, after: str | None, lane: str) -> Page:
    """One page of comments walking back from the newest, returned oldest first; its
    `after_cursor` (while `has_more`) reads the comments before them."""
    page = client.ticket_comments(
        credentials,
        ticket_id,
        after=after,
        page_size=COMMENT_PAGE_SIZE,
        sort="-created_at",
        include=COMMENTS_INCLUDE,
        lane=lane,
    )
    more = page.has_more and bool(page.after_cursor)
    return Page(
        items=tuple(reversed(page.items)),
        has_more=more,
        after_cursor=page.after_cursor if more else None,
        users=page.users,
    )


def ticket_detail(
    *, agent: AgentAccount, ticket_id: int, lane: str = budget.INTERACTIVE
) -> Fresh[TicketThread]:
    """A ticket, the newest page of its conversation and the people in it, fetched side by
    side; a long conversation is never cut: `earlier_cursor` reads on (ticket_comments_earlier).

    Raises NotFound / Forbidden when Zendesk says the agent may not see the ticket (never served
    from a copy), ZendeskUnavailable when Zendesk is down and nothing is saved.
    """
    ticket_id = int(ticket_id)

    def fetch_as(credentials: Credentials) -> Fresh[TicketThread]:
        families = [ticket_family(credentials.base_url, ticket_id)]
        common: dict[str, Any] = {
            "agent": agent,
            "credentials": credentials,
            "params": _show_params(ticket_id),
            "shareable": True,
            "families": families,
        }
        with ThreadPoolExecutor(max_workers=2) as pool:
            shown = pool.submit(
                request_cost.carried(cached_as_agent),
                kind="ticket",
                operation="ticket_show",
                fetch=lambda: client.ticket_show(
                    credentials, ticket_id, include=TICKET_INCLUDE, lane=lane
                ),
                **common,
            )
            comments = pool.submit(
                request_cost.carried(cached_as_agent),
                kind="comments",
                operation="ticket_comments",
                fetch=lambda: _comments_page(credentials, ticket_id, None, lane),
                **common,
            )
            detail, conversation = shown.result(), comments.result()
        sideloads = detail.value.sideload_fields()
        sideloads["users"] = {**conversation.value.users, **detail.value.users}
        thread = TicketThread(
            ticket=detail.value.ticket,
            comments=conversation.value.items,
            earlier_cursor=conversation.value.after_cursor,
            **sideloads,
        )
        return combined(thread, [detail, conversation])

    return with_agent_credentials(agent, fetch_as)


def _show_params(ticket_id: int) -> dict[str, Any]:
    """The cache parameters of a ticket and its conversation (the same for both reads)."""
    return {
        "ticket_id": ticket_id,
        "include": TICKET_INCLUDE,
        "comments_include": COMMENTS_INCLUDE,
        "comments_page": COMMENT_PAGE_SIZE,
    }


# -- the app's own copy of a ticket (for invalidating what a change makes stale) -------------
def ticket_cached_copy(*, base_url: str, ticket_id: int) -> Ticket | None:
    """The ticket as unrestricted agents last saw it through the app, if it is still cached.

    Never calls Zendesk: a change notice uses it to learn who the ticket concerned before.
    """
    detail = cache.cached_value(
        base_url=base_url,
        operation="ticket_show",
        params=_show_params(int(ticket_id)),
        scope=cache.scope_for(user_id=None, restricted=False, shareable=True),
        families=[ticket_family(base_url, int(ticket_id))],
    )
    return detail.ticket if detail is not None else None


def ticket_reread_in_background(
    *, agent: AgentAccount, ticket_id: int, lane: str = budget.BACKGROUND
) -> Ticket:
    """The ticket as Zendesk has it now, read for every unrestricted agent on the given lane.

    The answer is cached under the ticket page's own key, so the page opens from it.
    """
    ticket_id = int(ticket_id)

    def fetch_as(credentials: Credentials) -> Ticket:
        answer = cached_as_agent(
            agent=agent,
            credentials=credentials,
            kind="ticket",
            operation="ticket_show",
            params=_show_params(ticket_id),
            shareable=True,
            families=[ticket_family(credentials.base_url, ticket_id)],
            fetch=lambda: client.ticket_show(
                credentials, ticket_id, include=TICKET_INCLUDE, lane=lane
            ),
        )
        return answer.value.ticket

    return with_agent_credentials(agent, fetch_as)


def ticket_comments_earlier(
    *, agent: AgentAccount, ticket_id: int, cursor: str, lane: str = budget.INTERACTIVE
) -> Fresh[Page]:
    """The page of comments before `cursor` (oldest first within it); `after_cursor` goes on."""
    ticket_id = int(ticket_id)
    return with_agent_credentials(
        agent,
        lambda credentials: cached_as_agent(
            agent=agent,
            credentials=credentials,
            kind="comments",
            operation="ticket_comments",
            params={
                "ticket_id": ticket_id,
                "after": cursor,
                "comments_include": COMMENTS_INCLUDE,
                "comments_page": COMMENT_PAGE_SIZE,
            },
            shareable=True,
            families=[ticket_family(credentials.base_url, ticket_id)],
            fetch=lambda: _comments_page(credentials, ticket_id, cursor, lane),
        ),
    )


def ticket_reread(*, agent: AgentAccount, ticket_id: int) -> Fresh[TicketThread]:
    """The ticket straight from Zendesk (its cached copies dropped first): after a write whose
    answer was lost, or a collision, only Zendesk's word now will do."""

    def drop(credentials: Credentials) -> None:
        cache.bump(ticket_family(credentials.base_url, int(ticket_id)))

    with_agent_credentials(agent, drop)
    return ticket_detail(agent=agent, ticket_id=ticket_id)


def custom_status_list(*, agent: AgentAccount) -> Fresh[tuple[CustomStatus, ...]]:
    """The account's status labels (the same for everyone; cached for ten minutes)."""
    return with_agent_credentials(
        agent,
        lambda credentials: cached_as_agent(
            agent=agent,
            credentials=credentials,
            kind="custom_statuses",
            operation="custom_statuses",
            params={},
            shareable=True,
            fetch=lambda: client.custom_statuses(credentials),
        ),
    )


def user_lookup(*, agent: AgentAccount, ids: Iterable[int]) -> Fresh[dict[int, User]]:
    """People by id (up to 100), e.g. for names the sideloads did not bring."""
    wanted = sorted({int(user_id) for user_id in ids})[:100]
    return with_agent_credentials(
        agent,
        lambda credentials: cached_as_agent(
            agent=agent,
            credentials=credentials,
            kind="users",
            operation="users_show_many",
            params={"ids": wanted},
            shareable=True,
            fetch=lambda: {
                user.id: user for user in client.users_show_many(credentials, ids=wanted)
            },
        ),
    )


# -- writes ----------------------------------------------------------------------------------
def _people_concerned(ticket: Ticket) -> set[int]:
    people = {ticket.assignee_id, ticket.requester_id, ticket.submitter_id}
    people.update(ticket.collaborator_ids, ticket.follower_ids, ticket.email_cc_ids)
    return {person for person in people if person is not None}


def _after_ticket_write(
    credentials: Credentials, agent: AgentAccount, ticket: Ticket, *, also: Iterable[int] = ()
) -> None:
    """Invalidate what the write changed: the ticket, shared lists, and the lists, counts and
    activities of the agents it concerns."""
    base_url = credentials.base_url
    people = _people_concerned(ticket) | {agent.zendesk_user_id} | {int(p) for p in also if p}
    # The views of the parts people play after the write; for the writer (who may have just
    # left a part) and the previous assignee, every view.
    left = {agent.zendesk_user_id} | {int(p) for p in also if p}
    views = _ticket_views(ticket) | {(person, view) for person in left for view in AGENT_VIEWS}
    cache.bump(
        ticket_family(base_url, ticket.id),
        tickets_family(base_url),
        *(organization_tickets_family(base_url, org) for org in [ticket.organization_id] if org),
        *(agent_tickets_family(base_url, person) for person in people),
        *(agent_view_family(base_url, person, view) for person, view in views),
        # The write is an activity for the others the ticket concerns (their unread counts),
        # never for the writer.
        *(activities_family(base_url, person) for person in people - {agent.zendesk_user_id}),
    )


def _ticket_views(ticket: Ticket) -> set[tuple[int, str]]:
    """(person, view) for the parts people play in the ticket (collaborators: CC and follow)."""
    parts = {
        "assigned": [ticket.assignee_id],
        "requested": [ticket.requester_id],
        "ccd": [*ticket.email_cc_ids, *ticket.collaborator_ids],
        "followed": [*ticket.follower_ids, *ticket.collaborator_ids],
    }
    return {(person, view) for view, ids in parts.items() for person in ids if person}


def updated_stamp(ticket: Ticket) -> str | None:
    """The ticket's `updated_at` as Zendesk writes it: what a form sends back as `updated_stamp`
    so that a change made meanwhile by someone else is refused (409) instead of overwritten."""
    return ticket.updated_stamp


def ticket_update(
    *,
    agent: AgentAccount,
    ticket_id: int,
    comment_body: str | None = None,
    public: bool = True,
    upload_tokens: Sequence[str] = (),
    status: str | None = None,
    custom_status_id: int | None = None,
    priority: str | None = None,
    ticket_type: str | None = None,
    assignee_id: int | None = None,
    group_id: int | None = None,
    tags: Iterable[str] | None = None,
    email_ccs: Sequence[client.EmailCC] = (),
    custom_fields: Sequence[client.CustomField] = (),
    updated_stamp: str | None = None,
    previous_assignee_id: int | None = None,
    unassign: bool = False,
) -> Ticket:
    """One update as an agent's form submits it: a comment (public reply or internal note, with
    uploaded files) and any field changes, sent to Zendesk in one request.

    None (or an empty list) leaves a field as it is. With `updated_stamp` (the ticket's
    updated_at the agent saw) a change made meanwhile by someone else raises Conflict instead of
    being overwritten. `previous_assignee_id` (when the caller knows it) lets the agent who lost
    the ticket see their counts change at once too. `unassign` clears the assignee (None
    cannot say that). A lost answer raises OutcomeUnknown: the update may have happened.
    """
    fields: client.TicketFields = {
        "status": status,
        "custom_status_id": custom_status_id,
        "priority": priority,
        "ticket_type": ticket_type,
        "assignee_id": assignee_id,
        "group_id": group_id,
    }
    if comment_body is not None:
        fields.update(comment_body=comment_body, public=public, upload_tokens=tuple(upload_tokens))
    if tags is not None:
        fields["tags"] = tuple(tags)
    if email_ccs:
        fields["email_ccs"] = tuple(email_ccs)
    if custom_fields:
        fields["custom_fields"] = tuple(custom_fields)

    def update_as(credentials: Credentials) -> Ticket:
        ticket = client.ticket_update(
            credentials,
            int(ticket_id),
            safe_update_stamp=updated_stamp,
            clear=("assignee_id",) if unassign else (),
            **fields,
        )
        also = [previous_assignee_id] if previous_assignee_id else []
        _after_ticket_write(credentials, agent, ticket, also=also)
        return ticket

    return with_agent_credentials(agent, update_as)


def ticket_create(
    *,
    agent: AgentAccount,
    subject: str,
    comment_body: str,
    idempotency_key: str,
    requester_id: int | None = None,
    requester_name: str | None = None,
    requester_email: str | None = None,
    public: bool = True,
    priority: str | None = None,
    ticket_type: str | None = None,
    assignee_id: int | None = None,
    group_id: int | None = None,
    tags: Iterable[str] = (),
    custom_fields: Sequence[client.CustomField] = (),
) -> Ticket:
    """Open a ticket. The same `idempotency_key` (one per form shown) never creates two, so a
    double submit or a retry after a lost answer is safe."""
    fields: client.TicketFields = {
        "subject": subject,
        "comment_body": comment_body,
        "public": public,
        "priority": priority,
        "ticket_type": ticket_type,
        "assignee_id": assignee_id,
        "group_id": group_id,
    }
    if requester_id is not None:
        fields["requester_id"] = int(requester_id)
    elif requester_email:
        fields["requester"] = {"email": requester_email, "name": requester_name or requester_email}
    if tags:
        fields["tags"] = tuple(tags)
    if custom_fields:
        fields["custom_fields"] = tuple(custom_fields)

    def create_as(credentials: Credentials) -> Ticket:
        created = client.ticket_create(credentials, idempotency_key=idempotency_key, **fields)
        _after_ticket_write(credentials, agent, created)
        return created

    return with_agent_credentials(agent, create_as)
