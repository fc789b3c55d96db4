"""The transport against a tiny local server: cookies, budget calls, odd answers, deadlines."""

from __future__ import annotations

import uuid

import pytest

from inbox.zendesk import client, http
from inbox.zendesk.errors import (
    InvalidResponse,
    PaginationTooDeep,
    RateBudgetExhausted,
    UpstreamUnavailable,
    ZendeskError,
)
from tests.fakes import FakeClock
from tests.stubserver import StubServer


@pytest.fixture
def server():
    """A scripted Zendesk on a free loopback port: (its base URL, the stub)."""
    with StubServer() as stub:
        yield stub.base_url, stub


@pytest.fixture
def fake_clock(monkeypatch) -> FakeClock:
    """The transport's deadline clock, moved by the test (and by the server: a slow Zendesk).

    Pauses between attempts move it instead of sleeping.
    """
    clock = FakeClock()
    monkeypatch.setattr(http, "clock", clock)
    monkeypatch.setattr(http, "sleep", clock.advance)
    return clock


def test_a_cookie_set_for_one_agent_never_rides_on_another_agents_call(server):
    base, recorder = server
    recorder.answer(
        "GET", "/login-ish", 200, {}, {"Set-Cookie": "_zendesk_session=agent-a; Path=/"}
    )
    http.request("GET", f"{base}/login-ish", access_token="token-a")
    http.request("GET", f"{base}/next", access_token="token-b")
    assert "cookie" not in recorder.requests[1].headers
    assert recorder.requests[1].headers["authorization"] == "Bearer token-b"


def test_every_call_asks_the_budget_first_and_reports_the_answer(server, monkeypatch):
    base, _recorder = server
    calls: list[tuple] = []
    monkeypatch.setattr(http.budget, "reserve", lambda lane: calls.append(("reserve", lane)))
    monkeypatch.setattr(
        http.budget, "record_response", lambda status, headers: calls.append(("record", status))
    )
    http.request("GET", f"{base}/x", access_token="t", lane="background")
    assert calls == [("reserve", "background"), ("record", 200)]


def test_an_exhausted_budget_sends_nothing(server, monkeypatch):
    base, recorder = server

    def exhausted(lane):
        raise RateBudgetExhausted(retry_after=12)

    monkeypatch.setattr(http.budget, "reserve", exhausted)
    with pytest.raises(RateBudgetExhausted):
        http.request("GET", f"{base}/x", access_token="t")
    assert recorder.requests == []


def test_an_html_page_with_200_is_an_invalid_response(server):
    base, recorder = server
    recorder.answer("GET", "/html", 200, b"<html>Maintenance</html>", {"Content-Type": "text/html"})
    with pytest.raises(InvalidResponse) as raised:
        http.request("GET", f"{base}/html", access_token="t")
    assert "text/html" in str(raised.value)


def test_a_500_is_reported_at_once_without_retrying(server, settings):
    base, recorder = server
    settings.ZENDESK_MAX_RETRIES = 2
    recorder.answer("GET", "/boom", 500, {"error": "InternalServerError"})
    with pytest.raises(UpstreamUnavailable):
        http.request("GET", f"{base}/boom", access_token="t")
    assert len(recorder.requests) == 1


def test_an_unexpected_4xx_keeps_zendesks_error_code(server):
    base, recorder = server
    body = {"errors": [{"code": "InvalidPaginationDepth"}], "error": "InvalidPaginationDepth"}
    recorder.answer("GET", "/deep", 400, body)
    with pytest.raises(ZendeskError) as raised:
        http.request("GET", f"{base}/deep", access_token="t")
    assert raised.value.status_code == 400
    assert raised.value.error_code == "InvalidPaginationDepth"


def test_an_empty_204_is_fine(server):
    base, recorder = server
    recorder.answer("*", "/gone", 204)
    assert http.request("GET", f"{base}/gone", access_token="t").body is None


# Module level: a local in the test's own frame would appear in the report it inspects.
SECRET_TOKEN = "very-secret-" + uuid.uuid4().hex


def test_a_crash_report_does_not_show_the_token(server, monkeypatch):
    """Django's error report (DEBUG pages, error emails) masks the transport's secrets."""
    import sys

    from django.test import RequestFactory
    from django.views.debug import ExceptionReporter

    # DEBUG is off, as in production: Django masks marked variables in the reports it emails
    # or hands to error trackers (on a developer's DEBUG page everything shows).
    base, _recorder = server

    def crash() -> tuple[float, float]:
        raise RuntimeError("unexpected")

    # Crash inside the transport's own frame (library frames below it are not ours to mask).
    monkeypatch.setattr(http, "timeouts", crash)
    try:
        http.request("GET", f"{base}/x", access_token=SECRET_TOKEN)
    except RuntimeError:
        report = ExceptionReporter(RequestFactory().get("/"), *sys.exc_info())
        page = report.get_traceback_html()
    assert "inbox/zendesk/http.py" in page  # the transport's frame is shown, its secrets masked
    assert SECRET_TOKEN not in page


def test_offset_pagination_past_zendesks_depth_is_its_own_error(server):
    base, recorder = server
    body = {"errors": [{"code": "InvalidPaginationDepth", "title": "Offset Pagination limited"}]}
    recorder.answer("GET", "/deep", 400, body)
    with pytest.raises(PaginationTooDeep) as raised:
        http.request("GET", f"{base}/deep", access_token="t")
    assert "10,000" in raised.value.user_message


