"""A Zendesk that hangs until told to answer, on a free loopback port, counting what it gets.

For tests that must show a request does not wait on Zendesk: while the stub holds every call,
an answer the app gives cannot have come from it.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ANONYMOUS_ME = {"user": {"id": None, "name": "Anonymous user", "role": "end-user"}}


class HangingZendesk:
    """Answers `GET /api/v2/users/me.json` (anonymous) only once `release()` is called."""

    def __init__(self) -> None:
        self.received = 0
        self.answered = 0
        self._released = threading.Event()
        self._lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with stub._lock:
                    stub.received += 1
                stub._released.wait(timeout=60)
                body = json.dumps(ANONYMOUS_ME).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                with stub._lock:
                    stub.answered += 1

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def release(self) -> None:
        """Answer every held and future request at once."""
        self._released.set()

    def stop(self) -> None:
        self.release()
        self._server.shutdown()
        self._server.server_close()
