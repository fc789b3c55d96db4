"""What an agent does with the inbox in a real Chromium: sign in, open views, sort, page, use
the keyboard, switch theme, see a badge change; accessibility measured with axe-core; the
README's screenshots are made here.

The poll is triggered by the test itself (the `inbox:poll-now` event the page's js listens
to) and asserted after its answer, never after a wall-clock wait.
"""

from __future__ import annotations

import re

import pytest
import requests

from inbox.models import AgentPreference
from tests.inbox.conftest import SCREENSHOTS, browser_sign_in, poll_now, serious_violations

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]


def app_url(live_server, zendesk, settings) -> str:
    """The live app on the sandbox; callback from the request, avatars allowed by the CSP."""
    settings.ZENDESK_OAUTH_REDIRECT_URL = ""
    settings.SECURE_CSP = {
        **settings.SECURE_CSP,
        "img-src": [*settings.SECURE_CSP["img-src"], zendesk.base_url],
    }
    return live_server.url


def agent_email(zendesk) -> str:
    return zendesk.agent(role="agent", restricted=False, suspended=False)["email"]


def first_row_id(page) -> int:
    return int(page.locator("tbody tr[data-row] > td:first-child").first.inner_text())


def test_the_agent_opens_each_view_from_the_sidebar(page, app_url, zendesk, agent_email):
    browser_sign_in(page, app_url, zendesk, agent_email)

    for label in ["CC'd", "Following", "Requested by me", "Recently viewed", "All tickets"]:
        page.get_by_role("navigation", name="Views").get_by_role("link", name=label).click()
        page.get_by_role("heading", name=label, level=1).wait_for()
        current = page.locator('.sidebar a[aria-current="page"]')
        assert current.inner_text().startswith(label)
        assert page.locator("tbody tr[data-row], .list-empty").count() > 0


def test_the_agent_sorts_pages_forward_and_back(page, app_url, zendesk, agent_email):
    browser_sign_in(page, app_url, zendesk, agent_email)
    page.get_by_role("link", name="All tickets").click()
    page.get_by_role("heading", name="All tickets", level=1).wait_for()

    page.get_by_role("columnheader", name="ID").get_by_role("link").click()
    page.wait_for_url(re.compile(r"/views/all\?sort=id"))
    page.locator('th.col-id[aria-sort="ascending"]').wait_for()
    first_page_top = first_row_id(page)

    page.get_by_role("link", name="Next 25").click()
    page.wait_for_url(re.compile(r"after="))
    page.get_by_role("link", name="Previous 25").wait_for()
    second_page_top = first_row_id(page)
    assert second_page_top > first_page_top

    page.go_back()  # nothing is kept in the browser: the list comes again from the server
    page.wait_for_url(re.compile(r"/views/all\?sort=id(&size=25)?$"))
    page.locator('th.col-id[aria-sort="ascending"]').wait_for()
    assert first_row_id(page) == first_page_top
    page.go_forward()
    page.wait_for_url(re.compile(r"after="))
    page.get_by_role("link", name="Previous 25").wait_for()
    assert first_row_id(page) == second_page_top

    page.get_by_label("Per page").select_option("50")
    page.wait_for_url(re.compile(r"size=50"))
    page.locator("tbody tr[data-row]").nth(49).wait_for()
    page.reload()  # the address carries the state
    assert page.locator("tbody tr[data-row]").count() == 50
    assert page.locator('th.col-id[aria-sort="ascending"]').count() == 1


def listed_row_ids(page) -> list[int]:
    return [
        int(text) for text in page.locator("tbody tr[data-row] > td:first-child").all_inner_texts()
    ]


