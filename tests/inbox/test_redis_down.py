"""Redis down in production: the app keeps serving.

A real redis-server on a free port is the shared cache; the test stops it by its pid and goes
on asking. Pages answer, reads go to Zendesk (the sandbox) on this process's part of the rate
budget, one warning is logged, /healthz says so, and Redis coming back is used again.
"""

from __future__ import annotations

import logging

import pytest
from django.core.cache import cache

from inbox.zendesk import budget, sharedcache
from inbox.zendesk.cache import DEFAULT_TTL_SECONDS, ttl_for
from inbox.zendesk.redis_cache import SharedPoolRedisCache
from tests.inbox.conftest import api_calls
from tests.redisserver import start_redis

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

WARNING = "The shared cache (Redis) is unreachable"


def warnings_logged(caplog) -> int:
    return sum(WARNING in record.getMessage() for record in caplog.records)


def test_the_cache_answers_from_memory_once_redis_stops_and_warns_once(resilient_cache, caplog):
    cache.set("shared", "from redis")
    assert cache.get("shared") == "from redis"
    assert sharedcache.shared_cache_available() is True

    resilient_cache.stop()
    with caplog.at_level(logging.WARNING, logger="inbox.zendesk.sharedcache"):
        assert cache.get("shared") is None  # Redis' copy is out of reach
        cache.set("local", "kept")
        assert cache.add("lock", "token", timeout=60) is True
        assert cache.add("lock", "other", timeout=60) is False  # locks still hold in-process
        cache.set("counter", 1)
        assert cache.incr("counter") == 2
        answers = [cache.get("local") for _ in range(20)]

    assert answers == ["kept"] * 20
    assert sharedcache.shared_cache_available() is False
    assert warnings_logged(caplog) == 1


def test_redis_is_used_again_once_it_answers(resilient_cache, tmp_path, monkeypatch, caplog):
    now = [1000.0]
    monkeypatch.setattr(sharedcache, "clock", lambda: now[0])
    resilient_cache.stop()
    cache.get("anything")
    assert sharedcache.shared_cache_available() is False

    port = int(resilient_cache.url.rsplit(":", 1)[1].split("/")[0])
    (tmp_path / "revived").mkdir()
    revived = start_redis(tmp_path / "revived", port=port)
    try:
        now[0] += sharedcache.RETRY_SECONDS
        with caplog.at_level(logging.WARNING, logger="inbox.zendesk.sharedcache"):
            cache.set("shared", "again")
        assert sharedcache.shared_cache_available() is True
        assert "answers again" in caplog.text
        assert cache.get("shared") == "again"
    finally:
        revived.stop()


def test_a_stopped_redis_is_tried_again_after_the_retry_interval(resilient_cache, monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(sharedcache, "clock", lambda: now[0])
    resilient_cache.stop()
    cache.get("anything")
    assert sharedcache.shared_cache_available() is False

    tried = []
    original = SharedPoolRedisCache.get

    def counting_get(self, *args, **kwargs):
        tried.append(args)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(SharedPoolRedisCache, "get", counting_get)
    for _ in range(5):
        cache.get("anything")
    assert tried == []  # within the interval Redis is not asked at all
    now[0] += sharedcache.RETRY_SECONDS
    cache.get("anything")
    cache.get("anything")
    assert len(tried) == 1  # one try, then back to waiting


def test_without_redis_lifetimes_fall_back_to_the_short_defaults(resilient_cache, settings):
    settings.ZENDESK_CACHE_TTL_SECONDS = {"list": 600.0, "ticket": 5.0}
    assert ttl_for("list") == 600.0

    resilient_cache.stop()
    cache.get("anything")

    assert ttl_for("list") == DEFAULT_TTL_SECONDS["list"]
    assert ttl_for("ticket") == 5.0  # a shorter lifetime stays as configured


def test_without_redis_each_process_spends_only_its_part_of_the_budget(resilient_cache, settings):
    settings.ZENDESK_RATE_LIMIT_PER_MINUTE = 200
    settings.ZENDESK_RATE_BUDGET_SHARE = 0.8
    settings.WEB_CONCURRENCY = 4
    settings.APP_INSTANCES = 2
    assert budget.deployment_limit() == 160

    resilient_cache.stop()
    cache.get("anything")

    assert budget.deployment_limit() == 20  # 160 shared by 4 workers x 2 instances


def test_with_redis_stopped_pages_answer_within_the_budget_and_healthz_says_so(
    resilient_cache, agent_client, inbox_sandbox, settings, monkeypatch, caplog
):
    # 10 requests a minute for the team, shared by 5 processes: 2 for this one.
    settings.ZENDESK_RATE_LIMIT_PER_MINUTE = 10
    settings.ZENDESK_RATE_BUDGET_SHARE = 1.0
    settings.WEB_CONCURRENCY = 5
    settings.APP_INSTANCES = 1
    window_start = 60 * 29_000_000.0  # a fixed minute: the count never rolls over mid-test
    monkeypatch.setattr(budget, "clock", lambda: window_start + 1)
    resilient_cache.stop()
    inbox_sandbox.control("POST", "stats/reset")

    with caplog.at_level(logging.WARNING):
        first = agent_client.get("/")
        pages = [first] + [
            agent_client.get(f"/views/{view}") for view in ("requested", "all", "ccd", "followed")
        ]
        health = agent_client.get("/healthz")

    assert first.status_code == 200
    assert 'id="ticket-list"' in first.content.decode()
    assert all(page.status_code in (200, 503) for page in pages), [p.status_code for p in pages]
    refused = [page for page in pages if page.status_code == 503]
    assert refused, "the budget should have run out within five pages"
    assert "share of Zendesk requests" in refused[0].content.decode()
    assert 1 <= api_calls(inbox_sandbox) <= 2
    assert warnings_logged(caplog) == 1
    assert health.status_code == 200
    assert health.json()["cache"]["shared"] is False
    assert "Redis" in health.json()["cache"]["message"]
