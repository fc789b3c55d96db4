"""After a read gets no answer, reads hold back for ZENDESK_OUTAGE_PAUSE_SECONDS in every process;
writes and the health probe still go, and an answer to either ends the pause.

Against a scripted Zendesk on a free loopback port; the pause's clock is the rate budget's,
moved by the test instead of waited out.
"""

from __future__ import annotations

import pytest
from django.core.cache import cache

from inbox.zendesk import budget, http, outage
from inbox.zendesk.errors import NotFound, UpstreamUnavailable
from tests.fakes import FakeClock
from tests.stubserver import StubServer

PAUSE = 5.0


@pytest.fixture
def server():
    with StubServer() as stub:
        yield stub


@pytest.fixture
def clock(monkeypatch, settings) -> FakeClock:
    settings.ZENDESK_OUTAGE_PAUSE_SECONDS = PAUSE
    settings.ZENDESK_MAX_RETRIES = 2
    settings.ZENDESK_RETRY_BACKOFF = 0
    fake = FakeClock()
    monkeypatch.setattr(budget, "clock", fake)
    cache.clear()
    yield fake
    cache.clear()


def read(server: StubServer, path: str = "/api/v2/tickets.json"):
    return http.request("GET", f"{server.base_url}{path}", access_token="t")


def zendesk_down(server: StubServer) -> None:
    server.answer("*", "/api/v2/tickets.json", 503, {"error": "down"})


def test_after_a_read_gets_no_answer_the_next_reads_send_nothing_for_a_moment(server, clock):
    zendesk_down(server)
    with pytest.raises(UpstreamUnavailable):
        read(server)
    tried = len(server.requests)

    with pytest.raises(UpstreamUnavailable) as held:
        read(server, "/api/v2/users/me.json")

    assert tried == 3, "the failing read used its retries"
    assert len(server.requests) == tried, "a read was sent during the pause"
    assert "not asking again for 5 s" in str(held.value)


def test_reads_go_again_once_the_pause_is_over(server, clock):
    zendesk_down(server)
    with pytest.raises(UpstreamUnavailable):
        read(server)
    server.answer("*", "/api/v2/tickets.json", 200, {"tickets": []})

    clock.advance(PAUSE - 0.5)
    with pytest.raises(UpstreamUnavailable):
        read(server)
    clock.advance(1)

    assert read(server).body == {"tickets": []}


def test_a_write_is_still_sent_and_its_answer_ends_the_pause(server, clock):
    zendesk_down(server)
    with pytest.raises(UpstreamUnavailable):
        read(server)
    server.answer("*", "/api/v2/tickets.json", 200, {"tickets": []})
    before = len(server.requests)

    http.request("PUT", f"{server.base_url}/api/v2/tickets/7.json", access_token="t", json={})

    assert len(server.requests) == before + 1
    assert read(server).body == {"tickets": []}


def test_the_health_probe_is_sent_and_its_answer_ends_the_pause(server, clock):
    zendesk_down(server)
    with pytest.raises(UpstreamUnavailable):
        read(server)
    server.answer("*", "/api/v2/tickets.json", 200, {"tickets": []})

    http.request("GET", f"{server.base_url}/api/v2/users/me.json", probe=True)

    assert read(server).body == {"tickets": []}


def test_a_refusal_is_an_answer_and_pauses_nothing(server, clock):
    server.answer("*", "/api/v2/tickets/9.json", 404, {"error": "RecordNotFound"})
    with pytest.raises(NotFound):
        read(server, "/api/v2/tickets/9.json")

    assert outage.paused_for() == 0
    assert read(server, "/api/v2/users/me.json").status_code == 200


def test_a_hang_pauses_reads_too(server, clock, settings):
    settings.ZENDESK_READ_TIMEOUT = 0.2
    server.before("GET", "/api/v2/tickets.json", lambda: server.release.wait(2))
    with pytest.raises(UpstreamUnavailable):
        read(server)

    assert outage.paused_for() == pytest.approx(PAUSE)


def test_off_when_set_to_zero(server, clock, settings):
    settings.ZENDESK_OUTAGE_PAUSE_SECONDS = 0
    zendesk_down(server)
    for _ in range(2):
        with pytest.raises(UpstreamUnavailable):
            read(server)

    assert len(server.requests) == 6
