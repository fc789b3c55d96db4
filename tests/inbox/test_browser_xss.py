"""Hostile content everywhere, in a real Chromium: nothing runs and nothing is injected.

The session's hostile sandbox (tests/inbox/conftest.py) has the whole corpus of
tests/hostile.py in subjects, comments (raw `html_body`), names, groups, organizations, tags,
fields, activity titles and file names. An agent signs in through the front door and walks
the inbox, the poll, ticket pages, the new-ticket form with its requester search, and the
activity drawer. A trap is set before any page script runs: `alert`, `confirm`, `prompt` and
`print` record their calls, dialogs are recorded, the console is watched for the corpus's
marker and CSP violations are collected; the DOM is searched for any element or attribute
content could have put there.
"""

from __future__ import annotations

import re

import pytest

from tests import hostile
from tests.inbox.conftest import browser_sign_in, poll_now

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]

TRAP = """
window.__xss = [];
for (const name of ["alert", "confirm", "prompt", "print"]) {
  window[name] = function (message) { window.__xss.push(name + ": " + message); };
}
window.__csp = [];
document.addEventListener("securitypolicyviolation", function (event) {
  window.__csp.push(event.violatedDirective + " " + event.blockedURI + " " + (event.sample || ""));
});
"""
# Every element or attribute the corpus would leave if any of it became markup.
INJECTED = """() => {
  const found = [];
  for (const element of document.querySelectorAll("*")) {
    for (const attribute of element.attributes) {
      const name = attribute.name.toLowerCase();
      const value = attribute.value.replace(/[\\s\\u0000-\\u001f]/g, "").toLowerCase();
      if (name.startsWith("on")) found.push(element.tagName + " " + name);
      if (name.startsWith("data-hx") || name.startsWith("hx-on")) found.push(element.tagName + " " + name);
      if (name.startsWith("hx-") && value.includes("hostile")) found.push(element.tagName + " " + name);
      if (/^(href|src|action|formaction|data|xlink:href)$/.test(name)
          && /^(javascript|data|vbscript):/.test(value)) found.push(element.tagName + " " + name);
      if (name === "data-hostile" || (name === "style" && value.includes("url("))) found.push(element.tagName + " " + name);
    }
  }
  const selectors = "script:not([src]), iframe, object, embed, math, base, style, video, "
    + "img[src='x'], #hostile-injected, svg:not([aria-hidden='true']), meta[http-equiv]";
  for (const element of document.querySelectorAll(selectors)) found.push(element.outerHTML.slice(0, 120));
  return found;
}"""


@pytest.fixture
def hostile_app(live_server, hostile_sandbox, settings) -> str:
    settings.ZENDESK_URL = hostile_sandbox.base_url
    settings.ZENDESK_OAUTH_REDIRECT_URL = ""
    settings.ZENDESK_RATE_LIMIT_PER_MINUTE = 1_000_000
    settings.SECURE_CSP = {
        **settings.SECURE_CSP,
        "img-src": [*settings.SECURE_CSP["img-src"], hostile_sandbox.base_url],
    }
    return live_server.url


@pytest.fixture
def watched(page):
    """The page with the trap set; `watched.console` and `watched.dialogs` fill as it goes."""
    page.add_init_script(TRAP)
    page.console, page.dialogs = [], []
    page.on("console", lambda message: page.console.append(f"{message.type}: {message.text}"))
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    return page


def assert_nothing_ran(page, where: str) -> None:
    assert page.evaluate("window.__hostile_ran") is None, where
    assert page.evaluate("window.__xss") == [], where
    assert page.dialogs == [], where
    assert [line for line in page.console if hostile.MARKER in line] == [], where
    csp = [line for line in page.console if "Content Security Policy" in line]
    assert csp == [], where
    assert page.evaluate("window.__csp") == [], where
    assert page.evaluate(INJECTED) == [], where


def shown_payloads(page) -> int:
    text = page.locator("body").inner_text()
    return sum(1 for payload in hostile.PAYLOADS if payload.strip() in text)


def test_the_inbox_tickets_form_and_drawer_run_nothing_from_content(
    watched, hostile_app, hostile_sandbox
):
    page = watched
    agent = hostile_sandbox.agent(role="agent", restricted=False, suspended=False)
    browser_sign_in(page, hostile_app, hostile_sandbox, agent["email"])
    assert_nothing_ran(page, "the home page")

    page.goto(f"{hostile_app}/views/all?size=100")
    poll_now(page)
    assert shown_payloads(page) > len(hostile.PAYLOADS) // 2, "the corpus is on the page, as text"
    assert_nothing_ran(page, "all tickets")
    organization = page.locator("a[href^='/views/organizations/']").first
    organization.click()
    page.wait_for_url(re.compile(r"/views/organizations/\d+"))
    assert_nothing_ran(page, "an organization's tickets")

    for ticket_id in range(1, 13):  # their comments' html_body cycle through the whole corpus
        page.goto(f"{hostile_app}/tickets/{ticket_id}")
        page.locator("#ticket-title").wait_for()
        assert_nothing_ran(page, f"ticket #{ticket_id}")
    assert shown_payloads(page) > 0

    page.goto(f"{hostile_app}/tickets/new")
    customer = hostile_sandbox.info["end_users"][0]
    with page.expect_response(re.compile(r"/tickets/new/requesters")):
        page.locator("#requester-query").fill(customer["name"][:8])
    page.locator("#requester-results input[type=radio]").first.wait_for()
    assert_nothing_ran(page, "the requester search")

    page.goto(f"{hostile_app}/views/all")
    with page.expect_response(re.compile(r"/activity/")):
        page.locator("#bell").click()
    page.locator("#activity-drawer .activity-row").first.wait_for()
    assert shown_payloads(page) > 0
    assert_nothing_ran(page, "the activity drawer")
