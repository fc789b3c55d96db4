"""Creating a ticket in a real Chromium: find the customer, type, fill the custom fields, submit
(double click, keyboard), land on the new ticket; exactly one ticket in Zendesk; axe-core on the
form; the README's screenshot of the form.
"""

from __future__ import annotations

import re
import time
import uuid

import pytest

from tests.inbox.conftest import SCREENSHOTS, api_calls, browser_sign_in, serious_violations

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]
LANDED = re.compile(r"/tickets/(\d+)$")


def open_form(page) -> None:
    page.get_by_role("link", name="New ticket").click()
    page.get_by_role("heading", name="New ticket", level=1).wait_for()


def choose_requester(page, customer: dict) -> None:
    """Type the start of their name; pick them from what Zendesk found."""
    with page.expect_response(re.compile(r"/tickets/new/requesters")):
        page.get_by_label("Find a person by name or email").fill(customer["name"][:4])
    page.get_by_role("radio", name=re.compile(re.escape(customer["name"]))).first.check()


def fill_custom_fields(page) -> None:
    """One value in each kind of custom field the sandbox's account has, as a person would."""
    page.get_by_label("Product area").select_option(label="Mobile apps")
    page.get_by_label("Order number").fill("ORD-2211")
    page.get_by_label("Steps to reproduce").fill("Opened the app.\nTapped Print.")
    page.get_by_label("Seats affected").fill("4")
    page.get_by_label("Refund amount").fill("19.90")
    page.get_by_label("Escalated to engineering").check()
    page.get_by_label("Follow-up date").fill("2026-12-01")
    page.get_by_role("group", name="Affected platforms").get_by_label("iOS").check()
    page.get_by_label("Contract code").fill("AB-1234")


def tickets_with_subject(sandbox, subject: str) -> list[dict]:
    admin = sandbox.agent(role="admin")["email"]
    response = sandbox.get(
        "/api/v2/tickets", as_email=admin, params={"sort": "-id", "page[size]": 100}
    )
    assert response.status_code == 200, response.text[:300]
    return [ticket for ticket in response.json()["tickets"] if ticket["subject"] == subject]


def wait_until_at(page, url: re.Pattern[str], *, seconds: float = 60) -> None:
    """Wait until the page is at `url`. A double click starts two form submissions and the
    second replaces the first, whose navigation ends as ERR_ABORTED: so the page's address is
    watched, rather than one navigation awaited."""
    deadline = time.monotonic() + seconds
    while not url.search(page.url):
        assert time.monotonic() < deadline, f"the page stayed at {page.url}"
        page.wait_for_timeout(100)


def test_a_double_click_on_create_makes_exactly_one_ticket(page, app_url, zendesk, agent_email):
    customer = zendesk.info["end_users"][1]
    subject = f"Double click {uuid.uuid4().hex[:8]}"
    browser_sign_in(page, app_url, zendesk, agent_email)
    open_form(page)
    choose_requester(page, customer)
    page.get_by_label("Subject").fill(subject)
    page.get_by_label("Description").fill("Called twice about the same invoice.")
    # The page's own guard (one submit per form) is switched off: the server must cope alone.
    page.evaluate("document.getElementById('ticket-new-form').removeAttribute('data-send-once')")
    posts: list[str] = []
    page.on(
        "request",
        lambda request: (
            posts.append(request.url)
            if request.method == "POST" and request.url.endswith("/tickets/new")
            else None
        ),
    )

    # Zendesk is slow to answer the create, so the second click comes while the first waits
    # (Chromium folds two clicks of one instant into one request: the second one waits here
    # until the first request has left).
    zendesk.control(
        "POST", "faults", json={"latency_ms": 1500, "path_prefix": "/api/v2/tickets"}
    ).raise_for_status()
    button = page.get_by_role("button", name="Create ticket")
    button.scroll_into_view_if_needed()
    box = button.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    zendesk.control("POST", "stats/reset")
    with page.expect_request(
        lambda request: request.method == "POST" and request.url.endswith("/tickets/new")
    ):
        page.mouse.click(x, y)
    page.mouse.click(x, y)  # the mouse does not wait for the page to change
    wait_until_at(page, LANDED)
    zendesk.control("POST", "faults", json={}).raise_for_status()

    assert len(posts) == 2  # both clicks reached the app, and both asked Zendesk
    assert api_calls(zendesk, "POST /api/v2/tickets") == 2
    (made,) = tickets_with_subject(zendesk, subject)
    assert int(LANDED.search(page.url).group(1)) == made["id"]
    assert made["requester_id"] == customer["id"]


