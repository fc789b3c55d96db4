"""The ticket page over real HTTP to the sandbox: reading, every action, every failure an agent
can meet (409, 422, 429, outage, timeouts before and after the write, files too large), and
bad input answered with a 400/404 page, never a 500."""

from __future__ import annotations

import re
import uuid
from html import unescape

import pytest
import requests
from django.core.cache import cache

from inbox.models import AgentPreference, TicketDraft, ViewedTicket
from inbox.services import ticket_page
from inbox.views_ticket import sanitized_html
from tests import hostile
from tests.inbox.conftest import signed_in_client

pytestmark = pytest.mark.django_db
SEEN = re.compile(r'name="seen" value="([^"]+)"')


# -- helpers ----------------------------------------------------------------------------------
def api(sandbox, method: str, path: str, email: str, **kwargs) -> requests.Response:
    return requests.request(
        method,
        f"{sandbox.base_url}/api/v2/{path}",
        headers=sandbox.basic_auth(email),
        timeout=30,
        **kwargs,
    )


def new_ticket(sandbox, email: str, **fields) -> int:
    """A fresh ticket of the test's own (other tests never see it change)."""
    body = {
        "ticket": {
            "subject": f"Printer on fire {uuid.uuid4().hex[:6]}",
            "comment": {"body": "It smells of toner.", "public": True},
            "priority": "normal",
            **fields,
        }
    }
    created = api(sandbox, "POST", "tickets", email, json=body)
    assert created.status_code == 201, created.text[:300]
    return created.json()["ticket"]["id"]


def show(sandbox, ticket_id: int, email: str) -> dict:
    return api(sandbox, "GET", f"tickets/{ticket_id}", email).json()["ticket"]


def comment_bodies(sandbox, ticket_id: int, email: str) -> list[str]:
    answer = api(sandbox, "GET", f"tickets/{ticket_id}/comments", email, params={"page[size]": 100})
    return [comment["body"] for comment in answer.json()["comments"]]


def open_page(client, ticket_id: int) -> tuple[str, str]:
    """The page's HTML and the signed "what I saw" of its form."""
    response = client.get(f"/tickets/{ticket_id}")
    assert response.status_code == 200
    html = response.content.decode()
    return html, seen_in(html)


def reply(client, ticket_id: int, seen: str, **fields):
    data = {"seen": seen, "kind": "public", "body": "", "assignee": "keep", **fields}
    return client.post(f"/tickets/{ticket_id}/update", data)


def colleague_changes(sandbox, colleague, ticket_id: int, **ticket) -> None:
    """Someone else updates the ticket at Zendesk (the agent's form does not know)."""
    answer = api(sandbox, "PUT", f"tickets/{ticket_id}", colleague.email, json={"ticket": ticket})
    assert answer.status_code == 200, answer.text[:300]


def seen_in(html: str) -> str:
    """The signed "what I saw" of a page's form."""
    return unescape(SEEN.search(html).group(1))


def faults(sandbox, **values) -> None:
    answer = sandbox.control("POST", "faults", json=values)
    assert answer.status_code == 200, answer.text


# -- reading ----------------------------------------------------------------------------------
def test_the_page_shows_the_ticket_its_people_and_conversation(
    agent_client, agent, inbox_sandbox, ticket_id
):
    api(
        inbox_sandbox,
        "PUT",
        f"tickets/{ticket_id}",
        agent.email,
        json={
            "ticket": {"comment": {"body": "Checked the fuser.", "public": False}, "tags": ["fire"]}
        },
    )

    html, _seen = open_page(agent_client, ticket_id)

    ticket = show(inbox_sandbox, ticket_id, agent.email)
    assert ticket["subject"] in html
    assert "It smells of toner." in html
    assert "Checked the fuser." in html
    assert 'class="comment comment-note"' in html  # the note is set apart from replies
    assert 'class="comment comment-public"' in html
    assert '<span class="tag">fire</span>' in html
    assert ViewedTicket.objects.filter(agent=agent, ticket_id=ticket_id).exists()


def test_times_are_in_the_agents_time_zone(agent_client, agent, ticket_id):
    agent.iana_time_zone = "Asia/Tokyo"
    agent.save()

    html, _ = open_page(agent_client, ticket_id)

    assert "Asia/Tokyo</time>" in html


