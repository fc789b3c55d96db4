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
    """What the app shell shows on every page: the theme, the sidebar's views and their
    badges, the bell, the poll pace.

    The theme is read from the database only for a signed-in agent (one small query). A full
    page of a signed-in agent draws the badges, organizations and bell the cache holds at once
    (every page the same way); an htmx partial has no sidebar and skips that read.
    """
    from inbox.services import inbox as inbox_services

    signed_in = current_agent(request) if hasattr(request, "session") else None
    theme = inbox_services.theme_get(agent=signed_in)
    following = inbox_services.theme_next(theme)
    context = {
        "theme": theme,
        "theme_label": inbox_services.THEME_LABELS[theme],
        "theme_next": following,
        "theme_next_label": inbox_services.THEME_LABELS[following],
        "inbox_views": inbox_services.VIEWS,
        # (view, badge) for the sidebar; the cached badges replace it below.
        "sidebar_views": [(view, None) for view in inbox_services.VIEWS],
        "poll_seconds": settings.INBOX_POLL_SECONDS,
    }
    if signed_in is not None and not getattr(request, "htmx", False):
        from inbox.views_inbox import shell_sidebar_context

        context.update(shell_sidebar_context(signed_in))
    return context
