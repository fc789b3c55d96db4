"""Hostile content in every place a person can write, on every page and partial: only text.

A sandbox of its own (so no other test meets its data) has the whole corpus of
tests/hostile.py placed by POST /_sandbox/hostile: subjects, descriptions, comments (their
`html_body` as raw markup), every user's name (requesters, assignees, CCs, the agent signed
in), group and organization names, tags, custom field titles, option names and values,
custom status labels, activity titles and file names. Each page and htmx partial the app
serves is fetched over real HTTP from that sandbox and read by Python's HTML parser: no
element or attribute that could run or load something (scripts, event handlers,
`javascript:` URLs, htmx attributes, embeds, styles) may come from content, and the hostile
strings must be there, whole, as text -- a page that showed nothing would prove nothing.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
from django.core.cache import cache
from django.test import Client

from inbox.services.inbox import VIEWS
from inbox.views_ticket import HTML_ATTRIBUTES, HTML_TAGS
from tests import hostile
from tests.hostile import PAYLOADS, ParsedPage, parse_page
from tests.inbox.conftest import agent_account, hidden_fields, signed_in_client
from tests.sandboxserver import SandboxServer

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

HTMX = {"HX-Request": "true"}
ORGANIZATION_LINK = re.compile(r'href="(/views/organizations/\d+)"')
EARLIER_LINK = re.compile(r'hx-get="(/tickets/\d+/comments\?before=[^"]+)"')


@pytest.fixture
def app(hostile_sandbox, settings) -> SandboxServer:
    settings.ZENDESK_URL = hostile_sandbox.base_url
    settings.ZENDESK_RATE_LIMIT_PER_MINUTE = 1_000_000
    settings.SECURE_CSP = {
        **settings.SECURE_CSP,
        "img-src": [*settings.SECURE_CSP["img-src"], hostile_sandbox.base_url],
    }
    cache.clear()
    yield hostile_sandbox
    cache.clear()


@pytest.fixture
def seeded(app) -> dict[str, Any]:
    """An unrestricted agent (named with a hostile string too)."""
    return app.agent(role="agent", restricted=False, suspended=False)


@pytest.fixture
def browser(app, seeded) -> Client:
    return signed_in_client(agent_account(app, seeded))


def visit(
    client: Client,
    url: str,
    *,
    htmx: bool = False,
    post: dict[str, Any] | None = None,
    statuses: tuple[int, ...] = (200,),
) -> ParsedPage:
    """Fetch a page or partial and read it; fails on any trace of content acting as markup."""
    headers = HTMX if htmx else {}
    if post is None:
        response = client.get(url, headers=headers)
    else:
        response = client.post(url, post, headers=headers)
    assert response.status_code in statuses, (url, response.status_code)
    page = parse_page(response.content.decode())
    assert not page.problems, f"{url} (htmx={htmx}): {page.problems[:6]}"
    return page


def shown(page: ParsedPage) -> list[str]:
    return [payload for payload in PAYLOADS if page.shows(payload)]


def api(app: SandboxServer, path: str, **params: Any) -> dict[str, Any]:
    return app.get_json(path, app.admin_email, **params)


# -- the inbox --------------------------------------------------------------------------------
def test_every_view_lists_every_hostile_subject_as_text(browser):
    """The biggest page of all tickets shows every string of the corpus whole, as text."""
    page = visit(browser, "/views/all?size=100&sort=-updated_at")
    partial = visit(browser, "/views/all?size=100&sort=-updated_at", htmx=True)

    assert set(shown(page)) == set(PAYLOADS), set(PAYLOADS) - set(shown(page))
    assert set(shown(partial)) == set(PAYLOADS)


@pytest.mark.parametrize("view", [view.key for view in VIEWS])
def test_each_view_and_its_partial_show_content_only_as_text(browser, seeded, view):
    page = visit(browser, f"/views/{view}")
    visit(browser, f"/views/{view}", htmx=True)

    assert seeded["name"] in page.joined_text or page.shows(seeded["name"]), "the agent's name"


def _organization_names(app: SandboxServer, urls: list[str]) -> set[str]:
    names = set()
    for url in urls:
        organization_id = url.rsplit("/", 1)[1]
        body = api(app, f"organizations/{organization_id}/tickets", include="organizations")
        names.update(org["name"] for org in body["organizations"])
    return names


def test_organization_views_sidebar_and_poll_show_names_as_text(browser, app):
    visit(browser, "/views/all")  # the sidebar's organizations come with the poll's answer
    answer = browser.get("/inbox/poll?version=", headers=HTMX)
    organizations = sorted(set(ORGANIZATION_LINK.findall(answer.content.decode())))
    assert organizations, "the sidebar lists the agent's organizations"
    names = _organization_names(app, organizations)

    sidebar = visit(browser, "/views/all")
    assert any(sidebar.shows(name) for name in names), "hostile organization names in the sidebar"
    for url in organizations:
        page = visit(browser, url)
        visit(browser, url, htmx=True)
        assert any(page.shows(name) for name in names), f"{url} is titled with its name"
    poll = visit(browser, "/inbox/poll?version=", htmx=True)
    assert any(poll.shows(name) for name in names), "the poll's sidebar names them"


def test_the_next_page_of_a_list_shows_content_only_as_text(browser):
    first = browser.get("/views/all?size=25").content.decode()
    following = re.search(r'href="(/views/all\?[^"]*after=[^"]+)"', first)
    assert following, "a second page exists"
    page = visit(browser, following.group(1).replace("&amp;", "&"))
    assert shown(page)


# -- the ticket page --------------------------------------------------------------------------
def _ticket_ids(app: SandboxServer) -> list[int]:
    tickets = app.walk_cursor("tickets", app.admin_email, "tickets", sort="id")
    return [ticket["id"] for ticket in tickets]


def test_every_ticket_page_shows_its_people_groups_tags_and_fields_as_text(browser, app):
    """Enough ticket pages that every string is some ticket's subject; on each, the subject,
    the requester, the group, the organization and the custom field's value read as text."""
    ids = _ticket_ids(app)[: len(PAYLOADS)]
    groups = {group["id"]: group["name"] for group in api(app, "groups")["groups"]}
    fields = api(app, "ticket_fields")["ticket_fields"]
    text_fields = {field["id"] for field in fields if field["type"] == "text"}
    seen: set[str] = set()
    sanitized: list[tuple[str, dict[str, str]]] = []
    for ticket_id in ids:
        ticket = api(app, f"tickets/{ticket_id}")["ticket"]
        page = visit(browser, f"/tickets/{ticket_id}")
        seen.update(shown(page))
        sanitized.extend(page.sanitized)
        assert page.shows(ticket["subject"]), ticket_id
        requester = api(app, f"users/{ticket['requester_id']}")["user"]
        assert page.shows(requester["name"]), f"requester of #{ticket_id}"
        if ticket["group_id"]:
            assert page.shows(groups[ticket["group_id"]]), f"group of #{ticket_id}"
        for field in ticket["custom_fields"]:
            if field["id"] in text_fields:
                assert page.shows(field["value"]), f"text field of #{ticket_id}"
        for cursor_url in EARLIER_LINK.findall(page.joined_text + str(page.attribute_text)):
            visit(browser, cursor_url.replace("&amp;", "&"), htmx=True)
    assert seen >= set(PAYLOADS), set(PAYLOADS) - seen
    _assert_only_what_the_sanitizer_keeps(sanitized)


