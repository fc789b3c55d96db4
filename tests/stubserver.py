"""One tiny HTTP server for tests that need a scripted peer on a free loopback port.

It stands in for Zendesk (odd answers, hangs, a fake token endpoint) or for a webhook receiver:
each test scripts answers by method and path, and reads back what was asked. It runs in a
thread of the test process and is stopped by the fixture that started it (never by name).

    with StubServer() as stub:
        stub.answer("GET", "/api/v2/users/me", 200, {"user": {...}})
        ...
        assert stub.requests[0].path == "/api/v2/users/me"
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Seen:
    """One request the stub received."""

    method: str
    path: str  # with its query string, as sent
    headers: dict[str, str]  # names in lower case
    body: bytes

    @property
    def route(self) -> str:
        """`METHOD /path` without the query string, e.g. "GET /api/v2/users/me"."""
        return f"{self.method} {urlsplit(self.path).path}"

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Answer:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def _encoded(body: Any) -> tuple[bytes, dict[str, str]]:
    if body is None:
        return b"", {}
    if isinstance(body, bytes):
        return body, {}
    if isinstance(body, str):
        return body.encode(), {"Content-Type": "text/plain; charset=utf-8"}
    return json.dumps(body).encode(), {"Content-Type": "application/json"}


class StubServer:
    """A scripted HTTP peer. Unscripted routes answer `default` (200 `{}` unless changed).

    - `answer(method, path, status, body, headers)` scripts one route; `path` may carry a
      query string (matched exactly first) or not (matched on the path alone); method "*"
      matches any method.
    - `answer_queue(method, path, [(status, body), ...])` answers in turn, then the route's
      scripted answer or the default.
    - `before(method, path, hook)` runs `hook()` before answering (advance a fake clock, or
      block on `release`: a hanging upstream).
    - `release` is set when the server stops, so a hook that hangs on it lets go.
    """

    def __init__(self, default: Answer | None = None) -> None:
        self.default = default or Answer(200, b"{}", {"Content-Type": "application/json"})
        self.requests: list[Seen] = []
        self.release = threading.Event()
        self._answers: dict[tuple[str, str], Answer] = {}
        self._queues: dict[tuple[str, str], list[Answer]] = {}
        self._hooks: dict[tuple[str, str], Callable[[], None]] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    # -- scripting ---------------------------------------------------------------------------
    def answer(
        self,
        method: str,
        path: str,
        status: int = 200,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        payload, content_headers = _encoded(body)
        self._answers[(method, path)] = Answer(
            status, payload, {**content_headers, **(headers or {})}
        )

    def answer_queue(self, method: str, path: str, answers: list[tuple[int, Any]]) -> None:
        queued = []
        for status, body in answers:
            payload, content_headers = _encoded(body)
            queued.append(Answer(status, payload, content_headers))
        self._queues[(method, path)] = queued

    def before(self, method: str, path: str, hook: Callable[[], None]) -> None:
        self._hooks[(method, path)] = hook

    def hang(self) -> None:
        """A hook that holds the answer until the server stops."""
        self.release.wait(timeout=30)

    # -- reading back ------------------------------------------------------------------------
    def routes(self) -> list[str]:
        return [seen.route for seen in self.requests]

    def count(self, route: str) -> int:
        return sum(1 for seen in self.requests if seen.route == route)

    def wait_for(self, count: int, *, seconds: float = 10) -> list[Seen]:
        """The requests once there are `count` of them (a webhook sent from another process);
        fails the test if they do not come within `seconds`."""
        deadline = time.monotonic() + seconds
        while len(self.requests) < count:
            assert time.monotonic() < deadline, f"got {len(self.requests)} of {count} requests"
            time.sleep(0.02)
        return list(self.requests)

    # -- life ------------------------------------------------------------------------------------
    def stop(self) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> StubServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- serving ---------------------------------------------------------------------------------
    def _lookup(self, table: dict[tuple[str, str], Any], method: str, path: str) -> Any:
        bare = urlsplit(path).path
        for key in ((method, path), (method, bare), ("*", path), ("*", bare)):
            if key in table:
                return table[key]
        return None

    def _respond_to(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        method, path = handler.command, handler.path
        self.requests.append(
            Seen(method, path, {k.lower(): v for k, v in handler.headers.items()}, body)
        )
        hook = self._lookup(self._hooks, method, path)
        if hook is not None:
            hook()
        with self._lock:
            queue = self._lookup(self._queues, method, path)
            answer = queue.pop(0) if queue else None
        answer = answer or self._lookup(self._answers, method, path) or self.default
        handler.send_response(answer.status)
        for name, value in answer.headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(answer.body)))
        handler.end_headers()
        if method != "HEAD":
            handler.wfile.write(answer.body)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                stub._respond_to(self)

            do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_GET

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: tests read `requests` instead."""

        return Handler
