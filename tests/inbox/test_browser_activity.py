"""The bell and the activity drawer in a real Chromium: the drawer as a dialog (focus in, Esc,
focus back), a change made in Zendesk reaching the badge, the title, the drawer and one
desktop notification with two tabs open, "mark all as seen" reaching a second browser,
axe-core with the drawer open in both themes, and the README's screenshot.

`Notification` is replaced by an init script that records what the page raises; polls are
triggered by the test (`inbox:poll-now`) and asserted after their answer, never after a wait.
"""

from __future__ import annotations

import re

import pytest
import requests

from tests.inbox.conftest import SCREENSHOTS, browser_sign_in, poll_now, serious_violations

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]

RECORD_NOTIFICATIONS = """
window.__notifications = [];
class RecordedNotification {
  constructor(title, options) {
    this.title = title;
    this.options = options || {};
    window.__notifications.push({title: title, body: this.options.body, tag: this.options.tag});
  }
  close() {}
  static requestPermission() { return Promise.resolve("granted"); }
}
RecordedNotification.permission = "granted";
window.Notification = RecordedNotification;
"""


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


@pytest.fixture
def pristine(zendesk):
    zendesk.reset()
    yield zendesk
    zendesk.reset()


def open_drawer(page) -> None:
    """Click the bell and wait for the drawer's fresh panel (it loads each time it opens)."""
    with page.expect_response(re.compile(r"/activity/(\?.*)?$")):
        page.locator("#bell").click()
    page.locator(
        "#activity-drawer[open] .activity-list, #activity-drawer[open] .drawer-empty"
    ).first.wait_for()


def bell_badge(page) -> str:
    return page.locator("#bell-count").evaluate(
        "node => node.firstChild ? node.firstChild.textContent : ''"
    )


def mark_all_seen(page) -> None:
    with page.expect_response(re.compile(r"/inbox/poll")):  # the answer asks for a poll at once
        page.get_by_role("button", name="Mark all as seen").click()
    page.locator("#activity-drawer [data-unread]").first.wait_for(state="detached")


def test_the_drawer_is_a_dialog_that_keeps_and_gives_back_focus(
    page, app_url, zendesk, agent_email
):
    browser_sign_in(page, app_url, zendesk, agent_email)
    poll_now(page)
    bell = page.locator("#bell")
    bell.focus()

    page.keyboard.press("Enter")
    drawer = page.get_by_role("dialog", name="Activity")
    drawer.locator(".activity-list").wait_for()
    assert bell.get_attribute("aria-expanded") == "true"
    for _ in range(40):  # Tab never leaves the drawer for the page behind it
        page.keyboard.press("Tab")
        inside = page.evaluate(
            "document.getElementById('activity-drawer').contains(document.activeElement)"
            " || document.activeElement === document.body"
        )
        assert inside
    page.keyboard.press("Escape")

    drawer.wait_for(state="hidden")
    assert page.evaluate("document.activeElement.id") == "bell"
    assert bell.get_attribute("aria-expanded") == "false"


