"""Property-based bad input against every URL of inbox/urls.py: never a 5xx.

Hypothesis draws requests a hostile or broken client could send -- arbitrary query strings
(known field names and junk, odd percent-escapes), path values, form fields and htmx headers
(HX-Request, HX-Current-URL, HX-Target, HX-Trigger, ...) -- to the inbox lists, the poll, the
theme switch, the ticket page with its partials and forms (the reply form also with a real
`seen` token, so its own checks are reached), the new-ticket form and its searches, the
activity drawer with its partials and mark-read forms, the sign-in pages and callback, the
webhook receiver and /healthz, signed in and not. Every answer must be 2xx, 3xx or 4xx; an
exception (a 500 in production) fails the test with the smallest request that causes it.
`test_every_url_is_tried` keeps the list of paths in step with inbox/urls.py. Zendesk is the sandbox, with its rate limits lifted so a deliberate 503 ("Zendesk
is not answering") cannot be mistaken for a crash.

`derandomize=True`: the same examples on every run (CI must be repeatable on a noisy
machine); `deadline=None`: the machine's speed is not a property of the app.
"""

from __future__ import annotations

import base64
import json
from urllib.parse import quote, urlencode

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

PROPERTY_SETTINGS = settings(
    max_examples=80,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

KNOWN_FIELDS = [
    "sort",
    "size",
    "page",
    "external_id",
    "after",
    "before",
    "version",
    "next",
    "state",
    "code",
    "error",
    "error_description",
    "theme",
    # The new-ticket form and its pickers.
    "form_token",
    "requester_query",
    "requester_id",
    "requester_email",
    "subject",
    "description",
    "priority",
    "group_id",
    "assignee_id",
    "tags",
    # The ticket page's reply form and conversation.
    "seen",
    "body",
    "public",
    "kind",
    "submit_as",
    "status",
    "ticket_type",
    "assignee",
    "cc_add",
    "cc_remove",
    "order",
    "reapply",
    # The activity drawer and its forms.
    "verb",
    "pages",
    "through",
    "also",
    "shown",
    "desktop",
    "sound",
    "do_not_disturb",
]
HTMX_HEADERS = [
    "HX-Request",
    "HX-Current-URL",
    "HX-Target",
    "HX-Trigger",
    "HX-Trigger-Name",
    "HX-Boosted",
    "HX-History-Restore-Request",
    "HX-Prompt",
]

# Any text, control characters and lone surrogates' neighbours included.
junk = st.text(max_size=40)
ascii_junk = st.text(alphabet=st.characters(codec="ascii"), max_size=120)
field_name = st.one_of(st.sampled_from(KNOWN_FIELDS), junk)
field_value = st.one_of(
    junk,
    st.sampled_from(["", "-", "0", "25", "-updated_at", "status", "dark", "/", "//evil.example"]),
    st.text(
        alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-+/=.",
        min_size=1,
        max_size=64,
    ),  # cursor-shaped
    # Cursors as Zendesk makes them (base64 of JSON), with whatever inside.
    st.dictionaries(
        st.sampled_from(["o", "v", "id", "x"]),
        st.one_of(st.integers(), st.text(max_size=12), st.none()),
        max_size=3,
    ).map(lambda data: base64.urlsafe_b64encode(json.dumps(data).encode()).decode()),
)
fields = st.lists(st.tuples(field_name, field_value), max_size=6)
# Each known field present or not, with a drawn value: the views' own parameters get tried.
known_fields = st.fixed_dictionaries({}, optional={name: field_value for name in KNOWN_FIELDS}).map(
    urlencode
)
query_string = st.one_of(
    known_fields,
    known_fields,  # twice: most requests carry the fields the views read
    fields.map(urlencode),
    ascii_junk.map(lambda text: quote(text, safe="=&%+")),
    st.lists(st.sampled_from(["%FF", "%00", "%E2%82", "%", "&&", "==", "%C0%AF"]), max_size=8).map(
        "".join
    ),
)
header_value = st.one_of(
    st.sampled_from(["true", "false", "", "http://testserver/", "http://[", "javascript:x"]),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=255), max_size=60),
)
htmx_headers = st.dictionaries(st.sampled_from(HTMX_HEADERS), header_value, max_size=4)
path_value = st.one_of(junk, st.integers(min_value=-(2**70), max_value=2**70).map(str))

