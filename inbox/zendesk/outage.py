"""A short pause on reads after Zendesk failed to answer, shared by every process.

When Zendesk is down, refusing connections, answering 5xx or hanging, every read costs up to
1 + ZENDESK_MAX_RETRIES attempts (or a whole deadline for a hang), and a page or poll makes
several reads: without a pause, each agent's next poll would spend its retries and its wait on
a Zendesk that just failed. After a read fails that way, reads are not sent for
ZENDESK_OUTAGE_PAUSE_SECONDS (shared through the cache, so every worker and instance holds
back): agents get the last good answers with their age, or the outage message, at once.

Writes are still sent (an agent who presses Send deserves a real attempt), and so is the health
probe: either one that Zendesk answers ends the pause, as does its own expiry. 0 turns it off.
"""

from __future__ import annotations

import math

from django.conf import settings
from django.core.cache import caches

from inbox.zendesk import budget

PAUSED_UNTIL_KEY = "zendesk:outage:paused-until"


def _cache():
    return caches["default"]


def pause_seconds() -> float:
    return max(0.0, float(getattr(settings, "ZENDESK_OUTAGE_PAUSE_SECONDS", 0)))


def paused_for() -> float:
    """Seconds left of the pause (0 when reads may go to Zendesk)."""
    if not pause_seconds() or settings.ZENDESK_NAIVE_PROXY:
        return 0.0
    until = _cache().get(PAUSED_UNTIL_KEY)
    return 0.0 if until is None else max(0.0, float(until) - budget.clock())


def pause() -> None:
    """Zendesk just failed to answer a read: hold reads back for a moment."""
    seconds = pause_seconds()
    if not seconds or settings.ZENDESK_NAIVE_PROXY:
        return
    _cache().set(PAUSED_UNTIL_KEY, budget.clock() + seconds, timeout=math.ceil(seconds) + 1)


def resume() -> None:
    """Zendesk answered: reads may go again."""
    if pause_seconds():
        _cache().delete(PAUSED_UNTIL_KEY)
