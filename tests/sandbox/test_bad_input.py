"""Hostile input never breaks the sandbox: a Zendesk-shaped 4xx in JSON, never a 500.

A client bug (or a test of the app's error handling) must see what Zendesk would answer, so
each case here is a request that once made the sandbox answer 500 (marked "was 500"), or a
neighbour of one, pinned with the status Zendesk gives. Every case goes over real HTTP.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import requests

TIMEOUT = 30


def b64(value: Any) -> str:
    return base64.b64encode(json.dumps(value).encode()).decode()


def cursor(label: str, values: list[Any]) -> str:
    """A cursor shaped as the sandbox writes them, holding whatever values a forger chose."""
    return b64({"o": label, "v": b64(values)})


def zendesk_error(response: requests.Response, status: int) -> dict[str, Any]:
    """The response is `status` with a JSON object body naming the error (Zendesk's shapes)."""
    assert response.status_code == status, (response.status_code, response.text[:300])
    assert "json" in response.headers["Content-Type"], response.headers["Content-Type"]
    body = response.json()
    assert isinstance(body, dict), body
    assert "error" in body or "errors" in body, body
    return body


def send(sandbox, method: str, path: str, **kwargs) -> requests.Response:
    return requests.request(method, f"{sandbox.base_url}{path}", timeout=TIMEOUT, **kwargs)


@pytest.fixture
def admin(sandbox) -> dict[str, str]:
    """Basic auth headers of the seeded admin."""
    return sandbox.basic_auth(sandbox.agent(role="admin")["email"])


@pytest.fixture
def restore_controls(sandbox):
    """Control settings back to their defaults, should a refused change have got through."""
    yield
    for path in ("oauth", "idempotency", "webhooks"):
        sandbox.control("POST", path, json={})


# -- reads: ids, paging, sorting, filters ------------------------------------------------------

# The last sort values of a forged cursor that is out of range in UTC (was 500: the time
# only overflowed when the query ran, after the cursor had been accepted).
LATE = {"t": "9999-12-31T23:59:59-14:00"}
EARLY = {"t": "0001-01-01T00:00:00+14:00"}

BAD_READS = [
    # ids: Zendesk answers 400 for an id that is not a number, 404 for one that is not there.
    ("/api/v2/tickets/abc", 400),
    ("/api/v2/tickets/-1", 400),
    ("/api/v2/tickets/0", 400),
    ("/api/v2/tickets/99999999999999999999", 400),
    ("/api/v2/tickets/9223372036854775807", 404),
    ("/api/v2/tickets/%D9%A1", 400),  # Arabic-Indic "1": was read as ticket 1
    ("/api/v2/tickets/1_0", 400),  # int() reads "1_0" as 10
    ("/api/v2/tickets/%C2%B2", 400),  # superscript two
    ("/api/v2/tickets/1.5", 404),  # not an API path: "." ends the id
    ("/api/v2/users/%20", 400),
    ("/api/v2/organizations/abc/tickets", 400),
    ("/api/v2/users/-5/tickets/ccd/count", 400),
    ("/api/v2/activities/%E2%91%A0", 400),  # circled one
    # show_many
    ("/api/v2/tickets/show_many?ids=", 400),
    ("/api/v2/tickets/show_many?ids=,,", 400),
    ("/api/v2/tickets/show_many?ids=1,,2", 200),
    ("/api/v2/tickets/show_many?ids=" + ",".join(["999"] * 101), 400),
    ("/api/v2/users/show_many?ids=1.5", 400),
    ("/api/v2/users/show_many?ids=99999999999999999999", 400),
    # cursor paging
    ("/api/v2/tickets?page[size]=-1", 400),
    ("/api/v2/tickets?page[size]=0", 400),
    ("/api/v2/tickets?page[size]=abc", 400),
    ("/api/v2/tickets?page[size]=101", 400),
    ("/api/v2/tickets?page[size]=99999999999999999999", 400),
    ("/api/v2/tickets?page[after]=garbage", 400),
    ("/api/v2/tickets?page[after]=%C3%A9", 400),
    ("/api/v2/tickets?page[after]=" + b64([1, 2]), 400),
    ("/api/v2/tickets?page[after]=" + b64(None), 400),
    ("/api/v2/tickets?page[before]=" + b64({"o": "nice_id", "v": "!!"}), 400),
    ("/api/v2/tickets?page[after]=" + cursor("nice_id", [10**30]), 400),
    ("/api/v2/tickets?page[after]=" + cursor("nice_id", [1.5]), 400),
    ("/api/v2/tickets?sort=updated_at&page[after]=" + cursor("updated_at,nice_id", ["x", 1]), 400),
    ("/api/v2/tickets/recent?page[after]=" + cursor("-viewed_at,id", [LATE, 1]), 400),  # was 500
    ("/api/v2/activities?page[after]=" + cursor("-created_at,id", [EARLY, 1]), 400),  # was 500
    ("/api/v2/tickets/1/comments?page[after]=" + cursor("created_at,id", [LATE, 1]), 400),
    # offset paging and sorting
    ("/api/v2/tickets?per_page=0", 400),
    ("/api/v2/tickets?per_page=-1", 400),
    ("/api/v2/tickets?page=0", 400),
    ("/api/v2/tickets?page=abc", 400),
    ("/api/v2/tickets?page=" + str(10**30), 400),
    ("/api/v2/tickets?per_page=" + str(10**30) + "&page=101", 400),
    ("/api/v2/tickets?sort=weird", 400),
    ("/api/v2/tickets?sort=--id", 400),
    ("/api/v2/tickets?sort_by=weird", 400),
    ("/api/v2/tickets?sort_order=up", 400),
    ("/api/v2/tickets/1/comments?sort=id", 400),
    ("/api/v2/tickets?include=unknown,,", 200),
    ("/api/v2/custom_statuses?active=maybe", 400),
    # since
    ("/api/v2/activities?since=weird", 400),
    ("/api/v2/activities?since=0000-01-01", 400),
    ("/api/v2/activities?since=9999-12-31T23:59:59-14:00", 400),  # was 500
    ("/api/v2/activities?since=0001-01-01T00:00:00%2B14:00", 400),  # was 500
    ("/api/v2/activities/count?since=9999-12-31T23:59:59-14:00", 400),  # was 500
    # filters with odd characters find nothing rather than fail
    ("/api/v2/tickets?external_id=%00", 200),
    ("/api/v2/tickets?external_id=%F0%9F%98%80", 200),
    ("/api/v2/tickets?external_id=%FF", 200),
]


@pytest.mark.parametrize(("path", "status"), BAD_READS)
def test_it_answers_bad_read_input_in_zendesks_shape(sandbox, admin, path, status):
    response = send(sandbox, "GET", path, headers=admin)
    if status == 200:
        assert response.status_code == 200, response.text[:300]
        assert isinstance(response.json(), dict)
    else:
        zendesk_error(response, status)


def test_it_refuses_a_query_string_with_too_many_fields_as_a_bad_request(sandbox, admin):
    # Django refuses more than 1,000 fields; that used to escape as a 500.
    response = send(sandbox, "GET", "/api/v2/tickets?" + "a&" * 1001, headers=admin)
    zendesk_error(response, 400)


@pytest.mark.parametrize("host", ["x:abc", "[::1", "127.0.0.1:1:2"])
def test_a_malformed_host_header_is_a_bad_request_in_json(sandbox, admin, host):
    # Links in answers are built from the Host header; Django refuses a malformed one
    # (DisallowedHost), which used to escape as a 500.
    for path in ("/api/v2/tickets/1", "/_sandbox/"):
        response = send(sandbox, "GET", path, headers={**admin, "Host": host})
        zendesk_error(response, 400)


# -- credentials -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [
        "Basic !!!",
        "Basic " + base64.b64encode(b"no-colon").decode(),
        "Basic",
        "Basic \xe9\xe9",  # not ASCII: was 500
        "Basic " + base64.b64encode(b"\xff\xfe:x").decode(),  # not UTF-8
        "Bearer",
        "Bearer \xe9",
        "Weird abc",
    ],
)
def test_it_answers_malformed_credentials_with_zendesks_401(sandbox, authorization):
    for path in ("/api/v2/tickets", "/api/v2/oauth/tokens/current"):
        response = send(sandbox, "GET", path, headers={"Authorization": authorization})
        assert zendesk_error(response, 401) == {"error": "Couldn't authenticate you"}


