"""Every page and partial an agent reads, under every fault Zendesk and the network can show,
over real HTTP to the sandbox's fault controls.

For each (page, fault): with a saved copy the page shows it and says how old it is; without,
it says what failed and that it will be tried again (never a 500, never a blank; an htmx
partial answers 200 so htmx swaps it in); the calls the sandbox counted are bounded (a hang
costs one call per read, a 429 storm makes the app stop asking, retries stay within
ZENDESK_MAX_RETRIES); and once the fault is lifted the next request recovers, no restart.

Lifetimes of every cached answer are 0 s here, so every read goes to Zendesk and a saved copy is
always past its lifetime (what an agent meets minutes after a page was read). A short deadline
keeps the hangs short; the sandbox's hang ends when the fault set is cleared.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from html import unescape
from urllib.parse import quote

import pytest
import requests
from django.core.cache import cache
from django.test import Client

from inbox.zendesk import budget
from tests.inbox.conftest import seeded_agent, signed_in_client

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}
DEADLINE_SECONDS = 0.5
RETRY_AFTER_SECONDS = 120


@pytest.fixture(scope="module", autouse=True)
def _seed_put_back(sandbox_session):
    """This module adds tickets the agent requested: the seed goes back after it, so modules
    after it read the seeded lists (an "opened" badge needs the list to fit one page)."""
    yield
    sandbox_session.reset()


# As production runs it: after a read gets no answer, reads hold back this long.
OUTAGE_PAUSE_SECONDS = 5.0
# The faults that make reads get no answer (and so start that pause).
NO_ANSWER = ("down", "refused", "hang", "5xx")


@pytest.fixture(autouse=True)
def _outage_pause(settings):
    settings.ZENDESK_OUTAGE_PAUSE_SECONDS = OUTAGE_PAUSE_SECONDS


FAULTS: dict[str, dict] = {
    "down": {"outage": True},
    "refused": {"outage": "refuse"},
    "hang": {"hang_rate": 1, "hang_seconds": 120},
    "5xx": {"error_rate": 1},
    "429": {"rate_limit_per_minute": 1, "rate_limit_window_seconds": RETRY_AFTER_SECONDS},
    "html": {"garbage_rate": 1, "garbage_body": "html"},
    "cut_json": {"garbage_rate": 1, "garbage_body": "cut_json"},
}
# What the agent is told failed.
SAYS = {
    "down": "Zendesk is not answering right now",
    "refused": "Zendesk is not answering right now",
    "hang": "Zendesk is not answering right now",
    "5xx": "Zendesk is not answering right now",
    "429": "Zendesk asked the team to slow down",
    "html": "Zendesk sent an answer we could not read",
    "cut_json": "Zendesk sent an answer we could not read",
}
# Calls one read may cost under the fault: retries only where a repeat can help.
ATTEMPTS = {"down": 3, "refused": 3, "5xx": 3, "hang": 1, "429": 1, "html": 1, "cut_json": 1}


class NoLifetime(dict):
    """ZENDESK_CACHE_TTL_SECONDS that gives every kind of answer a lifetime of 0 s."""

    def get(self, kind, default=None):
        return 0


@dataclass(frozen=True)
class Place:
    """What the pages are about: the agent's own ticket (two comments), a group, a requester."""

    ticket_id: int
    subject: str
    earlier_url: str
    first_comment: str
    group_id: int
    agent_names: tuple[str, ...]
    requester_name: str


@dataclass(frozen=True)
class PageUnderTest:
    name: str
    url: Callable[[Place], str]
    htmx: bool
    # A piece of the data the page shows when Zendesk answers (so a saved copy shows it too).
    data: Callable[[Place, str], bool]
    # How the page says its data is a saved copy, and how old.
    saved_copy: str
    # How it says it will be tried again when it has nothing to show.
    retry: str


def _lists_tickets(place: Place, html: str) -> bool:
    return bool(re.search(r'href="/tickets/\d+"', html))


def _shows_counts(place: Place, html: str) -> bool:
    return bool(re.search(r'class="count-value[^"]*"[^>]*>\d+', html))


def _lists_activities(place: Place, html: str) -> bool:
    return "data-activity-id=" in html


