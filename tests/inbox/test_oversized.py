"""Oversized bodies and fields are refused before anything reaches Zendesk, on every form.

Each case sends one field (or the whole request) past its limit and checks what the agent
sees (a 400, or a 413 for files and webhook bodies, that says what was too big; the form back
with the text where one is shown) and what the sandbox counted: no call at all, since the
page the error is shown on was read just before (its answers are saved).
"""

from __future__ import annotations

from html import unescape

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from inbox.views_create import MAX_DESCRIPTION, MAX_EMAIL, MAX_NAME, MAX_SEARCH, MAX_SUBJECT
from inbox.views_inbox import MAX_EXTERNAL_ID
from inbox.views_ticket import (
    BODY_KEPT_FACTOR,
    MAX_BODY_CHARS,
    MAX_CC_TEXT,
    MAX_TAG_CHARS,
    MAX_TAGS,
    MAX_TAGS_TEXT,
)
from tests.inbox.conftest import signed_in_client
from tests.inbox.test_ticket_new import form_token, ticket_form
from tests.inbox.test_ticket_views import open_page

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(scope="module", autouse=True)
def _seed_put_back(sandbox_session):
    """This module adds tickets the agent requested: the seed goes back after it, so modules
    after it read the seeded lists (an "opened" badge needs the list to fit one page)."""
    yield
    sandbox_session.reset()


def arrived(sandbox) -> int:
    return sandbox.control("GET", "stats").json()["arrived"]


def page_text(response) -> str:
    return unescape(response.content.decode())


# -- the ticket page: reply, note, tags, CCs, what was seen, files --------------------------------
TOO_LONG_BODY = "x" * (MAX_BODY_CHARS + 1)
TICKET_FIELDS = {
    "reply kept to shorten": (
        {"kind": "public", "body": TOO_LONG_BODY},
        400,
        f"Your reply is {MAX_BODY_CHARS + 1:,} characters; Zendesk takes at most",
    ),
    "note kept to shorten": (
        {"kind": "note", "body": TOO_LONG_BODY},
        400,
        f"Your note is {MAX_BODY_CHARS + 1:,} characters; Zendesk takes at most",
    ),
    "body far past any reply": (
        {"body": "x" * (MAX_BODY_CHARS * BODY_KEPT_FACTOR + 1)},
        400,
        "The body is longer than",
    ),
    "too many tags": (
        {"tags": " ".join(f"t{n}" for n in range(MAX_TAGS + 1))},
        400,
        f"A ticket takes at most {MAX_TAGS} tags",
    ),
    "one tag too long": ({"tags": "x" * (MAX_TAG_CHARS + 1)}, 400, "at most 80 characters"),
    "tags field too long": (
        {"tags": "x" * (MAX_TAGS_TEXT + 1)},
        400,
        f"The tags are {MAX_TAGS_TEXT + 1:,} characters; a ticket takes at most",
    ),
    "tags field far past any form": (
        {"tags": "x" * (MAX_TAGS_TEXT * BODY_KEPT_FACTOR + 1)},
        400,
        "The tags is longer than",
    ),
    "CCs field too long": (
        {"cc_add": "x" * (MAX_CC_TEXT + 1)},
        400,
        f"The CCs to add are {MAX_CC_TEXT + 1:,} characters",
    ),
    "CCs field far past any form": (
        {"cc_add": "x" * (MAX_CC_TEXT * BODY_KEPT_FACTOR + 1)},
        400,
        "The cc add is longer",
    ),
    "what was seen too long": ({"seen": "x" * 9000}, 400, "The seen is longer than"),
}


@pytest.mark.parametrize("case", list(TICKET_FIELDS))
def test_an_oversized_ticket_field_is_refused_before_zendesk(agent, inbox_sandbox, ticket_id, case):
    client = signed_in_client(agent)
    _, seen = open_page(client, ticket_id)
    fields, status, says = TICKET_FIELDS[case]
    inbox_sandbox.control("POST", "stats/reset")

    response = client.post(
        f"/tickets/{ticket_id}/update",
        {"seen": seen, "kind": "public", "body": "Hi", "assignee": "keep", **fields},
    )

    assert response.status_code == status
    assert says in page_text(response)
    assert arrived(inbox_sandbox) == 0