# -- writes ------------------------------------------------------------------------------------


def deeply_nested(depth: int = 100_000) -> bytes:
    return b"[" * depth + b"]" * depth


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"not json", 400),
        (b"[]", 400),
        (b"null", 400),
        (b"\xff\xfe", 400),
        (deeply_nested(), 400),  # was 500 (RecursionError)
        (b'{"ticket": {"comment": "\\ud800"}}', 400),  # a lone surrogate: was 500
        (b'{"ticket": {"comment": "x", "subject": "\\udfff"}}', 400),  # was 500
        (b'{"ticket": {"comment": "x", "requester": {"email": "\\ud800@x"}}}', 400),  # was 500
        (b'{"ticket": "x"}', 400),
        (b'{"ticket": {"comment": []}}', 422),
        (b'{"ticket": {"comment": "x", "priority": 1}}', 422),
        (b'{"ticket": {"comment": "x", "assignee_id": "abc"}}', 422),
        (b'{"ticket": {"comment": "x", "assignee_id": 1.5}}', 422),
        (b'{"ticket": {"comment": "x", "assignee_id": true}}', 422),
        (b'{"ticket": {"comment": "x", "assignee_id": "\\u00b2"}}', 422),  # was 500
        (b'{"ticket": {"comment": "x", "group_id": "\\u00b2"}}', 422),  # was 500
        (b'{"ticket": {"comment": "x", "requester_id": "\\u00b2"}}', 422),  # was 500
        (b'{"ticket": {"comment": "x", "custom_status_id": "\\u00b2"}}', 422),  # was 500
        (b'{"ticket": {"comment": "x", "group_id": 99999999999999999999}}', 422),
        (b'{"ticket": {"comment": "x", "tags": {}}}', 422),
        (b'{"ticket": {"comment": "x", "subject": 1e308}}', 422),
    ],
)
def test_it_answers_a_bad_ticket_create_without_writing(sandbox, admin, body, status):
    headers = {**admin, "Content-Type": "application/json"}
    response = send(sandbox, "POST", "/api/v2/tickets", data=body, headers=headers)
    zendesk_error(response, status)


