"""Start the sandbox as its own process on a free loopback port, for tests and benchmarks.

The tests never import `sandbox`: they run it with `python -m sandbox` and talk HTTP.
"""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
API = "/api/v2"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class SandboxServer:
    """A running sandbox: its URL, its seeded account, and its control surface."""

    base_url: str
    process: subprocess.Popen
    db_path: Path
    info: dict[str, Any] = field(default_factory=dict)

    # -- control surface -----------------------------------------------------------------
    def control(self, method: str, path: str, **kwargs) -> requests.Response:
        return requests.request(method, f"{self.base_url}/_sandbox/{path}", timeout=30, **kwargs)

    def reset(self) -> None:
        self.control("POST", "reset").raise_for_status()
        self.info = self.control("GET", "").json()

    # -- the seeded account --------------------------------------------------------------
    @property
    def api_token(self) -> str:
        return self.info["api_token"]

    def agents(self, **match: Any) -> list[dict[str, Any]]:
        return [a for a in self.info["agents"] if all(a.get(k) == v for k, v in match.items())]

    def agent(self, **match: Any) -> dict[str, Any]:
        found = self.agents(**match)
        assert found, f"no seeded agent matches {match}"
        return found[0]

    def basic_auth(self, email: str) -> dict[str, str]:
        raw = f"{email}/token:{self.api_token}".encode()
        return {"Authorization": "Basic " + base64.b64encode(raw).decode()}

    def get(self, path: str, *, as_email: str | None = None, **kwargs) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if as_email:
            headers.update(self.basic_auth(as_email))
        url = path if path.startswith("http") else f"{self.base_url}{path}"
        return requests.get(url, headers=headers, timeout=30, **kwargs)

    @property
    def admin_email(self) -> str:
        return self.agent(role="admin")["email"]

    def plain_agents(self) -> list[dict[str, Any]]:
        """Unrestricted, active agents (not the admin)."""
        return self.agents(role="agent", restricted=False, suspended=False)

    def restricted_agent(self) -> dict[str, Any]:
        return self.agent(restricted=True, suspended=False)

    def get_json(self, path: str, email: str, **params: Any) -> dict[str, Any]:
        """GET /api/v2/<path> as `email`; asserts a 200 and returns the body."""
        response = self.get(f"{API}/{path}", as_email=email, params=params)
        assert response.status_code == 200, (path, response.status_code, response.text[:300])
        return response.json()

    def walk_cursor(
        self, path: str, email: str, key: str, *, size: int = 100, **params: Any
    ) -> list[dict[str, Any]]:
        """Follow `links.next` while `meta.has_more`, as a careful client does; all rows."""
        body = self.get_json(path, email, **{"page[size]": size, **params})
        rows = list(body[key])
        while body["meta"]["has_more"]:
            response = self.get(body["links"]["next"], as_email=email)
            assert response.status_code == 200, response.text[:300]
            body = response.json()
            rows.extend(body[key])
        return rows

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def assert_bad_request(response: requests.Response) -> None:
    """Zendesk answers bad input with a JSON 400 (`error` or `errors`), never a 500."""
    assert response.status_code == 400, (response.status_code, response.text[:300])
    body = response.json()
    assert "error" in body or "errors" in body


def sandbox_command(*args: str, env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "-m", "sandbox", *args],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )


def start_sandbox(
    workdir: Path, *, extra_env: dict[str, str] | None = None, seed_args: tuple[str, ...] = ()
) -> SandboxServer:
    """Migrate, seed and serve a sandbox in `workdir`; returns once it answers."""
    port = free_port()
    db_path = workdir / "sandbox.sqlite3"
    env = {**os.environ, "SANDBOX_DB": str(db_path), **(extra_env or {})}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    sandbox_command("migrate", "--no-input", env=env)
    sandbox_command("seed", *seed_args, env=env)
    log = (workdir / "sandbox.log").open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "sandbox.wsgi",
            "--config",
            "python:sandbox.gunicorn_conf",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--threads",
            "16",
            "--worker-class",
            "gthread",
            "--timeout",
            "120",
            "--graceful-timeout",
            "2",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    server = SandboxServer(base_url=f"http://127.0.0.1:{port}", process=process, db_path=db_path)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"sandbox exited: {(workdir / 'sandbox.log').read_text()[-2000:]}")
        try:
            response = server.control("GET", "")
            if response.ok:
                server.info = response.json()
                return server
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError("sandbox did not answer within 30 s")
