"""The team's shared rate budget (issue E). Interface used by the transport in http.py.

    reserve(priority="interactive"|"background")  -> None, or raises RateBudgetExhausted
    record_response(status_code, headers)        -> None (reads rate-limit headers, Retry-After)

Until issue E lands, these do nothing.
"""

from __future__ import annotations

from collections.abc import Mapping

INTERACTIVE = "interactive"
BACKGROUND = "background"


def reserve(priority: str = INTERACTIVE) -> None:
    """Take one request from the shared budget, or raise RateBudgetExhausted."""


def record_response(status_code: int, headers: Mapping[str, str]) -> None:
    """Learn from a response's rate-limit headers (and a 429's Retry-After)."""