@pytest.mark.parametrize("field", ["tags", "cc_add"])
def test_an_oversized_tags_or_cc_field_keeps_the_reply(agent, inbox_sandbox, ticket_id, field):
    """The reply written beside an over-long field comes back in the form and the draft."""
    from inbox.models import TicketDraft

    client = signed_in_client(agent)
    _, seen = open_page(client, ticket_id)
    limit = MAX_TAGS_TEXT if field == "tags" else MAX_CC_TEXT
    inbox_sandbox.control("POST", "stats/reset")

    response = client.post(
        f"/tickets/{ticket_id}/update",
        {"seen": seen, "kind": "public", "body": "Keep me, please", "assignee": "keep",
         field: "x" * (limit + 1)},
    )  # fmt: skip

    assert response.status_code == 400
    assert "Keep me, please</textarea>" in page_text(response)
    assert "your reply is kept" in page_text(response)
    assert arrived(inbox_sandbox) == 0
    assert TicketDraft.objects.get(agent=agent, ticket_id=ticket_id).body == "Keep me, please"


def test_an_oversized_reply_comes_back_in_the_form_and_the_draft(agent, inbox_sandbox, ticket_id):
    from inbox.models import TicketDraft

    client = signed_in_client(agent)
    _, seen = open_page(client, ticket_id)

    response = client.post(
        f"/tickets/{ticket_id}/update",
        {"seen": seen, "kind": "public", "body": TOO_LONG_BODY, "assignee": "keep"},
    )

    assert f"{TOO_LONG_BODY}</textarea>" in page_text(response)
    assert TicketDraft.objects.get(agent=agent, ticket_id=ticket_id).body == TOO_LONG_BODY


@pytest.mark.parametrize(
    ("files", "says"),
    [
        ([SimpleUploadedFile("big.bin", b"x" * 500)], "files can be at most 100 bytes"),
        (
            [SimpleUploadedFile(f"f{n}.txt", b"x") for n in range(3)],
            "Attach at most 2 files to one reply",
        ),
    ],
    ids=["a file too large", "too many files"],
)
def test_oversized_uploads_are_refused_before_zendesk(
    agent, inbox_sandbox, ticket_id, settings, files, says
):
    settings.TICKET_MAX_FILE_BYTES = 100
    settings.TICKET_MAX_FILES = 2
    client = signed_in_client(agent)
    _, seen = open_page(client, ticket_id)
    inbox_sandbox.control("POST", "stats/reset")

    response = client.post(
        f"/tickets/{ticket_id}/update",
        {"seen": seen, "kind": "public", "body": "Logs.", "assignee": "keep", "files": files},
    )

    assert response.status_code == 413
    assert says in page_text(response)
    assert "Logs.</textarea>" in page_text(response)
    assert arrived(inbox_sandbox) == 0


def test_an_oversized_draft_is_refused_and_says_so(agent, inbox_sandbox, ticket_id):
    client = signed_in_client(agent)
    _, seen = open_page(client, ticket_id)
    inbox_sandbox.control("POST", "stats/reset")

    response = client.post(
        f"/tickets/{ticket_id}/draft",
        {"seen": seen, "body": "x" * (MAX_BODY_CHARS * BODY_KEPT_FACTOR + 1)},
        **HX,
    )

    assert response.status_code == 400
    assert "The body is longer than" in page_text(response)
    assert arrived(inbox_sandbox) == 0


# -- the create form -------------------------------------------------------------------------
CREATE_FIELDS = {
    "subject": ("x" * (MAX_SUBJECT + 1), "The subject is too long"),
    "description": ("x" * (MAX_DESCRIPTION + 1), "The description is too long"),
    "requester_name": ("x" * (MAX_NAME + 1), "The name is too long"),
    "requester_email": ("x" * (MAX_EMAIL + 1), "The email is too long"),
    "tags": ("x" * (MAX_TAGS * (MAX_TAG_CHARS + 1) + 1), "Tags is too long"),
}