PAGES = [
    PageUnderTest(
        "list", lambda p: "/views/all", False, _lists_tickets, "showing data from", "try again"
    ),
    PageUnderTest(
        "list partial",
        lambda p: "/views/all",
        True,
        _lists_tickets,
        "showing data from",
        "try again",
    ),
    PageUnderTest(
        "poll (sidebar, badges, bell)",
        lambda p: "/inbox/poll",
        False,
        _shows_counts,
        "the numbers shown are from",
        "update on their own once Zendesk answers again",
    ),
    PageUnderTest(
        "ticket",
        lambda p: f"/tickets/{p.ticket_id}",
        False,
        lambda p, html: p.subject in html,
        "showing this ticket as it was",
        "try again",
    ),
    PageUnderTest(
        "earlier comments partial",
        lambda p: p.earlier_url,
        True,
        lambda p, html: p.first_comment in html,
        "showing these comments as they were",
        "try again",
    ),
    PageUnderTest(
        "create form",
        lambda p: "/tickets/new",
        False,
        lambda p, html: f'<option value="{p.group_id}"' in html,
        "showing the groups as they were",
        "try again",
    ),
    PageUnderTest(
        "requester search",
        lambda p: f"/tickets/new/requesters?requester_query={p.requester_name[:4]}",
        True,
        lambda p, html: p.requester_name in unescape(html),
        "showing people found",
        "try again",
    ),
    PageUnderTest(
        "assignee picker",
        lambda p: f"/tickets/new/assignees?group_id={p.group_id}",
        True,
        lambda p, html: any(name in unescape(html) for name in p.agent_names),
        "showing the group's agents as they were",
        "try again",
    ),
    PageUnderTest(
        "activity drawer",
        lambda p: "/activity/",
        True,
        _lists_activities,
        "showing activity from",
        "try again",
    ),
    PageUnderTest(
        "activity page",
        lambda p: "/activity/",
        False,
        _lists_activities,
        "showing activity from",
        "try again",
    ),
]


# -- set-up -------------------------------------------------------------------------------------
def _api(sandbox, method: str, path: str, email: str, **kwargs) -> requests.Response:
    answer = requests.request(
        method,
        f"{sandbox.base_url}/api/v2/{path}",
        headers=sandbox.basic_auth(email),
        timeout=30,
        **kwargs,
    )
    assert answer.status_code < 300, answer.text[:300]
    return answer


@pytest.fixture
def quick(settings, monkeypatch):
    """Quick retries, every saved answer past its lifetime, one comment a page."""
    settings.ZENDESK_RETRY_BACKOFF = 0.01
    settings.ZENDESK_CACHE_TTL_SECONDS = NoLifetime({"every": 0})
    monkeypatch.setattr("inbox.services.tickets.COMMENT_PAGE_SIZE", 1)


@pytest.fixture(scope="module")
def place(sandbox_session) -> Place:
    """Made once for the module, straight at the sandbox (the app's cache plays no part)."""
    sandbox = sandbox_session
    email = seeded_agent(sandbox, role="agent", restricted=False)["email"]
    subject = f"Printer on fire {uuid.uuid4().hex[:8]}"
    first = f"It smells of toner {uuid.uuid4().hex[:8]}."
    created = _api(
        sandbox,
        "POST",
        "tickets",
        email,
        json={"ticket": {"subject": subject, "comment": {"body": first}}},
    ).json()["ticket"]
    _api(
        sandbox,
        "PUT",
        f"tickets/{created['id']}",
        email,
        json={"ticket": {"comment": {"body": "And now it beeps.", "public": True}}},
    )
    newest = sandbox.get_json(
        f"tickets/{created['id']}/comments", email, **{"page[size]": 1, "sort": "-created_at"}
    )
    cursor = newest["meta"]["after_cursor"]
    group = sandbox.get_json("groups", sandbox.admin_email)["groups"][0]
    members = sandbox.get_json(f"groups/{group['id']}/memberships", sandbox.admin_email)
    member_ids = {row["user_id"] for row in members["group_memberships"]}
    names = tuple(person["name"] for person in sandbox.info["agents"] if person["id"] in member_ids)
    assert names, "the seed's first group has agents"
    return Place(
        ticket_id=created["id"],
        subject=subject,
        earlier_url=f"/tickets/{created['id']}/comments?before={quote(cursor)}",
        first_comment=first,
        group_id=group["id"],
        agent_names=names,
        requester_name=sandbox.info["end_users"][0]["name"],
    )