def test_the_agent_sorts_by_requester_pages_by_number_and_filters(
    page, app_url, zendesk, agent_email
):
    browser_sign_in(page, app_url, zendesk, agent_email)
    page.get_by_role("link", name="All tickets").click()
    page.get_by_role("heading", name="All tickets", level=1).wait_for()

    def zendesk_page(number: int, **params) -> list[int]:
        body = zendesk.get_json(
            "tickets",
            agent_email,
            sort_by="requester.name",
            sort_order="asc",
            page=number,
            per_page=25,
            **params,
        )
        return [ticket["id"] for ticket in body["tickets"]]

    page.get_by_role("columnheader", name="Requester").get_by_role("link").click()
    page.wait_for_url(re.compile(r"/views/all\?sort=requester"))
    page.locator('th.col-requester[aria-sort="ascending"]').wait_for()
    assert listed_row_ids(page) == zendesk_page(1)

    page.get_by_role("link", name="Next 25").click()
    page.wait_for_url(re.compile(r"sort=requester.*page=2"))
    page.get_by_role("link", name="Previous 25").wait_for()
    assert listed_row_ids(page) == zendesk_page(2)
    assert page.get_by_text(re.compile(r"^Tickets 26 to 50 of ")).count() == 1

    page.reload()  # the address carries the sort and the page number
    assert listed_row_ids(page) == zendesk_page(2)
    page.go_back()
    page.wait_for_url(re.compile(r"sort=requester(&size=25)?$"))
    page.locator('th.col-requester[aria-sort="ascending"]').wait_for()
    assert listed_row_ids(page) == zendesk_page(1)

    tagged = next(
        ticket
        for ticket in zendesk.walk_cursor("tickets", agent_email, "tickets", sort="id")
        if ticket.get("external_id")
    )
    page.get_by_label("External ID").fill(tagged["external_id"])
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r"external_id=" + re.escape(tagged["external_id"])))
    page.get_by_text("Tickets with the external ID").wait_for()
    assert tagged["id"] in listed_row_ids(page)
    assert listed_row_ids(page) == zendesk_page(1, external_id=tagged["external_id"])


def test_the_keyboard_moves_opens_jumps_and_explains(page, app_url, zendesk, agent_email):
    browser_sign_in(page, app_url, zendesk, agent_email)
    links = page.locator("tr[data-row] .ticket-link")

    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("k")
    assert links.nth(0).evaluate("link => link === document.activeElement")
    page.keyboard.press("j")
    second = links.nth(1).get_attribute("href")

    page.keyboard.press("?")
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    dialog.wait_for()
    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden")

    page.keyboard.press("g")
    page.keyboard.press("t")
    page.get_by_role("heading", name="All tickets", level=1).wait_for()

    # Sort with the keyboard: focus stays on the header link after the list is swapped.
    page.get_by_role("columnheader", name="ID").get_by_role("link").focus()
    page.keyboard.press("Enter")
    page.locator('th.col-id[aria-sort="ascending"]').wait_for()
    # Focus comes back when htmx has settled the swap (app.js), a moment after the new header.
    page.wait_for_function("document.activeElement?.dataset.focusKey === 'sort-id'")

    page.keyboard.press("g")
    page.keyboard.press("a")
    page.get_by_role("heading", name="Assigned to me", level=1).wait_for()
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{app_url}{second}")


def test_the_theme_switch_sticks_to_the_agent(page, app_url, zendesk, agent_email):
    browser_sign_in(page, app_url, zendesk, agent_email)
    root = page.locator("html")
    assert root.get_attribute("data-theme") is None  # the system's choice

    page.get_by_role("button", name=re.compile("^Theme: System")).click()
    page.locator('html[data-theme="light"]').wait_for(state="attached")
    page.get_by_role("button", name=re.compile("^Theme: Light")).click()
    page.locator('html[data-theme="dark"]').wait_for(state="attached")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")

    page.reload()
    assert root.get_attribute("data-theme") == "dark"
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == background
    assert AgentPreference.objects.get().theme == "dark"


