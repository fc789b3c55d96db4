"""The transport against a tiny local server: cookies, budget calls, odd answers."""

from __future__ import annotations

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from inbox.zendesk import http
from inbox.zendesk.errors import (
    InvalidResponse,
    RateBudgetExhausted,
    UpstreamUnavailable,
    ZendeskError,
)


class Recorder(BaseHTTPRequestHandler):
    """Answers what the test scripted for each path and remembers the requests it saw."""

    answers: dict[str, tuple[int, dict[str, str], bytes]] = {}
    seen: list[dict[str, str]] = []

    def do_GET(self) -> None:
        type(self).seen.append(
            {"path": self.path, **{k.lower(): v for k, v in self.headers.items()}}
        )
        status, headers, body = type(self).answers.get(self.path, (200, {}, b"{}"))
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server():
    Recorder.answers, Recorder.seen = {}, []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", Recorder
    httpd.shutdown()
    httpd.server_close()


def test_a_cookie_set_for_one_agent_never_rides_on_another_agents_call(server):
    base, recorder = server
    recorder.answers["/login-ish"] = (
        200,
        {"Set-Cookie": "_zendesk_session=agent-a; Path=/"},
        b"{}",
    )
    http.request("GET", f"{base}/login-ish", access_token="token-a")
    http.request("GET", f"{base}/next", access_token="token-b")
    assert "cookie" not in recorder.seen[1]
    assert recorder.seen[1]["authorization"] == "Bearer token-b"


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
    assert recorder.seen == []


def test_an_html_page_with_200_is_an_invalid_response(server):
    base, recorder = server
    recorder.answers["/html"] = (200, {"Content-Type": "text/html"}, b"<html>Maintenance</html>")
    with pytest.raises(InvalidResponse) as raised:
        http.request("GET", f"{base}/html", access_token="t")
    assert "text/html" in str(raised.value)


def test_a_500_is_reported_at_once_without_retrying(server, settings):
    base, recorder = server
    settings.ZENDESK_MAX_RETRIES = 2
    recorder.answers["/boom"] = (500, {}, json.dumps({"error": "InternalServerError"}).encode())
    with pytest.raises(UpstreamUnavailable):
        http.request("GET", f"{base}/boom", access_token="t")
    assert len(recorder.seen) == 1


def test_an_unexpected_4xx_keeps_zendesks_error_code(server):
    base, recorder = server
    body = {"errors": [{"code": "InvalidPaginationDepth"}], "error": "InvalidPaginationDepth"}
    recorder.answers["/deep"] = (400, {}, json.dumps(body).encode())
    with pytest.raises(ZendeskError) as raised:
        http.request("GET", f"{base}/deep", access_token="t")
    assert raised.value.status_code == 400
    assert raised.value.error_code == "InvalidPaginationDepth"


def test_an_empty_204_is_fine(server):
    base, recorder = server
    recorder.answers["/gone"] = (204, {}, b"")
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
