"""Test doubles shared by the cache and budget tests."""

from __future__ import annotations


class FakeClock:
    """A clock (seconds since the epoch) that moves only when a test says so."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now  # the start of a minute

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
