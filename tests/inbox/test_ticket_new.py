"""Creating a ticket from the app, against the sandbox over HTTP: once, whatever happens.

Each test counts the tickets Zendesk (the sandbox) holds with the test's own subject, through
Zendesk's API as an admin: the app's answer alone cannot prove that no second ticket exists.
"""

from __future__ import annotations

import re
import uuid
from html import unescape

import pytest
import requests
from django.core import signing
from django.core.cache import cache
from django.test import Client

from inbox.models import TicketCreateDraft
from inbox.services import ticket_new
from tests.inbox.conftest import api_calls, signed_in_client

pytestmark = pytest.mark.django_db

TOKEN = re.compile(r'name="form_token" value="([^"]+)"')
CREATE = "POST /api/v2/tickets"


@pytest.fixture
def zendesk_now(inbox_sandbox, settings):
    """The sandbox as Zendesk, quick retries, faults cleared again after the test."""
    settings.ZENDESK_RETRY_BACKOFF = 0.01
    yield inbox_sandbox
    inbox_sandbox.control("POST", "faults", json={}).raise_for_status()


def form_token(client: Client) -> str:
    page = client.get("/tickets/new")
    assert page.status_code == 200
    return unescape(TOKEN.search(page.content.decode()).group(1))


def token_in(response) -> str:
    return unescape(TOKEN.search(response.content.decode()).group(1))


def tickets_with_subject(sandbox, subject: str) -> list[dict]:
    """The newest tickets (by id) that carry this subject, as Zendesk lists them."""
    admin = sandbox.agent(role="admin")["email"]
    response = sandbox.get(
        "/api/v2/tickets",
        as_email=admin,
        params={"sort": "-id", "page[size]": 100},
    )
    assert response.status_code == 200, response.text[:300]
    return [ticket for ticket in response.json()["tickets"] if ticket["subject"] == subject]


def a_customer(sandbox) -> dict:
    return sandbox.info["end_users"][0]


def ticket_form(sandbox, token: str, **changes: str) -> dict[str, str]:
    form = {
        "form_token": token,
        "requester_id": str(a_customer(sandbox)["id"]),
        "subject": f"Phone call {uuid.uuid4().hex[:10]}",
        "description": "The customer's printer prints blank pages since this morning.",
        "priority": "high",
        "type": "incident",
        "tags": "printer, phone",
    }
    form.update(changes)
    return form


def landed_on(response) -> int:
    assert response.status_code == 303, response.content.decode()[:800]
    match = re.fullmatch(r"/tickets/(\d+)", response["Location"])
    assert match, response["Location"]
    return int(match.group(1))


def faults(sandbox, **values) -> None:
    sandbox.control("POST", "faults", json=values).raise_for_status()


# -- the happy path ---------------------------------------------------------------------------
def test_an_agent_creates_a_ticket_and_lands_on_it(zendesk_now, agent, agent_client):
    sandbox = zendesk_now
    form = ticket_form(sandbox, form_token(agent_client))

    ticket_id = landed_on(agent_client.post("/tickets/new", form))

    (made,) = tickets_with_subject(sandbox, form["subject"])
    assert made["id"] == ticket_id
    assert made["requester_id"] == a_customer(sandbox)["id"]
    assert made["submitter_id"] == agent.zendesk_user_id
    assert (made["priority"], made["type"]) == ("high", "incident")
    assert set(made["tags"]) == {"printer", "phone"}
    assert made["description"] == form["description"]
    # The draft is cleared: the next form is empty, under a new key.
    page = agent_client.get("/tickets/new").content.decode()
    assert form["subject"] not in page
    assert token_in_page(page) != form["form_token"]


def token_in_page(page: str) -> str:
    return unescape(TOKEN.search(page).group(1))


def test_the_page_is_for_signed_in_agents_only(zendesk_now):
    response = Client().get("/tickets/new")
    assert response.status_code == 302
    assert response["Location"].startswith("/auth/signin")


def test_the_shell_offers_a_new_ticket(zendesk_now, agent_client):
    page = agent_client.get("/").content.decode()
    assert 'href="/tickets/new"' in page


