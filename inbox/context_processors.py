"""Template context shared by every page."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from inbox.auth import current_agent


def agent(request: HttpRequest) -> dict[str, Any]:
    """`current_agent`: the signed-in AgentAccount or None (for the top bar: name, sign-out)."""
    return {"current_agent": current_agent(request) if hasattr(request, "session") else None}


def shell(request: HttpRequest) -> dict[str, Any]:
    """What the app shell shows on every page: the theme, the sidebar's views, the poll pace.

    The theme is read from the database only for a signed-in agent (one small query).
    """
    from inbox.services import inbox as inbox_services

    signed_in = current_agent(request) if hasattr(request, "session") else None
    theme = inbox_services.theme_get(agent=signed_in)
    following = inbox_services.theme_next(theme)
    return {
        "theme": theme,
        "theme_label": inbox_services.THEME_LABELS[theme],
        "theme_next": following,
        "theme_next_label": inbox_services.THEME_LABELS[following],
        "inbox_views": inbox_services.VIEWS,
        # (view, badge) for the sidebar; a page that has the cached badges replaces it.
        "sidebar_views": [(view, None) for view in inbox_services.VIEWS],
        "poll_seconds": settings.INBOX_POLL_SECONDS,
    }