def test_a_ticket_the_agent_may_not_see_is_a_404_with_nothing_of_it(
    inbox_sandbox, agent, restricted_agent
):
    hidden_id = next(
        t["id"]
        for t in api(
            inbox_sandbox, "GET", "tickets", agent.email, params={"page[size]": 100}
        ).json()["tickets"]
        if api(inbox_sandbox, "GET", f"tickets/{t['id']}", restricted_agent.email).status_code
        in (403, 404)
    )
    subject = show(inbox_sandbox, hidden_id, agent.email)["subject"]
    # The unrestricted agent opens it first: the ticket is now in the shared cache.
    assert signed_in_client(agent).get(f"/tickets/{hidden_id}").status_code == 200

    response = signed_in_client(restricted_agent).get(f"/tickets/{hidden_id}")

    assert response.status_code == 404
    assert subject not in response.content.decode()
    assert "There is no ticket" in response.content.decode()


def test_an_unknown_ticket_is_a_404_page(agent_client):
    assert agent_client.get("/tickets/999999999").status_code == 404
    assert agent_client.get("/tickets/0").status_code == 404
    assert agent_client.get(f"/tickets/{2**70}").status_code == 404


def test_a_closed_ticket_has_no_form_and_says_why(agent_client, agent, inbox_sandbox, ticket_id):
    api(
        inbox_sandbox,
        "PUT",
        f"tickets/{ticket_id}",
        agent.email,
        json={"ticket": {"status": "closed"}},
    )

    html = agent_client.get(f"/tickets/{ticket_id}").content.decode()

    assert 'id="reply-form"' not in html
    assert "This ticket is closed" in html


def test_html_bodies_pass_through_the_sanitizer_only():
    cleaned = str(sanitized_html(hostile.HTML_BODY))

    assert "<strong>please</strong>" in cleaned
    for dangerous in (
        "<script",
        "onerror",
        "onload",
        "onclick",
        "javascript:",
        "<iframe",
        "<form",
        "style=",
    ):
        assert dangerous not in cleaned.lower()


def test_hostile_content_is_shown_as_text(agent_client, agent, inbox_sandbox):
    requester = f"hostile-{uuid.uuid4().hex[:6]}@example.com"
    ticket_id = hostile.hostile_ticket(
        inbox_sandbox, agent_email=agent.email, requester_email=requester
    )

    html = agent_client.get(f"/tickets/{ticket_id}").content.decode()

    assert "<script>console.log" not in html
    assert f'<div id="{hostile.HOSTILE_ID}"' not in html
    assert '<img src="x"' not in html
    assert "<svg onload" not in html
    assert "<iframe" not in html
    assert "&lt;script&gt;" in html  # shown, as text


def test_the_conversation_order_is_remembered_per_agent(
    agent_client, agent, inbox_sandbox, ticket_id
):
    api(
        inbox_sandbox,
        "PUT",
        f"tickets/{ticket_id}",
        agent.email,
        json={"ticket": {"comment": {"body": "Second word.", "public": True}}},
    )

    response = agent_client.post(f"/tickets/{ticket_id}/order", {"order": "newest"})
    html, _ = open_page(agent_client, ticket_id)

    assert response.status_code == 302
    assert AgentPreference.objects.get(agent=agent).conversation_order == "newest"
    assert html.index("Second word.") < html.index("It smells of toner.")
    assert (
        agent_client.post(f"/tickets/{ticket_id}/order", {"order": "sideways"}).status_code == 400
    )


def test_a_long_conversation_pages_in_by_cursor_never_cut(
    agent_client, agent, inbox_sandbox, ticket_id, monkeypatch
):
    monkeypatch.setattr("inbox.services.tickets.COMMENT_PAGE_SIZE", 2)
    for number in range(4):
        api(
            inbox_sandbox,
            "PUT",
            f"tickets/{ticket_id}",
            agent.email,
            json={"ticket": {"comment": {"body": f"Update {number}.", "public": True}}},
        )

    html, _ = open_page(agent_client, ticket_id)
    assert "Update 3." in html
    assert "Update 0." not in html
    earlier = unescape(re.search(r'hx-get="([^"]+/comments\?before=[^"]+)"', html).group(1))
    more = agent_client.get(earlier, HTTP_HX_REQUEST="true").content.decode()
    assert "Update 1." in more
    assert "Update 0." in more
    last = unescape(re.search(r'hx-get="([^"]+/comments\?before=[^"]+)"', more).group(1))
    rest = agent_client.get(last, HTTP_HX_REQUEST="true").content.decode()
    assert "It smells of toner." in rest
    assert "Show earlier" not in rest
    assert agent_client.get(f"/tickets/{ticket_id}/comments?before=%3Cscript%3E").status_code == 400


