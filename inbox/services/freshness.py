"""What every service shares: the cache families, the agent's scope, and combining answers.

A *family* is a set of cache entries invalidated together after a write (see
inbox.zendesk.cache.bump). Families used by the services:

- `tickets`           the "all" list every agent can see
- `org-tickets:ID`    one organization's list (a change elsewhere leaves it be)
- `org-count:ID`      one organization's approximate count (as unrestricted agents see it):
                      moved on only by a change that can alter it (a ticket of it created or
                      deleted, or moved in or out), not by every change
- `agent-tickets:ID`  anything of one agent's that any change concerning them may alter
- `agent-tickets:ID:VIEW`  one of an agent's own lists and its count, by the part the agent
                      plays in a ticket: `assigned` (assignee), `ccd` (CC), `followed`
                      (follower), `requested` (requester). A change moves on only the views of
                      the parts people play in it: a comment on a ticket someone follows
                      leaves their assigned and CC'd lists, and so their badges, cached.
- `ticket:ID`         one ticket and its comments
- `activities:ID`     one agent's activity stream
- `agent-marks:PK`    what one agent account marked in the app itself (activities opened or
                      seen, notification choices): what the poll shows besides Zendesk's data

All are prefixed with the account's base URL: two Zendesk accounts never share a family.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from inbox.models import AgentAccount
from inbox.zendesk import cache
from inbox.zendesk.cache import Fresh
from inbox.zendesk.client import Credentials
from inbox.zendesk.errors import ZendeskUnavailable


def tickets_family(base_url: str) -> str:
    return f"{base_url}|tickets"


def organization_tickets_family(base_url: str, organization_id: int) -> str:
    return f"{base_url}|org-tickets|{organization_id}"


def organization_count_family(base_url: str, organization_id: int) -> str:
    return f"{base_url}|org-count|{organization_id}"


def agent_tickets_family(base_url: str, user_id: int) -> str:
    return f"{base_url}|agent-tickets|{user_id}"


# The agent's own views, each invalidated by the part the agent plays in a changed ticket.
AGENT_VIEWS = ("assigned", "ccd", "followed", "requested")


def agent_view_family(base_url: str, user_id: int, view: str) -> str:
    """One of the agent's own lists (and its count): see AGENT_VIEWS."""
    if view not in AGENT_VIEWS:
        raise ValueError(f"{view!r} is not one of an agent's own views {AGENT_VIEWS}.")
    return f"{base_url}|agent-tickets|{user_id}|{view}"


def ticket_family(base_url: str, ticket_id: int) -> str:
    return f"{base_url}|ticket|{ticket_id}"


def activities_family(base_url: str, user_id: int) -> str:
    return f"{base_url}|activities|{user_id}"


def agent_marks_family(base_url: str, agent_pk: int) -> str:
    return f"{base_url}|agent-marks|{agent_pk}"


def cached_as_agent[T](
    *,
    agent: AgentAccount,
    credentials: Credentials,
    kind: str,
    operation: str,
    params: dict[str, Any],
    fetch: Callable[[], T],
    shareable: bool = False,
    families: Iterable[str] = (),
) -> Fresh[T]:
    """One cached Zendesk read on the agent's behalf, scoped to them unless `shareable`.

    `shareable` means Zendesk answers every unrestricted agent the same; the cache still keeps
    a restricted agent's answers to that agent alone.
    """
    return cache.cached_call(
        kind=kind,
        base_url=credentials.base_url,
        operation=operation,
        params=params,
        user_id=agent.zendesk_user_id,
        restricted=agent.restricted,
        shareable=shareable,
        families=families,
        fetch=fetch,
    )


def unavailable(error: ZendeskUnavailable) -> Fresh[None]:
    """A placeholder for one part of a page Zendesk could not give (the rest still shows)."""
    now = datetime.fromtimestamp(cache.clock(), tz=UTC)
    return Fresh(value=None, fetched_at=now, stale=True, stale_reason=error.reason)


def combined[T](value: T, parts: Iterable[Fresh[Any]]) -> Fresh[T]:
    """One answer built from several: as old as its oldest part, stale if any part is."""
    parts = list(parts)
    stale_parts = [part for part in parts if part.stale]
    return Fresh(
        value=value,
        fetched_at=min(part.fetched_at for part in parts),
        stale=bool(stale_parts),
        stale_reason=stale_parts[0].stale_reason if stale_parts else None,
    )