@pytest.mark.parametrize("field", list(CREATE_FIELDS))
def test_an_oversized_create_field_is_refused_before_zendesk_and_kept(
    agent, agent_client, inbox_sandbox, field
):
    value, says = CREATE_FIELDS[field]
    form = ticket_form(inbox_sandbox, form_token(agent_client), **{field: value})
    if field.startswith("requester_"):
        form["requester_id"] = "new"
    # The form shown again names the chosen requester: read once, as the search did.
    agent_client.get(f"/tickets/new/requesters?requester_id={form['requester_id']}", **HX)
    inbox_sandbox.control("POST", "stats/reset")

    response = agent_client.post("/tickets/new", form)

    assert response.status_code == 400
    assert says in page_text(response)
    assert value in page_text(response), "the text is kept to shorten"
    assert arrived(inbox_sandbox) == 0


def test_an_oversized_create_draft_is_refused_and_says_so(agent, agent_client, inbox_sandbox):
    form = ticket_form(inbox_sandbox, form_token(agent_client), subject="x" * (MAX_SUBJECT + 1))
    inbox_sandbox.control("POST", "stats/reset")

    response = agent_client.post("/tickets/new/draft", form, **HX)

    assert response.status_code == 400
    assert "Draft not saved: The subject is too long" in page_text(response)
    assert arrived(inbox_sandbox) == 0


# -- searches and filters ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "says"),
    [
        (
            "/tickets/new/requesters?requester_query=" + "x" * (MAX_SEARCH + 1),
            f"at most {MAX_SEARCH} characters",
        ),
        ("/views/all?external_id=" + "x" * (MAX_EXTERNAL_ID + 1), "An external ID is up to"),
        ("/tickets/new/assignees?group_id=" + "9" * 5000, "Choose a group from the list"),
    ],
    ids=["requester search", "external ID filter", "assignee picker's group"],
)
def test_an_oversized_query_is_refused_before_zendesk(agent_client, inbox_sandbox, url, says):
    inbox_sandbox.control("POST", "stats/reset")

    response = agent_client.get(url, **HX)

    assert response.status_code == 400
    assert says in page_text(response)
    assert arrived(inbox_sandbox) == 0


# -- whole requests ---------------------------------------------------------------------------
@pytest.mark.parametrize("htmx", [False, True], ids=["form", "htmx"])
def test_a_request_body_over_the_memory_limit_is_a_400_that_says_so(
    agent, inbox_sandbox, ticket_id, settings, htmx
):
    client = signed_in_client(agent)
    _, seen = open_page(client, ticket_id)
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    inbox_sandbox.control("POST", "stats/reset")

    response = client.post(
        f"/tickets/{ticket_id}/update",
        {"seen": seen, "kind": "public", "body": "x" * 20_000, "assignee": "keep"},
        **(HX if htmx else {}),
    )

    assert response.status_code == 400
    assert "larger than Agent Inbox accepts" in page_text(response)
    assert arrived(inbox_sandbox) == 0


def test_a_form_with_too_many_fields_is_a_400_that_says_so(agent, inbox_sandbox, ticket_id):
    client = signed_in_client(agent)
    inbox_sandbox.control("POST", "stats/reset")

    response = client.post(
        f"/tickets/{ticket_id}/update",
        "&".join(f"f{number}=1" for number in range(1001)),
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 400
    assert "more fields than Agent Inbox accepts" in page_text(response)
    assert arrived(inbox_sandbox) == 0


def test_an_oversized_webhook_body_is_a_413_before_anything_is_read(client, settings):
    settings.ZENDESK_WEBHOOK_SECRET = "whsec-test"
    settings.ZENDESK_WEBHOOK_MAX_BYTES = 1000

    response = client.post(
        "/webhooks/zendesk", b"{" + b" " * 5000 + b"}", content_type="application/json"
    )

    assert response.status_code == 413
    assert "larger than 1000 bytes" in response.json()["error"]
