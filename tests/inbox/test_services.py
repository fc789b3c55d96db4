"""The service layer over real HTTP to the sandbox: one upstream call where one will do,
the writer sees their own change, honest ages in an outage, and no agent sees another's data.

Upstream calls are counted with the sandbox's GET /_sandbox/stats. Time past a TTL is a fake
clock for the cache only (no timed assertions).
"""

from __future__ import annotations

import threading
import uuid

import pytest
from django.core.cache import cache as django_cache

from inbox import services
from inbox.models import AgentAccount
from inbox.zendesk import cache
from inbox.zendesk.errors import Conflict, Forbidden, NotFound
from tests.inbox.conftest import agent_account, api_calls

pytestmark = pytest.mark.django_db


def seeded(sandbox, *, restricted: bool, index: int = 0) -> dict:
    agents = sandbox.agents(role="agent", restricted=restricted, suspended=False)
    assert len(agents) > index, "the seed needs more agents of this kind"
    return agents[index]


@pytest.fixture
def alice(on_sandbox) -> AgentAccount:
    account = agent_account(on_sandbox, seeded(on_sandbox, restricted=False))
    on_sandbox.control("POST", "stats/reset")
    return account


@pytest.fixture
def bob(on_sandbox) -> AgentAccount:
    account = agent_account(on_sandbox, seeded(on_sandbox, restricted=False, index=1))
    on_sandbox.control("POST", "stats/reset")
    return account


@pytest.fixture
def rita(on_sandbox) -> AgentAccount:
    account = agent_account(on_sandbox, seeded(on_sandbox, restricted=True))
    on_sandbox.control("POST", "stats/reset")
    return account


def ids(page_answer) -> list[int]:
    return [ticket.id for ticket in page_answer.value.items]


def in_threads(count: int, call) -> list:
    results: list = [None] * count

    def run(index: int) -> None:
        try:
            results[index] = call()
        except Exception as error:  # inspected by the test
            results[index] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def open_ticket_of(agent: AgentAccount) -> int:
    listed = services.ticket_list(agent=agent, view="all", page_size=50)
    return next(t.id for t in listed.value.items if t.status not in ("closed", "solved"))


# -- one upstream call where one will do --------------------------------------------------------
def test_concurrent_identical_requests_make_one_upstream_call(on_sandbox, alice):
    on_sandbox.control("POST", "faults", json={"latency_ms": 300})
    results = in_threads(8, lambda: services.ticket_list(agent=alice, view="all"))
    assert api_calls(on_sandbox) == 1
    assert all(ids(result) == ids(results[0]) for result in results)


def test_a_repeat_within_the_ttl_makes_no_upstream_call(on_sandbox, alice):
    first = services.ticket_list(agent=alice, view="assigned")
    again = services.ticket_list(agent=alice, view="assigned")
    assert api_calls(on_sandbox) == 1
    assert ids(again) == ids(first)
    assert not again.stale


def test_a_repeat_after_the_ttl_asks_zendesk_again(on_sandbox, alice, clock):
    services.ticket_list(agent=alice, view="assigned")
    clock.offset = cache.ttl_for("list") + 1
    again = services.ticket_list(agent=alice, view="assigned")
    assert api_calls(on_sandbox) == 2
    assert again.age_seconds < cache.ttl_for("list")


def test_unrestricted_agents_share_the_all_list_but_not_their_own_lists(on_sandbox, alice, bob):
    assert ids(services.ticket_list(agent=alice, view="all")) == ids(
        services.ticket_list(agent=bob, view="all")
    )
    assert api_calls(on_sandbox) == 1
    services.ticket_list(agent=alice, view="assigned")
    services.ticket_list(agent=bob, view="assigned")
    assert api_calls(on_sandbox) == 3


