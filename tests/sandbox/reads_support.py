"""Helpers for the sandbox read-endpoint tests: walking pages and checking Zendesk's 400s."""

from __future__ import annotations

from typing import Any

import requests

from tests.sandboxserver import SandboxServer

API = "/api/v2"


def admin(sandbox: SandboxServer) -> str:
    return sandbox.agent(role="admin")["email"]


def restricted(sandbox: SandboxServer) -> dict[str, Any]:
    return sandbox.agent(restricted=True, suspended=False)


def plain_agents(sandbox: SandboxServer) -> list[dict[str, Any]]:
    return sandbox.agents(role="agent", restricted=False, suspended=False)


def get_json(sandbox: SandboxServer, path: str, email: str, **params: Any) -> dict[str, Any]:
    response = sandbox.get(f"{API}/{path}", as_email=email, params=params)
    assert response.status_code == 200, (path, response.status_code, response.text[:300])
    return response.json()


def walk_cursor(
    sandbox: SandboxServer, path: str, email: str, key: str, *, size: int = 100, **params: Any
) -> list[dict[str, Any]]:
    """Follow `links.next` while `meta.has_more`, as a careful client does; all rows in order."""
    body = get_json(sandbox, path, email, **{"page[size]": size, **params})
    rows = list(body[key])
    while body["meta"]["has_more"]:
        response = sandbox.get(body["links"]["next"], as_email=email)
        assert response.status_code == 200, response.text[:300]
        body = response.json()
        rows.extend(body[key])
    return rows


def assert_bad_request(response: requests.Response) -> None:
    """Zendesk answers bad input with a JSON 400 (`error` or `errors`), never a 500."""
    assert response.status_code == 400, (response.status_code, response.text[:300])
    body = response.json()
    assert "error" in body or "errors" in body
