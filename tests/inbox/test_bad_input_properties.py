"""Property-based bad input against every view on main today: never a 5xx.

Hypothesis draws requests a hostile or broken client could send -- arbitrary query strings
(known field names and junk, odd percent-escapes), path values, form fields and htmx headers
(HX-Request, HX-Current-URL, HX-Target, HX-Trigger, ...) -- to the inbox lists, the poll, the
theme switch, the sign-in pages and /healthz, signed in and not. Every answer must be 2xx, 3xx
or 4xx; an exception (a 500 in production) fails the test with the smallest request that
causes it. Zendesk is the sandbox, with its rate limits lifted so a deliberate 503 ("Zendesk
is not answering") cannot be mistaken for a crash.

`derandomize=True`: the same examples on every run (CI must be repeatable on a noisy
machine); `deadline=None`: the machine's speed is not a property of the app.
"""

from __future__ import annotations

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
    name=st.sampled_from(["sort", "size", "after", "before", "version"]),
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
