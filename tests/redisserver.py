"""Start a throwaway redis-server on a free loopback port, for tests that share a cache.

Several processes (and helpers) run tests at once: each server gets its own port and no disk
persistence, and is stopped by its own pid, never by name.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

REDIS_SERVER = "/usr/bin/redis-server"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def redis_server_binary() -> str | None:
    """The redis-server to run, or None when it is not installed."""
    if Path(REDIS_SERVER).exists():
        return REDIS_SERVER
    return shutil.which("redis-server")


@dataclass
class RedisServer:
    """A running redis-server: its URL and its process."""

    url: str
    process: subprocess.Popen

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_redis(workdir: Path, port: int | None = None) -> RedisServer:
    """Run redis-server on 127.0.0.1 and a free port (or `port`, to bring a stopped one back);
    returns once it answers PING."""
    binary = redis_server_binary()
    if binary is None:
        raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
    port = port or free_port()
    log = (workdir / "redis.log").open("w")
    process = subprocess.Popen(
        [
            binary,
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
            "--protected-mode",
            "yes",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"redis-server exited: {(workdir / 'redis.log').read_text()[-2000:]}"
            )
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
                conn.sendall(b"PING\r\n")
                if conn.recv(16).startswith(b"+PONG"):
                    return RedisServer(url=f"redis://127.0.0.1:{port}/0", process=process)
        except OSError:
            pass
        time.sleep(0.05)
    RedisServer(url="", process=process).stop()
    raise RuntimeError("redis-server did not answer within 15 s")
