"""Every answer says what it cost in a Server-Timing header: the app's time, the Zendesk calls
it waited for, and whether the cache alone answered. Counted against what the sandbox saw."""

from __future__ import annotations

import re
import threading

import pytest
from django.core.cache import cache as django_cache
from django.test import Client

from inbox.zendesk import cache, request_cost
from tests.inbox.conftest import api_calls

pytestmark = pytest.mark.django_db

# Everything the header may say: durations, counts, how a part was made, hit or miss.
HEADER = re.compile(
    r'app;dur=\d+\.\d, cpu;dur=\d+\.\d, zendesk;desc="(?P<calls>\d+) calls?";dur=\d+\.\d'
    r'(?:, db;desc="(?P<queries>\d+) quer(?:y|ies)";dur=\d+\.\d)?'
    r'(?:, poll;desc="(?P<poll>kept|none|moved|expired|counts)")?'
    r'(?:, sidebar;desc="(?P<sidebar>kept|asked)")?'
    r'(?:, flight;desc="waited for the same Zendesk call";dur=\d+\.\d)?'
    r', cache;desc="(?P<cache>hit|miss)"'
)


def timing(response) -> re.Match[str]:
    found = HEADER.fullmatch(response["Server-Timing"])
    assert found, response["Server-Timing"]
    return found


def upstream_since_reset(sandbox) -> int:
    return api_calls(sandbox)


def test_a_page_that_asked_zendesk_says_how_many_calls(agent_client, inbox_sandbox):
    inbox_sandbox.control("POST", "stats/reset")
    response = agent_client.get("/views/ccd")

    assert response.status_code == 200
    said = timing(response)
    assert said["cache"] == "miss"
    assert int(said["calls"]) == upstream_since_reset(inbox_sandbox) > 0


def test_the_same_page_again_is_answered_from_the_cache(agent_client, inbox_sandbox):
    agent_client.get("/views/ccd")
    inbox_sandbox.control("POST", "stats/reset")
    again = agent_client.get("/views/ccd")

    assert again.status_code == 200
    assert timing(again)["cache"] == "hit"
    assert timing(again)["calls"] == "0"
    assert upstream_since_reset(inbox_sandbox) == 0


def test_calls_a_poll_makes_side_by_side_are_all_counted(agent_client, inbox_sandbox):
    inbox_sandbox.control("POST", "stats/reset")
    first = agent_client.get("/inbox/poll")

    # The sidebar asks its samples and the "all" count in parallel threads.
    assert int(timing(first)["calls"]) == upstream_since_reset(inbox_sandbox) >= 3
    assert timing(first)["cache"] == "miss"


def test_a_poll_with_nothing_new_says_it_was_answered_from_the_cache(agent_client, inbox_sandbox):
    first = agent_client.get("/inbox/poll").content.decode()
    version = re.search(r'id="poll-version" name="version" value="([0-9a-f]+)"', first).group(1)
    again = agent_client.get("/inbox/poll", {"version": version})

    assert again.status_code == 204
    assert timing(again)["cache"] == "hit"
    assert timing(again)["poll"] == "kept"


def test_a_poll_says_whether_its_last_answer_stood_or_was_computed(
    agent, agent_client, inbox_sandbox
):
    from inbox.services import poll

    first = agent_client.get("/inbox/poll")
    django_cache.delete(poll._state_key(agent))  # as when it outlives its lifetime
    computed = agent_client.get("/inbox/poll")
    kept = agent_client.get("/inbox/poll")

    assert timing(first)["poll"] == "none"
    assert timing(first)["sidebar"] == "asked"
    assert timing(computed)["poll"] == "none"
    assert timing(computed)["sidebar"] == "kept"  # its parts still in the cache
    assert timing(computed)["cache"] == "hit"
    assert timing(kept)["poll"] == "kept"


def test_it_counts_the_database_queries_of_the_request(agent_client, inbox_sandbox):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    agent_client.get("/inbox/poll")
    with CaptureQueriesContext(connection) as queries:
        response = agent_client.get("/inbox/poll")

    assert int(timing(response)["queries"]) == len(queries.captured_queries) > 0


def test_it_leaks_no_url_id_or_token(agent, agent_client, inbox_sandbox):
    for path in ("/", "/views/ccd", "/inbox/poll", "/activity/"):
        header = agent_client.get(path)["Server-Timing"]
        timing_of = HEADER.fullmatch(header)
        assert timing_of, header
        assert str(agent.zendesk_user_id) not in header
        assert "/" not in header
        assert "http" not in header


def test_a_signed_out_visitor_gets_the_header_too(inbox_sandbox):
    response = Client().get("/auth/signin")

    assert timing(response)["calls"] == "0"


def test_waiting_for_another_requests_call_counts_as_waiting_on_zendesk(monkeypatch, settings):
    """Single flight: the second reader asks nothing itself but waits for the first's call."""
    django_cache.clear()
    read = dict(kind="list", base_url="https://z.example", operation="op", params={})
    leader_fetching, release = threading.Event(), threading.Event()

    def slow_fetch() -> str:
        leader_fetching.set()
        release.wait(10)
        return "answer"

    real_wait = cache._wait_for_leader

    def waiting(*args, **kwargs):
        release.set()  # the follower is waiting now: let the leader finish
        return real_wait(*args, **kwargs)

    monkeypatch.setattr(cache, "_wait_for_leader", waiting)
    leader = threading.Thread(
        target=lambda: cache.cached_call(user_id=1, restricted=False, fetch=slow_fetch, **read)
    )
    leader.start()
    assert leader_fetching.wait(10)
    with request_cost.counting() as cost:
        answer = cache.cached_call(
            user_id=1, restricted=False, fetch=lambda: pytest.fail("asked twice"), **read
        )
    leader.join(10)

    assert answer.value == "answer"
    assert cost.zendesk_calls == 0
    assert cost.flight_waits == 1
    assert 'flight;desc="waited for the same Zendesk call"' in cost.server_timing()
    assert cost.server_timing().endswith('cache;desc="miss"')


def test_operators_see_calls_by_the_view_that_made_them(agent_client, inbox_sandbox, settings):
    settings.ZENDESK_CACHE_STATS = True
    agent_client.get("/inbox/poll")

    counted = django_cache.get(
        f"{request_cost.CALLS_STATS_KEY}:inbox_poll|GET|/api/v2/tickets/count"
    )
    assert counted == 1, "the poll's count of all tickets is counted under its view"
