"""Test settings with the cache on Redis: for helper processes that share a cache with a test.

The test passes its Redis in APP_TEST_REDIS_URL (see tests/redisserver.py and `redis_url`).
"""

from __future__ import annotations

import os

from tests.settings import *  # noqa: F403

CACHES = {
    "default": {
        "BACKEND": "inbox.zendesk.redis_cache.SharedPoolRedisCache",
        "LOCATION": os.environ["APP_TEST_REDIS_URL"],
    }
}
# tests.settings pins ZENDESK_URL; a helper process learns the sandbox's URL from here.
ZENDESK_URL = os.environ.get("APP_TEST_ZENDESK_URL", ZENDESK_URL)  # noqa: F405
