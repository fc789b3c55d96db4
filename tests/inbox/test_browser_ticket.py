"""What an agent does on the ticket page in a real Chromium: read, reply with a file, note,
change fields and the assignee, meet another agent's change and re-apply, reload mid-draft;
hostile content that must not run; axe-core in both themes; the README's screenshots."""

from __future__ import annotations

import re
import uuid

import pytest
import requests

from tests import hostile
from tests.inbox.conftest import SCREENSHOTS, browser_sign_in, serious_violations

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]


def app_url(live_server, zendesk, settings) -> str:
    settings.ZENDESK_OAUTH_REDIRECT_URL = ""
    settings.SECURE_CSP = {
        **settings.SECURE_CSP,
        "img-src": [*settings.SECURE_CSP["img-src"], zendesk.base_url],
    }
    return live_server.url


def agent_email(zendesk) -> str:
    return zendesk.agent(role="agent", restricted=False, suspended=False)["email"]


def new_ticket(sandbox, email: str, **fields) -> int:
    body = {
        "ticket": {
            "subject": f"Invoice shows the wrong VAT {uuid.uuid4().hex[:6]}",
            "comment": {
                "body": "Hello,\n\nour last invoice charges 25% VAT instead of 19%.\n\nThanks, Mia",
                "public": True,
            },
            "priority": "normal",
            "tags": ["billing"],
            **fields,
        }
    }
    created = requests.post(
        f"{sandbox.base_url}/api/v2/tickets",
        json=body,
        headers=sandbox.basic_auth(email),
        timeout=30,
    )
    assert created.status_code == 201, created.text[:300]
    return created.json()["ticket"]["id"]


def ticket_json(sandbox, ticket_id: int, email: str) -> dict:
    return requests.get(
        f"{sandbox.base_url}/api/v2/tickets/{ticket_id}",
        headers=sandbox.basic_auth(email),
        timeout=30,
    ).json()["ticket"]


def open_ticket(page, app_url: str, ticket_id: int) -> None:
    page.goto(f"{app_url}/tickets/{ticket_id}")
    page.get_by_role("heading", level=1).wait_for()


def test_the_agent_replies_with_a_file_then_notes_and_changes_fields(
    page, app_url, zendesk, agent_email
):
    ticket_id = new_ticket(zendesk, agent_email)
    browser_sign_in(page, app_url, zendesk, agent_email)
    open_ticket(page, app_url, ticket_id)

    page.keyboard.press("r")
    with page.expect_response(re.compile(rf"/tickets/{ticket_id}/draft")):
        page.keyboard.type("We corrected the invoice; the new one is attached.")
    page.set_input_files(
        "#f-files",
        files=[{"name": "invoice-2.txt", "mimeType": "text/plain", "buffer": b"VAT 19%\n"}],
    )
    page.get_by_label("Priority").select_option("high")
    page.get_by_label("Tags").fill("billing vat-fix")
    assignee = page.locator("#f-assignee option[value^='agent:']").first
    page.get_by_label("Assignee").select_option(assignee.get_attribute("value"))
    page.get_by_role("button", name="Submit as pending").click()

    page.get_by_text("Reply sent.").wait_for()
    reply = page.locator(".comment-public", has_text="We corrected the invoice")
    link = reply.get_by_role("link", name="invoice-2.txt")
    assert requests.get(link.get_attribute("href"), timeout=30).content == b"VAT 19%\n"
    ticket = ticket_json(zendesk, ticket_id, agent_email)
    assert (ticket["status"], ticket["priority"]) == ("pending", "high")
    assert set(ticket["tags"]) == {"billing", "vat-fix"}
    assert f"agent:{ticket['group_id']}:{ticket['assignee_id']}" == assignee.get_attribute("value")

    page.keyboard.press("n")
    page.keyboard.type("Finance confirmed the rate.")
    page.keyboard.press("Control+Enter")

    page.get_by_text("Internal note added.").wait_for()
    assert page.locator(".comment-note", has_text="Finance confirmed the rate.").count() == 1


