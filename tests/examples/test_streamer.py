"""The streamer example as a real process: server-sent events arrive one by one."""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.support.ports import free_port
from tests.support.processes import async_running, running

SERVER = str(Path(__file__).resolve().parents[2] / "examples" / "streamer" / "server.py")
READY = r"streamer ready port=(\d+) monotonic=([0-9.]+)"
EVENT_TIMEOUT = 5.0  # seconds to wait for one event before failing


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    port = free_port()
    argv = [sys.executable, SERVER, "--port", str(port), "--interval-ms", "0"]
    with running(argv, ready_line=READY, port=port, http_path="/v1/models/streamer"):
        yield f"http://127.0.0.1:{port}"


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        yield session


async def call(http: aiohttp.ClientSession, method: str, url: str, **kw: Any) -> tuple[int, Any]:
    async with http.request(method, url, **kw) as r:
        return r.status, await r.json(content_type=None)


class Events:
    """Server-sent events from a response, read one at a time as they arrive."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.content = response.content

    async def next(self) -> Any:
        """The next event's data, decoded from JSON (``"[DONE]"`` as is); None at the end."""
        data: list[str] = []
        while True:
            line = await asyncio.wait_for(self.content.readline(), EVENT_TIMEOUT)
            if not line:
                return None
            text = line.decode().rstrip("\n")
            if text.startswith("data: "):
                data.append(text.removeprefix("data: "))
            elif text == "" and data:
                joined = "\n".join(data)
                return joined if joined == "[DONE]" else json.loads(joined)

    async def rest(self) -> list[Any]:
        events = []
        while (event := await self.next()) is not None:
            events.append(event)
        return events


async def test_stream_sends_tokens_then_done(server: str, http: aiohttp.ClientSession) -> None:
    url = f"{server}/v1/models/streamer:stream?prompt=to+be+or&n=4&interval_ms=0"
    async with http.get(url) as r:
        assert r.status == 200 and r.headers["Content-Type"].startswith("text/event-stream")
        events = await Events(r).rest()
    words = ["to", "be", "or", "to"]
    assert events == [*({"token": w, "index": i} for i, w in enumerate(words)), "[DONE]"]


async def test_events_arrive_one_by_one(server: str, http: aiohttp.ClientSession) -> None:
    """Each token after the first waits for its gate to open: the client must read event 1
    while the server has produced only event 1, or nothing streams."""
    gate = uuid.uuid4().hex
    url = f"{server}/v1/models/streamer:stream?prompt=a+b+c&n=3&gate={gate}"
    async with http.get(url) as r:
        events = Events(r)
        assert await events.next() == {"token": "a", "index": 0}
        assert await call(http, "GET", f"{server}/gates/{gate}") == (
            200,
            {"sent": 1, "released": 0},
        )
        assert await call(http, "POST", f"{server}/gates/{gate}/open") == (
            200,
            {"sent": 1, "released": 1},
        )
        assert await events.next() == {"token": "b", "index": 1}
        _, state = await call(http, "GET", f"{server}/gates/{gate}")
        assert state == {"sent": 2, "released": 1}
        await call(http, "POST", f"{server}/gates/{gate}/open?count=1")
        assert await events.rest() == [{"token": "c", "index": 2}, "[DONE]"]


async def test_interval_paces_the_tokens(server: str, http: aiohttp.ClientSession) -> None:
    arrivals = []
    url = f"{server}/v1/models/streamer:stream?n=3&interval_ms=100"
    async with http.get(url) as r:
        events = Events(r)
        while await events.next() not in (None, "[DONE]"):
            arrivals.append(time.monotonic())
    assert len(arrivals) == 3
    assert arrivals[-1] - arrivals[0] >= 0.2  # two pauses between three tokens


async def test_post_stream_takes_a_json_body(server: str, http: aiohttp.ClientSession) -> None:
    body = {"prompt": "x y", "n": 3, "interval_ms": 0}
    async with http.post(f"{server}/v1/models/streamer:stream", json=body) as r:
        events = await Events(r).rest()
    assert [e["token"] for e in events[:-1]] == ["x", "y", "x"] and events[-1] == "[DONE]"


async def test_completions_stream_openai_chunks(server: str, http: aiohttp.ClientSession) -> None:
    gate = uuid.uuid4().hex
    body = {"model": "streamer", "prompt": "hi there", "max_tokens": 3, "stream": True}
    async with http.post(f"{server}/v1/completions", json={**body, "gate": gate}) as r:
        events = Events(r)
        first = await events.next()
        assert first["object"] == "text_completion" and first["model"] == "streamer"
        assert first["choices"] == [{"index": 0, "text": "hi", "finish_reason": None}]
        await call(http, "POST", f"{server}/gates/{gate}/open?count=2")
        rest = await events.rest()
    assert rest[-1] == "[DONE]" and {e["id"] for e in rest[:-1]} == {first["id"]}
    assert [e["choices"][0]["finish_reason"] for e in rest[:-1]] == [None, "length"]
    streamed = "".join(e["choices"][0]["text"] for e in [first, *rest[:-1]])
    status, whole = await call(
        http, "POST", f"{server}/v1/completions", json={**body, "stream": False}
    )
    assert status == 200 and whole["choices"][0]["text"] == streamed == "hi there hi"
    assert whole["usage"] == {"prompt_tokens": 2, "completion_tokens": 3, "total_tokens": 5}


async def test_predict_answers_at_once(server: str, http: aiohttp.ClientSession) -> None:
    instances = ["a b", {"prompt": "c", "n": 2}]
    status, body = await call(
        http, "POST", f"{server}/v1/models/streamer:predict", json={"instances": instances}
    )
    assert (status, body) == (200, {"predictions": ["a b a b a b a b", "c c"]})


async def test_readiness_and_errors(server: str, http: aiohttp.ClientSession) -> None:
    assert await call(http, "GET", f"{server}/v1/models/streamer") == (
        200,
        {"name": "streamer", "ready": True},
    )
    unknown = (404, {"error": "Model with name nope does not exist."})
    assert await call(http, "GET", f"{server}/v1/models/nope:stream") == unknown
    assert await call(http, "POST", f"{server}/v1/models/nope:predict", json={}) == unknown
    assert await call(http, "POST", f"{server}/v1/completions", json={"model": "nope"}) == unknown
    for query in ("n=-1", "n=x", "interval_ms=-5"):
        status, body = await call(http, "GET", f"{server}/v1/models/streamer:stream?{query}")
        assert status == 400 and body["error"], query
    status, body = await call(http, "POST", f"{server}/v1/models/streamer:stream", data=b"[")
    assert status == 400 and "Unrecognized request format" in body["error"]
    status, body = await call(http, "GET", f"{server}/gates/never-opened")
    assert status == 404
    status, body = await call(http, "POST", f"{server}/gates/g/open?count=0")
    assert status == 400


async def test_port_and_interval_from_the_environment() -> None:
    port = free_port()
    env = {"PORT": str(port), "STREAM_INTERVAL_MS": "0"}
    url = f"http://127.0.0.1:{port}/v1/models/streamer:stream?n=2"
    async with (
        async_running([sys.executable, SERVER], ready_line=READY, port=port, env=env) as child,
        aiohttp.ClientSession() as http,
        http.get(url) as r,
    ):
        assert len(await Events(r).rest()) == 3
    assert child.returncode == 0  # SIGTERM stops it cleanly
