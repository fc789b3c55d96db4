"""Counters in the shared cache (inbox.zendesk.counters): one script on Redis, add + incr in
memory, and this process's memory while Redis is down."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from inbox.zendesk import counters


def test_in_memory_a_counter_starts_at_zero_and_adds_up():
    cache.delete("hits")
    assert counters.count_up("hits") == 1
    assert counters.count_up("hits", 4) == 5
    assert cache.get("hits") == 5


@pytest.mark.redis
def test_on_redis_one_command_creates_counts_and_sets_the_expiry_once(redis_cache):
    import redis

    raw = redis.Redis.from_url(redis_cache)
    full_key = cache.make_and_validate_key("window")
    raw.config_resetstat()

    assert counters.count_up("window", timeout=120) == 1
    assert counters.count_up("window", 2, timeout=120) == 3

    stats = raw.info("commandstats")
    assert stats["cmdstat_eval"]["calls"] == 2
    assert "cmdstat_exists" not in stats
    assert "cmdstat_set" not in stats
    assert 0 < raw.ttl(full_key) <= 120
    assert cache.get("window") == 3, "Django's cache API reads the counter"


@pytest.mark.redis
def test_on_redis_a_counter_without_timeout_never_expires(redis_cache):
    import redis

    counters.count_up("forever")

    assert redis.Redis.from_url(redis_cache).ttl(cache.make_and_validate_key("forever")) == -1


@pytest.mark.slow
def test_with_redis_down_the_counter_counts_in_this_process(resilient_cache):
    assert counters.count_up("calls", timeout=120) == 1
    resilient_cache.stop()

    assert counters.count_up("calls", timeout=120) == 1  # Redis's count is out of reach
    assert counters.count_up("calls", timeout=120) == 2