def test_a_list_with_other_sideloads_or_pages_is_another_cache_entry(on_sandbox, alice):
    rows = ("users", "groups", "custom_statuses", "comment_count")
    plain = services.ticket_list(agent=alice, view="all", sort="id")
    with_rows = services.ticket_list(agent=alice, view="all", sort="id", include=rows)
    assert api_calls(on_sandbox) == 2  # the include is part of the key
    assert with_rows.value.groups
    assert not plain.value.groups
    services.ticket_list(agent=alice, view="all", sort="id", include=rows)
    assert api_calls(on_sandbox) == 2

    numbered = {"sort": "", "sort_by": "subject", "sort_order": "asc"}
    first = services.ticket_list(agent=alice, view="all", page=1, **numbered)
    second = services.ticket_list(agent=alice, view="all", page=2, **numbered)
    services.ticket_list(agent=alice, view="all", page=2, **numbered)
    assert api_calls(on_sandbox) == 4
    assert first.value.next_page == 2
    assert not set(ids(first)) & set(ids(second))


def test_counts_come_side_by_side_and_then_from_the_cache(on_sandbox, alice):
    counts = services.ticket_counts(agent=alice)
    assert set(counts) == {"assigned", "ccd", "all"}
    assert all(count.value.value >= 0 and not count.stale for count in counts.values())
    direct = on_sandbox.get(
        f"/api/v2/users/{alice.zendesk_user_id}/tickets/assigned/count.json",
        as_email=alice.email,
    ).json()
    assert counts["assigned"].value.value == direct["count"]["value"]
    on_sandbox.control("POST", "stats/reset")
    services.ticket_counts(agent=alice)
    assert api_calls(on_sandbox) == 0


def test_ticket_detail_brings_the_conversation_and_its_people(on_sandbox, alice):
    ticket_id = open_ticket_of(alice)
    thread = services.ticket_detail(agent=alice, ticket_id=ticket_id).value
    assert thread.ticket.id == ticket_id
    assert thread.comments
    assert all(comment.author_id in thread.users for comment in thread.comments)


# -- writes ------------------------------------------------------------------------------------
def test_a_reply_shows_in_the_writers_next_read_at_once(on_sandbox, alice):
    ticket_id = open_ticket_of(alice)
    services.ticket_detail(agent=alice, ticket_id=ticket_id)
    body = f"Checked the logs {uuid.uuid4().hex[:8]}"
    services.ticket_update(agent=alice, ticket_id=ticket_id, comment_body=body, public=False)
    thread = services.ticket_detail(agent=alice, ticket_id=ticket_id)
    assert not thread.stale
    assert body in [comment.body for comment in thread.value.comments]
    assert api_calls(on_sandbox, "GET /api/v2/tickets/{id}/comments") == 2


def test_assigning_a_ticket_updates_the_assignees_counts_at_once(on_sandbox, alice, bob):
    listed = services.ticket_list(agent=alice, view="all", page_size=100).value.items
    ticket = next(
        t
        for t in listed
        if t.status not in ("closed", "solved") and t.assignee_id != bob.zendesk_user_id
    )
    before = services.ticket_counts(agent=bob)["assigned"].value.value
    services.ticket_update(agent=alice, ticket_id=ticket.id, assignee_id=bob.zendesk_user_id)
    after = services.ticket_counts(agent=bob)["assigned"].value.value
    assert after == before + 1


def test_a_reply_moves_the_others_bells_on_and_never_the_writers(on_sandbox, alice, bob):
    """Zendesk gives nobody an activity for their own action: after Alice's comment on Bob's
    ticket, Bob's unread count is asked again, Alice's stays cached."""
    listed = services.ticket_list(agent=alice, view="all", page_size=100).value.items
    ticket = next(
        t for t in listed if t.status not in ("closed", "solved") and t.assignee_id is not None
    )
    services.ticket_update(agent=alice, ticket_id=ticket.id, assignee_id=bob.zendesk_user_id)
    services.activity_unread_count(agent=alice)
    services.activity_unread_count(agent=bob)
    on_sandbox.control("POST", "stats/reset")

    services.ticket_update(
        agent=alice, ticket_id=ticket.id, comment_body="Over to you, Bob.", public=False
    )
    on_sandbox.control("POST", "stats/reset")
    services.activity_unread_count(agent=alice)
    asked_for_alice = api_calls(on_sandbox, "GET /api/v2/activities")
    services.activity_unread_count(agent=bob)
    asked_for_bob = api_calls(on_sandbox, "GET /api/v2/activities") - asked_for_alice

    assert (asked_for_alice, asked_for_bob) == (0, 1)


