"""The sidebar poll: one request for every badge, "nothing new" as a 204, a change made in
Zendesk shows on the next poll, and polls never take the budget an agent's page needs."""

from __future__ import annotations

import re

import pytest
import requests

from inbox.zendesk import budget
from tests.inbox.test_inbox_badges import badge_text

pytestmark = pytest.mark.django_db


def version_of(html: str) -> str:
    return re.search(r'id="poll-version" name="version" value="([0-9a-f]+)"', html).group(1)


def test_an_unchanged_sidebar_answers_204(agent_client, inbox_sandbox):
    first = agent_client.get("/inbox/poll")
    again = agent_client.get("/inbox/poll", {"version": version_of(first.content.decode())})

    assert first.status_code == 200
    assert again.status_code == 204
    assert again.content == b""


def test_a_stale_version_gets_the_whole_sidebar(agent_client, inbox_sandbox):
    response = agent_client.get("/inbox/poll", {"version": "0000000000000000"})

    assert response.status_code == 200
    assert 'id="count-assigned" hx-swap-oob="innerHTML"' in response.content.decode()


def test_a_ticket_assigned_in_zendesk_shows_on_the_next_poll(
    agent, agent_client, inbox_sandbox, settings
):
    inbox_sandbox.reset()
    settings.ZENDESK_CACHE_TTL_SECONDS = {"count": 0, "list": 0}
    first = agent_client.get("/inbox/poll").content.decode()
    before = int(badge_text(first, "assigned"))
    admin = inbox_sandbox.agent(role="admin")["email"]
    someone_elses = next(
        ticket
        for ticket in inbox_sandbox.walk_cursor("tickets", admin, "tickets")
        if ticket["status"] == "open" and ticket["assignee_id"] != agent.zendesk_user_id
    )

    changed = requests.put(
        f"{inbox_sandbox.base_url}/api/v2/tickets/{someone_elses['id']}",
        headers=inbox_sandbox.basic_auth(admin),
        json={"ticket": {"assignee_id": agent.zendesk_user_id}},
        timeout=30,
    )
    assert changed.status_code == 200, changed.text[:300]
    response = agent_client.get("/inbox/poll", {"version": version_of(first)})

    assert response.status_code == 200
    assert int(badge_text(response.content.decode(), "assigned")) == before + 1
    inbox_sandbox.reset()


def test_polls_ask_zendesk_on_the_background_lane(agent_client, inbox_sandbox, monkeypatch):
    lanes: list[str] = []
    reserve = budget.reserve

    def recording_reserve(priority: str = budget.INTERACTIVE) -> None:
        lanes.append(priority)
        reserve(priority)

    monkeypatch.setattr(budget, "reserve", recording_reserve)
    agent_client.get("/inbox/poll")

    assert lanes
    assert set(lanes) == {budget.BACKGROUND}


def test_with_the_background_share_spent_a_page_still_loads(agent_client, inbox_sandbox, settings):
    settings.ZENDESK_RATE_LIMIT_PER_MINUTE = 10
    settings.ZENDESK_RATE_BUDGET_SHARE = 1.0
    for _ in range(budget.limit_for(budget.BACKGROUND)):
        budget.reserve(budget.BACKGROUND)

    poll = agent_client.get("/inbox/poll")
    page = agent_client.get("/views/all")

    assert poll.status_code == 200  # no numbers rather than an error
    assert badge_text(poll.content.decode(), "all") is None
    assert page.status_code == 200
    assert 'href="/tickets/' in page.content.decode()


def api_calls(sandbox) -> int:
    by_endpoint = sandbox.control("GET", "stats").json()["by_endpoint"]
    return sum(count for name, count in by_endpoint.items() if " /api/v2/" in name)


def test_a_poll_within_the_cache_lifetime_asks_zendesk_nothing(agent, agent_client, inbox_sandbox):
    agent_client.get("/inbox/poll")
    inbox_sandbox.control("POST", "stats/reset")

    again = agent_client.get("/inbox/poll")

    assert again.status_code == 200
    assert api_calls(inbox_sandbox) == 0


def test_after_the_agents_own_write_the_next_poll_asks_again(agent, agent_client, inbox_sandbox):
    from inbox import services

    first = agent_client.get("/inbox/poll")
    assigned = inbox_sandbox.walk_cursor(
        f"users/{agent.zendesk_user_id}/tickets/assigned", agent.email, "tickets"
    )
    unsolved = next(t for t in assigned if t["status"] in ("new", "open"))
    services.ticket_update(agent=agent, ticket_id=unsolved["id"], status="solved")
    inbox_sandbox.control("POST", "stats/reset")

    after = agent_client.get("/inbox/poll", {"version": version_of(first.content.decode())})

    assert api_calls(inbox_sandbox) > 0
    assert int(badge_text(after.content.decode(), "assigned")) == (
        int(badge_text(first.content.decode(), "assigned")) - 1
    )
    inbox_sandbox.reset()