# -- acting -----------------------------------------------------------------------------------
def test_a_public_reply_with_field_changes_goes_in_one_update(
    agent_client, agent, inbox_sandbox, ticket_id
):
    _, seen = open_page(agent_client, ticket_id)
    inbox_sandbox.control("POST", "stats/reset")

    response = reply(
        agent_client,
        ticket_id,
        seen,
        body="On our way.",
        submit_as="pending",
        priority="high",
        tags="printer urgent-fix",
    )

    assert response.status_code == 303
    ticket = show(inbox_sandbox, ticket_id, agent.email)
    assert (ticket["status"], ticket["priority"]) == ("pending", "high")
    assert set(ticket["tags"]) == {"printer", "urgent-fix"}
    assert "On our way." in comment_bodies(inbox_sandbox, ticket_id, agent.email)
    assert (
        inbox_sandbox.control("GET", "stats").json()["by_endpoint"]["PUT /api/v2/tickets/{id}"] == 1
    )
    assert not TicketDraft.objects.filter(agent=agent, ticket_id=ticket_id).exists()
    assert "Reply sent." in agent_client.get(f"/tickets/{ticket_id}").content.decode()


def test_an_internal_note_is_not_public(agent_client, agent, inbox_sandbox, ticket_id):
    _, seen = open_page(agent_client, ticket_id)

    reply(agent_client, ticket_id, seen, kind="note", body="Customer is a VIP.")

    comments = api(inbox_sandbox, "GET", f"tickets/{ticket_id}/comments", agent.email).json()[
        "comments"
    ]
    note = next(c for c in comments if c["body"] == "Customer is a VIP.")
    assert note["public"] is False


def test_assigning_to_an_agent_of_a_group_and_unassigning(
    agent_client, agent, inbox_sandbox, ticket_id
):
    html, seen = open_page(agent_client, ticket_id)
    choice = re.search(r'<option value="agent:(\d+):(\d+)"', html)
    group_id, user_id = int(choice.group(1)), int(choice.group(2))

    reply(agent_client, ticket_id, seen, assignee=f"agent:{group_id}:{user_id}")
    ticket = show(inbox_sandbox, ticket_id, agent.email)
    assert (ticket["group_id"], ticket["assignee_id"]) == (group_id, user_id)

    _, seen = open_page(agent_client, ticket_id)
    reply(agent_client, ticket_id, seen, assignee="none")
    assert show(inbox_sandbox, ticket_id, agent.email)["assignee_id"] is None