def test_a_comment_and_field_changes_go_to_zendesk_as_one_update(on_sandbox, alice, bob):
    ticket_id = open_ticket_of(alice)
    seen = services.ticket_detail(agent=alice, ticket_id=ticket_id).value.ticket
    priority = "low" if seen.priority == "urgent" else "urgent"
    on_sandbox.control("POST", "stats/reset")
    body = f"Handing over {uuid.uuid4().hex[:8]}"
    updated = services.ticket_update(
        agent=alice,
        ticket_id=ticket_id,
        comment_body=body,
        public=False,
        status="pending",
        priority=priority,
        ticket_type="task",
        assignee_id=bob.zendesk_user_id,
        tags=["handover", "vip"],
        updated_stamp=services.updated_stamp(seen),
        previous_assignee_id=seen.assignee_id,
    )
    assert api_calls(on_sandbox, "PUT /api/v2/tickets/{id}") == 1
    assert (updated.status, updated.priority, updated.type) == ("pending", priority, "task")
    assert updated.assignee_id == bob.zendesk_user_id
    assert set(updated.tags) == {"handover", "vip"}
    thread = services.ticket_detail(agent=bob, ticket_id=ticket_id).value
    note = next(comment for comment in thread.comments if comment.body == body)
    assert note.public is False


def test_a_created_ticket_appears_in_the_creators_requested_list_at_once(on_sandbox, alice):
    services.ticket_list(agent=alice, view="requested", page_size=100)
    created = services.ticket_create(
        agent=alice,
        subject="Printer on fire",
        comment_body="Smoke from tray 2.",
        requester_id=alice.zendesk_user_id,
        idempotency_key=uuid.uuid4().hex,
    )
    listed = services.ticket_list(agent=alice, view="requested", page_size=100, sort="-id")
    assert created.id in ids(listed)


# -- activities --------------------------------------------------------------------------------
def test_unread_activities_follow_the_agents_last_seen_mark(on_sandbox, alice, bob):
    feed = services.activity_feed(agent=alice)
    assert services.activity_unread_count(agent=alice).value.value >= 0
    newest = max((a.created_at for a in feed.value.items), default=None)
    services.activity_mark_seen(agent=alice, seen_at=newest)
    assert AgentAccount.objects.get(pk=alice.pk).activities_seen_at == newest
    assert services.activity_unread_count(agent=alice).value.value == 0

    listed = services.ticket_list(agent=alice, view="assigned", page_size=50).value.items
    ticket = next(t for t in listed if t.status not in ("closed", "solved"))
    services.ticket_update(
        agent=bob, ticket_id=ticket.id, comment_body="Over to you.", public=False
    )
    assert services.activity_unread_count(agent=alice).value.value >= 1


# -- outage ------------------------------------------------------------------------------------
def test_in_an_outage_saved_answers_come_back_stale_with_their_age(on_sandbox, alice, clock):
    first = services.ticket_list(agent=alice, view="all")
    on_sandbox.control("POST", "faults", json={"outage": True})
    clock.offset = 120
    during = services.ticket_list(agent=alice, view="all")
    assert during.stale
    assert during.stale_reason == "upstream_unavailable"
    assert during.age_seconds >= 120
    assert ids(during) == ids(first)


def test_in_an_outage_an_unsaved_answer_raises_a_clear_error(on_sandbox, alice):
    on_sandbox.control("POST", "faults", json={"outage": True})
    with pytest.raises(services.ZendeskUnavailable, match="not answering"):
        services.ticket_list(agent=alice, view="all", sort="id")


def test_after_an_outage_answers_are_fresh_again_without_a_restart(on_sandbox, alice, clock):
    services.ticket_list(agent=alice, view="all")
    on_sandbox.control("POST", "faults", json={"outage": True})
    with pytest.raises(services.ZendeskUnavailable):
        services.ticket_list(agent=alice, view="all", sort="id")
    on_sandbox.control("POST", "faults", json={})
    clock.offset = 120
    assert not services.ticket_list(agent=alice, view="all").stale
    assert not services.ticket_list(agent=alice, view="all", sort="id").stale