def test_a_refusal_of_the_counts_is_said_in_the_sidebar_not_a_500(
    agent_client, inbox_sandbox, monkeypatch
):
    from inbox.services import inbox as inbox_services
    from inbox.zendesk.errors import Forbidden

    def refuse(**_kwargs):
        raise Forbidden()

    monkeypatch.setattr(inbox_services, "sidebar_counts", refuse)
    response = agent_client.get("/inbox/poll")

    assert response.status_code == 200
    assert "The counts could not be brought up to date: Your Zendesk account does not have" in (
        response.content.decode()
    )


def test_a_page_shows_the_cached_badges_at_once_and_its_first_poll_is_a_204(
    agent_client, inbox_sandbox
):
    agent_client.get("/inbox/poll")  # the sidebar is now in the cache
    inbox_sandbox.control("POST", "stats/reset")

    page = agent_client.get("/views/all").content.decode()
    first_poll = agent_client.get("/inbox/poll", {"version": version_of(page)})

    assert badge_text_in_page(page, "all") is not None
    assert '<li class="muted small">Loading…</li>' not in page
    assert first_poll.status_code == 204


def badge_text_in_page(html: str, key: str) -> str | None:
    found = re.search(rf'id="count-{key}" class="count" aria-live="polite">(.*?)</span>\n', html)
    number = re.search(r">(\d+)", found.group(1)) if found else None
    return number.group(1) if number else None


# -- what an unchanged poll costs (counted, not timed) -------------------------------------------
@pytest.fixture
def cache_calls(monkeypatch) -> list[str]:
    """Every call the app makes on the cache from now on, by method name (a get_many counts
    once: the backend's own gets inside it are not round trips)."""
    from django.core.cache import caches

    store = caches["default"]
    calls: list[str] = []
    depth = [0]
    for name in ("get", "get_many", "set", "set_many", "add", "incr", "delete", "delete_many"):
        original = getattr(store, name)

        def counting(*args, _name=name, _original=original, **kwargs):
            if depth[0] == 0:
                calls.append(_name)
            depth[0] += 1
            try:
                return _original(*args, **kwargs)
            finally:
                depth[0] -= 1

        monkeypatch.setattr(store, name, counting)
    return calls


def tables_read(queries) -> list[str]:
    """The table each query reads (a query without one is listed whole, to fail visibly)."""
    tables = []
    for query in queries:
        found = re.search(r'FROM "(\w+)"', query["sql"])
        tables.append(found.group(1) if found else query["sql"])
    return tables


# What a poll whose kept answer stands reads from the cache: its session (sessions are read
# through the cache) and the kept state with its inputs. No write; on Redis the near cache
# answers the shared parts (the generations) without a round trip. Once the approximate
# counts it shows have expired, one more read: them (the same numbers keep it standing).
KEPT_POLL_READS = ["get", "get_many"]
KEPT_POLL_READS_PAST_THE_COUNTS = [*KEPT_POLL_READS, "get_many"]


