"""What views may ask for. One module per concern; re-exported here for views.

Reads return `Fresh[...]`: the value, when it was fetched, and whether it is `stale` (Zendesk
could not confirm it just now; `stale_message` says why). `ZendeskUnavailable` means Zendesk
failed and nothing was saved yet; other `ZendeskError`s (NotFound, Forbidden, Conflict,
Invalid) are Zendesk's answer and carry a `user_message`.
"""

from __future__ import annotations

from inbox.services.activities import (
    UnreadCount,
    activity_feed,
    activity_mark_seen,
    activity_unread_count,
)
from inbox.services.health import health_report, upstream_status
from inbox.services.tickets import (
    TICKET_LIST_VIEWS,
    TicketThread,
    custom_status_list,
    ticket_comments_earlier,
    ticket_counts,
    ticket_create,
    ticket_detail,
    ticket_list,
    ticket_reread,
    ticket_update,
    updated_stamp,
    user_lookup,
)
from inbox.zendesk.cache import Fresh
from inbox.zendesk.errors import ZendeskUnavailable

__all__ = [
    "TICKET_LIST_VIEWS",
    "Fresh",
    "TicketThread",
    "UnreadCount",
    "ZendeskUnavailable",
    "activity_feed",
    "activity_mark_seen",
    "activity_unread_count",
    "custom_status_list",
    "health_report",
    "ticket_comments_earlier",
    "ticket_counts",
    "ticket_create",
    "ticket_detail",
    "ticket_list",
    "ticket_reread",
    "ticket_update",
    "updated_stamp",
    "upstream_status",
    "user_lookup",
]