def test_ctrl_enter_creates_the_ticket_for_someone_new(page, app_url, zendesk, agent_email):
    subject = f"Keyboard {uuid.uuid4().hex[:8]}"
    email = f"new-{uuid.uuid4().hex[:8]}@example.net"
    browser_sign_in(page, app_url, zendesk, agent_email)
    open_form(page)
    page.get_by_role("radio", name=re.compile("Someone new")).check()
    page.get_by_label("New person's name").fill("Grace Newcaller")
    page.get_by_label("New person's email").fill(email)
    page.get_by_label("Subject").fill(subject)
    page.get_by_label("Description").fill("First call from a new customer.")
    page.get_by_label("Priority").select_option("urgent")
    fill_custom_fields(page)

    page.get_by_label("Description").press("Control+Enter")
    page.wait_for_url(LANDED)

    (made,) = tickets_with_subject(zendesk, subject)
    assert made["priority"] == "urgent"
    values = {entry["id"]: entry["value"] for entry in made["custom_fields"]}
    titles = {
        field["title"]: field["id"]
        for field in zendesk.get_json("ticket_fields", zendesk.admin_email)["ticket_fields"]
    }
    assert values[titles["Order number"]] == "ORD-2211"
    assert values[titles["Steps to reproduce"]] == "Opened the app.\nTapped Print."
    assert values[titles["Escalated to engineering"]] is True
    assert values[titles["Affected platforms"]] == ["platform_ios"]
    assert values[titles["Follow-up date"]] == "2026-12-01"
    assert int(LANDED.search(page.url).group(1)) == made["id"]


def test_the_form_has_no_serious_accessibility_violations(page, app_url, zendesk, agent_email):
    page.set_viewport_size({"width": 1280, "height": 900})
    browser_sign_in(page, app_url, zendesk, agent_email)
    open_form(page)
    choose_requester(page, zendesk.info["end_users"][0])
    fill_custom_fields(page)

    found = {}
    page.emulate_media(color_scheme="light")
    found["light"] = serious_violations(page)
    page.emulate_media(color_scheme="dark")
    found["dark"] = serious_violations(page)
    # The form as it comes back with problems marked next to the fields.
    page.get_by_label("Subject").fill("")
    page.evaluate("document.getElementById('field-subject').removeAttribute('required')")
    page.evaluate("document.getElementById('field-description').removeAttribute('required')")
    page.get_by_role("button", name="Create ticket").click()
    page.get_by_role("alert").filter(has_text="Enter a subject").wait_for()
    found["errors, dark"] = serious_violations(page)
    page.emulate_media(color_scheme="light")
    found["errors, light"] = serious_violations(page)

    # ... and with Zendesk's refusal of a custom field next to it (a 422).
    page.get_by_label("Subject").fill("Seats")
    page.get_by_label("Description").fill("How many seats?")
    page.get_by_label("Seats affected").fill("twelve")
    page.get_by_role("button", name="Create ticket").click()
    page.locator(".field-error", has_text="Seats affected: must be a whole number").wait_for()
    found["422, light"] = serious_violations(page)
    page.emulate_media(color_scheme="dark")
    found["422, dark"] = serious_violations(page)

    assert found == {
        "light": [],
        "dark": [],
        "errors, dark": [],
        "errors, light": [],
        "422, light": [],
        "422, dark": [],
    }


def test_screenshots_of_the_form(page, app_url, zendesk, agent_email):
    """The README's screenshots of the form (docs/screenshots/), from a real session."""
    page.set_viewport_size({"width": 1280, "height": 1320})
    browser_sign_in(page, app_url, zendesk, agent_email)
    open_form(page)
    choose_requester(page, zendesk.info["end_users"][0])
    page.get_by_label("Subject").fill("Printer prints blank pages")
    page.get_by_label("Description").fill(
        "Since this morning every page comes out blank. Toner was replaced on Monday."
    )
    page.get_by_label("Priority").select_option("high")
    page.get_by_label("Type").select_option("incident")
    page.get_by_label("Tags").fill("printer hardware")
    page.get_by_text("Draft saved.").wait_for()  # the draft reached the server
    page.evaluate("document.activeElement.blur()")
    page.mouse.move(1270, 1310)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    page.emulate_media(color_scheme="light")
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=SCREENSHOTS / "ticket-new-light.png")
    page.emulate_media(color_scheme="dark")
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=SCREENSHOTS / "ticket-new-dark.png")

    for name in ("ticket-new-light.png", "ticket-new-dark.png"):
        assert (SCREENSHOTS / name).stat().st_size > 10_000
