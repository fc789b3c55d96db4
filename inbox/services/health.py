"""What the home page and /healthz say about the app, its database and its Zendesk."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import connection

from inbox.zendesk.probe import Reachability, zendesk_reachability


def upstream_status() -> Reachability:
    """Which Zendesk this deployment is configured for, and whether it answers."""
    return zendesk_reachability()


def database_status() -> tuple[bool, str | None]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as error:
        return False, f"{error.__class__.__name__}: {error}"
    return True, None


def health_report() -> dict[str, Any]:
    """JSON for /healthz. `ok` is the app and its database; Zendesk is reported, not required:
    an upstream outage must not take the app out of a load balancer (it serves cached data)."""
    database_ok, database_error = database_status()
    upstream = upstream_status()
    return {
        "ok": database_ok,
        "app": "ok",
        "database": {"ok": database_ok, "error": database_error},
        "upstream": {
            "url": settings.ZENDESK_URL,
            "reachable": upstream.reachable,
            "error": upstream.error,
            "latency_ms": upstream.latency_ms,
        },
    }