def test_a_ticket_goes_to_the_group_and_agent_chosen(zendesk_now, agent, agent_client):
    sandbox = zendesk_now
    person = sandbox.agent(id=agent.zendesk_user_id)
    group_id = person["group_ids"][0]
    choices = agent_client.get(
        "/tickets/new/assignees", {"group_id": group_id}, headers={"HX-Request": "true"}
    )
    assert choices.status_code == 200
    assert f'<option value="{agent.zendesk_user_id}"' in choices.content.decode()
    form = ticket_form(
        sandbox,
        form_token(agent_client),
        group_id=str(group_id),
        assignee_id=str(agent.zendesk_user_id),
    )

    landed_on(agent_client.post("/tickets/new", form))

    (made,) = tickets_with_subject(sandbox, form["subject"])
    assert (made["group_id"], made["assignee_id"]) == (group_id, agent.zendesk_user_id)


def test_a_requester_who_does_not_exist_yet_is_created_with_the_ticket(zendesk_now, agent_client):
    sandbox = zendesk_now
    email = f"caller-{uuid.uuid4().hex[:8]}@example.org"
    form = ticket_form(
        sandbox,
        form_token(agent_client),
        requester_id="new",
        requester_name="Ada Caller",
        requester_email=email,
    )

    landed_on(agent_client.post("/tickets/new", form))

    (made,) = tickets_with_subject(sandbox, form["subject"])
    admin = sandbox.agent(role="admin")["email"]
    requester = sandbox.get(f"/api/v2/users/{made['requester_id']}", as_email=admin).json()
    assert (requester["user"]["name"], requester["user"]["email"]) == ("Ada Caller", email)
    assert requester["user"]["role"] == "end-user"


def test_the_requester_is_found_by_name_or_email_as_the_agent_types(zendesk_now, agent_client):
    customer = a_customer(zendesk_now)
    for typed in (customer["name"][:3], customer["email"].split("@")[0] + "@"):
        found = agent_client.get(
            "/tickets/new/requesters",
            {"requester_query": typed},
            headers={"HX-Request": "true"},
        )
        assert found.status_code == 200
        assert f'value="{customer["id"]}"' in found.content.decode(), typed


def test_the_draft_is_kept_on_the_server_as_the_agent_types(zendesk_now, agent, agent_client):
    token = form_token(agent_client)
    saved = agent_client.post(
        "/tickets/new/draft",
        {"form_token": token, "subject": "Half-typed subject", "description": "Half a thought"},
        headers={"HX-Request": "true"},
    )
    assert saved.status_code == 200
    assert "Draft saved" in saved.content.decode()

    # Another browser of the same agent (a new session) finds the draft on the server.
    page = signed_in_client(agent).get("/tickets/new").content.decode()
    assert 'value="Half-typed subject"' in page
    assert "Half a thought</textarea>" in page
    assert token_in_page(page) == token  # the same form, the same key


# -- exactly once -----------------------------------------------------------------------------
def test_the_same_form_sent_twice_answers_the_first_ticket(zendesk_now, agent_client):
    sandbox = zendesk_now
    form = ticket_form(sandbox, form_token(agent_client))
    first = landed_on(agent_client.post("/tickets/new", form))
    sandbox.control("POST", "stats/reset")

    again = agent_client.post("/tickets/new", form, follow=False)

    assert landed_on(again) == first
    assert api_calls(sandbox, CREATE) == 1  # Zendesk was asked, and answered the first (hit)
    assert len(tickets_with_subject(sandbox, form["subject"])) == 1
    shown = agent_client.get(again["Location"])  # the message rides on the session
    assert b"had already created ticket" in shown.content or shown.status_code == 404


def test_the_same_form_with_other_text_is_refused(zendesk_now, agent_client):
    sandbox = zendesk_now
    form = ticket_form(sandbox, form_token(agent_client))
    landed_on(agent_client.post("/tickets/new", form))
    other = {**form, "subject": form["subject"] + " (edited)"}

    refused = agent_client.post("/tickets/new", other)

    assert refused.status_code == 409
    page = refused.content.decode()
    assert "already been sent with other text" in page
    assert f'value="{other["subject"]}"' in page  # nothing typed is lost
    assert token_in(refused) != form["form_token"]  # a new form for the new text
    assert len(tickets_with_subject(sandbox, form["subject"])) == 1
    assert tickets_with_subject(sandbox, other["subject"]) == []