list_paths = st.sampled_from(
    [
        "/",
        "/views/assigned",
        "/views/ccd",
        "/views/followed",
        "/views/requested",
        "/views/recent",
        "/views/all",
        "/views/organizations/1",
    ]
)
other_paths = st.sampled_from(
    [
        "/inbox/poll",
        "/healthz",
        "/auth/signin",
        "/auth/callback",
        "/tickets/new",
        "/tickets/new/requesters",
        "/tickets/new/assignees",
    ]
)
get_paths = st.one_of(
    list_paths,
    list_paths,  # twice: the lists read the most parameters
    other_paths,
    path_value.map(lambda value: "/views/" + quote(value, safe="")),
    path_value.map(lambda value: "/views/organizations/" + quote(value, safe="")),
)
# Signing out is left out of the signed-in runs: it would revoke the agent's token.
post_paths_signed_in = st.sampled_from(
    [
        "/preferences/theme",
        "/auth/start",
        "/",
        "/views/all",
        "/inbox/poll",
        "/healthz",
        "/tickets/new",
        "/tickets/new/draft",
        "/tickets/new/discard",
    ]
)
post_paths_visitor = st.sampled_from(
    ["/preferences/theme", "/auth/start", "/auth/signout", "/", "/inbox/poll"]
)


# Ids as a client could send them where the URL takes a number: real, missing, zero, and
# beyond what Zendesk's 64-bit ids can hold.
id_value = st.one_of(
    st.sampled_from(["1", "2", "3", "0", "999999999", str(2**63 - 1), str(2**63), str(2**64)]),
    st.integers(min_value=0, max_value=2**80).map(str),
)
ticket_get_paths = st.one_of(
    id_value.map(lambda value: f"/tickets/{value}"),
    id_value.map(lambda value: f"/tickets/{value}/comments"),
    path_value.map(lambda value: "/tickets/" + quote(value, safe="")),
)
ticket_post_paths = st.builds(
    "/tickets/{}/{}".format, id_value, st.sampled_from(["update", "draft", "order"])
)
activity_get_paths = st.one_of(
    st.just("/activity/"),
    id_value.map(lambda value: f"/activity/{value}"),
    path_value.map(lambda value: "/activity/" + quote(value, safe="")),
)
activity_post_paths = st.one_of(
    st.sampled_from(["/activity/seen", "/activity/preferences", "/activity/"]),
    id_value.map(lambda value: f"/activity/{value}/open"),
)
any_get_path = st.one_of(get_paths, ticket_get_paths, activity_get_paths, st.just("/auth/start"))
any_post_path = st.one_of(post_paths_visitor, ticket_post_paths, activity_post_paths)
# A ticket form's own values, as the page makes them and as a client could change them.
reply_value = st.one_of(
    field_value,
    st.sampled_from(
        [
            "new", "open", "pending", "hold", "solved", "closed", "urgent", "task", "keep",
            "none", "group:1", "agent:1:2", "group:99999999999999999999", "public", "note",
            "oldest", "newest", "on", "1", "x@example.com", "a, b; c", "2026-01-01T00:00:00Z",
        ]
    ),
)  # fmt: skip
reply_names = st.sampled_from(
    [
        "body", "public", "kind", "submit_as", "status", "priority", "ticket_type",
        "assignee", "tags", "cc_add", "cc_remove", "reapply",
    ]
)  # fmt: skip
reply_fields = st.lists(st.tuples(reply_names, reply_value), max_size=6)
WEBHOOK_SECRET = "property-test-secret"
webhook_headers = st.fixed_dictionaries(
    {},
    optional={
        "X-Zendesk-Webhook-Signature": st.one_of(header_value, st.just("aGVsbG8=")),
        "X-Zendesk-Webhook-Signature-Timestamp": st.one_of(
            header_value, st.integers(-(2**40), 2**40).map(str)
        ),
        "Content-Type": st.sampled_from(["application/json", "text/plain", "", "multipart/x"]),
    },
)
webhook_body = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200).map(str.encode),
    st.sampled_from(
        [
            b"{}",
            b"[]",
            b"null",
            b'{"type": "zen:event-type:ticket.status_changed"}',
            b'{"detail":1}',
        ]
    ),
)


def assert_no_server_error(response, request: str) -> None:
    assert response.status_code < 500, f"{request} answered {response.status_code}"


