"""The control API as a web page in the developer's browser would try it, and oversized requests.

A page cannot reach /_sandbox/ across sites (Origin, Referer, Sec-Fetch-Site) nor through DNS
rebinding (a Host that is not loopback); tools that send none of these pass as before.
"""

from __future__ import annotations

import pytest
import requests

from tests.sandboxserver import SandboxServer

TIMEOUT = 10


def post_faults(sandbox: SandboxServer, headers: dict[str, str]) -> requests.Response:
    return requests.post(
        f"{sandbox.base_url}/_sandbox/faults",
        json={"latency_ms": 1},
        headers=headers,
        timeout=TIMEOUT,
    )


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Referer": "http://evil.example/page.html"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Origin": "http://127.0.0.1:1"},  # another port is another origin
    ],
)
def test_a_cross_site_page_cannot_change_the_sandbox(sandbox, headers):
    response = post_faults(sandbox, headers)

    assert response.status_code == 403
    assert response.json()["error"] == "CrossSiteRequest"
    assert sandbox.control("GET", "faults").json()["latency_ms"] == 0


def test_a_page_of_the_sandbox_itself_and_tools_without_origin_may(sandbox):
    own = {"Origin": sandbox.base_url, "Referer": f"{sandbox.base_url}/_sandbox/"}

    assert post_faults(sandbox, own).status_code == 200
    assert post_faults(sandbox, {}).status_code == 200


@pytest.mark.parametrize("path", ["reset", "oauth/clients", "webhooks", "hostile"])
def test_every_state_changing_control_refuses_other_origins(sandbox, path):
    response = requests.post(
        f"{sandbox.base_url}/_sandbox/{path}",
        json={},
        headers={"Origin": "http://evil.example"},
        timeout=TIMEOUT,
    )

    assert response.status_code == 403


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8001", "127.0.0.1.evil.example"])
def test_a_foreign_host_reads_nothing_dns_rebinding_fails(sandbox, host):
    response = sandbox.get("/_sandbox/", headers={"Host": host})

    assert response.status_code == 400
    assert response.json()["error"] == "InvalidHost"
    assert sandbox.info["api_token"] not in response.text


def test_loopback_names_are_answered(sandbox):
    port = sandbox.base_url.rsplit(":", 1)[1]

    for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}"):
        assert sandbox.get("/_sandbox/", headers={"Host": host}).status_code == 200


@pytest.mark.slow
def test_a_configured_name_is_answered(default_sandbox, configured_host):
    response = default_sandbox.get("/_sandbox/", headers={"Host": configured_host})

    assert response.status_code == 200
    refused = default_sandbox.get("/_sandbox/", headers={"Host": "other.test"})
    assert refused.status_code == 400


def test_an_oversized_url_is_a_json_414(sandbox):
    response = sandbox.get("/api/v2/tickets.json", params={"x": "a" * 9000})

    assert response.status_code == 414
    assert response.json()["error"] == "RequestURITooLong"


def test_an_oversized_header_is_a_json_431(sandbox):
    response = sandbox.get("/api/v2/tickets.json", headers={"X-Big": "a" * 9000})

    assert response.status_code == 431
    assert response.json()["error"] == "RequestHeaderFieldsTooLarge"
