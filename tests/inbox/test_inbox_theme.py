"""The theme an agent picks sticks to them on the server: every browser they sign in on
shows it, and the page says it in <html data-theme> before any script runs."""

from __future__ import annotations

import pytest
from django.test import Client

from inbox.models import AgentPreference
from tests.inbox.conftest import signed_in_client

pytestmark = pytest.mark.django_db


def test_the_system_theme_is_the_default(agent_client):
    html = agent_client.get("/views/all").content.decode()

    assert '<html lang="en">' in html
    assert 'name="theme" value="light"' in html  # the switch offers the next one


def test_a_chosen_theme_follows_the_agent_to_another_browser(agent, agent_client):
    response = agent_client.post("/preferences/theme", {"theme": "dark"}, HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    assert response["HX-Trigger"] == '{"inbox:theme": {"value": "dark"}}'
    assert 'name="theme" value="system"' in response.content.decode()
    another_browser = signed_in_client(agent)
    assert '<html lang="en" data-theme="dark">' in another_browser.get("/").content.decode()
    assert AgentPreference.objects.get(agent=agent).theme == "dark"


def test_without_javascript_the_switch_is_a_form_that_comes_back_home(agent_client, agent):
    response = agent_client.post("/preferences/theme", {"theme": "light"})

    assert response.status_code == 302
    assert AgentPreference.objects.get(agent=agent).theme == "light"


def test_an_unknown_theme_is_a_400_that_says_which_exist(agent_client, agent):
    response = agent_client.post("/preferences/theme", {"theme": "neon"})

    assert response.status_code == 400
    assert "Themes are system, light or dark." in response.content.decode()
    assert not AgentPreference.objects.filter(agent=agent).exists()


def test_the_theme_switch_needs_the_csrf_token(agent):
    careful = Client(enforce_csrf_checks=True)
    careful.cookies = signed_in_client(agent).cookies

    assert careful.post("/preferences/theme", {"theme": "dark"}).status_code == 403
    assert not AgentPreference.objects.filter(agent=agent).exists()
