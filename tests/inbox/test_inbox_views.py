"""The inbox's lists over real HTTP to the sandbox: every view, sort, page size and page; bad
input answered with a 400/404 page that says what was wrong; partials for htmx; privacy
headers; and a restricted agent who never sees a ticket outside what they may see."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
from django.utils.html import escape

from inbox.models import ViewedTicket
from inbox.services import inbox
from inbox.views_inbox import EMPTY_MESSAGES
from tests.inbox.conftest import agent_account, api_calls, signed_in_client
from tests.inbox.test_ticket_views import new_ticket

pytestmark = pytest.mark.django_db
TICKET_LINK = re.compile(r'href="/tickets/(\d+)"')
HTMX = {"HTTP_HX_REQUEST": "true"}


def listed_ids(response) -> list[int]:
    return [int(found) for found in TICKET_LINK.findall(response.content.decode())]


def sandbox_ids(sandbox, path: str, email: str, **params) -> list[int]:
    body = sandbox.get_json(path, email, **params)
    return [ticket["id"] for ticket in body["tickets"]]


def an_organization(sandbox, email: str) -> dict:
    """The organization of the first ticket that has one (id and name, from the sideload)."""
    body = sandbox.get_json("tickets", email, include="organizations", **{"page[size]": 100})
    return body["organizations"][0]


def link(response, rel: str) -> str:
    found = re.search(
        rf'<a href="([^"]+)" hx-push-url="true" rel="{rel}"', response.content.decode()
    )
    assert found, f"no {rel} link"
    return found.group(1).replace("&amp;", "&")


# -- the front door ---------------------------------------------------------------------------
def test_a_visitor_at_home_gets_one_button_straight_to_zendesk(client, inbox_sandbox):
    response = client.get("/")

    html = response.content.decode()
    assert response.status_code == 200
    assert html.count("<button") == 1
    assert '<form method="post" action="/auth/start">' in html
    # The form leads on to Zendesk: the page allows that origin as a form target.
    assert inbox_sandbox.base_url in response["Content-Security-Policy"]


def test_a_signed_in_agent_at_home_gets_their_work_first(agent_client, agent, inbox_sandbox):
    response = agent_client.get("/")

    assert response.status_code == 200
    expected = sandbox_ids(
        inbox_sandbox,
        f"users/{agent.zendesk_user_id}/tickets/assigned",
        agent.email,
        sort="status",
        **{"page[size]": 25},
    )
    assert listed_ids(response) == expected
    statuses = re.findall(r'class="status status-(\w+)"', response.content.decode())
    order = ["new", "open", "pending", "hold", "solved", "closed"]
    assert statuses == sorted(statuses, key=order.index)  # unsolved before solved


# -- every view -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("key", "path"),
    [
        ("ccd", "users/{user}/tickets/ccd"),
        ("followed", "users/{user}/tickets/followed"),
        ("requested", "users/{user}/tickets/requested"),
        ("all", "tickets"),
    ],
)
def test_each_view_lists_what_zendesk_lists_for_the_agent(
    agent_client, agent, inbox_sandbox, key, path
):
    response = agent_client.get(f"/views/{key}")

    assert response.status_code == 200
    expected = sandbox_ids(
        inbox_sandbox,
        path.format(user=agent.zendesk_user_id),
        agent.email,
        sort="-updated_at",
        **{"page[size]": 25},
    )
    assert listed_ids(response) == expected
    assert f"<title>{escape(inbox.inbox_view_find(key=key).label)} · Agent Inbox</title>" in (
        response.content.decode()
    )


def test_an_organization_view_lists_that_organizations_tickets(agent_client, agent, inbox_sandbox):
    organization = an_organization(inbox_sandbox, agent.email)

    response = agent_client.get(f"/views/organizations/{organization['id']}")

    assert response.status_code == 200
    expected = sandbox_ids(
        inbox_sandbox,
        f"organizations/{organization['id']}/tickets",
        agent.email,
        sort="-updated_at",
        **{"page[size]": 25},
    )
    assert listed_ids(response) == expected
    assert f'<h1 id="list-title" tabindex="-1">{organization["name"]}</h1>' in (
        response.content.decode()
    )


def test_rows_show_names_status_labels_and_comment_counts_from_sideloads(
    agent_client, inbox_sandbox
):
    response = agent_client.get("/views/all?sort=id")

    html, first_id = response.content.decode(), listed_ids(response)[0]
    first = inbox_sandbox.get_json(
        f"tickets/{first_id}", inbox_sandbox.agent(role="admin")["email"]
    )
    row = html.split(f'href="/tickets/{first_id}"', 1)[1].split("</tr>", 1)[0]
    requester = inbox_sandbox.get_json(
        f"users/{first['ticket']['requester_id']}",
        inbox_sandbox.agent(role="admin")["email"],
    )["user"]["name"]
    assert requester in row
    assert re.search(r"<td>\d+</td>$", row)  # the comment count, the last column
    assert re.search(r'<time datetime="[^"]+" title="[^"]+">[^<]+</time>', row)


# -- sort, page size, pages ---------------------------------------------------------------------
@pytest.mark.parametrize("sort", ["id", "-id", "status", "-status", "updated_at", "-updated_at"])
def test_the_list_sorts_by_every_cursor_sort(agent_client, agent, inbox_sandbox, sort):
    response = agent_client.get(f"/views/all?sort={sort}")

    assert listed_ids(response) == sandbox_ids(
        inbox_sandbox, "tickets", agent.email, sort=sort, **{"page[size]": 25}
    )
    column = sort.removeprefix("-")
    direction = "descending" if sort.startswith("-") else "ascending"
    assert re.search(
        rf'aria-sort="{direction}"><a href="/views/all\?sort=[-]?{column}',
        response.content.decode(),
    )


@pytest.mark.parametrize("size", [25, 50, 100])
def test_the_list_shows_the_page_size_asked_for(agent_client, size):
    assert len(listed_ids(agent_client.get(f"/views/all?size={size}"))) == size


def test_the_list_pages_forward_and_back(agent_client, agent, inbox_sandbox):
    first = agent_client.get("/views/all?sort=id&size=25")
    assert 'rel="prev"' not in first.content.decode()

    second = agent_client.get(link(first, "next"))
    back = agent_client.get(link(second, "prev"))

    all_ids = sandbox_ids(inbox_sandbox, "tickets", agent.email, sort="id", **{"page[size]": 50})
    assert listed_ids(first) == all_ids[:25]
    assert listed_ids(second) == all_ids[25:50]
    assert listed_ids(back) == all_ids[:25]


def test_an_htmx_request_gets_only_the_list_partial(agent_client):
    full = agent_client.get("/views/all")
    partial = agent_client.get("/views/all", **HTMX)

    assert "<html" in full.content.decode()
    html = partial.content.decode()
    assert "<html" not in html
    assert html.lstrip().startswith('<section id="ticket-list"')
    assert listed_ids(partial) == listed_ids(full)
    assert "HX-Request" in partial["Vary"]
    assert "HX-Request" in full["Vary"]


def test_signed_in_pages_are_private_and_never_stored(agent_client):
    for path in ("/", "/views/all", "/inbox/poll"):
        cache_control = agent_client.get(path)["Cache-Control"]
        assert "private" in cache_control
        assert "no-store" in cache_control


# -- bad input --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "status", "says"),
    [
        ("/views/nope", 404, "There is no such view"),
        ("/views/all?sort=priority", 400, "A list sorts by assignee, group, id, requester, status"),
        ("/views/all?sort=-", 400, "A list sorts by"),
        ("/views/all?size=10", 400, "A page shows 25, 50, 100 tickets"),
        ("/views/all?size=abc", 400, "A page shows 25, 50, 100 tickets"),
        ("/views/all?after=%3Cscript%3E", 400, "This page link is not one the list made"),
        ("/views/all?after=abc&before=def", 400, "forward or back, not both"),
        ("/views/all?after=eyJvIjoiaWQiLCJ2IjoienoifQ", 400, "no longer valid"),
        ("/views/all?sort=" + "x" * 5000, 400, "longer than any list link"),
        ("/views/recent?sort=id", 400, "cannot be sorted"),
        ("/views/recent?after=abc", 400, "has no next page"),
        ("/views/organizations/999999999", 404, "Zendesk could not find this"),
    ],
)
def test_bad_list_addresses_get_a_page_that_says_what_was_wrong(agent_client, path, status, says):
    response = agent_client.get(path)
    partial = agent_client.get(path, **HTMX)

    assert response.status_code == status
    assert says in response.content.decode()
    assert "<html" in response.content.decode()
    assert partial.status_code == status  # htmx swaps these: the message shows in place
    assert says in partial.content.decode()


def test_a_huge_organization_id_is_a_404_not_a_crash(agent_client):
    response = agent_client.get("/views/organizations/" + "9" * 40)

    assert response.status_code == 404
    assert "There is no such organization" in response.content.decode()


def test_zendesk_down_with_nothing_saved_says_so_and_offers_a_retry(agent_client, inbox_sandbox):
    inbox_sandbox.control("POST", "faults", json={"outage": True})
    try:
        response = agent_client.get("/views/all")
        partial = agent_client.get("/views/all", **HTMX)
    finally:
        inbox_sandbox.control("POST", "faults", json={})

    assert response.status_code == 503
    assert "Zendesk is not answering" in response.content.decode()
    assert "Try again" in response.content.decode()
    assert partial.status_code == 200  # so htmx swaps it in place of the list
    assert "Try again" in partial.content.decode()


def test_zendesk_down_after_a_visit_shows_the_saved_list_with_a_banner(
    agent_client, inbox_sandbox, settings
):
    settings.ZENDESK_CACHE_TTL_SECONDS = {"list": 0}
    fresh = agent_client.get("/views/all")
    inbox_sandbox.control("POST", "faults", json={"outage": True})
    try:
        stale = agent_client.get("/views/all")
    finally:
        inbox_sandbox.control("POST", "faults", json={})

    assert listed_ids(stale) == listed_ids(fresh)
    banner = re.search(r'<div id="stale-banner"[^>]*>([^<]*)</div>', stale.content.decode())
    assert banner
    assert "Zendesk is not answering right now; showing data from" in banner.group(1)


# -- signed out -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "path", ["/views/all", "/views/organizations/1", "/inbox/poll", "/views/assigned"]
)
def test_every_page_and_partial_refuses_a_visitor(client, inbox_sandbox, path):
    page = client.get(path)
    partial = client.get(path, **HTMX)

    assert page.status_code == 302
    assert page["Location"].startswith("/auth/signin")
    assert partial.headers.get("HX-Redirect", "").startswith("/auth/signin")
    assert "ticket" not in partial.content.decode().lower()


def test_the_theme_switch_refuses_a_visitor(client, inbox_sandbox):
    assert client.post("/preferences/theme", {"theme": "dark"}).status_code == 302


# -- recently viewed --------------------------------------------------------------------------
def test_recently_viewed_puts_tickets_opened_in_the_app_first_newest_first(
    agent, agent_client, inbox_sandbox
):
    visible = sandbox_ids(inbox_sandbox, "tickets", agent.email, sort="id", **{"page[size]": 5})
    for ticket_id in visible[:3]:
        inbox.ticket_viewed_record(agent=agent, ticket_id=ticket_id)
    inbox.ticket_viewed_record(agent=agent, ticket_id=visible[0])  # opened again: newest

    ids = listed_ids(agent_client.get("/views/recent"))

    assert ids[:3] == [visible[0], visible[2], visible[1]]
    zendesk_recent = sandbox_ids(inbox_sandbox, "tickets/recent", agent.email, **{"page[size]": 25})
    assert set(ids) == set(visible[:3]) | set(zendesk_recent[: 25 - 3]) or len(ids) == 25
    assert ViewedTicket.objects.filter(agent=agent).count() == 3


def test_recently_viewed_leaves_out_a_ticket_the_agent_may_not_see(
    restricted_agent, admin, inbox_sandbox
):
    everything = sandbox_ids(
        inbox_sandbox, "tickets", admin.email, sort="id", **{"page[size]": 100}
    )
    theirs = set(
        sandbox_ids(
            inbox_sandbox, "tickets", restricted_agent.email, sort="id", **{"page[size]": 100}
        )
    )
    hidden = next(ticket_id for ticket_id in everything if ticket_id not in theirs)
    inbox.ticket_viewed_record(agent=restricted_agent, ticket_id=hidden)

    ids = listed_ids(signed_in_client(restricted_agent).get("/views/recent"))

    assert hidden not in ids


def test_the_viewed_table_keeps_each_agents_newest_hundred(agent):
    for ticket_id in range(1, inbox.RECENT_KEEP + 11):
        inbox.ticket_viewed_record(agent=agent, ticket_id=ticket_id)

    kept = set(ViewedTicket.objects.filter(agent=agent).values_list("ticket_id", flat=True))
    assert len(kept) == inbox.RECENT_KEEP
    assert 1 not in kept
    assert inbox.RECENT_KEEP + 10 in kept


# -- a restricted agent -----------------------------------------------------------------------
@pytest.mark.parametrize("sort", ["id", "-updated_at"])
def test_a_restricted_agents_lists_hold_only_what_they_may_see_after_an_admin_filled_the_cache(
    restricted_agent, admin, inbox_sandbox, sort
):
    organization = an_organization(inbox_sandbox, admin.email)
    paths = {
        f"/views/all?sort={sort}&size=100": "tickets",
        f"/views/organizations/{organization['id']}?sort={sort}&size=100": (
            f"organizations/{organization['id']}/tickets"
        ),
    }
    admin_client, restricted_client = signed_in_client(admin), signed_in_client(restricted_agent)
    for path in paths:
        assert admin_client.get(path).status_code == 200  # the admin's answers are now cached
    admin_poll = admin_client.get("/inbox/poll")
    assert admin_poll.status_code == 200

    for path, zendesk_path in paths.items():
        seen = listed_ids(restricted_client.get(path))
        allowed = sandbox_ids(
            inbox_sandbox, zendesk_path, restricted_agent.email, sort=sort, **{"page[size]": 100}
        )
        admins = listed_ids(admin_client.get(path))
        assert seen == allowed
        assert set(admins) - set(seen), "the admin must see more, or the test proves nothing"


def test_a_restricted_agents_counts_are_their_own(restricted_agent, admin, inbox_sandbox):
    admin_counts = signed_in_client(admin).get("/inbox/poll").content.decode()
    restricted_counts = signed_in_client(restricted_agent).get("/inbox/poll").content.decode()

    def all_count(html: str) -> int:
        return int(re.search(r'id="count-all"[^>]*><span[^>]*>(\d+)', html).group(1))

    expected = inbox_sandbox.get_json("tickets/count", restricted_agent.email)["count"]["value"]
    assert all_count(restricted_counts) == expected
    assert all_count(admin_counts) > expected


# -- the CSP lets avatars from Zendesk show ----------------------------------------------------
def test_the_csp_allows_images_from_the_configured_zendesk(agent_client, inbox_sandbox):
    policy = agent_client.get("/")["Content-Security-Policy"]
    img_src = next(part for part in policy.split(";") if part.strip().startswith("img-src"))
    assert inbox_sandbox.base_url in img_src
    assert "unsafe-inline" not in policy


def test_the_configured_zendesk_origin_is_in_the_settings_csp():
    from importlib import reload

    import config.settings

    reloaded = reload(config.settings)
    assert reloaded.ZENDESK_URL in reloaded.SECURE_CSP["img-src"]


def test_an_unexpected_refusal_from_zendesk_is_said_next_to_the_list(
    agent_client, inbox_sandbox, monkeypatch
):
    from inbox.services import inbox as inbox_services
    from inbox.zendesk.errors import ZendeskError

    def refuse(**_kwargs):
        raise ZendeskError(status_code=418)

    monkeypatch.setattr(inbox_services, "inbox_page", refuse)
    page = agent_client.get("/views/all")
    partial = agent_client.get("/views/all", **HTMX)

    assert page.status_code == 502
    assert "Zendesk could not complete the request. Please try again." in page.content.decode()
    assert partial.status_code == 200
    assert "Try again" in partial.content.decode()


def test_updated_times_are_in_the_agents_own_time_zone(agent, agent_client, inbox_sandbox):
    agent.iana_time_zone = "Asia/Tokyo"
    agent.save()

    html = agent_client.get("/views/all?sort=id").content.decode()

    stamp, title = re.search(r'<time datetime="([^"]+)" title="([^"]+)">', html).groups()
    tokyo = dt.datetime.fromisoformat(stamp).astimezone(ZoneInfo("Asia/Tokyo"))
    assert title == tokyo.strftime("%a %d %b %Y, %H:%M ") + "Asia/Tokyo"


@pytest.mark.parametrize(
    ("moment", "shown"),
    [
        ("2026-11-27T11:59:30+00:00", "just now"),
        ("2026-11-27T11:15:00+00:00", "45 min ago"),
        ("2026-11-27T02:00:00+00:00", "10 h ago"),
        # 23:30 in Tokyo on the 26th is "yesterday" there, though the same UTC day.
        ("2026-11-26T14:30:00+00:00", "yesterday"),
        ("2026-11-22T12:00:00+00:00", "5 days ago"),
        ("2026-10-02T12:00:00+00:00", "2 Oct"),
        ("2025-10-02T12:00:00+00:00", "2 Oct 2025"),
    ],
)
def test_relative_times_read_as_an_agent_says_them(moment, shown):
    from inbox.views_inbox import relative_time

    now = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)  # 21:00 in Tokyo
    assert relative_time(dt.datetime.fromisoformat(moment), now, ZoneInfo("Asia/Tokyo")) == shown


# -- columns only offset pagination sorts: numbered pages, the depth limit ---------------------
ZENDESK_SORT_BY = {
    "subject": "subject",
    "requester": "requester.name",
    "assignee": "assignee.name",
    "group": "group",
}


def offset_ids(sandbox, path: str, email: str, sort: str, page: int = 1, **params) -> list[int]:
    """The ids Zendesk lists on numbered page `page` of `path` sorted by an app column."""
    order = "desc" if sort.startswith("-") else "asc"
    return sandbox_ids(
        sandbox,
        path,
        email,
        sort_by=ZENDESK_SORT_BY[sort.removeprefix("-")],
        sort_order=order,
        page=page,
        per_page=params.pop("per_page", 25),
        **params,
    )


@pytest.mark.parametrize(
    "sort",
    ["subject", "-subject", "requester", "-requester", "assignee", "-assignee", "group", "-group"],
)
def test_the_list_sorts_by_every_column_only_offset_pages_sort(
    agent_client, agent, inbox_sandbox, sort
):
    response = agent_client.get(f"/views/all?sort={sort}")

    assert response.status_code == 200
    assert listed_ids(response) == offset_ids(inbox_sandbox, "tickets", agent.email, sort)
    assert len(listed_ids(response)) == 25
    column = sort.removeprefix("-")
    direction = "descending" if sort.startswith("-") else "ascending"
    assert re.search(
        rf'class="col-{column}" aria-sort="{direction}"><a href="/views/all\?sort=-?{column}',
        response.content.decode(),
    )


def test_a_column_sorted_by_offset_pages_by_number_forward_and_back(
    agent_client, agent, inbox_sandbox
):
    first = agent_client.get("/views/all?sort=-requester&size=25")
    assert 'rel="prev"' not in first.content.decode()
    assert link(first, "next") == "/views/all?sort=-requester&size=25&page=2"

    second = agent_client.get(link(first, "next"))
    back = agent_client.get(link(second, "prev"))

    assert listed_ids(second) == offset_ids(
        inbox_sandbox, "tickets", agent.email, "-requester", page=2
    )
    assert listed_ids(back) == listed_ids(first)
    total = inbox_sandbox.get_json("tickets", agent.email, per_page=1)["count"]
    assert f"Tickets 26 to 50 of {total:,}" in second.content.decode()


# Every list endpoint but recent takes `sort_by`; of the user lists, the seed gives this agent
# assigned and followed tickets (CC'd and requested answer through the same Zendesk list code).
@pytest.mark.parametrize("key", ["assigned", "followed", "all", "org"])
def test_every_sortable_view_sorts_by_requester_as_its_zendesk_list_does(
    agent_client, agent, inbox_sandbox, key
):
    if key == "org":
        organization_id = an_organization(inbox_sandbox, agent.email)["id"]
        path = f"/views/organizations/{organization_id}"
        zendesk_path = f"organizations/{organization_id}/tickets"
    else:
        path = f"/views/{key}"
        zendesk_path = "tickets" if key == "all" else f"users/{agent.zendesk_user_id}/tickets/{key}"

    response = agent_client.get(f"{path}?sort=requester&size=100")

    assert response.status_code == 200
    expected = offset_ids(inbox_sandbox, zendesk_path, agent.email, "requester", per_page=100)
    assert expected, f"the seed gives the agent's {key} list no ticket: the test proves nothing"
    assert listed_ids(response) == expected
    assert '<th scope="col" class="col-requester" aria-sort="ascending">' in (
        response.content.decode()
    )


def test_recently_viewed_has_no_sortable_columns(agent, agent_client, inbox_sandbox):
    visible = sandbox_ids(inbox_sandbox, "tickets", agent.email, sort="id", **{"page[size]": 2})
    inbox.ticket_viewed_record(agent=agent, ticket_id=visible[0])

    html = agent_client.get("/views/recent").content.decode()

    assert listed_ids(agent_client.get("/views/recent"))
    assert "aria-sort" not in html
    assert '<th scope="col" class="col-requester">Requester</th>' in html
    assert 'id="external-id"' not in html  # Zendesk's recent list takes no filter either


def test_a_page_past_zendesks_depth_says_where_the_list_stops(agent_client, inbox_sandbox):
    response = agent_client.get("/views/all?sort=requester&size=25&page=401")
    partial = agent_client.get("/views/all?sort=requester&size=25&page=401", **HTMX)

    html = response.content.decode()
    assert response.status_code == 400
    assert "Zendesk lists only the first 10,000 tickets sorted by requester" in html
    assert "Sort by ID, status or updated to page through every ticket" in html
    assert 'href="/views/all?sort=requester&amp;size=25&amp;page=400"' in html
    assert "Go to page 400" in html
    assert partial.status_code == 400
    assert "first 10,000 tickets" in partial.content.decode()


def test_zendesk_refusing_a_page_as_too_deep_is_said_next_to_the_list(
    agent_client, inbox_sandbox, monkeypatch
):
    from inbox.zendesk import client
    from inbox.zendesk.errors import PaginationTooDeep

    def too_deep(*_args, **_kwargs):
        raise PaginationTooDeep(status_code=400)

    monkeypatch.setattr(client, "tickets_list", too_deep)
    response = agent_client.get("/views/all?sort=subject&size=50&page=3")

    html = response.content.decode()
    assert response.status_code == 400
    assert "Zendesk lists only the first 10,000 tickets sorted by subject" in html
    assert 'href="/views/all?sort=subject&amp;size=50&amp;page=2"' in html


def test_the_last_page_zendesk_answers_says_the_list_stops_there():
    from inbox.views_inbox import ListQuery, _pager
    from inbox.zendesk.records import Page

    last = ListQuery(sort="subject", page_size=100, page=100)
    page = Page(items=(), has_more=True, count=25_000, next_page=101, previous_page=99)
    shown = _pager(last, page)
    before_last = _pager(ListQuery(sort="subject", page_size=100, page=99), page)

    assert shown["next"] is None
    assert shown["previous"] == "?sort=subject&size=100&page=99"
    assert "Zendesk lists only the first 10,000 tickets sorted by subject" in shown["stops"]
    assert before_last["next"] == "?sort=subject&size=100&page=100"
    assert before_last["stops"] is None


def test_every_sortable_column_is_a_zendesk_sort():
    from inbox.views_inbox import SORT_COLUMNS

    assert set(SORT_COLUMNS) == {*inbox.CURSOR_SORTS, *inbox.OFFSET_SORTS}


# -- the external id filter --------------------------------------------------------------------
def a_ticket_with_an_external_id(sandbox, email: str) -> dict:
    found = [
        ticket
        for ticket in sandbox.walk_cursor("tickets", email, "tickets", sort="id")
        if ticket.get("external_id")
    ]
    assert found, "the seed gives some tickets an external id"
    return found[0]


def test_the_list_filters_by_external_id_and_links_keep_the_filter(
    agent_client, agent, inbox_sandbox
):
    ticket = a_ticket_with_an_external_id(inbox_sandbox, agent.email)
    external_id = ticket["external_id"]

    response = agent_client.get(f"/views/all?external_id={external_id}")

    html = response.content.decode()
    assert response.status_code == 200
    expected = sandbox_ids(
        inbox_sandbox, "tickets", agent.email, external_id=external_id, sort="-updated_at"
    )
    assert ticket["id"] in listed_ids(response)
    assert listed_ids(response) == expected
    assert f'value="{external_id}"' in html  # the field shows what filters the list
    assert '<label for="external-id">External ID</label>' in html
    assert f"/views/all?sort=requester&amp;external_id={external_id}" in html
    sorted_filtered = agent_client.get(f"/views/all?sort=requester&external_id={external_id}")
    assert listed_ids(sorted_filtered) == offset_ids(
        inbox_sandbox, "tickets", agent.email, "requester", external_id=external_id
    )


def test_an_external_id_no_ticket_has_says_so(agent_client, inbox_sandbox):
    response = agent_client.get("/views/all?external_id=no-such-record-42")

    assert response.status_code == 200
    assert listed_ids(response) == []
    assert "No ticket in All tickets has the external ID “no-such-record-42”." in (
        response.content.decode()
    )
    assert 'href="/views/all?sort=-updated_at&amp;size=25"' in response.content.decode()


# -- bad numbered pages and filters ------------------------------------------------------------
@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("sort=requester&page=0", "Pages are numbered 1, 2, 3"),
        ("sort=requester&page=x", "Pages are numbered 1, 2, 3"),
        ("sort=requester&page=-2", "Pages are numbered 1, 2, 3"),
        ("sort=requester&page=" + "9" * 40, "Zendesk lists only the first 10,000 tickets"),
        ("sort=requester&size=100&page=101", "Zendesk lists only the first 10,000 tickets"),
        ("sort=id&page=2", "the list pages with Next and Previous"),
        ("sort=requester&after=abc", "This page link is not one the list made"),
        ("external_id=" + "x" * 300, "An external ID is up to 255 printable characters"),
        ("external_id=a%00b", "An external ID is up to 255 printable characters"),
    ],
)
def test_bad_pages_and_filters_get_a_400_that_says_what_was_wrong(agent_client, query, says):
    response = agent_client.get(f"/views/all?{query}")

    assert response.status_code == 400
    assert says in response.content.decode()


def test_recently_viewed_cannot_be_filtered_or_numbered(agent_client, inbox_sandbox):
    filtered = agent_client.get("/views/recent?external_id=crm-1")
    numbered = agent_client.get("/views/recent?page=2")

    assert filtered.status_code == 400
    assert "cannot be filtered by external ID" in filtered.content.decode()
    assert numbered.status_code == 400
    assert "has no next page" in numbered.content.decode()


# -- one read for the badge and the list ------------------------------------------------------
SAMPLED = [
    ("assigned", "users/{user}/tickets/assigned", "status"),
    ("ccd", "users/{user}/tickets/ccd", "-updated_at"),
]


def an_agent_listed_in(sandbox, path: str, sort: str, fits: int = 100):
    """A seeded unrestricted agent whose list at `path` fits a page of `fits` (tickets in it
    first), with the ids of that page."""
    for seeded in sandbox.agents(role="agent", restricted=False, suspended=False):
        mine = path.format(user=seeded["id"])
        ids = sandbox_ids(sandbox, mine, seeded["email"], sort=sort, **{"page[size]": 100})
        if 0 < len(ids) < fits:
            return agent_account(sandbox, seeded), ids
    seeded = sandbox.agent(role="agent", restricted=False, suspended=False)
    mine = path.format(user=seeded["id"])
    ids = sandbox_ids(sandbox, mine, seeded["email"], sort=sort, **{"page[size]": 100})
    assert len(ids) < fits, f"no seeded agent has a list of one page at {path}"
    return agent_account(sandbox, seeded), ids


@pytest.mark.parametrize(("key", "path", "sort"), SAMPLED)
def test_a_view_the_sidebar_holds_whole_opens_from_the_cache(inbox_sandbox, key, path, sort):
    """The poll reads the agent's assigned and CC'd tickets (a page of 100) for the badges;
    opening the view then shows that page as Zendesk would answer it, without asking again."""
    agent, expected = an_agent_listed_in(inbox_sandbox, path, sort)
    browser = signed_in_client(agent)
    browser.get("/inbox/poll")
    inbox_sandbox.control("POST", "stats/reset")

    response = browser.get(f"/views/{key}", {"size": 100})

    assert response.status_code == 200
    assert listed_ids(response) == expected
    if not expected:
        assert escape(EMPTY_MESSAGES[key]) in response.content.decode()
    assert 'zendesk;desc="0 calls"' in response["Server-Timing"]
    assert api_calls(inbox_sandbox) == 0


def test_a_whole_list_the_agent_opened_is_the_sidebars_sample_at_the_next_poll(inbox_sandbox):
    """The other way round: the agent opened the view (after a change, say) and it held the
    whole list; the poll that follows draws the badge from that page, asking nothing more."""
    agent, expected = an_agent_listed_in(inbox_sandbox, "users/{user}/tickets/ccd", "-updated_at")
    assert len(expected) < 25, "the list fits the view's first page"
    browser = signed_in_client(agent)
    opened = browser.get("/views/ccd")
    inbox_sandbox.control("POST", "stats/reset")

    polled = browser.get("/inbox/poll")

    assert listed_ids(opened) == expected
    assert polled.status_code == 200
    assert api_calls(inbox_sandbox, "GET /api/v2/users/{id}/tickets/ccd") == 0
    badge = re.search(
        r'id="count-ccd"[^>]*><span class="count-value"[^>]*>(\d+)<', polled.content.decode()
    )
    assert badge, "the poll shows the CC'd badge"
    assert int(badge.group(1)) == len(expected)  # counted from the page the agent opened


def test_a_view_longer_than_its_page_asks_zendesk_for_that_page(agent, agent_client, inbox_sandbox):
    """A sample holding more rows than the page asked for is not that page (its next-page
    link would be missing): Zendesk is asked for the page itself."""
    path = f"users/{agent.zendesk_user_id}/tickets/assigned"
    everything = sandbox_ids(inbox_sandbox, path, agent.email, sort="status", **{"page[size]": 100})
    while len(everything) <= 25:
        new_ticket(inbox_sandbox, agent.email, assignee_id=agent.zendesk_user_id)
        everything.append(0)
    agent_client.get("/inbox/poll")

    response = agent_client.get("/views/assigned", {"size": 25})

    assert response.status_code == 200
    expected = sandbox_ids(inbox_sandbox, path, agent.email, sort="status", **{"page[size]": 25})
    assert listed_ids(response) == expected
    assert 'rel="next"' in response.content.decode()
    assert 'zendesk;desc="1 call"' in response["Server-Timing"]  # the page, asked for


def test_after_a_change_concerning_the_agent_the_view_asks_zendesk_again(
    agent, agent_client, inbox_sandbox
):
    """A change to the agent's assigned tickets moves the sample on with the list: the view
    asks Zendesk and shows what Zendesk says now."""
    from inbox.services.freshness import agent_view_family
    from inbox.zendesk import cache

    agent_client.get("/inbox/poll")
    admin = inbox_sandbox.agent(role="admin")["email"]
    created = new_ticket(inbox_sandbox, admin, assignee_id=agent.zendesk_user_id)
    cache.bump(agent_view_family(inbox_sandbox.base_url, agent.zendesk_user_id, "assigned"))

    response = agent_client.get("/views/assigned", {"size": 100})

    assert created in listed_ids(response)
    assert 'zendesk;desc="1 call"' in response["Server-Timing"]
