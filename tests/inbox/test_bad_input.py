"""Bad input to the app's pages: a 400 page that says what was wrong, never a 500.

Hostile or broken requests to the sign-in views and the pages around them: odd `next`
values, callbacks with odd query strings, requests Django itself cannot read, and the wrong
methods. Most need no Zendesk; the few that trade a code talk to the sandbox.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from inbox.views_signin import SESSION_ATTEMPTS_KEY

pytestmark = pytest.mark.django_db

# Hostile `next` values: test_signin.py::test_next_off_site_is_never_offered_remembered_nor_followed.


def remembered_next(client: Client) -> str:
    """Where the one sign-in in progress will lead after Zendesk says yes."""
    ((attempt),) = client.session[SESSION_ATTEMPTS_KEY].values()
    return attempt["next"]


def started_state(client: Client, next_path: str = "/") -> str:
    response = client.post("/auth/start", {"next": next_path})
    assert response.status_code == 302
    return parse_qs(urlsplit(response["Location"]).query)["state"][0]


# -- next --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("next_path", "kept"),
    [
        ("/%2F%2Fevil.example", "/%2F%2Fevil.example"),  # a path on this host, encoded
        ("/x\r\nSet-Cookie: a=b", "/x\r\nSet-Cookie: a=b"),  # Django encodes it in Location
        ("/tickets?view=mine&page=2", "/tickets?view=mine&page=2"),
    ],
    ids=repr,
)
def test_a_next_inside_the_app_is_kept_as_sent(client, next_path, kept):
    client.post("/auth/start", {"next": next_path})
    assert remembered_next(client) == kept


# -- the callback ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "",
        "state=",
        "state=a&state=b",
        "code=abc",
        "error=access_denied",
        "error=" + "x" * 5000,
        "state=%00&code=%00",
        "state=%FF%FE&code=%FF",
        "state=" + "s" * 5000,
        "error=invalid_scope&error_description=%0D%0ASet-Cookie:%20a=b",
        "state[]=x&code[]=y",
    ],
    ids=lambda query: query[:40],
)
def test_a_callback_nobody_started_says_the_sign_in_expired(client, query):
    response = client.get(f"/auth/callback?{query}")
    assert response.status_code == 400
    assert "This sign-in has expired" in response.content.decode()


@pytest.mark.parametrize(
    "query",
    ["state=forged&code=abc", "state=&code=abc", "code=abc", "error=access_denied"],
)
def test_a_callback_for_another_sign_in_says_it_could_not_be_verified(client, query):
    started_state(client)
    response = client.get(f"/auth/callback?{query}")
    assert response.status_code == 400
    assert "could not be verified" in response.content.decode()


@pytest.mark.parametrize(
    ("error", "shown"),
    [
        ("server_error", "server_error"),
        ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
        ("x" * 5000, "x" * 80 + "”"),  # cut short, not the whole 5,000 characters
        ("a\r\nSet-Cookie: b=c", "a\r\nSet-Cookie: b=c"),
    ],
    ids=["unknown", "markup", "very-long", "line-breaks"],
)
def test_an_unknown_error_from_zendesk_is_named_on_the_page(client, error, shown):
    state = started_state(client)
    response = client.get("/auth/callback", {"state": state, "error": error})
    page = response.content.decode()
    assert response.status_code == 400
    assert "Zendesk refused the sign-in" in page
    assert shown in page
    assert "<script>alert" not in page


@pytest.mark.parametrize("code", ["not-a-code", "%00", "x" * 3000, "é"], ids=repr)
def test_a_garbage_code_is_refused_by_zendesk_and_says_so(client, zendesk, code):
    state = started_state(client)
    response = client.get("/auth/callback", {"state": state, "code": code})
    assert response.status_code == 400
    assert "Zendesk did not accept this sign-in" in response.content.decode()


# -- requests Django cannot read ---------------------------------------------------------------


def too_many_fields() -> str:
    return "&".join(f"f{number}=1" for number in range(1001))


def test_a_query_string_with_too_many_fields_gets_a_page_that_says_so(client):
    response = client.get(f"/auth/callback?{too_many_fields()}")
    page = response.content.decode()
    assert response.status_code == 400
    assert "This request could not be read" in page
    assert "more fields than Agent Inbox accepts" in page


@pytest.mark.parametrize("path", ["/", "/healthz", "/auth/signin", "/views/assigned", "/nowhere"])
def test_too_many_query_fields_get_the_400_page_under_make_run_too(path, settings):
    """`make run` has DEBUG on. Django's technical page read the query string again, failed
    again, and the exception left the handler: runserver's bare 500. The 400 page instead."""
    settings.DEBUG = True
    developer = Client(raise_request_exception=False)

    response = developer.get(f"{path}?{too_many_fields()}")

    assert response.status_code == 400
    page = response.content.decode()
    assert "more fields than Agent Inbox accepts" in page
    assert "Content-Security-Policy" in response


def test_a_form_with_too_many_fields_gets_a_page_that_says_so(client):
    response = client.post(
        "/auth/start", too_many_fields(), content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 400
    assert "more fields than Agent Inbox accepts" in response.content.decode()


def test_a_form_too_large_gets_a_page_that_says_so(client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = client.post(
        "/auth/start", "next=/" + "a" * 2000, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 400
    assert "larger than Agent Inbox accepts" in response.content.decode()


def test_a_broken_multipart_form_gets_a_page_that_says_so(client):
    response = client.post("/auth/start", b"--x\r\nbroken", content_type="multipart/form-data")
    assert response.status_code == 400
    assert "The form sent could not be read" in response.content.decode()


def test_an_unknown_host_gets_a_page_that_says_so(client):
    response = client.get("/auth/signin", headers={"host": "evil.example"})
    assert response.status_code == 400
    assert "not one Agent Inbox answers on" in response.content.decode()


# -- methods and CSRF --------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/auth/start", "/auth/signout"])
def test_a_post_without_the_csrf_token_is_refused(path):
    response = Client(enforce_csrf_checks=True).post(path, {"next": "/"})
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/auth/start"),
        ("get", "/auth/signout"),
        ("post", "/auth/signin"),
        ("post", "/auth/callback"),
        ("put", "/auth/callback"),
        ("delete", "/auth/signin"),
        ("patch", "/"),
        ("post", "/healthz"),
    ],
)
def test_the_wrong_method_is_refused_with_405(client, method, path):
    response = getattr(client, method)(path)
    assert response.status_code == 405
