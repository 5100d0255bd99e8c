"""Streaming in lockstep: a proxy that buffers must fail these tests, not just be slow.

The upstream sends server-sent event N+1 only after the test has received event N
through the engine (an asyncio.Event on the upstream's loop that the test sets), and the
test sends the rest of an upload only after the upstream has acknowledged its first MiB.
A proxy that holds either direction until the message is complete deadlocks against
that, and the deadline on each wait turns the deadlock into a failure. The last two
tests show the checks do catch buffering: the upload through nginx (which buffers request
bodies by default), the events through a store-and-forward proxy.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from tests.support.nginx import NginxConfig, NginxProcess, require_nginx
from tests.support.rawhttp import RawClient, ResponseTimeout, parse_response, request
from tests.support.recording_upstream import (
    BackgroundLoop,
    EngineInFront,
    Handler,
    RecordingUpstream,
    UpstreamExchange,
)

HOST = b"stream.example.com"
STEP_DEADLINE = 5.0
EVENTS = 4
MIB = 1 << 20
UPLOAD = 3 * MIB


@dataclass(slots=True)
class EventStream:
    """One SSE exchange's lockstep: ``received[i]`` is set by the test when event i has
    arrived; ``stalled`` records an upstream that waited in vain."""

    received: list[asyncio.Event] = field(
        default_factory=lambda: [asyncio.Event() for _ in range(EVENTS)]
    )
    stalled: list[int] = field(default_factory=list)


@dataclass(slots=True)
class Upload:
    """The upstream sets ``first_mib`` once it has read a MiB of the body."""

    first_mib: threading.Event = field(default_factory=threading.Event)


@dataclass(slots=True)
class Rig:
    bg: BackgroundLoop
    upstream: RecordingUpstream
    engine: EngineInFront
    stream: EventStream
    upload: Upload


def event(i: int) -> bytes:
    return b"id: %d\nevent: token\ndata: event %d\n\n" % (i, i)


def sse_handler(stream: EventStream, framing: str) -> Handler:
    async def handler(ex: UpstreamExchange) -> None:
        await ex.read_body()
        head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
        if framing == "chunked":
            ex.write(head + b"Transfer-Encoding: chunked\r\n\r\n")
        else:
            ex.write(head + b"\r\n")
            ex.keep_alive = False
        for i in range(EVENTS):
            payload = event(i)
            ex.write(b"%x\r\n%s\r\n" % (len(payload), payload) if framing == "chunked" else payload)
            await ex.drain()
            try:
                await asyncio.wait_for(stream.received[i].wait(), STEP_DEADLINE)
            except TimeoutError:
                stream.stalled.append(i)
                ex.keep_alive = False
                return
        if framing == "chunked":
            ex.write(b"0\r\n\r\n")

    return handler


def upload_handler(upload: Upload) -> Handler:
    async def handler(ex: UpstreamExchange) -> None:
        digest = hashlib.sha256()
        while chunk := await ex.read_chunk():
            digest.update(chunk)
            if ex.body_received >= MIB and not upload.first_mib.is_set():
                upload.first_mib.set()
        ex.reply(200, [], b"%d %s" % (ex.body_received, digest.hexdigest().encode()))

    return handler


@pytest.fixture
def rig() -> Iterator[Rig]:
    bg = BackgroundLoop()
    upstream = RecordingUpstream()
    stream, upload = EventStream(), Upload()
    upstream.route(b"/sse-chunked", sse_handler(stream, "chunked"))
    upstream.route(b"/sse-close", sse_handler(stream, "close"))
    upstream.route(b"/upload", upload_handler(upload))
    engine = EngineInFront(bg, {HOST: bg.run(upstream.start())})
    try:
        engine.start()
        yield Rig(bg, upstream, engine, stream, upload)
    finally:
        engine.close()
        bg.run(upstream.close())
        bg.stop()


@pytest.mark.parametrize("framing", ["chunked", "close"])
def test_server_sent_events_arrive_one_by_one(rig: Rig, framing: str) -> None:
    """Event i+1 exists only after the client has seen event i through the engine."""
    raw = b""
    with RawClient(rig.engine.port, timeout=STEP_DEADLINE) as client:
        client.send(
            request(b"GET", b"/sse-" + framing.encode(), HOST, [(b"Accept", b"text/event-stream")])
        )
        for i in range(EVENTS):
            try:
                raw += client.read_until(b"data: event %d\n\n" % i, STEP_DEADLINE)
            except ResponseTimeout as exc:
                pytest.fail(
                    f"event {i} not relayed within {STEP_DEADLINE}s (buffered?): {exc.received!r}"
                )
            rig.bg.set_event(rig.stream.received[i])
        raw += client.read_until(b"0\r\n\r\n", STEP_DEADLINE)
    assert rig.stream.stalled == []
    parsed = parse_response(raw, b"GET")
    assert parsed is not None
    response, used = parsed
    assert used == len(raw)
    assert response.status == 200
    assert response.chunked, "a streamed response must reach an HTTP/1.1 client chunked"
    assert response.header(b"content-type") == b"text/event-stream"
    assert response.body == b"".join(event(i) for i in range(EVENTS))


@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_upload_reaches_upstream_before_it_ends(rig: Rig, framing: str) -> None:
    """The client sends the last 2 MiB only once the upstream has read the first."""
    body = bytes(range(256)) * (UPLOAD // 256)
    if framing == "length":
        head = request(b"POST", b"/upload", HOST, [(b"Content-Length", b"%d" % len(body))])
        first, rest = body[:MIB], body[MIB:]
    else:
        head = request(b"POST", b"/upload", HOST, [(b"Transfer-Encoding", b"chunked")])
        first = b"%x\r\n%s\r\n" % (MIB, body[:MIB])
        rest = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body) - MIB, body[MIB:])
    with RawClient(rig.engine.port, timeout=STEP_DEADLINE) as client:
        client.send(head + first)
        assert rig.upload.first_mib.wait(STEP_DEADLINE), (
            f"the upstream did not get the first MiB within {STEP_DEADLINE}s (buffered?)"
        )
        client.send(rest)
        response = client.read_response(b"POST", STEP_DEADLINE)
    assert response.status == 200
    assert response.body == b"%d %s" % (len(body), hashlib.sha256(body).hexdigest().encode())


def test_upload_lockstep_catches_a_buffering_proxy() -> None:
    """The same upload through nginx, which buffers request bodies by default: the
    upstream must not see the first MiB before the client sends the rest."""
    binary = require_nginx()
    bg = BackgroundLoop()
    upstream = RecordingUpstream()
    upload = Upload()
    upstream.route(b"/upload", upload_handler(upload))
    nginx = NginxProcess(
        NginxConfig(routes={HOST.decode(): bg.run(upstream.start())}), binary=binary
    )
    try:
        nginx.start()
        body = b"x" * UPLOAD
        with RawClient(nginx.port, timeout=STEP_DEADLINE) as client:
            client.send(request(b"POST", b"/upload", HOST, [(b"Content-Length", b"%d" % UPLOAD)]))
            client.send(body[:MIB])
            assert not upload.first_mib.wait(1.0), "nginx streamed the request body"
            client.send(body[MIB:])
            response = client.read_response(b"POST", STEP_DEADLINE)
        assert response.status == 200
    finally:
        nginx.cleanup()
        bg.run(upstream.close())
        bg.stop()


async def start_store_and_forward_proxy(upstream_port: int) -> asyncio.Server:
    """A proxy that relays a response only once the upstream has closed: the kind of
    proxy the event lockstep exists to catch."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", upstream_port)
            up_writer.write(head)
            writer.write(await up_reader.read())
            await writer.drain()
            up_writer.close()
        except asyncio.CancelledError:
            pass
        finally:
            writer.close()

    return await asyncio.start_server(serve, "127.0.0.1", 0)


def test_event_lockstep_catches_a_buffering_proxy() -> None:
    """The event stream through a store-and-forward proxy: event 0 must not arrive."""
    bg = BackgroundLoop()
    upstream = RecordingUpstream()
    upstream.route(b"/sse-chunked", sse_handler(EventStream(), "chunked"))
    try:
        proxy = bg.run(start_store_and_forward_proxy(bg.run(upstream.start())))
        port = int(proxy.sockets[0].getsockname()[1])
        with RawClient(port, timeout=STEP_DEADLINE) as client:
            client.send(request(b"GET", b"/sse-chunked", HOST, []))
            with pytest.raises(ResponseTimeout):
                client.read_until(b"data: event 0\n\n", 1.0)
        bg.call_soon(proxy.close)
    finally:
        bg.run(upstream.close())
        bg.stop()