@pytest.fixture
def later(monkeypatch) -> Callable[[float], None]:
    """Move the rate budget's clock on (instead of waiting out a Retry-After)."""
    offset = [0.0]
    real_clock = budget.clock
    monkeypatch.setattr(budget, "clock", lambda: real_clock() + offset[0])

    def move(seconds: float) -> None:
        offset[0] += seconds

    return move


def _get(client: Client, page: PageUnderTest, place: Place):
    return client.get(page.url(place), **(HX if page.htmx else {}))


def _stats(sandbox) -> dict:
    return sandbox.control("GET", "stats").json()


class Faults:
    """Turns one fault on at the sandbox and lifts it again (with the pytest `settings` fixture,
    so a failing test leaves no setting behind)."""

    def __init__(self, sandbox, settings, later, agent_email: str) -> None:
        self.sandbox, self.settings, self.later, self.agent_email = (
            sandbox,
            settings,
            later,
            agent_email,
        )
        self.deadlines = (
            settings.ZENDESK_DEADLINE_SECONDS,
            settings.ZENDESK_BACKGROUND_DEADLINE_SECONDS,
        )

    def on(self, fault: str) -> None:
        """Only a hang needs a short deadline; the others keep the default, so a busy
        machine's slow answers are never mistaken for the fault."""
        if fault == "hang":
            self.settings.ZENDESK_DEADLINE_SECONDS = DEADLINE_SECONDS
            self.settings.ZENDESK_BACKGROUND_DEADLINE_SECONDS = DEADLINE_SECONDS
        self.sandbox.control("POST", "faults", json=FAULTS[fault]).raise_for_status()
        if fault == "429":  # someone else on the team used the minute's only call: 429s from now
            me = self.sandbox.get("/api/v2/users/me.json", as_email=self.agent_email)
            assert me.status_code == 200
        self.sandbox.control("POST", "stats/reset").raise_for_status()

    def lift(self, fault: str) -> None:
        self.sandbox.control("POST", "faults", json={}).raise_for_status()
        (
            self.settings.ZENDESK_DEADLINE_SECONDS,
            self.settings.ZENDESK_BACKGROUND_DEADLINE_SECONDS,
        ) = self.deadlines
        if fault == "429":
            self.later(RETRY_AFTER_SECONDS + 1)  # Retry-After has passed
        if fault in NO_ANSWER:
            self.later(OUTAGE_PAUSE_SECONDS + 1)  # the pause on reads has passed


@pytest.fixture
def faults(inbox_sandbox, settings, later, agent):
    switch = Faults(inbox_sandbox, settings, later, agent.email)
    yield switch
    inbox_sandbox.control("POST", "faults", json={})


