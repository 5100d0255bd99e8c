"""HTTP probes over raw connections: answers, refusals, silence, garbage."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest

from tests.runtime import ECHO
from tests.support.ports import free_port
from tests.support.processes import async_running
from zeroserve.runtime.probe import ProbeResult, http_probe, parse_status_line, probe_request

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def serve(handler: Handler) -> AsyncIterator[int]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


def answering(raw: bytes) -> Handler:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(raw)
        await writer.drain()
        writer.close()

    return handle


async def test_real_predictor_answers() -> None:
    port = free_port()
    argv = [sys.executable, ECHO, "--port", str(port), "--model-name", "iris"]
    async with async_running(argv, port=port, http_path="/v2/health/ready"):
        assert await http_probe("127.0.0.1", port, "/v2/health/ready", 1.0) == ProbeResult(
            True, 200
        )
        assert await http_probe("127.0.0.1", port, "/v1/models/iris", 1.0) == ProbeResult(True, 200)
        missing = await http_probe("127.0.0.1", port, "/v1/models/nope", 1.0)
        assert missing == ProbeResult(False, 404) and missing.describe() == "HTTP 404"


@pytest.mark.parametrize(
    ("raw", "ok", "status"),
    [
        (b"HTTP/1.1 204 No Content\r\n\r\n", True, 204),
        (b"HTTP/1.0 302 Found\r\nLocation: /x\r\n\r\n", True, 302),  # as the kubelet
        (b"HTTP/1.1 503 Service Unavailable\r\n\r\n", False, 503),
        (b"HTTP/1.1 199 Odd\r\n\r\n", False, 199),
    ],
)
async def test_status_classes(raw: bytes, ok: bool, status: int) -> None:
    async with serve(answering(raw)) as port:
        assert await http_probe("127.0.0.1", port, "/", 1.0) == ProbeResult(ok, status)


async def test_refused_silent_garbage_and_closed() -> None:
    refused = await http_probe("127.0.0.1", free_port(), "/", 1.0)
    assert refused == ProbeResult(False, error="Connection refused")

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # never answers; the probe gives up and closes

    async with serve(silent) as port:
        result = await http_probe("127.0.0.1", port, "/", 0.05)
        assert result == ProbeResult(False, error="no answer within 0.05s")

    async with serve(answering(b"SSH-2.0-OpenSSH\r\n")) as port:
        result = await http_probe("127.0.0.1", port, "/", 1.0)
        assert result == ProbeResult(False, error="not an HTTP answer: b'SSH-2.0-OpenSSH\\r\\n'")

    async with serve(answering(b"")) as port:
        result = await http_probe("127.0.0.1", port, "/", 1.0)
        assert result == ProbeResult(False, error="connection closed without an answer")


def test_status_line_parsing() -> None:
    assert parse_status_line(b"HTTP/1.1 200 OK\r\n") == 200
    assert parse_status_line(b"HTTP/1.1 404\r\n") == 404
    assert parse_status_line(b"HTTP/1.1 20 OK\r\n") is None
    assert parse_status_line(b"HTTP/1.1 abc OK\r\n") is None
    assert parse_status_line(b"ICY 200 OK\r\n") is None
    assert parse_status_line(b"HTTP/1.1 700 Odd\r\n") is None
    assert parse_status_line(b"") is None


def test_request_asks_for_close() -> None:
    raw = probe_request("127.0.0.1", 8081, "/v2/health/ready")
    assert raw.startswith(b"GET /v2/health/ready HTTP/1.1\r\nHost: 127.0.0.1:8081\r\n")
    assert b"\r\nConnection: close\r\n" in raw and raw.endswith(b"\r\n\r\n")
