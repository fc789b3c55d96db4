"""Fixtures shared by the inbox tests (tests/inbox/)."""

from __future__ import annotations

# -- the inbox (lists, badges, poll, browser): agents signed in against the sandbox ------------
from typing import Any

import pytest
from django.core.cache import cache as django_cache
from django.test import Client

from inbox.auth import SESSION_AGENT_KEY
from inbox.models import AgentAccount
from tests.inbox.service_agents import agent_account


@pytest.fixture
def inbox_sandbox(sandbox, settings):
    """The app pointed at the sandbox, its avatars allowed by the CSP, an empty cache."""
    settings.ZENDESK_URL = sandbox.base_url
    settings.SECURE_CSP = {
        **settings.SECURE_CSP,
        "img-src": [*settings.SECURE_CSP["img-src"], sandbox.base_url],
    }
    django_cache.clear()
    yield sandbox
    django_cache.clear()


def seeded_agent(sandbox, **match: Any) -> dict[str, Any]:
    found = sandbox.agents(suspended=False, **match)
    assert found, f"the seed has no agent matching {match}"
    return found[0]


def signed_in_client(account: AgentAccount) -> Client:
    """A test client whose session belongs to the agent (as after a real sign-in)."""
    client = Client()
    session = client.session
    session[SESSION_AGENT_KEY] = account.pk
    session.save()
    return client


@pytest.fixture
def agent(inbox_sandbox) -> AgentAccount:
    """An unrestricted seeded agent, signed in with a real sandbox token."""
    return agent_account(inbox_sandbox, seeded_agent(inbox_sandbox, role="agent", restricted=False))


@pytest.fixture
def restricted_agent(inbox_sandbox) -> AgentAccount:
    return agent_account(inbox_sandbox, seeded_agent(inbox_sandbox, role="agent", restricted=True))


@pytest.fixture
def admin(inbox_sandbox) -> AgentAccount:
    return agent_account(inbox_sandbox, seeded_agent(inbox_sandbox, role="admin"))


@pytest.fixture
def agent_client(agent) -> Client:
    return signed_in_client(agent)