def test_escape_leaves_the_editor_and_keeps_the_text(page, app_url, zendesk, agent_email):
    ticket_id = new_ticket(zendesk, agent_email)
    browser_sign_in(page, app_url, zendesk, agent_email)
    open_ticket(page, app_url, ticket_id)

    page.keyboard.press("r")
    page.keyboard.type("Half written")
    page.keyboard.press("Escape")

    assert page.evaluate("document.activeElement.id") != "reply-body"
    assert page.locator("#reply-body").input_value() == "Half written"


def test_another_agents_change_is_shown_and_the_reply_reapplied(
    page, app_url, zendesk, agent_email
):
    admin = zendesk.agent(role="admin")["email"]
    ticket_id = new_ticket(zendesk, agent_email)
    browser_sign_in(page, app_url, zendesk, agent_email)
    open_ticket(page, app_url, ticket_id)
    with page.expect_response(re.compile(rf"/tickets/{ticket_id}/draft")):
        page.get_by_label("Your reply or note").fill("The refund is on its way.")

    changed = requests.put(
        f"{zendesk.base_url}/api/v2/tickets/{ticket_id}",
        headers=zendesk.basic_auth(admin),
        json={"ticket": {"priority": "urgent", "comment": {"body": "Escalated.", "public": False}}},
        timeout=30,
    )
    assert changed.status_code == 200
    page.get_by_role("button", name="Submit", exact=True).click()

    warning = page.get_by_role("alert").filter(has_text="Someone else changed this ticket")
    warning.wait_for()
    assert "urgent" in warning.inner_text()
    assert "Escalated." in warning.inner_text()
    assert page.locator("#reply-body").input_value() == "The refund is on its way."
    page.get_by_role("button", name="Apply my changes again").click()

    page.get_by_text("Reply sent.").wait_for()
    assert page.locator(".comment-public", has_text="The refund is on its way.").count() == 1


def test_a_draft_survives_a_reload(page, app_url, zendesk, agent_email):
    ticket_id = new_ticket(zendesk, agent_email)
    browser_sign_in(page, app_url, zendesk, agent_email)
    open_ticket(page, app_url, ticket_id)

    def draft_with_text(response) -> bool:
        return f"/tickets/{ticket_id}/draft" in response.url and "tomorrow" in (
            response.request.post_data or ""
        )

    with page.expect_response(draft_with_text) as saved:
        page.keyboard.press("n")
        page.keyboard.type("Call the customer back tomorrow")
    assert saved.value.status == 204
    page.reload()

    assert page.locator("#reply-body").input_value() == "Call the customer back tomorrow"
    assert page.locator("#kind-note").is_checked()


def test_a_draft_the_server_refused_says_why(page, app_url, zendesk, agent_email):
    ticket_id = new_ticket(zendesk, agent_email)
    browser_sign_in(page, app_url, zendesk, agent_email)
    open_ticket(page, app_url, ticket_id)
    # What the page saw of the ticket, lost (as a form tampered with, or far out of date).
    page.evaluate("document.querySelector('#reply-form [name=seen]').value = ''")

    with page.expect_response(lambda response: f"/tickets/{ticket_id}/draft" in response.url) as r:
        page.keyboard.press("n")
        page.keyboard.type("Call back")
    assert r.value.status == 400
    state = page.locator("#draft-state")
    state.filter(has_text="Draft not saved").wait_for()
    assert "the form is missing what you saw of the ticket" in state.inner_text().lower()
    assert page.locator("#reply-body").input_value() == "Call back"


def test_hostile_content_is_shown_as_text_and_runs_nothing(page, app_url, zendesk, agent_email):
    ticket_id = hostile.hostile_ticket(
        zendesk,
        agent_email=agent_email,
        requester_email=f"hostile-{uuid.uuid4().hex[:6]}@example.com",
    )
    dialogs, console = [], []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.on("console", lambda message: console.append(message.text))
    browser_sign_in(page, app_url, zendesk, agent_email)

    open_ticket(page, app_url, ticket_id)

    assert hostile.SCRIPT_TAG in page.get_by_role("heading", level=1).inner_text()
    assert page.locator(".comment", has_text="<script>").count() >= 1
    assert page.evaluate("window.__hostile_ran") is None
    assert page.locator(f"#{hostile.HOSTILE_ID}").count() == 0
    assert page.locator("a[href^='javascript:' i], [onerror], [onload], iframe").count() == 0
    assert dialogs == []
    assert not [line for line in console if hostile.MARKER in line]


