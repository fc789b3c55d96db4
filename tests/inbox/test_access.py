"""Every URL of the app requires a signed-in agent, except a short list named here.

The test walks the URL configuration itself (config.urls and everything it includes), so a
page or partial added later is checked without anyone remembering to add it: asked by a
visitor with GET and POST, as a page and as htmx, it must send them to sign in (or refuse the
method) and never answer with an agent's data. And every POST, to any URL but a webhook
receiver (checked by its signature), is refused without the CSRF token, htmx included, even
for a signed-in agent.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from tests.inbox.conftest import signed_in_client

pytestmark = pytest.mark.django_db

# Open to visitors, by name, and why.
PUBLIC_BY_NAME = {
    "healthz": "load balancers and monitors; says nothing about the upstream to visitors",
    "home": "a visitor's home page is the sign-in page",
    "signin": "the sign-in page",
    "auth_start": "starts a sign-in (CSRF-protected POST)",
    "auth_callback": "where Zendesk sends the agent back",
    "signout": "signing out works whatever the session's state",
}
# A webhook receiver is checked by Zendesk's signature instead of a session and CSRF.
PUBLIC_ROUTE_PREFIXES = ("webhooks/",)
# Values for path converters: any well-formed value reaches the permission check.
CONVERTER = re.compile(r"<(?:(\w+):)?\w+>")
SAMPLE_VALUES = {"int": "1", "slug": "assigned", "str": "x", "path": "x/y", "uuid": ""}


def walk(patterns, prefix: str = "") -> Iterator[tuple[str, str | None]]:
    """(route, name) of every pattern, includes followed."""
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from walk(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), entry.name


def concrete_path(route: str) -> str:
    def fill(match: re.Match) -> str:
        converter = match.group(1) or "str"
        return SAMPLE_VALUES.get(converter, "1") or "00000000-0000-0000-0000-000000000000"

    return "/" + CONVERTER.sub(fill, route)


ROUTES = list(walk(get_resolver().url_patterns))
GUARDED = [
    (route, name)
    for route, name in ROUTES
    if name not in PUBLIC_BY_NAME and not route.startswith(PUBLIC_ROUTE_PREFIXES)
]


def test_the_walk_finds_the_inbox_pages():
    names = {name for _, name in GUARDED}
    assert {"inbox_view", "inbox_organization", "inbox_poll", "theme_set"} <= names
    # Every exception listed is a real route: no stale names widen the list.
    assert set(PUBLIC_BY_NAME) <= {name for _, name in ROUTES}


def sent_to_sign_in(response) -> bool:
    if response.status_code == 302:
        return response["Location"].startswith("/auth/signin?next=")
    # htmx: a client-side redirect of the whole page (django-htmx's HttpResponseClientRedirect)
    return response.status_code == 200 and response.get("HX-Redirect", "").startswith(
        "/auth/signin?next="
    )


@pytest.mark.parametrize(("route", "name"), GUARDED, ids=[route for route, _ in GUARDED])
@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
def test_a_visitor_is_sent_to_sign_in(client: Client, route, name, htmx):
    path = concrete_path(route)
    headers = {"HX-Request": "true", "HX-Current-URL": f"http://testserver{path}"} if htmx else {}

    answers = {
        "GET": client.get(path, headers=headers),
        "POST": client.post(path, {"theme": "dark"}, headers=headers),
    }

    for method, response in answers.items():
        # Either sent to sign in, or the method is not one the view takes (nothing done).
        assert sent_to_sign_in(response) or response.status_code == 405, (
            f"{method} {path} ({name}) answered {response.status_code} to a visitor"
        )
    assert any(sent_to_sign_in(response) for response in answers.values()), (
        f"{path} ({name}) takes neither GET nor POST: check it by hand and list it here"
    )


# -- CSRF on every POST --------------------------------------------------------------------

CSRF_CHECKED = [
    (route, name) for route, name in ROUTES if not route.startswith(PUBLIC_ROUTE_PREFIXES)
]


@pytest.mark.parametrize(("route", "name"), CSRF_CHECKED, ids=[route for route, _ in CSRF_CHECKED])
@pytest.mark.parametrize("htmx", [False, True], ids=["form", "htmx"])
def test_a_post_without_the_csrf_token_is_refused_even_signed_in(agent, route, name, htmx):
    browser = signed_in_client(agent)
    browser.handler.enforce_csrf_checks = True
    path = concrete_path(route)
    headers = {"HX-Request": "true", "HX-Current-URL": f"http://testserver{path}"} if htmx else {}

    response = browser.post(path, {"theme": "dark", "next": "/"}, headers=headers)

    assert response.status_code == 403, f"POST {path} ({name}) answered {response.status_code}"


def test_the_same_post_with_the_token_goes_through(agent):
    browser = signed_in_client(agent)
    browser.handler.enforce_csrf_checks = True
    browser.get("/views/all")  # the page sets the CSRF cookie and carries the token
    token = browser.cookies["csrftoken"].value

    response = browser.post("/preferences/theme", {"theme": "dark"}, headers={"X-CSRFToken": token})

    assert response.status_code == 302