@pytest.fixture
def lifted_limits(inbox_sandbox, settings):
    """No rate limit in the way: a 503 for a spent budget is deliberate, not a crash."""
    settings.ZENDESK_RATE_LIMIT_PER_MINUTE = 1_000_000
    inbox_sandbox.control(
        "POST",
        "faults",
        json={"rate_limit_per_minute": 1_000_000, "tickets_index_rate_limit_per_minute": 1_000_000},
    )
    yield inbox_sandbox
    inbox_sandbox.control("POST", "faults", json={})


@PROPERTY_SETTINGS
@given(path=get_paths, query=query_string, headers=htmx_headers)
def test_a_visitor_never_gets_a_server_error_with_get(path, query, headers):
    response = Client().get(f"{path}?{query}", headers=headers)
    assert_no_server_error(response, f"GET {path}?{query} {headers}")


@PROPERTY_SETTINGS
@given(path=post_paths_visitor, query=query_string, form=fields, headers=htmx_headers)
def test_a_visitor_never_gets_a_server_error_with_post(path, query, form, headers):
    response = Client().post(f"{path}?{query}", dict(form), headers=headers)
    assert_no_server_error(response, f"POST {path}?{query} {form} {headers}")


@PROPERTY_SETTINGS
@given(path=get_paths, query=query_string, headers=htmx_headers)
def test_a_signed_in_agent_never_gets_a_server_error_with_get(
    agent_client, lifted_limits, path, query, headers
):
    response = agent_client.get(f"{path}?{query}", headers=headers)
    assert_no_server_error(response, f"GET {path}?{query} {headers}")


@PROPERTY_SETTINGS
@given(
    path=st.one_of(list_paths, st.just("/inbox/poll")),
    name=st.sampled_from(["sort", "size", "page", "external_id", "after", "before", "version"]),
    value=field_value,
    headers=htmx_headers,
)
def test_each_list_parameter_alone_never_gives_a_signed_in_agent_a_server_error(
    agent_client, lifted_limits, path, name, value, headers
):
    """One parameter at a time, the rest as the app makes them: each of the list's own checks
    is reached (a junk `sort` would otherwise hide what a junk `size` does)."""
    query = urlencode({name: value})
    response = agent_client.get(f"{path}?{query}", headers=headers)
    assert_no_server_error(response, f"GET {path}?{query} {headers}")


@PROPERTY_SETTINGS
@given(path=post_paths_signed_in, query=query_string, form=fields, headers=htmx_headers)
def test_a_signed_in_agent_never_gets_a_server_error_with_post(
    agent_client, lifted_limits, path, query, form, headers
):
    response = agent_client.post(f"{path}?{query}", dict(form), headers=headers)
    assert_no_server_error(response, f"POST {path}?{query} {form} {headers}")


FEW = settings(PROPERTY_SETTINGS, max_examples=30)


def test_every_url_is_tried():
    """Each route of inbox/urls.py is in one of the strategies above (a new view must join)."""
    from inbox.urls import urlpatterns

    routes = {str(pattern.pattern) for pattern in urlpatterns}
    tried = {
        "", "views/<slug:view_key>", "views/organizations/<int:organization_id>",
        "inbox/poll", "preferences/theme", "tickets/<int:ticket_id>",
        "tickets/<int:ticket_id>/update", "tickets/<int:ticket_id>/draft",
        "tickets/<int:ticket_id>/comments", "tickets/<int:ticket_id>/order", "activity/",
        "activity/seen", "activity/preferences", "activity/<int:activity_id>",
        "activity/<int:activity_id>/open", "tickets/new", "tickets/new/draft",
        "tickets/new/discard", "tickets/new/requesters", "tickets/new/assignees", "healthz",
        "webhooks/zendesk", "auth/signin", "auth/start", "auth/callback", "auth/signout",
    }  # fmt: skip
    assert routes == tried, routes ^ tried


@FEW
@given(
    path=st.one_of(ticket_get_paths, activity_get_paths), query=query_string, headers=htmx_headers
)
def test_a_visitor_never_gets_a_server_error_from_tickets_or_activity(path, query, headers):
    response = Client().get(f"{path}?{query}", headers=headers)
    assert_no_server_error(response, f"GET {path}?{query} {headers}")
    signing_in = response.status_code >= 300 or response.has_header("HX-Redirect")
    assert signing_in, "no page without signing in (htmx is sent to sign in by HX-Redirect)"