@pytest.mark.parametrize(
    "fault",
    [
        {"garbage_after_write_rate": 1},
        {"hang_after_write_rate": 1, "hang_seconds": 0.2},
    ],
    ids=["unreadable answer", "answer held until a 504"],
)
def test_a_lost_answer_after_zendesk_created_the_ticket_lands_on_it(
    zendesk_now, agent_client, fault
):
    sandbox = zendesk_now
    form = ticket_form(sandbox, form_token(agent_client))
    faults(sandbox, path_prefix="/api/v2/tickets", **fault)

    lost = agent_client.post("/tickets/new", form)

    assert lost.status_code == 202
    page = lost.content.decode()
    assert "has not confirmed the ticket" in page
    assert "Send again" in page
    assert "disabled" in page  # locked on the text sent until Zendesk confirms
    assert f'value="{form["subject"]}"' in page
    (made,) = tickets_with_subject(sandbox, form["subject"])

    faults(sandbox)
    # Locked: what the browser sends now is ignored; the stored body goes again, same key.
    again = agent_client.post(
        "/tickets/new", {"form_token": token_in(lost), "subject": "edited meanwhile"}
    )

    assert landed_on(again) == made["id"]
    assert len(tickets_with_subject(sandbox, form["subject"])) == 1
    assert tickets_with_subject(sandbox, "edited meanwhile") == []


def test_a_locked_form_stays_locked_until_zendesk_answers(zendesk_now, agent_client):
    sandbox = zendesk_now
    form = ticket_form(sandbox, form_token(agent_client))
    faults(sandbox, path_prefix="/api/v2/tickets", garbage_after_write_rate=1)
    agent_client.post("/tickets/new", form)
    faults(sandbox, outage=True)

    still = agent_client.post("/tickets/new", {"form_token": form["form_token"]})

    assert still.status_code == 202
    reopened = agent_client.get("/tickets/new").content.decode()
    assert "Send again" in reopened
    assert f'value="{form["subject"]}"' in reopened
    kept = agent_client.post(
        "/tickets/new/draft",
        {"form_token": form["form_token"], "subject": "changed"},
        headers={"HX-Request": "true"},
    )
    assert kept.status_code == 200
    assert TicketCreateDraft.objects.get().fields["subject"] == form["subject"]


# -- failures ---------------------------------------------------------------------------------
def test_zendesk_refusing_a_field_shows_why_next_to_it(zendesk_now, agent_client):
    sandbox = zendesk_now
    form = ticket_form(sandbox, form_token(agent_client), subject="S" * 400)

    refused = agent_client.post("/tickets/new", form)

    assert refused.status_code == 422
    page = unescape(refused.content.decode())
    assert re.search(r'id="subject-error">Subject: is too long \(maximum is 300', page)
    assert 'aria-invalid="true" aria-describedby="subject-error"' in page
    assert form["description"] in page
    corrected_token = token_in(refused)
    assert corrected_token != form["form_token"]  # a corrected form is a new attempt

    corrected = {**form, "form_token": corrected_token, "subject": "Printer prints blank"}
    ticket_id = landed_on(agent_client.post("/tickets/new", corrected))
    assert [t["id"] for t in tickets_with_subject(sandbox, "Printer prints blank")] == [ticket_id]


@pytest.mark.parametrize(
    ("fault", "status", "reason"),
    [
        ({"outage": True}, 503, "Zendesk is not answering"),
        ({"rate_limit_per_minute": 1}, 429, "Zendesk is busy for your team"),
    ],
    ids=["outage", "rate limited"],
)
def test_nothing_is_created_and_nothing_typed_is_lost_when_zendesk_fails(
    zendesk_now, agent_client, fault, status, reason
):
    sandbox = zendesk_now
    form = ticket_form(sandbox, form_token(agent_client))
    faults(sandbox, **fault)
    if "rate_limit_per_minute" in fault:  # spend the one call of the window
        requests.get(f"{sandbox.base_url}/api/v2/users/me", timeout=10)

    failed = agent_client.post("/tickets/new", form)

    assert failed.status_code == status
    page = unescape(failed.content.decode())
    assert "The ticket was not created" in page
    assert reason in page
    assert "Your text is kept" in page
    assert f'value="{form["subject"]}"' in page
    assert form["description"] in page
    faults(sandbox)
    cache.clear()  # the team's budget would otherwise wait out Zendesk's Retry-After
    assert tickets_with_subject(sandbox, form["subject"]) == []
    retried = {**form, "form_token": token_in(failed)}
    landed_on(agent_client.post("/tickets/new", retried))
    assert len(tickets_with_subject(sandbox, form["subject"])) == 1


# -- refused input ----------------------------------------------------------------------------
def test_a_forged_key_is_refused_and_nothing_is_sent(zendesk_now, agent_client):
    sandbox = zendesk_now
    token = form_token(agent_client)
    forged = signing.Signer(salt="another purpose").sign_object(
        {"agent": 1, "form": "x", "attempt": 1}
    )
    sandbox.control("POST", "stats/reset")

    for bad in (forged, token[:-2] + "xx", "not-a-token"):
        refused = agent_client.post("/tickets/new", ticket_form(sandbox, bad))
        assert refused.status_code == 400
        assert "not made by Agent Inbox for you" in refused.content.decode()
    assert api_calls(sandbox, CREATE) == 0