@pytest.mark.parametrize(
    ("ticket_id", "status"),
    [("abc", 404), ("%C2%B2", 404), ("99999999999999999999", 404), ("0", 404)],  # ² was 500
)
def test_it_answers_an_update_of_no_ticket_with_404(sandbox, admin, ticket_id, status):
    response = send(
        sandbox,
        "PUT",
        f"/api/v2/tickets/{ticket_id}",
        json={"ticket": {"comment": "hi"}},
        headers=admin,
    )
    zendesk_error(response, status)


def test_it_refuses_a_deeply_nested_update_body_as_invalid_json(sandbox, admin):
    headers = {**admin, "Content-Type": "application/json"}
    response = send(sandbox, "PUT", "/api/v2/tickets/1", data=deeply_nested(), headers=headers)
    assert zendesk_error(response, 400)["error"] == "InvalidJSON"


# -- OAuth -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/x-www-form-urlencoded", b"a=1&" * 1001),  # too many fields: was 500
        ("multipart/form-data", b"--zz\r\nbad"),  # no boundary: was 500
        ("multipart/form-data; boundary=zz", b"a=1&" * 1001),
        ("application/json", deeply_nested()),  # was 500
        ("application/json", b'{"grant_type": "refresh_token", "refresh_token": "\\ud800"}'),
        ("application/json", b"[]"),
        ("application/json", b'{"grant_type": 5}'),
    ],
)
def test_the_token_endpoint_answers_unreadable_requests_as_invalid_request(
    sandbox, content_type, body
):
    response = send(
        sandbox, "POST", "/oauth/tokens", data=body, headers={"Content-Type": content_type}
    )
    assert zendesk_error(response, 400)["error"] == "invalid_request"
    assert "error_description" in response.json()


@pytest.mark.parametrize(
    "authorization", ["Basic \xe9", "Basic !!!", "Basic " + base64.b64encode(b"\xff:\xff").decode()]
)
def test_the_token_endpoint_answers_malformed_client_credentials_with_401(sandbox, authorization):
    response = send(
        sandbox,
        "POST",
        "/oauth/tokens",
        data={"grant_type": "refresh_token", "refresh_token": "x"},
        headers={"Authorization": authorization},
    )
    assert zendesk_error(response, 401)["error"] == "invalid_client"