def _text(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def _healthy_reads(sandbox, client: Client, page: PageUnderTest, place: Place) -> int:
    """The calls the page makes when Zendesk answers (every read, nothing saved in time)."""
    sandbox.control("POST", "stats/reset").raise_for_status()
    response = _get(client, page, place)
    assert response.status_code == 200, response.content.decode()[:500]
    return _stats(sandbox)["arrived"]


def _assert_bounded_calls(fault: str, stats: dict, reads: int) -> None:
    assert stats["arrived"] <= reads * ATTEMPTS[fault], (
        f"{stats['arrived']} calls for {reads} reads under {fault}: {stats['by_endpoint']}"
    )


# -- nothing saved ------------------------------------------------------------------------------
@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.parametrize("page", PAGES, ids=[page.name for page in PAGES])
def test_with_nothing_saved_the_page_says_what_failed_and_that_it_will_retry(
    inbox_sandbox, agent, quick, place, faults, page, fault
):
    sandbox, client = inbox_sandbox, signed_in_client(agent)
    reads = _healthy_reads(sandbox, client, page, place)
    cache.clear()
    faults.on(fault)

    failed = _get(client, page, place)
    stats = _stats(sandbox)
    faults.lift(fault)
    recovered = _get(client, page, place)

    html = _text(failed.content.decode())
    assert failed.status_code in ((200,) if page.htmx else (200, 502, 503)), failed.status_code
    assert SAYS[fault] in html, html[:600]
    assert page.retry.lower() in html.lower(), html[:600]
    _assert_bounded_calls(fault, stats, reads)
    assert recovered.status_code == 200
    assert page.data(place, recovered.content.decode())
    assert SAYS[fault] not in _text(recovered.content.decode())


# -- a saved copy -------------------------------------------------------------------------------
@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.parametrize("page", PAGES, ids=[page.name for page in PAGES])
def test_with_a_saved_copy_the_page_shows_it_and_its_age(
    inbox_sandbox, agent, quick, place, faults, page, fault
):
    sandbox, client = inbox_sandbox, signed_in_client(agent)
    reads = _healthy_reads(sandbox, client, page, place)  # ... and the copy is saved
    faults.on(fault)

    failed = _get(client, page, place)
    stats = _stats(sandbox)
    faults.lift(fault)
    recovered = _get(client, page, place)

    html = failed.content.decode()
    assert failed.status_code == 200, _text(html)[:600]
    assert page.data(place, html), _text(html)[:600]
    assert SAYS[fault] in _text(html), _text(html)[:600]
    assert page.saved_copy in _text(html), _text(html)[:600]
    _assert_bounded_calls(fault, stats, reads)
    assert recovered.status_code == 200
    assert SAYS[fault] not in _text(recovered.content.decode())


# -- what the calls show ------------------------------------------------------------------------
@pytest.mark.parametrize("page", PAGES, ids=[page.name for page in PAGES])
def test_a_429_storm_makes_the_app_stop_asking_until_retry_after(
    inbox_sandbox, agent, quick, place, faults, later, page
):
    sandbox, client = inbox_sandbox, signed_in_client(agent)
    _healthy_reads(sandbox, client, page, place)
    faults.on("429")

    _get(client, page, place)
    told = _stats(sandbox)["rate_limited"]
    sandbox.control("POST", "stats/reset").raise_for_status()
    again = [_get(client, page, place) for _ in range(3)]

    assert told >= 1
    assert _stats(sandbox)["arrived"] == 0, "asked Zendesk again before Retry-After"
    assert all(response.status_code == 200 for response in again)
    later(RETRY_AFTER_SECONDS + 1)
    sandbox.control("POST", "faults", json={}).raise_for_status()
    assert _get(client, page, place).status_code == 200
    assert _stats(sandbox)["arrived"] >= 1, "asked again once Retry-After had passed"


@pytest.mark.parametrize("fault", NO_ANSWER)
@pytest.mark.parametrize("page", PAGES[:2], ids=[page.name for page in PAGES[:2]])
def test_after_a_read_gets_no_answer_the_next_page_asks_zendesk_nothing_for_a_moment(
    inbox_sandbox, agent, quick, place, faults, later, page, fault
):
    """A hang costs one call per read, no retries; down, refused and 5xx at most the retries
    of the reads already under way. The next page asks nothing until the pause is over."""
    sandbox, client = inbox_sandbox, signed_in_client(agent)
    reads = _healthy_reads(sandbox, client, page, place)
    faults.on(fault)

    _get(client, page, place)
    first = _stats(sandbox)["arrived"]
    sandbox.control("POST", "stats/reset").raise_for_status()
    again = _get(client, page, place)
    during_pause = _stats(sandbox)["arrived"]
    later(OUTAGE_PAUSE_SECONDS + 1)
    _get(client, page, place)
    after_pause = _stats(sandbox)["arrived"]
    faults.lift(fault)

    assert 1 <= first <= reads * ATTEMPTS[fault]
    assert during_pause == 0
    assert SAYS[fault] in _text(again.content.decode())
    assert after_pause >= 1, "asked Zendesk again once the pause was over"


def test_a_bad_earlier_link_answers_htmx_with_a_row_not_a_whole_page(agent, quick, place):
    """htmx swaps a 400 in place of the "show earlier" row: a whole page there would nest a
    second header inside the conversation."""
    client = signed_in_client(agent)

    link = client.get(f"/tickets/{place.ticket_id}/comments?before=%3Cscript%3E", **HX)
    page = client.get(f"/tickets/{place.ticket_id}/comments?before=%3Cscript%3E")

    assert link.status_code == page.status_code == 400
    row = link.content.decode()
    assert row.startswith('<li class="earlier" role="alert">')
    assert "not one the page made; reload the ticket" in unescape(row)
    assert "<html" not in row
    assert "<html" in page.content.decode()