# -- isolation ---------------------------------------------------------------------------------
def test_a_restricted_agent_never_receives_what_another_agent_cached(on_sandbox, alice, rita):
    path = "/api/v2/tickets.json?page[size]=100&sort=-updated_at"
    visible_to_rita = [t["id"] for t in on_sandbox.get(path, as_email=rita.email).json()["tickets"]]
    for_alice = services.ticket_list(agent=alice, view="all", page_size=100)
    hidden = next(i for i in ids(for_alice) if i not in visible_to_rita)
    services.ticket_detail(agent=alice, ticket_id=hidden)
    services.ticket_counts(agent=alice)

    assert ids(services.ticket_list(agent=rita, view="all", page_size=100)) == visible_to_rita
    with pytest.raises((Forbidden, NotFound)):
        services.ticket_detail(agent=rita, ticket_id=hidden)
    rita_all = on_sandbox.get("/api/v2/tickets/count.json", as_email=rita.email).json()
    assert services.ticket_counts(agent=rita)["all"].value.value == rita_all["count"]["value"]


def test_a_restricted_agent_gets_nothing_from_the_cache_even_in_an_outage(on_sandbox, alice, rita):
    hidden_list = services.ticket_list(agent=alice, view="all", page_size=100)
    services.ticket_detail(agent=alice, ticket_id=ids(hidden_list)[0])
    on_sandbox.control("POST", "faults", json={"outage": True})
    with pytest.raises(services.ZendeskUnavailable):
        services.ticket_list(agent=rita, view="all", page_size=100)
    with pytest.raises(services.ZendeskUnavailable):
        services.ticket_detail(agent=rita, ticket_id=ids(hidden_list)[0])


def test_each_agent_gets_only_their_own_activities_and_unread_count(on_sandbox, alice, rita):
    services.activity_feed(agent=alice)
    services.activity_unread_count(agent=alice)
    direct = on_sandbox.get("/api/v2/activities.json?page[size]=50", as_email=rita.email).json()
    feed = services.activity_feed(agent=rita)
    assert [a.id for a in feed.value.items] == [a["id"] for a in direct["activities"]]
    assert all(a.user_id in (rita.zendesk_user_id, None) for a in feed.value.items)
    rita_count = on_sandbox.get("/api/v2/activities/count.json", as_email=rita.email).json()
    assert services.activity_unread_count(agent=rita).value.value == rita_count["count"]["value"]


def test_a_reply_on_a_ticket_changed_meanwhile_is_refused_not_overwritten(on_sandbox, alice, bob):
    ticket_id = open_ticket_of(alice)
    seen = services.ticket_detail(agent=alice, ticket_id=ticket_id).value.ticket
    stamp = services.updated_stamp(seen)
    services.ticket_update(
        agent=bob,
        ticket_id=ticket_id,
        comment_body="Bob got there first.",
        public=False,
        updated_stamp=stamp,
    )
    with pytest.raises(Conflict):
        services.ticket_update(
            agent=alice,
            ticket_id=ticket_id,
            comment_body="Me too.",
            public=False,
            priority="urgent",
            updated_stamp=stamp,
        )
    fresh = services.ticket_detail(agent=alice, ticket_id=ticket_id)
    assert "Bob got there first." in [comment.body for comment in fresh.value.comments]


def test_in_an_outage_counts_never_saved_show_as_unknown_instead_of_failing_the_page(
    on_sandbox, alice, clock
):
    saved = services.ticket_counts(agent=alice)
    services.ticket_list(agent=alice, view="all")
    on_sandbox.control("POST", "faults", json={"outage": True})
    clock.offset = 120
    with_saved = services.ticket_counts(agent=alice)
    assert all(count.stale for count in with_saved.values())
    assert with_saved["all"].value == saved["all"].value
    django_cache.clear()  # nothing saved any more
    unknown = services.ticket_counts(agent=alice)
    assert {view: count.value for view, count in unknown.items()} == {
        "assigned": None,
        "ccd": None,
        "all": None,
    }
    assert all(count.stale_message for count in unknown.values())