def test_the_authorize_page_refuses_a_form_with_too_many_fields(sandbox):
    response = send(
        sandbox,
        "POST",
        "/oauth/authorizations/new",
        data=b"a=1&" * 1001,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    zendesk_error(response, 400)


@pytest.mark.parametrize(
    "query",
    [
        "",
        "client_id=" + "x" * 3000,
        "client_id=%FF",
        "client_id=agent-inbox-demo&redirect_uri=http://127.0.0.1:99999999/auth/callback",
    ],
)
def test_the_authorize_page_refuses_a_bad_request_with_a_page_not_a_crash(sandbox, query):
    response = send(sandbox, "GET", f"/oauth/authorizations/new?{query}")
    assert response.status_code == 400
    assert "not registered" in response.text


def test_head_on_the_authorize_page_answers_like_get(sandbox):
    # HEAD is served by the GET view; it used to be read as a sign-in form post (a 400).
    query = (
        "response_type=code&client_id=agent-inbox-demo&scope=read"
        "&redirect_uri=http://127.0.0.1:1/auth/callback"
    )
    response = send(sandbox, "HEAD", f"/oauth/authorizations/new?{query}")
    assert response.status_code == 200


# -- methods -----------------------------------------------------------------------------------

API_PATHS = [
    "/api/v2/tickets",
    "/api/v2/tickets.json",
    "/api/v2/tickets/1",
    "/api/v2/tickets/count",
    "/api/v2/tickets/show_many",
    "/api/v2/tickets/recent",
    "/api/v2/tickets/1/comments",
    "/api/v2/activities",
    "/api/v2/activities/1",
    "/api/v2/users/me",
    "/api/v2/users/1",
    "/api/v2/custom_statuses",
    "/api/v2/oauth/tokens/current",
    "/api/v2/nope",
    "/api/v2/tickets.xml",
]


@pytest.mark.parametrize("method", ["OPTIONS", "DELETE", "PATCH", "TRACE", "FOO"])
def test_every_api_path_answers_an_unsupported_method_in_json(sandbox, admin, method):
    for path in API_PATHS:
        if (method, path) == ("DELETE", "/api/v2/oauth/tokens/current"):
            continue  # basic auth has no token to revoke: a 404, checked below
        response = send(sandbox, method, path, headers=admin)
        assert zendesk_error(response, 404)["error"] == "InvalidEndpoint", (method, path)
    revoke = send(sandbox, "DELETE", "/api/v2/oauth/tokens/current", headers=admin)
    zendesk_error(revoke, 404)


def test_head_answers_like_get_without_a_body(sandbox, admin):
    for path in API_PATHS[:13]:
        response = send(sandbox, "HEAD", path, headers=admin)
        assert response.status_code < 500, (path, response.status_code)
        assert response.content == b""


# -- control surface ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("webhooks", b'{"url": "http://[::1"}'),  # was 500 (urlsplit raised)
        ("webhooks", b'{"url": "http://"}'),
        ("webhooks", b'{"max_attempts": 1.5}'),
        ("webhooks", b'{"retry_base_seconds": NaN}'),
        ("webhooks", deeply_nested()),  # was 500
        ("webhooks/test", b'{"ticket_id": "1"}'),
        ("faults", b'{"error_rate": NaN}'),
        ("faults", b'{"latency_ms": Infinity}'),
        ("faults", b'{"rate_limit_per_minute": 1e400}'),
        ("faults", b"[]"),
        ("faults", b"\xff"),
        ("faults", deeply_nested()),  # was 500
        ("faults", b'{"path_prefix": "/\\ud800"}'),
        ("webhooks", b'{"url": "http://127.0.0.1:1/", "secret": "\\ud800"}'),
    ],
)
def test_the_traffic_controls_refuse_bad_settings_with_invalid_control(
    sandbox, restore_controls, path, body
):
    response = sandbox.control("POST", path, data=body)
    assert zendesk_error(response, 400)["error"] == "InvalidControl"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("idempotency", {"ttl": 10**23}),  # was 500 on the next create (date overflow)
        ("idempotency", {"ttl": True}),
        ("idempotency", {"ttl": 0}),
        ("oauth", {"access_token_ttl": 10**23}),  # was 500 on the next token
        ("oauth", {"code_ttl": True}),  # was taken as 1 s
        ("oauth", {"access_token_ttl": 1.5}),
        ("oauth/clients", {"identifier": "x"}),
        ("oauth/clients", {"identifier": "\ud800", "secret": "y"}),  # was 500
        ("oauth/clients", {"identifier": "x", "secret": "y", "redirect_uris": "z"}),
    ],
)
def test_the_other_controls_refuse_bad_settings_and_keep_the_old_ones(
    sandbox, restore_controls, path, body
):
    before = sandbox.control("GET", path).json() if path != "oauth/clients" else None
    response = sandbox.control("POST", path, json=body)
    assert response.status_code == 400, response.text[:300]
    assert "error" in response.json()
    if before is not None:
        assert sandbox.control("GET", path).json() == before


def test_the_controls_refuse_a_deeply_nested_body(sandbox, restore_controls):
    for path in ("idempotency", "oauth", "oauth/clients"):
        response = sandbox.control("POST", path, data=deeply_nested())
        assert response.status_code == 400, (path, response.text[:300])
        assert "error" in response.json()
