"""The client functions and services the ticket page adds, over real HTTP to the sandbox: the
assignee picker's groups and agents, uploads, ticket fields, unassigning, and a write whose
answer is lost (OutcomeUnknown)."""

from __future__ import annotations

import pytest
import requests

from inbox.services import ticket_page
from inbox.zendesk import client
from inbox.zendesk.errors import OutcomeUnknown, PayloadTooLarge
from inbox.zendesk.records import Ticket, TicketField
from tests.inbox.conftest import credentials_for_email

pytestmark = pytest.mark.django_db


@pytest.fixture
def agent_credentials(zendesk):
    email = zendesk.agent(role="agent", restricted=False, suspended=False)["email"]
    return credentials_for_email(zendesk, email)


def a_ticket(sandbox, credentials) -> int:
    created = requests.post(
        f"{sandbox.base_url}/api/v2/tickets",
        json={"ticket": {"subject": "Client test", "comment": {"body": "Hi"}}},
        headers={"Authorization": f"Bearer {credentials.access_token}"},
        timeout=30,
    )
    assert created.status_code == 201
    return created.json()["ticket"]["id"]


def test_assignable_groups_and_their_agents(zendesk, agent_credentials):
    groups = client.groups_assignable(agent_credentials)
    agents = client.group_agents_assignable(agent_credentials, groups[0].id)

    assert groups
    assert all(group.name for group in groups)
    assert agents
    assert all(person.is_agent and not person.suspended for person in agents)


def test_a_restricted_agent_gets_only_their_groups(zendesk, agent_credentials):
    restricted = zendesk.agent(role="agent", restricted=True, suspended=False)
    credentials = credentials_for_email(zendesk, restricted["email"])

    theirs = {group.id for group in client.groups_assignable(credentials)}
    everyone = {group.id for group in client.groups_assignable(agent_credentials)}

    assert theirs < everyone


def test_an_upload_gives_a_token_a_comment_takes(zendesk, agent_credentials):
    ticket_id = a_ticket(zendesk, agent_credentials)

    upload = client.upload_create(
        agent_credentials, file_name="notes.txt", content=b"hello", content_type="text/plain"
    )
    client.ticket_update(
        agent_credentials, ticket_id, comment_body="File", upload_tokens=[upload.token]
    )

    comments = client.ticket_comments(agent_credentials, ticket_id).items
    attached = [a for comment in comments for a in comment.attachments]
    assert [(a.file_name, a.size) for a in attached] == [("notes.txt", 5)]
    assert requests.get(attached[0].content_url, timeout=30).content == b"hello"


def test_a_file_over_the_limit_is_payload_too_large(zendesk, agent_credentials):
    zendesk.control("POST", "uploads", json={"max_bytes": 10})
    try:
        with pytest.raises(PayloadTooLarge):
            client.upload_create(agent_credentials, file_name="big.bin", content=b"x" * 50)
    finally:
        zendesk.control("POST", "uploads", json={})


def test_unassigning_sends_a_null_assignee(zendesk, agent_credentials):
    ticket_id = a_ticket(zendesk, agent_credentials)
    client.ticket_update(agent_credentials, ticket_id, assignee_id=agent_credentials.user_id)

    updated = client.ticket_update(agent_credentials, ticket_id, clear=("assignee_id",))

    assert updated.assignee_id is None
    with pytest.raises(ValueError, match="cannot be cleared"):
        client.ticket_update(agent_credentials, ticket_id, clear=("subject",))


def test_an_unreadable_answer_after_a_write_is_outcome_unknown(zendesk, agent_credentials):
    ticket_id = a_ticket(zendesk, agent_credentials)
    zendesk.control(
        "POST",
        "faults",
        json={"garbage_after_write_rate": 1, "path_prefix": f"/api/v2/tickets/{ticket_id}"},
    )

    with pytest.raises(OutcomeUnknown):
        client.ticket_update(agent_credentials, ticket_id, comment_body="Made it?")

    zendesk.control("POST", "faults", json={})
    bodies = [c.body for c in client.ticket_comments(agent_credentials, ticket_id).items]
    assert "Made it?" in bodies  # it happened: only the answer was lost


def test_ticket_fields_label_custom_field_values():
    fields = {
        1: TicketField(id=1, title="Region", type="tagger", options=(("eu", "Europe"),)),
        2: TicketField(id=2, title="VIP", type="checkbox"),
        3: TicketField(id=3, title="Old", type="text", active=False),
    }
    ticket = Ticket.from_api(
        {
            "id": 9,
            "custom_fields": [
                {"id": 1, "value": "eu"},
                {"id": 2, "value": True},
                {"id": 3, "value": "hidden"},
                {"id": 4, "value": "unknown field"},
                {"id": 5, "value": None},
            ],
        }
    )

    shown = ticket_page.custom_field_values(ticket, fields)

    assert [(f.label, f.value) for f in shown] == [
        ("Region", "Europe"),
        ("VIP", "Yes"),
        ("Field 4", "unknown field"),
    ]