def _assert_only_what_the_sanitizer_keeps(sanitized: list[tuple[str, dict[str, str]]]) -> None:
    """html_body through nh3: formatting and http(s) links that open safely, nothing else."""
    assert sanitized, "some comments are shown from their html_body"
    for tag, attributes in sanitized:
        assert tag in HTML_TAGS, tag
        allowed = HTML_ATTRIBUTES.get(tag, set()) | ({"rel"} if tag == "a" else set())
        assert set(attributes) <= allowed, (tag, attributes)
    links = [attributes for tag, attributes in sanitized if tag == "a" and "href" in attributes]
    assert {"href": "https://example.com/help", "rel": "noopener noreferrer nofollow"} in links


def test_tags_field_titles_option_names_and_file_names_are_text(browser, app):
    fields = api(app, "ticket_fields")["ticket_fields"]
    titles = {field["title"] for field in fields}
    options = {
        option["name"] for field in fields for option in field.get("custom_field_options", ())
    }
    tickets = app.walk_cursor("tickets", app.admin_email, "tickets", sort="id")
    with_option = next(
        t
        for t in tickets
        if any(f["value"] for f in t["custom_fields"] if f["id"] == fields[0]["id"])
    )
    page = visit(browser, f"/tickets/{with_option['id']}")

    assert any(page.shows(title) for title in titles), "a hostile field title"
    assert any(page.shows(name) for name in options), "a hostile option name"
    hostile_tags = [tag for tag in with_option["tags"] if "<" in tag or "hostile" in tag]
    assert hostile_tags
    assert all(page.shows(tag) for tag in hostile_tags)
    file_names = _attachment_names(app, tickets)
    assert file_names, "the seed attaches files to some comments"
    ticket_id, names = file_names
    page = visit(browser, f"/tickets/{ticket_id}")
    assert all(page.shows(name) for name in names), names