def test_a_badge_changes_after_a_change_made_in_zendesk(
    page, app_url, zendesk, agent_email, settings
):
    zendesk.reset()
    settings.ZENDESK_CACHE_TTL_SECONDS = {"count": 0, "list": 0}
    agent = zendesk.agent(email=agent_email)
    browser_sign_in(page, app_url, zendesk, agent_email)
    poll_now(page)
    badge = page.locator("#count-assigned .count-value")
    before = int(badge.inner_text().split()[0])
    admin = zendesk.agent(role="admin")["email"]
    ticket = next(
        ticket
        for ticket in zendesk.walk_cursor("tickets", admin, "tickets")
        if ticket["status"] == "open" and ticket["assignee_id"] != agent["id"]
    )

    changed = requests.put(
        f"{zendesk.base_url}/api/v2/tickets/{ticket['id']}",
        headers=zendesk.basic_auth(admin),
        json={"ticket": {"assignee_id": agent["id"]}},
        timeout=30,
    )
    assert changed.status_code == 200
    poll_now(page)

    assert int(badge.inner_text().split()[0]) == before + 1
    assert badge.evaluate("node => node.parentElement.getAttribute('aria-live')") == "polite"
    zendesk.reset()


HIDE = """() => {
  Object.defineProperty(document, "visibilityState", {configurable: true, get: () => "hidden"});
  document.dispatchEvent(new Event("visibilitychange"));
}"""
SHOW = """() => {
  Object.defineProperty(document, "visibilityState", {configurable: true, get: () => "visible"});
  document.dispatchEvent(new Event("visibilitychange"));
}"""
COUNT_POLLS = """() => {
  window.pollsSent = 0;
  document.body.addEventListener("htmx:beforeRequest", (event) => {
    if (event.detail.elt.id === "poll") window.pollsSent += 1;
  });
}"""


def test_a_hidden_tab_sends_no_polls(page, app_url, zendesk, agent_email):
    browser_sign_in(page, app_url, zendesk, agent_email)
    page.locator("#count-assigned .count-value").wait_for()
    page.evaluate(COUNT_POLLS)

    page.evaluate(HIDE)
    page.dispatch_event("body", "inbox:poll-now")
    page.dispatch_event("body", "inbox:poll")  # even the poll element's own trigger waits
    hidden_polls = page.evaluate("window.pollsSent")
    with page.expect_response(re.compile(r"/inbox/poll")):
        page.evaluate(SHOW)  # back in view: one poll at once

    assert hidden_polls == 0
    assert page.evaluate("window.pollsSent") == 1


def test_no_serious_accessibility_violations_in_either_theme_or_on_a_phone(
    page, app_url, zendesk, agent_email
):
    page.set_viewport_size({"width": 1280, "height": 800})
    browser_sign_in(page, app_url, zendesk, agent_email)
    poll_now(page)
    page.locator("#count-assigned .count-value").wait_for()

    found = {}
    page.emulate_media(color_scheme="light")
    found["light"] = serious_violations(page)
    page.emulate_media(color_scheme="dark")
    found["dark"] = serious_violations(page)
    page.set_viewport_size({"width": 360, "height": 740})
    found["phone, dark"] = serious_violations(page)
    page.emulate_media(color_scheme="light")
    found["phone, light"] = serious_violations(page)

    assert found == {"light": [], "dark": [], "phone, dark": [], "phone, light": []}


def test_screenshots_of_the_inbox_in_light_dark_and_on_a_phone(page, app_url, zendesk, agent_email):
    """The README's screenshots (docs/screenshots/), from a real session on the sandbox."""
    page.set_viewport_size({"width": 1280, "height": 800})
    browser_sign_in(page, app_url, zendesk, agent_email)
    poll_now(page)
    page.locator("#count-assigned .count-value").wait_for()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    page.emulate_media(color_scheme="light")
    page.screenshot(path=SCREENSHOTS / "inbox-light.png")
    page.emulate_media(color_scheme="dark")
    page.screenshot(path=SCREENSHOTS / "inbox-dark.png")
    page.emulate_media(color_scheme="light")
    page.set_viewport_size({"width": 360, "height": 740})
    page.screenshot(path=SCREENSHOTS / "inbox-phone.png")

    for name in ("inbox-light.png", "inbox-dark.png", "inbox-phone.png"):
        assert (SCREENSHOTS / name).stat().st_size > 10_000