# -- the deadline ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lane", "attempts", "allowed"),
    [
        # An agent waits: attempts start at 0, 2 and 4 s; at 6 s the 5 s deadline is spent.
        ("interactive", 3, "within the 5 s allowed"),
        # Background work may take longer: attempts at 0, 2, ... 18 s; at 20 s it is spent.
        ("background", 10, "within the 20 s allowed"),
    ],
)
def test_a_slow_failing_zendesk_is_retried_only_while_the_lanes_deadline_allows(
    server, settings, fake_clock, monkeypatch, lane, attempts, allowed
):
    base, recorder = server
    settings.ZENDESK_DEADLINE_SECONDS = 5
    settings.ZENDESK_BACKGROUND_DEADLINE_SECONDS = 20
    settings.ZENDESK_MAX_RETRIES = 20
    monkeypatch.setattr(http, "backoff_seconds", lambda attempt: 0.0)
    recorder.answer("GET", "/slow", 503, {})
    recorder.before("GET", "/slow", lambda: fake_clock.advance(2))  # each answer takes 2 s
    with pytest.raises(UpstreamUnavailable) as raised:
        http.request("GET", f"{base}/slow", access_token="t", lane=lane)
    assert len(recorder.requests) == attempts
    assert allowed in str(raised.value)
    assert "503" in str(raised.value)


def test_no_pause_before_a_retry_starts_when_the_retry_could_not_finish_in_time(
    server, settings, fake_clock, monkeypatch
):
    base, recorder = server
    settings.ZENDESK_DEADLINE_SECONDS = 5
    settings.ZENDESK_MAX_RETRIES = 10
    monkeypatch.setattr(http, "backoff_seconds", lambda attempt: 3.0)
    recorder.answer("GET", "/down", 502, {})
    with pytest.raises(UpstreamUnavailable) as raised:
        http.request("GET", f"{base}/down", access_token="t")
    # First attempt at 0 s, a 3 s pause, the second at 3 s; another 3 s pause would end past 5 s.
    assert len(recorder.requests) == 2
    assert fake_clock.now == FakeClock().now + 3
    assert "tried 2 times" in str(raised.value)


def test_a_hanging_zendesk_is_given_up_on_at_the_deadline_not_the_read_timeout(server, settings):
    base, recorder = server
    settings.ZENDESK_READ_TIMEOUT = 30
    settings.ZENDESK_DEADLINE_SECONDS = 0.5
    settings.ZENDESK_MAX_RETRIES = 2
    recorder.before("GET", "/hang", recorder.hang)
    with pytest.raises(UpstreamUnavailable) as raised:
        http.request("GET", f"{base}/hang", access_token="t")
    assert len(recorder.requests) == 1  # a read timeout is never retried
    assert "within the 0.5 s allowed" in str(raised.value)
    assert "still answering" in str(raised.value)


# -- what the client's writes send ----------------------------------------------------------


def test_a_ticket_update_sends_comment_files_and_fields_in_one_body_named_as_zendesk_names_them(
    server,
):
    base, recorder = server
    answer = {"ticket": {"id": 7, "subject": "s", "status": "pending"}}
    recorder.answer("PUT", "/api/v2/tickets/7", 200, answer)
    credentials = client.Credentials(base_url=base, access_token="t", user_id=1)
    client.ticket_update(
        credentials,
        7,
        comment_body="See the attached log.",
        public=False,
        upload_tokens=["tok-1"],
        status="pending",
        ticket_type="problem",
        assignee_id=42,
        email_ccs=[{"user_email": "boss@example.com", "action": "put"}],
        custom_fields=[{"id": 360001, "value": "gold"}],
        tags=[],
        safe_update_stamp="2026-11-27T10:00:00Z",
    )
    (sent,) = recorder.requests
    assert sent.method == "PUT"
    assert sent.json() == {
        "ticket": {
            "comment": {"body": "See the attached log.", "public": False, "uploads": ["tok-1"]},
            "status": "pending",
            "type": "problem",
            "assignee_id": 42,
            "email_ccs": [{"user_email": "boss@example.com", "action": "put"}],
            "custom_fields": [{"id": 360001, "value": "gold"}],
            "tags": [],
            "safe_update": True,
            "updated_stamp": "2026-11-27T10:00:00Z",
        }
    }


def test_files_without_a_comment_are_refused_before_anything_is_sent(server):
    base, recorder = server
    credentials = client.Credentials(base_url=base, access_token="t", user_id=1)
    with pytest.raises(ValueError, match="comment_body"):
        client.ticket_update(credentials, 7, upload_tokens=["tok-1"])
    assert recorder.requests == []


def test_it_shows_many_organizations_by_id_in_one_call(server):
    """The sandbox has no organizations/show_many yet: the stub answers as Zendesk documents."""
    base, recorder = server
    answer = {"organizations": [{"id": 3, "name": "Acme"}, {"id": 5, "name": "Globex"}]}
    recorder.answer("GET", "/api/v2/organizations/show_many?ids=3%2C5", 200, answer)
    credentials = client.Credentials(base_url=base, access_token="t", user_id=1)
    organizations = client.organizations_show_many(credentials, ids=[3, 5])
    assert [(o.id, o.name) for o in organizations] == [(3, "Acme"), (5, "Globex")]
    assert len(recorder.requests) == 1