def _attachment_names(app: SandboxServer, tickets: list[dict[str, Any]]) -> tuple[int, list[str]]:
    for ticket in tickets:
        comments = api(app, f"tickets/{ticket['id']}/comments")["comments"]
        names = [a["file_name"] for c in comments for a in c["attachments"]]
        if names:
            return ticket["id"], names
    return ()  # type: ignore[return-value]


def test_a_refused_reply_shows_the_ticket_again_only_as_text(browser, app):
    """The form sent back with a sentence renders the hostile ticket and the typed text again."""
    ticket_id = _ticket_ids(app)[0]
    form = hidden_fields(browser.get(f"/tickets/{ticket_id}").content.decode())
    page = visit(
        browser,
        f"/tickets/{ticket_id}/update",
        post={**form, "body": PAYLOADS[1], "tags": "not a <tag>", "public": "1"},
        statuses=(400, 409, 422),
    )
    assert page.shows(PAYLOADS[1]), "the typed reply comes back as text"
    assert len(shown(page)) > 1, "with the ticket's hostile content"


def test_a_collision_shows_what_someone_else_changed_only_as_text(browser, app):
    """Someone changed the subject, tags and priority and commented while the agent wrote:
    the 409 page lists the changes and the new comment, all of it hostile, as text."""
    ticket_id = _ticket_ids(app)[-1]
    seen = hidden_fields(browser.get(f"/tickets/{ticket_id}").content.decode())["seen"]
    changed = requests.put(
        f"{app.base_url}/api/v2/tickets/{ticket_id}",
        json={
            "ticket": {
                "subject": PAYLOADS[2],
                "tags": ["hostile", PAYLOADS[0]],
                "priority": "urgent",
                "comment": {"body": PAYLOADS[3], "public": True},
            }
        },
        headers=app.basic_auth(app.admin_email),
        timeout=30,
    )
    assert changed.status_code == 200, changed.text[:300]

    page = visit(
        browser,
        f"/tickets/{ticket_id}/update",
        post={"seen": seen, "kind": "public", "body": PAYLOADS[4], "assignee": "keep"},
        statuses=(409,),
    )

    assert page.shows(PAYLOADS[2]), "the new subject"
    assert page.shows(PAYLOADS[3]), "the new comment"
    assert page.shows(PAYLOADS[4]), "the agent's own text, kept"


