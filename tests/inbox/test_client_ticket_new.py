"""The client's calls for creating a ticket, over real HTTP against the sandbox: finding a
requester, the assignable groups and agents, the idempotency lookup of a create, and whether a
failed write may have reached Zendesk."""

from __future__ import annotations

import uuid

import pytest

from inbox.zendesk import client
from inbox.zendesk.errors import InvalidResponse, UpstreamUnavailable, ZendeskError
from inbox.zendesk.records import CreatedTicket, Ticket
from tests.inbox.conftest import credentials_for_email

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(zendesk):
    return credentials_for_email(zendesk, zendesk.agent(role="admin")["email"])


def test_people_are_found_by_the_start_of_a_name_or_by_email(admin, zendesk):
    customer = zendesk.info["end_users"][0]
    by_name = client.users_autocomplete(admin, name=customer["name"][:3])
    assert customer["id"] in [person.id for person in by_name]
    assert all(person.name.lower().find(customer["name"][:3].lower()) >= 0 for person in by_name)
    by_email = client.users_search(admin, query=customer["email"])
    assert [person.id for person in by_email] == [customer["id"]]
    assert len(client.users_autocomplete(admin, name=customer["name"][:2], per_page=3)) <= 3


def test_a_search_zendesk_refuses_is_an_error_not_a_crash(admin):
    with pytest.raises(ZendeskError) as raised:
        client.users_autocomplete(admin, name="a")  # shorter than Zendesk takes
    assert raised.value.status_code == 400


def test_the_assignable_groups_and_their_agents(admin, zendesk):
    groups = client.groups_assignable(admin)
    assert groups
    member = next(agent for agent in zendesk.agents(suspended=False) if agent["group_ids"])
    group_id = member["group_ids"][0]
    page = client.group_memberships_assignable(admin, group_id)
    assert {m.group_id for m in page.items} == {group_id}
    assert member["id"] in {m.user_id for m in page.items}
    assert member["id"] in page.users
    suspended = [a["id"] for a in zendesk.agents(suspended=True) if group_id in a["group_ids"]]
    assert not set(suspended) & {m.user_id for m in page.items}


def test_a_create_says_whether_an_earlier_request_made_the_ticket(admin):
    key = f"test-{uuid.uuid4()}"
    fields = {"subject": "Lookup", "comment_body": "Which request made me?"}
    first = client.ticket_create(admin, idempotency_key=key, **fields)
    again = client.ticket_create(admin, idempotency_key=key, **fields)
    assert isinstance(first, CreatedTicket)
    assert isinstance(first, Ticket)  # every caller of a Ticket keeps working
    assert (first.idempotency_lookup, first.created_before) == ("miss", False)
    assert (again.idempotency_lookup, again.created_before) == ("hit", True)
    assert again.id == first.id


def test_a_key_with_another_body_is_refused(admin):
    key = f"test-{uuid.uuid4()}"
    client.ticket_create(admin, idempotency_key=key, subject="One", comment_body="body")
    with pytest.raises(ZendeskError) as raised:
        client.ticket_create(admin, idempotency_key=key, subject="Two", comment_body="body")
    assert raised.value.status_code == 400
    assert raised.value.error_code == "IdempotentRequestError"


def test_a_write_refused_at_the_door_did_not_arrive(admin, zendesk, settings):
    settings.ZENDESK_MAX_RETRIES = 1
    zendesk.control("POST", "faults", json={"outage": True}).raise_for_status()
    with pytest.raises(UpstreamUnavailable) as raised:
        client.ticket_create(admin, idempotency_key="k-door", subject="x", comment_body="y")
    assert raised.value.may_have_arrived is False


def test_a_refused_connection_did_not_arrive(settings):
    settings.ZENDESK_MAX_RETRIES = 0
    nowhere = client.Credentials(base_url="http://127.0.0.1:9", access_token="t", user_id=1)
    with pytest.raises(UpstreamUnavailable) as raised:
        client.ticket_create(nowhere, idempotency_key="k", subject="x", comment_body="y")
    assert raised.value.may_have_arrived is False


def test_a_lost_answer_after_the_write_may_have_arrived(admin, zendesk, settings):
    settings.ZENDESK_MAX_RETRIES = 1
    zendesk.control(
        "POST",
        "faults",
        json={"hang_after_write_rate": 1, "hang_seconds": 0.2, "path_prefix": "/api/v2/tickets"},
    ).raise_for_status()
    with pytest.raises(UpstreamUnavailable) as raised:
        client.ticket_create(
            admin, idempotency_key=f"k-{uuid.uuid4()}", subject="x", comment_body="y"
        )
    assert raised.value.may_have_arrived is True
    zendesk.control(
        "POST", "faults", json={"garbage_after_write_rate": 1, "path_prefix": "/api/v2/tickets"}
    ).raise_for_status()
    with pytest.raises(InvalidResponse):
        client.ticket_create(
            admin, idempotency_key=f"k-{uuid.uuid4()}", subject="x", comment_body="y"
        )