def test_an_unchanged_poll_costs_two_cache_reads_and_one_query(
    agent_client, inbox_sandbox, cache_calls
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    version = version_of(agent_client.get("/inbox/poll").content.decode())
    cache_calls.clear()
    with CaptureQueriesContext(connection) as queries:
        again = agent_client.get("/inbox/poll", {"version": version})

    assert again.status_code == 204
    assert cache_calls == KEPT_POLL_READS  # no write
    assert tables_read(queries.captured_queries) == ["inbox_agentaccount"]


def test_a_poll_without_a_version_is_drawn_from_the_same_kept_state(
    agent_client, inbox_sandbox, cache_calls
):
    first = agent_client.get("/inbox/poll").content.decode()
    cache_calls.clear()

    again = agent_client.get("/inbox/poll", headers={"HX-Request": "true"}).content.decode()

    assert cache_calls == KEPT_POLL_READS
    assert version_of(again) == version_of(first)
    assert badge_text(again, "assigned") == badge_text(first, "assigned")


def test_a_write_to_the_agents_tickets_moves_the_poll_past_its_kept_state(
    agent, agent_client, inbox_sandbox, cache_calls
):
    from inbox.services.freshness import agent_tickets_family
    from inbox.zendesk import cache

    version = version_of(agent_client.get("/inbox/poll").content.decode())
    cache.bump(agent_tickets_family(inbox_sandbox.base_url, agent.zendesk_user_id))
    cache_calls.clear()

    agent_client.get("/inbox/poll", {"version": version})

    assert len(cache_calls) > 1  # computed again from the services, not the kept state
    assert "set" in cache_calls  # ... and kept for the next poll


def test_new_notification_choices_reach_the_next_poll(agent, agent_client, inbox_sandbox):
    from inbox.services import activities

    first = agent_client.get("/inbox/poll")
    activities.notification_settings_set(
        agent=agent, desktop=True, sound=False, do_not_disturb=False
    )

    after = agent_client.get("/inbox/poll", {"version": version_of(first.content.decode())})

    assert 'data-desktop="0"' in first.content.decode()
    assert after.status_code == 200
    assert 'data-desktop="1"' in after.content.decode()


def test_an_activity_opened_elsewhere_leaves_the_bell_at_the_next_poll(
    agent, agent_client, inbox_sandbox
):
    from inbox.services import activities

    first = agent_client.get("/inbox/poll")
    unread = first.content.decode().count("data-activity-id=")
    assert unread, "the seed gives this agent unread activities"
    newest = activities.activity_feed(agent=agent, page_size=1).value.items[0]
    activities.activity_open_record(agent=agent, activities=[newest])

    after = agent_client.get("/inbox/poll", {"version": version_of(first.content.decode())})

    assert after.status_code == 200
    assert f'data-activity-id="{newest.id}"' not in after.content.decode()


def test_agents_never_share_a_kept_poll_state(agent, restricted_agent, inbox_sandbox):
    from tests.inbox.conftest import signed_in_client

    agent_poll = signed_in_client(agent).get("/inbox/poll").content.decode()
    restricted_poll = signed_in_client(restricted_agent).get("/inbox/poll").content.decode()

    assert version_of(restricted_poll) != version_of(agent_poll)
    assert badge_text(restricted_poll, "all") != badge_text(agent_poll, "all")


def test_while_a_change_feed_runs_the_kept_state_outlives_the_short_lifetimes(
    agent_client, inbox_sandbox, cache_calls, settings
):
    from inbox.zendesk import cache

    settings.ZENDESK_CACHE_TTL_SECONDS = {"count": 0, "list": 0, "activities": 0}
    cache.feed_alive_mark(60)
    version = version_of(agent_client.get("/inbox/poll").content.decode())
    cache_calls.clear()

    kept = agent_client.get("/inbox/poll", {"version": version})
    kept_calls = list(cache_calls)
    cache.feed_alive_clear()  # the feed stopped: nothing tells the app of changes any more
    cache_calls.clear()
    agent_client.get("/inbox/poll", {"version": version})

    assert kept.status_code == 204
    assert kept_calls == KEPT_POLL_READS
    assert len(cache_calls) > 1  # without the feed, the short lifetimes apply again


def test_a_state_is_kept_until_its_first_part_expires_however_old_its_other_parts(
    agent_client, inbox_sandbox, cache_calls, clock
):
    """While a change feed runs, the agent's lists are kept for minutes and the approximate
    counts for 30 s. Once the counts are asked again, the new state is kept again: its life
    ends with its first part's, not 30 s after its oldest part (the lists) was fetched."""
    from inbox.zendesk import cache

    cache.feed_alive_mark(3600)
    version = version_of(agent_client.get("/inbox/poll").content.decode())
    clock.offset = 120  # the lists still fresh, the approximate counts expired
    recomputed = agent_client.get("/inbox/poll", {"version": version})
    cache_calls.clear()
    kept = agent_client.get("/inbox/poll", {"version": version})

    assert 'poll;desc="counts"' in recomputed["Server-Timing"]  # asked again: 30 s passed
    assert kept.status_code == 204
    assert 'poll;desc="kept"' in kept["Server-Timing"]
    assert cache_calls == KEPT_POLL_READS


def test_a_state_outlives_the_approximate_counts_while_they_say_the_same_numbers(
    agent, agent_client, inbox_sandbox, cache_calls, clock
):
    """The "all" and organizations' counts live 30 s and are shared by the team: once any
    reader has asked them again (another agent's poll), a state showing the same numbers
    stands, with no computing again."""
    from inbox.services import inbox as inbox_services
    from inbox.zendesk import cache

    cache.feed_alive_mark(3600)
    version = version_of(agent_client.get("/inbox/poll").content.decode())
    clock.offset = 40
    inbox_services.sidebar_counts(agent=agent)  # the counts asked again, the same numbers
    inbox_sandbox.control("POST", "stats/reset")
    cache_calls.clear()
    kept = agent_client.get("/inbox/poll", {"version": version})

    assert kept.status_code == 204
    assert 'poll;desc="kept"' in kept["Server-Timing"]
    assert cache_calls == KEPT_POLL_READS_PAST_THE_COUNTS
    assert api_calls(inbox_sandbox) == 0


def one_more_ticket(sandbox) -> None:
    """A ticket created in Zendesk by an admin: the "all" count is one more."""
    admin = sandbox.agent(role="admin")["email"]
    created = requests.post(
        f"{sandbox.base_url}/api/v2/tickets",
        headers=sandbox.basic_auth(admin),
        json={"ticket": {"subject": "One more", "comment": {"body": "A new ticket."}}},
        timeout=30,
    )
    assert created.status_code == 201, created.text[:300]


def test_a_changed_approximate_count_computes_the_state_again(
    agent, agent_client, inbox_sandbox, clock
):
    from inbox.services import inbox as inbox_services
    from inbox.zendesk import cache

    inbox_sandbox.reset()
    cache.feed_alive_mark(3600)
    first = agent_client.get("/inbox/poll").content.decode()
    one_more_ticket(inbox_sandbox)
    clock.offset = 40
    inbox_services.sidebar_counts(agent=agent)  # another reader: the "all" count is one more
    again = agent_client.get("/inbox/poll", {"version": version_of(first)})

    assert 'poll;desc="counts"' in again["Server-Timing"]
    assert again.status_code == 200
    assert badge_text(again.content.decode(), "all") != badge_text(first, "all")


def test_a_state_computed_from_the_cache_writes_only_itself(
    agent, agent_client, inbox_sandbox, cache_calls
):
    """Its parts already cached (the sidebar kept, the bell's page), computing the state
    again writes the state alone: reading the bell writes nothing back."""
    from django.core.cache import cache as django_cache

    from inbox.services import poll

    agent_client.get("/inbox/poll")
    django_cache.delete(poll._state_key(agent))
    cache_calls.clear()
    computed = agent_client.get("/inbox/poll")

    assert 'poll;desc="none"' in computed["Server-Timing"]
    assert 'sidebar;desc="kept"' in computed["Server-Timing"]
    assert [call for call in cache_calls if call not in ("get", "get_many")] == ["set"]


def test_a_first_poll_asks_no_count_its_one_page_samples_already_say(agent_client, inbox_sandbox):
    """The agent's assigned and CC'd lists fit one page: the badges come from those pages,
    and Zendesk's count endpoints are not asked (two calls fewer per agent and per change)."""
    inbox_sandbox.control("POST", "stats/reset")

    response = agent_client.get("/inbox/poll")
    asked = inbox_sandbox.control("GET", "stats").json()["by_endpoint"]

    assert response.status_code == 200
    assert 'id="count-assigned" hx-swap-oob="innerHTML"' in response.content.decode()
    assert any(name.endswith("/tickets/assigned") for name in asked)
    assert not [name for name in asked if name.endswith(("assigned/count", "ccd/count"))]


def test_a_count_asked_again_with_the_same_number_is_nothing_new(
    agent_client, inbox_sandbox, settings, monkeypatch
):
    """Zendesk says a new "refreshed at" time with every count; the number is what is news."""
    from inbox.services import inbox as inbox_services

    settings.ZENDESK_CACHE_TTL_SECONDS = {"approximate_count": 0, "count": 0}
    first = agent_client.get("/inbox/poll").content.decode()
    monkeypatch.setattr(inbox_services, "_when", lambda moment, agent: "23:59")
    again = agent_client.get("/inbox/poll", {"version": version_of(first)})

    assert again.status_code == 204


def test_a_count_whose_number_changed_is_news(agent, agent_client, inbox_sandbox, settings):
    inbox_sandbox.reset()
    settings.ZENDESK_CACHE_TTL_SECONDS = {"approximate_count": 0, "count": 0}
    first = agent_client.get("/inbox/poll").content.decode()
    one_more_ticket(inbox_sandbox)
    again = agent_client.get("/inbox/poll", {"version": version_of(first)})

    assert again.status_code == 200
    assert badge_text(again.content.decode(), "all") != badge_text(first, "all")


def test_a_change_to_tickets_not_the_agents_leaves_their_poll_kept(
    agent_client, inbox_sandbox, cache_calls
):
    """Every ticket change moves the "all" list on (every few seconds in a busy team); the
    sidebar shows no "all" list, so the kept answer stands: 204 from the cache's reads alone."""
    from inbox.services.freshness import tickets_family
    from inbox.zendesk import cache

    version = version_of(agent_client.get("/inbox/poll").content.decode())
    cache.bump(tickets_family(inbox_sandbox.base_url))
    cache_calls.clear()
    again = agent_client.get("/inbox/poll", {"version": version})

    assert again.status_code == 204
    assert cache_calls == KEPT_POLL_READS