def test_no_serious_accessibility_violations_and_the_screenshots(
    page, app_url, zendesk, agent_email
):
    """axe-core in both themes and on a phone; the README's screenshots of the ticket page."""
    admin = zendesk.agent(role="admin")["email"]
    agent = zendesk.agent(email=agent_email)
    ticket_id = new_ticket(
        zendesk, agent_email, type="incident", priority="high", assignee_id=agent["id"]
    )
    requests.put(
        f"{zendesk.base_url}/api/v2/tickets/{ticket_id}",
        headers=zendesk.basic_auth(admin),
        json={
            "ticket": {
                "comment": {"body": "Finance: the 19% rate is right for Germany.", "public": False}
            }
        },
        timeout=30,
    )
    page.set_viewport_size({"width": 1280, "height": 900})
    browser_sign_in(page, app_url, zendesk, agent_email)
    open_ticket(page, app_url, ticket_id)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    found = {}
    page.emulate_media(color_scheme="light")
    found["light"] = serious_violations(page)
    page.evaluate("window.scrollTo(0, 0)")  # axe-core scrolls as it looks
    page.screenshot(path=SCREENSHOTS / "ticket-light.png")
    page.emulate_media(color_scheme="dark")
    found["dark"] = serious_violations(page)
    page.evaluate("window.scrollTo(0, 0)")  # axe-core scrolls as it looks
    page.screenshot(path=SCREENSHOTS / "ticket-dark.png")
    page.set_viewport_size({"width": 360, "height": 740})
    page.emulate_media(color_scheme="light")
    found["phone"] = serious_violations(page)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=SCREENSHOTS / "ticket-phone.png", full_page=True)

    assert found == {"light": [], "dark": [], "phone": []}
    for name in ("ticket-light.png", "ticket-dark.png", "ticket-phone.png"):
        assert (SCREENSHOTS / name).stat().st_size > 10_000


def test_a_field_required_to_solve_is_asked_for_then_the_ticket_is_solved(
    page, app_url, zendesk, agent_email
):
    """The admin made the product area required: solving without it is stopped beside the
    field with the reply kept; choosing one solves the ticket."""
    from django.core.cache import cache

    from sandbox.ticket_fields import PRODUCT_AREA_ID

    required = {"ids": [PRODUCT_AREA_ID]}
    assert zendesk.control("POST", "ticket_fields/required", json=required).status_code == 200
    cache.clear()  # the app's list of fields learns it now, not within the hour
    try:
        ticket_id = new_ticket(zendesk, agent_email, tags=["vat"])  # no product area
        page.set_viewport_size({"width": 1280, "height": 900})
        browser_sign_in(page, app_url, zendesk, agent_email)
        open_ticket(page, app_url, ticket_id)
        assert page.locator("#ticket-fields summary").inner_text().endswith("(1 required to solve)")
        page.get_by_label("Your reply or note").fill("Corrected: the new invoice is on its way.")
        page.get_by_role("button", name="Submit as solved").click()

        error = page.locator(f"#cf_{PRODUCT_AREA_ID}-error")
        error.wait_for()
        assert "Product area is required to solve the ticket" in error.inner_text()
        assert page.locator("#ticket-fields").get_attribute("open") is not None
        assert page.get_by_label("Your reply or note").input_value().startswith("Corrected")
        assert ticket_json(zendesk, ticket_id, agent_email)["status"] != "solved"
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        error.scroll_into_view_if_needed()
        page.screenshot(path=SCREENSHOTS / "ticket-required-field.png")
        assert serious_violations(page) == []

        page.get_by_label("Product area").select_option("billing")
        page.get_by_role("button", name="Submit as solved").click()

        page.get_by_text("Reply sent.").wait_for()
        ticket = ticket_json(zendesk, ticket_id, agent_email)
        assert ticket["status"] == "solved"
        assert "billing" in ticket["tags"]
    finally:
        zendesk.control("POST", "ticket_fields/required", json={"ids": []})