def test_files_are_uploaded_and_attached_to_the_reply(
    agent_client, agent, inbox_sandbox, ticket_id
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    _, seen = open_page(agent_client, ticket_id)
    file = SimpleUploadedFile("log.txt", b"line one\n" * 100, content_type="text/plain")

    response = reply(agent_client, ticket_id, seen, body="Logs attached.", files=file)

    assert response.status_code == 303
    html = agent_client.get(f"/tickets/{ticket_id}").content.decode()
    link = re.search(r'<a href="([^"]+)" rel="noopener noreferrer" download>log.txt</a>', html)
    assert link, "the attachment is listed with a link"
    assert requests.get(unescape(link.group(1)), timeout=30).content == b"line one\n" * 100
    assert "(900 bytes)" in html


# -- failures ---------------------------------------------------------------------------------
def test_a_collision_shows_what_changed_keeps_the_draft_and_reapplies(
    agent_client, agent, admin, inbox_sandbox, ticket_id
):
    _, seen = open_page(agent_client, ticket_id)
    colleague_changes(
        inbox_sandbox,
        admin,
        ticket_id,
        priority="urgent",
        comment={"body": "I called them.", "public": True},
    )

    response = reply(agent_client, ticket_id, seen, body="My answer.", priority="low")

    html = response.content.decode()
    assert response.status_code == 409
    assert "Someone else changed this ticket" in html
    assert '<th scope="row">Priority</th><td>normal</td><td>urgent</td>' in html
    assert "I called them." in html
    assert "My answer.</textarea>" in html
    assert TicketDraft.objects.get(agent=agent, ticket_id=ticket_id).body == "My answer."
    assert "My answer." not in comment_bodies(inbox_sandbox, ticket_id, agent.email)

    again = reply(agent_client, ticket_id, seen_in(html), body="My answer.", priority="low")
    assert again.status_code == 303
    assert show(inbox_sandbox, ticket_id, agent.email)["priority"] == "low"
    assert "My answer." in comment_bodies(inbox_sandbox, ticket_id, agent.email)


def test_after_a_collision_fields_the_agent_left_alone_show_the_colleagues_values(
    agent_client, agent, admin, inbox_sandbox, ticket_id
):
    _, seen = open_page(agent_client, ticket_id)
    colleague_changes(inbox_sandbox, admin, ticket_id, priority="urgent", tags=["vip"])

    # As the browser sends it: the priority and tags the agent saw, untouched.
    response = reply(agent_client, ticket_id, seen, body="Hello.", priority="normal", tags="")

    html = response.content.decode()
    assert response.status_code == 409
    assert '<option value="urgent" selected>' in html
    assert 'name="tags" type="text" value="vip"' in html
    again = reply(
        agent_client, ticket_id, seen_in(html), body="Hello.", priority="urgent", tags="vip"
    )
    assert again.status_code == 303
    ticket = show(inbox_sandbox, ticket_id, agent.email)
    assert (ticket["priority"], ticket["tags"]) == ("urgent", ["vip"])


def test_a_422_puts_zendesks_details_next_to_the_field(
    agent_client, agent, inbox_sandbox, ticket_id
):
    _, seen = open_page(agent_client, ticket_id)
    api(
        inbox_sandbox,
        "PUT",
        f"tickets/{ticket_id}",
        agent.email,
        json={"ticket": {"status": "closed"}},
    )
    cache.clear()
    fresh = ticket_page.seen_load(agent=agent, ticket_id=ticket_id, token=seen)
    now = show(inbox_sandbox, ticket_id, agent.email)["updated_at"]
    token = ticket_page.seen_sign(
        agent=agent, seen=ticket_page.SeenTicket(**{**fresh.__dict__, "updated_stamp": now})
    )

    response = reply(agent_client, ticket_id, token, body="Too late?")

    assert response.status_code == 422
    assert "Zendesk refused" in response.content.decode()
    assert TicketDraft.objects.get(agent=agent, ticket_id=ticket_id).body == "Too late?"


def test_an_end_user_as_assignee_is_refused_next_to_the_assignee_and_the_reply_is_kept(
    agent_client, agent, inbox_sandbox, ticket_id
):
    html, seen = open_page(agent_client, ticket_id)
    group_id = int(re.search(r'<option value="agent:(\d+):(\d+)"', html).group(1))
    customer = inbox_sandbox.info["end_users"][0]

    response = reply(
        agent_client,
        ticket_id,
        seen,
        body="Handing this over.",
        assignee=f"agent:{group_id}:{customer['id']}",
    )

    assert response.status_code == 422
    page = unescape(response.content.decode())
    assert 'id="assignee-error">Zendesk refused this: Assignee: is invalid</p>' in page
    assert 'aria-invalid="true" aria-describedby="assignee-error"' in page
    assert "Handing this over." in page
    assert show(inbox_sandbox, ticket_id, agent.email)["assignee_id"] != customer["id"]
    assert "Handing this over." not in comment_bodies(inbox_sandbox, ticket_id, agent.email)


def test_a_rate_limit_says_not_sent_and_keeps_the_text(
    agent_client, agent, inbox_sandbox, ticket_id, no_faults
):
    _, seen = open_page(agent_client, ticket_id)
    faults(inbox_sandbox, rate_limit_per_minute=1, path_prefix=f"/api/v2/tickets/{ticket_id}")
    api(inbox_sandbox, "GET", f"tickets/{ticket_id}", agent.email)  # the minute's one call

    response = reply(agent_client, ticket_id, seen, body="Are you there?")

    html = response.content.decode()
    assert response.status_code == 429
    assert "Not sent" in html
    assert "Your text is kept" in html
    assert "Are you there?</textarea>" in html
    assert TicketDraft.objects.get(agent=agent, ticket_id=ticket_id).body == "Are you there?"


def test_an_outage_says_not_sent_and_keeps_the_text(
    agent_client, agent, inbox_sandbox, ticket_id, no_faults
):
    _, seen = open_page(agent_client, ticket_id)
    faults(inbox_sandbox, outage=True, path_prefix=f"/api/v2/tickets/{ticket_id}")

    response = reply(agent_client, ticket_id, seen, body="Hello?")

    assert response.status_code == 503
    assert "Not sent" in response.content.decode()
    assert TicketDraft.objects.get(agent=agent, ticket_id=ticket_id).body == "Hello?"
    faults(inbox_sandbox)
    assert "Hello?" not in comment_bodies(inbox_sandbox, ticket_id, agent.email)


def recover_before_reread(monkeypatch, sandbox) -> None:
    """Zendesk answers again by the time the page re-reads the ticket (the fault set is
    replaced, which also ends a held answer at once)."""
    from inbox import services

    original = services.ticket_reread

    def reread(**kwargs):
        sandbox.control("POST", "faults", json={})
        return original(**kwargs)

    monkeypatch.setattr(services, "ticket_reread", reread)


def test_a_timeout_after_the_write_finds_the_reply_on_the_ticket(
    agent_client, agent, inbox_sandbox, ticket_id, no_faults, monkeypatch
):
    _, seen = open_page(agent_client, ticket_id)
    faults(
        inbox_sandbox,
        hang_after_write_rate=1,
        hang_seconds=60,
        path_prefix=f"/api/v2/tickets/{ticket_id}",
    )
    recover_before_reread(monkeypatch, inbox_sandbox)

    response = reply(agent_client, ticket_id, seen, body="Did this arrive?")

    assert response.status_code == 303
    assert (
        "Zendesk was slow to confirm, but Reply sent."
        in agent_client.get(f"/tickets/{ticket_id}").content.decode()
    )
    assert comment_bodies(inbox_sandbox, ticket_id, agent.email).count("Did this arrive?") == 1
    assert not TicketDraft.objects.filter(agent=agent, ticket_id=ticket_id).exists()


def test_an_unreadable_answer_after_the_write_is_checked_like_a_timeout(
    agent_client, agent, inbox_sandbox, ticket_id, no_faults
):
    _, seen = open_page(agent_client, ticket_id)
    faults(inbox_sandbox, garbage_after_write_rate=1, path_prefix=f"/api/v2/tickets/{ticket_id}")

    response = reply(agent_client, ticket_id, seen, body="Garbled?")

    assert response.status_code == 303
    assert comment_bodies(inbox_sandbox, ticket_id, agent.email).count("Garbled?") == 1


def test_a_timeout_before_the_write_offers_to_send_again(
    agent_client, agent, inbox_sandbox, ticket_id, no_faults, monkeypatch
):
    _, seen = open_page(agent_client, ticket_id)
    faults(inbox_sandbox, hang_rate=1, hang_seconds=60, path_prefix=f"/api/v2/tickets/{ticket_id}")
    recover_before_reread(monkeypatch, inbox_sandbox)

    response = reply(agent_client, ticket_id, seen, body="Lost on the way?")

    html = response.content.decode()
    assert response.status_code == 504
    assert "is not on it" in html
    assert "Send again" in html
    assert "Lost on the way?</textarea>" in html
    assert "Lost on the way?" not in comment_bodies(inbox_sandbox, ticket_id, agent.email)
    again = reply(agent_client, ticket_id, seen_in(html), body="Lost on the way?")
    assert again.status_code == 303
    assert comment_bodies(inbox_sandbox, ticket_id, agent.email).count("Lost on the way?") == 1


def test_a_file_too_large_for_zendesk_keeps_the_text(
    agent_client, agent, inbox_sandbox, ticket_id, no_faults
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    inbox_sandbox.control("POST", "uploads", json={"max_bytes": 100})
    _, seen = open_page(agent_client, ticket_id)

    response = reply(
        agent_client,
        ticket_id,
        seen,
        body="See the dump.",
        files=SimpleUploadedFile("dump.bin", b"x" * 500),
    )

    assert response.status_code == 413
    html = response.content.decode()
    assert "larger than Zendesk accepts" in html
    assert "See the dump.</textarea>" in html
    assert "See the dump." not in comment_bodies(inbox_sandbox, ticket_id, agent.email)


def test_a_file_over_the_apps_limit_is_refused_before_upload(
    agent_client, agent, inbox_sandbox, ticket_id, settings
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.TICKET_MAX_FILE_BYTES = 100
    _, seen = open_page(agent_client, ticket_id)
    inbox_sandbox.control("POST", "stats/reset")

    response = reply(
        agent_client,
        ticket_id,
        seen,
        body="Big one.",
        files=SimpleUploadedFile("big.bin", b"x" * 500),
    )

    assert response.status_code == 413
    assert "files can be at most 100 bytes" in response.content.decode()
    assert "POST /api/v2/uploads" not in inbox_sandbox.control("GET", "stats").json()["by_endpoint"]


# -- drafts -----------------------------------------------------------------------------------
def test_a_draft_is_kept_on_the_server_for_another_device(agent, ticket_id):
    first, second = signed_in_client(agent), signed_in_client(agent)
    _, seen = open_page(first, ticket_id)

    saved = first.post(
        f"/tickets/{ticket_id}/draft", {"seen": seen, "kind": "note", "body": "Half a thought"}
    )
    html, _ = open_page(second, ticket_id)

    assert saved.status_code == 204
    assert "Half a thought</textarea>" in html
    assert 'id="kind-note" name="kind" value="note" checked' in html


def test_an_old_draft_expires(agent, ticket_id, settings):
    import datetime as dt

    from django.utils import timezone

    TicketDraft.objects.create(
        agent=agent,
        ticket_id=ticket_id,
        body="Ancient",
        updated_at=timezone.now() - dt.timedelta(days=15),
    )
    settings.DRAFT_MAX_AGE_DAYS = 14

    html, _ = open_page(signed_in_client(agent), ticket_id)

    assert "Ancient" not in html
    assert not TicketDraft.objects.filter(agent=agent).exists()


# -- bad input --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"seen": ""}, "missing what you saw"),
        ({"seen": "forged:token"}, "not made by Agent Inbox"),
        ({"kind": "shout"}, "A comment is one of"),
        ({"status": "deleted"}, "A status is one of"),
        ({"priority": ["high", "low"]}, "more than once"),
        ({"assignee": "agent:x:y"}, "not one the picker offers"),
        ({"body": "x" * 70_000}, "Zendesk takes at most 65,536 in one comment"),
        ({"body": "x" * 300_000}, "longer than"),
        ({"cc_remove": "12345"}, "not one of the ticket's CCs"),
    ],
)
def test_bad_input_is_a_400_that_says_what_was_wrong(agent_client, ticket_id, fields, says):
    _, seen = open_page(agent_client, ticket_id)
    data = {"seen": seen, "kind": "public", "body": "Hi", **fields}

    response = agent_client.post(f"/tickets/{ticket_id}/update", data)

    assert response.status_code == 400
    assert says in unescape(response.content.decode())


def test_another_tickets_or_agents_seen_is_refused(agent, admin, inbox_sandbox, ticket_id):
    other_id = new_ticket(inbox_sandbox, agent.email)
    _, seen = open_page(signed_in_client(agent), ticket_id)

    wrong_ticket = signed_in_client(agent).post(
        f"/tickets/{other_id}/update", {"seen": seen, "kind": "public", "body": "x"}
    )
    wrong_agent = signed_in_client(admin).post(
        f"/tickets/{ticket_id}/update", {"seen": seen, "kind": "public", "body": "x"}
    )
    forged_draft = signed_in_client(agent).post(
        f"/tickets/{ticket_id}/draft", {"seen": seen + "x", "body": "x"}
    )

    assert wrong_ticket.status_code == 400
    assert wrong_agent.status_code == 400
    assert forged_draft.status_code == 400
    assert not TicketDraft.objects.exists()


def test_bad_tags_and_ccs_are_explained_next_to_the_field(agent_client, ticket_id):
    _, seen = open_page(agent_client, ticket_id)

    response = reply(
        agent_client, ticket_id, seen, body="Hi", tags="ok <bad>", cc_add="not-an-email"
    )

    html = unescape(response.content.decode())
    assert response.status_code == 400
    assert 'id="tags-error"' in html
    assert "“<bad>” is not a tag" in html
    assert "Hi</textarea>" in html


def test_nothing_to_send_is_said(agent_client, ticket_id):
    _, seen = open_page(agent_client, ticket_id)

    response = reply(agent_client, ticket_id, seen)

    assert response.status_code == 400
    assert "Write a reply or a note, or change a field" in response.content.decode()


def test_posting_to_an_unknown_ticket_is_a_404(agent_client):
    assert agent_client.post("/tickets/0/update", {}).status_code == 404
    assert agent_client.get("/tickets/abc").status_code == 404
