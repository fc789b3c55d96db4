"""Template context shared by every page."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from inbox.auth import current_agent


def agent(request: HttpRequest) -> dict[str, Any]:
    """`current_agent`: the signed-in AgentAccount or None (for the top bar: name, sign-out)."""
    return {"current_agent": current_agent(request) if hasattr(request, "session") else None}