# -- the new-ticket form ----------------------------------------------------------------------
def test_the_new_ticket_form_and_its_searches_show_names_as_text(browser, app):
    page = visit(browser, "/tickets/new")
    groups = api(app, "groups")["groups"]
    assert any(page.shows(group["name"]) for group in groups), "hostile group names in the form"

    customer = app.info["end_users"][0]
    query = urlencode({"requester_query": customer["name"][:8]})
    found = visit(browser, f"/tickets/new/requesters?{query}", htmx=True)
    assert shown(found), "the search finds people by their hostile names"
    chosen = visit(
        browser,
        f"/tickets/new/requesters?requester_query=x&requester_id={customer['id']}",
        htmx=True,
    )
    assert chosen.shows(customer["name"])
    for group in groups:
        assignees = visit(browser, f"/tickets/new/assignees?group_id={group['id']}", htmx=True)
        assert shown(assignees), "agents' hostile names in the assignee picker"
    refused = visit(
        browser,
        "/tickets/new",
        post={
            **hidden_fields(browser.get("/tickets/new").content.decode()),
            "requester_id": str(customer["id"]),
            "subject": "",
            "description": PAYLOADS[1],
        },
        statuses=(400, 422),
    )
    assert refused.shows(PAYLOADS[1]), "the typed text comes back as text"


# -- the activity drawer ----------------------------------------------------------------------
@pytest.mark.parametrize("verb", ["", "assignment", "comment", "priority"])
def test_the_drawer_shows_activity_titles_and_names_as_text(browser, verb):
    page = visit(browser, f"/activity/?verb={verb}")
    panel = visit(browser, f"/activity/?verb={verb}&pages=2", htmx=True)
    if verb in ("", "comment"):
        assert shown(page), "hostile titles in the drawer"
        assert shown(panel), "hostile titles in the drawer's panel"


def test_each_activity_the_bell_and_mark_seen_show_content_as_text(browser, app, seeded):
    mine = app.get_json("activities", seeded["email"])["activities"]
    assert mine, "the seed gives the agent activities"
    for item in mine[:8]:
        page = visit(browser, f"/activity/{item['id']}")
        assert page.shows(item["title"]), item["id"]
    bell = visit(browser, "/inbox/poll?version=", htmx=True)
    assert shown(bell)
    seen = visit(browser, "/activity/seen", post={"verb": "", "pages": "1"}, htmx=True)
    assert shown(seen)


def test_the_sandbox_keeps_hostile_html_bodies_raw(app):
    """The corpus reaches the app unsanitized (else the pages above would prove nothing)."""
    ticket_id = _ticket_ids(app)[0]
    response = requests.get(
        f"{app.base_url}/api/v2/tickets/{ticket_id}/comments",
        headers=app.basic_auth(app.admin_email),
        timeout=30,
    )
    bodies = {comment["html_body"] for comment in response.json()["comments"]}
    assert bodies & set(PAYLOADS)


# -- the agent's own name, as long as Zendesk lets anyone make it ------------------------------
def test_an_agent_named_longer_than_the_row_holds_is_kept_cut_not_refused_by_the_database():
    """A 10 000-character name (or an overlong photo URL) would make PostgreSQL refuse the
    account row and end the sign-in with a server error; the row keeps what fits instead."""
    from inbox.models import AgentAccount
    from inbox.zendesk.records import User

    user = User(
        id=381_000_000_999,
        name=hostile.LONG,
        email="long.name@example.com",
        role="agent",
        photo_url="https://example.com/" + "p" * 2000,
    )
    account = AgentAccount(zendesk_user_id=user.id, name="", role="agent")
    account.copy_profile(user)
    account.save()
    account.refresh_from_db()

    assert account.name == hostile.LONG[:255]
    assert account.photo_url == ""
    assert account.email == "long.name@example.com"