@FEW
@given(path=any_post_path, form=fields, headers=htmx_headers)
def test_a_visitor_never_gets_a_server_error_posting_anywhere(path, form, headers):
    response = Client(enforce_csrf_checks=True).post(path, dict(form), headers=headers)
    assert_no_server_error(response, f"POST {path} {form} {headers}")


@FEW
@given(
    path=st.one_of(ticket_get_paths, activity_get_paths), query=query_string, headers=htmx_headers
)
def test_a_signed_in_agent_never_gets_a_server_error_from_tickets_or_activity(
    agent_client, lifted_limits, path, query, headers
):
    response = agent_client.get(f"{path}?{query}", headers=headers)
    assert_no_server_error(response, f"GET {path}?{query} {headers}")


@FEW
@given(
    path=st.one_of(ticket_post_paths, activity_post_paths),
    query=query_string,
    form=st.one_of(fields, reply_fields),
    headers=htmx_headers,
)
def test_a_signed_in_agent_never_gets_a_server_error_posting_tickets_or_activity(
    agent_client, lifted_limits, path, query, form, headers
):
    response = agent_client.post(f"{path}?{query}", dict(form), headers=headers)
    assert_no_server_error(response, f"POST {path}?{query} {form} {headers}")


@pytest.fixture
def own_ticket(agent, agent_client, lifted_limits) -> tuple[int, str]:
    """A ticket made for this test (what the drawn forms write lands on it alone) and the
    `seen` token its page gives, so the reply form's checks past the token are reached."""
    import requests

    from tests.inbox.conftest import hidden_fields

    created = requests.post(
        f"{lifted_limits.base_url}/api/v2/tickets",
        json={"ticket": {"subject": "Property test", "comment": {"body": "Hello"}}},
        headers=lifted_limits.basic_auth(agent.email),
        timeout=30,
    )
    assert created.status_code == 201, created.text[:300]
    ticket_id = created.json()["ticket"]["id"]
    page = agent_client.get(f"/tickets/{ticket_id}")
    assert page.status_code == 200
    return ticket_id, hidden_fields(page.content.decode())["seen"]


@settings(PROPERTY_SETTINGS, max_examples=50)
@given(
    action=st.sampled_from(["update", "draft"]),
    form=reply_fields,
    forge=st.integers(min_value=0, max_value=4),
    forged=field_value,
    headers=htmx_headers,
)
def test_the_reply_form_with_a_real_seen_token_never_gives_a_server_error(
    agent_client, own_ticket, action, form, forge, forged, headers
):
    """Mostly with the page's own token (a fifth forged): the checks past it are reached."""
    ticket_id, token = own_ticket
    data: dict[str, object] = {"seen": forged if forge == 0 else token}
    for name, value in form:
        data.setdefault(name, [])
        data[name] = [*data[name], value] if isinstance(data[name], list) else [value]
    path = f"/tickets/{ticket_id}/{action}"
    response = agent_client.post(path, data, headers=headers)
    assert_no_server_error(response, f"POST {path} {data} {headers}")


@FEW
@given(
    query=query_string,
    headers=htmx_headers,
    signed_in=st.booleans(),
)
def test_the_sign_in_callback_never_gives_a_server_error(agent_client, query, headers, signed_in):
    client = agent_client if signed_in else Client()
    response = client.get(f"/auth/callback?{query}", headers=headers)
    assert_no_server_error(response, f"GET /auth/callback?{query} {headers}")


@FEW
@given(body=webhook_body, headers=webhook_headers, query=query_string, secret=st.booleans())
def test_the_webhook_receiver_never_gives_a_server_error(
    settings, lifted_limits, body, headers, query, secret
):
    """Checked by its signature, not a session: junk is refused with a 4xx, never a 500."""
    settings.ZENDESK_WEBHOOK_SECRET = WEBHOOK_SECRET if secret else ""
    headers = dict(headers)
    content_type = headers.pop("Content-Type", "application/json")
    response = Client().post(
        f"/webhooks/zendesk?{query}", body, content_type=content_type, headers=headers
    )
    assert_no_server_error(response, f"POST /webhooks/zendesk {body!r} {headers}")
    assert response.status_code >= 400, "an unsigned or badly signed call is refused"