def test_a_new_activity_reaches_badge_title_drawer_and_one_notification_of_two_tabs(
    context, app_url, pristine, agent_email, settings
):
    zendesk = pristine
    settings.ZENDESK_CACHE_TTL_SECONDS = {"activities": 0, "count": 0, "list": 0}
    context.add_init_script(RECORD_NOTIFICATIONS)
    first = context.new_page()
    browser_sign_in(first, app_url, zendesk, agent_email)
    poll_now(first)
    open_drawer(first)
    with first.expect_response(re.compile(r"/activity/preferences")):
        first.get_by_label("Desktop notifications").check()
    mark_all_seen(first)
    first.keyboard.press("Escape")
    second = context.new_page()
    second.goto(f"{app_url}/")
    poll_now(second)
    poll_now(first)
    assert bell_badge(first) == ""
    roles = sorted(
        tab.evaluate("document.documentElement.dataset.activityRole") for tab in (first, second)
    )
    assert roles == ["follower", "leader"]

    agent = zendesk.agent(email=agent_email)
    admin = zendesk.agent(role="admin")
    ticket = next(
        ticket
        for ticket in zendesk.walk_cursor("tickets", admin["email"], "tickets")
        if ticket["status"] == "open" and ticket["assignee_id"] not in (agent["id"], admin["id"])
    )
    changed = requests.put(
        f"{zendesk.base_url}/api/v2/tickets/{ticket['id']}",
        headers=zendesk.basic_auth(admin["email"]),
        json={"ticket": {"assignee_id": agent["id"]}},
        timeout=30,
    )
    assert changed.status_code == 200
    newest = zendesk.walk_cursor("activities", agent_email, "activities")[0]
    poll_now(second)
    poll_now(first)
    leader = (
        first
        if first.evaluate("document.documentElement.dataset.activityRole") == "leader"
        else second
    )
    leader.wait_for_function("window.__notifications.length >= 1")

    raised = first.evaluate("window.__notifications") + second.evaluate("window.__notifications")
    assert raised == [
        {"title": newest["title"], "body": ticket["subject"], "tag": f"activity-{newest['id']}"}
    ]
    assert bell_badge(first) == "1"
    assert first.title().startswith("(1) ")
    open_drawer(first)
    top = first.locator("#activity-drawer .activity-row").first
    assert "is-unread" in top.get_attribute("class")
    assert newest["title"] in top.inner_text()


def test_mark_all_as_seen_in_one_browser_clears_the_badge_in_another(
    browser, app_url, zendesk, agent_email
):
    laptop, phone = browser.new_context(), browser.new_context()
    try:
        on_laptop, on_phone = laptop.new_page(), phone.new_page()
        browser_sign_in(on_laptop, app_url, zendesk, agent_email)
        browser_sign_in(on_phone, app_url, zendesk, agent_email)
        poll_now(on_laptop)
        poll_now(on_phone)
        assert bell_badge(on_phone) not in ("", "0")

        open_drawer(on_laptop)
        mark_all_seen(on_laptop)
        poll_now(on_phone)

        assert bell_badge(on_phone) == ""
        assert bell_badge(on_laptop) == ""
        assert not on_phone.title().startswith("(")
    finally:
        laptop.close()
        phone.close()


def test_no_serious_accessibility_violations_with_the_drawer_open_in_either_theme(
    page, app_url, zendesk, agent_email
):
    page.set_viewport_size({"width": 1280, "height": 800})
    browser_sign_in(page, app_url, zendesk, agent_email)
    poll_now(page)
    open_drawer(page)
    page.locator("#activity-drawer details.activity-fold").first.locator("summary").click()

    found = {}
    for theme in ("light", "dark"):
        page.emulate_media(color_scheme=theme)
        found[theme] = serious_violations(page)
    page.set_viewport_size({"width": 360, "height": 740})
    found["phone"] = serious_violations(page)

    assert found == {"light": [], "dark": [], "phone": []}


def test_screenshot_of_the_drawer_open(page, app_url, zendesk, agent_email):
    """The README's screenshot of the drawer (docs/screenshots/), from the seeded sandbox."""
    page.set_viewport_size({"width": 1280, "height": 800})
    browser_sign_in(page, app_url, zendesk, agent_email)
    poll_now(page)
    open_drawer(page)
    page.locator("#activity-drawer details.activity-fold").first.locator("summary").click()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    page.emulate_media(color_scheme="light")
    page.screenshot(path=SCREENSHOTS / "activity-drawer.png")
    page.emulate_media(color_scheme="dark")
    page.screenshot(path=SCREENSHOTS / "activity-drawer-dark.png")
    page.emulate_media(color_scheme="light")
    page.set_viewport_size({"width": 360, "height": 740})
    page.screenshot(path=SCREENSHOTS / "activity-drawer-phone.png")

    for name in ("activity-drawer.png", "activity-drawer-dark.png", "activity-drawer-phone.png"):
        assert (SCREENSHOTS / name).stat().st_size > 10_000