def test_another_agents_form_is_refused(zendesk_now, agent, admin, agent_client):
    sandbox = zendesk_now
    theirs = ticket_new.ticket_form_open(agent=admin).token
    sandbox.control("POST", "stats/reset")

    refused = agent_client.post("/tickets/new", ticket_form(sandbox, theirs))

    assert refused.status_code == 400
    assert "belongs to someone else" in refused.content.decode()
    assert api_calls(sandbox, CREATE) == 0
    assert signed_in_client(admin).get("/tickets/new").status_code == 200


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"priority": "extreme"}, "Choose a priority from the list."),
        ({"type": "<script>"}, "Choose a type from the list."),
        ({"group_id": "abc"}, "Choose a group from the list."),
        ({"assignee_id": "99999999999999999999999"}, "Choose an assignee from the list."),
        ({"requester_id": "-1"}, "Choose the requester from the people found"),
        ({"requester_id": "new", "requester_email": "not an email"}, "Enter the new person"),
        ({"requester_id": ""}, "Who is this ticket for?"),
        ({"subject": "   "}, "Enter a subject"),
        ({"description": ""}, "Enter a description"),
        ({"subject": "x" * 1001}, "The subject is too long: at most 1,000 characters"),
        ({"description": "y" * 70_000}, "The description is too long: at most 65,535 characters"),
        ({"description": "nul \x00 byte"}, "The description contains control characters"),
        ({"tags": " ".join(f"t{n}" for n in range(101))}, "At most 100 tags"),
    ],
    ids=lambda value: str(value)[:30],
)
def test_bad_input_is_a_400_that_says_what_and_keeps_the_text(
    zendesk_now, agent_client, changes, says
):
    sandbox = zendesk_now
    form = ticket_form(sandbox, form_token(agent_client), **changes)
    sandbox.control("POST", "stats/reset")

    refused = agent_client.post("/tickets/new", form)

    assert refused.status_code == 400
    page = unescape(refused.content.decode())
    assert says in page
    if "\x00" not in form["description"] and len(form["description"]) < 1000:
        assert form["description"] in page
    assert api_calls(sandbox, CREATE) == 0


def test_a_form_too_large_to_read_is_a_400_page(zendesk_now, agent_client):
    form = ticket_form(zendesk_now, form_token(agent_client), description="z" * 3_000_000)
    refused = agent_client.post("/tickets/new", form)
    assert refused.status_code == 400
    assert "larger than Agent Inbox accepts" in refused.content.decode()


def test_a_form_without_its_key_is_a_400(zendesk_now, agent_client):
    form = ticket_form(zendesk_now, "")
    refused = agent_client.post("/tickets/new", form)
    assert refused.status_code == 400
    assert "This form has no key" in refused.content.decode()


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/tickets/new/requesters", {"requester_query": "a\x00b"}),
        ("/tickets/new/requesters", {"requester_query": "q" * 201}),
        ("/tickets/new/assignees", {"group_id": "1; drop"}),
    ],
    ids=["control character", "too long", "not an id"],
)
def test_bad_picker_input_is_a_400(zendesk_now, agent_client, path, query):
    response = agent_client.get(path, query, headers={"HX-Request": "true"})
    assert response.status_code == 400
    assert b"field-error" in response.content


def test_a_locked_form_that_zendesk_then_refuses_opens_again_with_the_text_sent(
    zendesk_now, agent_client
):
    """The answer was lost before Zendesk looked at the ticket (a 504 from the edge): the form
    locks; the send again is refused for a field, so nothing was made: the form opens again,
    with the text sent, the reason next to the field and a new key."""
    sandbox = zendesk_now
    form = ticket_form(sandbox, form_token(agent_client), subject="L" * 400)
    faults(sandbox, path_prefix="/api/v2/tickets", hang_rate=1, hang_seconds=0.2)
    locked = agent_client.post("/tickets/new", form)
    assert locked.status_code == 202
    faults(sandbox)

    refused = agent_client.post("/tickets/new", {"form_token": token_in(locked)})

    assert refused.status_code == 422
    page = unescape(refused.content.decode())
    assert "Subject: is too long" in page
    assert f'value="{form["subject"]}"' in page
    assert form["description"] in page
    assert "Send again" not in page
    assert token_in(refused) != form["form_token"]
