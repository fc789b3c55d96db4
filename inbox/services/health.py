"""What /healthz says about the app, its database, its shared cache and its Zendesk.

Nothing here calls Zendesk on the caller's path: reachability comes from the last background
probe (inbox.zendesk.probe), refreshed after the answer when it is due. Who may read what:
anyone gets yes/no answers (a load balancer, a monitor); only a signed-in agent, or every
caller when HEALTHZ_DETAIL is on, reads which Zendesk it is and what its error said. A
database error's text is logged, never sent: it can name hosts, users and schemas.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django.conf import settings
from django.db import connection

from inbox.zendesk import sharedcache
from inbox.zendesk.probe import (
    Reachability,
    reachability_refresh_in_background,
    reachability_status,
)

logger = logging.getLogger(__name__)


def upstream_status() -> Reachability | None:
    """The last known reachability of the configured Zendesk (None: not probed yet)."""
    return reachability_status()


def database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:
        logger.exception("/healthz: the database did not answer")
        return False
    return True


def health_report(*, detail: bool) -> dict[str, Any]:
    """JSON for /healthz. `ok` is the app and its database; Zendesk and the shared cache are
    reported, not required: an upstream or Redis outage must not take the app out of a load
    balancer (it serves cached data, and reads go to Zendesk on a smaller budget)."""
    reachability_refresh_in_background()
    healthy_database = database_ok()
    return {
        "ok": healthy_database,
        "app": "ok",
        "database": {"ok": healthy_database},
        "cache": _cache_report(),
        "upstream": _upstream_report(upstream_status(), detail=detail),
    }


def _cache_report() -> dict[str, Any]:
    shared = sharedcache.shared_cache_available()
    return {
        "shared": shared,
        "message": None
        if shared
        else "The shared cache (Redis) is unreachable: each process caches on its own and "
        "calls Zendesk on a smaller share of the rate budget.",
    }


def _upstream_report(status: Reachability | None, *, detail: bool) -> dict[str, Any]:
    report: dict[str, Any] = {
        "reachable": None if status is None else status.reachable,
        "checked_seconds_ago": None if status is None else int(time.time() - status.checked_at),
    }
    if detail:
        report["url"] = settings.ZENDESK_URL
        report["error"] = None if status is None else status.error
        report["latency_ms"] = None if status is None else status.latency_ms
    return report
