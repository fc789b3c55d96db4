"""The agent's activity stream (what others did to their tickets) and what they have not seen.

The last-seen mark lives on the agent's row (`AgentAccount.activities_seen_at`), not in the
session, so "unread" follows the agent from laptop to phone. Activities are always cached per
agent: Zendesk answers each agent with their own stream.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from inbox.models import AgentAccount
from inbox.services.credentials import with_agent_credentials
from inbox.services.freshness import activities_family, cached_as_agent
from inbox.zendesk import budget, client
from inbox.zendesk.cache import Fresh
from inbox.zendesk.client import Credentials
from inbox.zendesk.records import Page

# Past this many unread activities the badge says "100+": one page is all we spend on it.
UNREAD_PAGE_SIZE = 100


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
    """Activities newer than the agent's last-seen mark (all of the last 30 days if none)."""
    seen_at = agent.activities_seen_at

    def fetch_unread(credentials: Credentials) -> UnreadCount:
        if seen_at is None:
            count = client.activities_count(credentials, lane=lane)
            return UnreadCount(value=count.value)
        page = client.activities_list(
            credentials, since=seen_at, page_size=UNREAD_PAGE_SIZE, lane=lane
        )
        newer = [
            activity
            for activity in page.items
            if activity.created_at is None or activity.created_at > seen_at
        ]
        return UnreadCount(value=len(newer), at_least=page.has_more)

    return _cached_stream(
        agent=agent,
        operation="activities_unread",
        params={"since": seen_at.isoformat() if seen_at else None},
        fetch=fetch_unread,
    )


def _cached_stream[T](
    *,
    agent: AgentAccount,
    operation: str,
    params: dict[str, Any],
    fetch: Callable[[Credentials], T],
) -> Fresh[T]:
    """One cached read of the agent's own activity stream: never shared (Zendesk answers each
    agent with their own), and invalidated with the agent's activities family."""

    def fetch_as(credentials: Credentials) -> Fresh[T]:
        return cached_as_agent(
            agent=agent,
            credentials=credentials,
            kind="activities",
            operation=operation,
            params=params,
            families=[activities_family(credentials.base_url, agent.zendesk_user_id)],
            fetch=lambda: fetch(credentials),
        )

    return with_agent_credentials(agent, fetch_as)


def activity_mark_seen(*, agent: AgentAccount, seen_at: dt.datetime | None = None) -> None:
    """Remember that the agent has seen their activities up to `seen_at` (default: now).

    Pass the newest activity's `created_at` the agent was shown, so one that arrived while the
    page was open still counts as unread.
    """
    mark = seen_at or timezone.now()
    if agent.activities_seen_at is not None and agent.activities_seen_at >= mark:
        return
    agent.activities_seen_at = mark
    agent.save(update_fields=["activities_seen_at"])
