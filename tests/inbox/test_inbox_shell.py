"""The app shell on every signed-in page: the sidebar's badges and organizations and the bell
drawn from the cache at once (not after the first poll), and the agent's avatar."""

from __future__ import annotations

import pytest

from tests.inbox.test_inbox_poll import badge_text_in_page, version_of

pytestmark = pytest.mark.django_db

HTMX = {"headers": {"HX-Request": "true"}}


def an_assigned_ticket(sandbox, agent) -> int:
    assigned = sandbox.walk_cursor(
        f"users/{agent.zendesk_user_id}/tickets/assigned", agent.email, "tickets"
    )
    return assigned[0]["id"]


@pytest.mark.parametrize("page", ["ticket", "new ticket", "activity", "list"])
def test_every_signed_in_page_draws_the_cached_sidebar_at_once(
    page, agent, agent_client, inbox_sandbox
):
    path = {
        "ticket": f"/tickets/{an_assigned_ticket(inbox_sandbox, agent)}",
        "new ticket": "/tickets/new",
        "activity": "/activity/",
        "list": "/views/all",
    }[page]
    agent_client.get("/inbox/poll")  # what an open tab keeps in the cache
    agent_client.get(path)  # the page's own reads are cached too: its version settles

    html = agent_client.get(path).content.decode()
    first_poll = agent_client.get("/inbox/poll", {"version": version_of(html)})

    assert badge_text_in_page(html, "all") is not None
    assert '<li class="muted small">Loading…</li>' not in html  # the organizations are there
    assert 'id="bell-news" hidden data-known="1"' in html  # the bell, drawn from the cache
    assert first_poll.status_code == 204


def test_before_any_poll_a_page_leaves_the_badges_to_its_first_poll(agent_client, inbox_sandbox):
    html = agent_client.get("/tickets/new").content.decode()

    assert badge_text_in_page(html, "all") is None
    assert '<li class="muted small">Loading…</li>' in html
    assert 'id="poll-version" name="version" value=""' in html


def test_a_partial_carries_no_sidebar(agent_client, inbox_sandbox):
    agent_client.get("/inbox/poll")

    partial = agent_client.get("/views/all", **HTMX).content.decode()

    assert 'id="count-all"' not in partial
    assert 'id="ticket-list"' in partial


@pytest.mark.parametrize(
    ("name", "initials"), [("Ingrid Horvat", "IH"), ("cher", "C"), ("", "?"), ("  ", "?")]
)
def test_without_a_photo_the_header_shows_the_agents_initials(
    name, initials, agent, agent_client, inbox_sandbox
):
    agent.photo_url = ""
    agent.name = name
    agent.save(update_fields=["photo_url", "name"])

    html = agent_client.get("/tickets/new").content.decode()
    header = html.split('<span class="agent">', 1)[1].split("</span>\n", 1)[0]

    assert f'<span class="avatar avatar-initial"><span aria-hidden="true">{initials}</span>' in (
        header
    )


def test_with_a_photo_the_header_shows_it(agent, agent_client, inbox_sandbox):
    agent.photo_url = f"{inbox_sandbox.base_url}/photos/agent.png"
    agent.save(update_fields=["photo_url"])

    html = agent_client.get("/tickets/new").content.decode()

    assert f'<img class="avatar" src="{agent.photo_url}" alt=""' in html
