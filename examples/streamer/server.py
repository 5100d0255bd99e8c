"""A token streamer: a stand-in for an LLM that sends server-sent events as it "generates".

    python examples/streamer/server.py --port 8082 [--model-name streamer] [--interval-ms 50]

The "model" repeats the prompt's words, one token per event, ``interval_ms`` apart: enough
to see that a gateway passes each event through as it is produced instead of buffering
the response. Three ways to call it: KServe V1 ``:stream`` (``data: {"token": ...}``
events, then ``data: [DONE]``), V1 ``:predict`` (the whole text at once, as JSON) and an
OpenAI-like ``POST /v1/completions`` (``"stream": true`` for chunks). A stream given
``gate=<id>`` sends its first token at once and each further one only after a ``POST
/gates/<id>/open``, so a test can prove a client got event 1 before event 2 existed.
Once listening it prints ``streamer ready port=<p> monotonic=<time.monotonic()>`` to
stderr. See README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from typing import Any

from aiohttp import web

MAX_TOKENS = 10_000
MAX_GATES = 1_000  # the oldest are forgotten beyond this
GATE_TIMEOUT = 60.0  # seconds a gated stream waits for its gate before giving up
SSE_HEADERS = {
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",
}


class BadRequest(Exception):
    """A request parameter out of range (400)."""


def error(status: int, message: str) -> web.Response:
    """KServe's error shape."""
    return web.json_response({"error": message}, status=status)


def tokens(prompt: str, n: int) -> list[str]:
    """The "model": the prompt's words again and again, ``n`` of them."""
    words = prompt.split() or ["token"]
    return [words[i % len(words)] for i in range(n)]


class Gate:
    """Permits for a gated stream's tokens after the first, and what it has sent."""

    __slots__ = ("permits", "released", "sent")

    def __init__(self) -> None:
        self.permits = asyncio.Semaphore(0)
        self.released = 0
        self.sent = 0

    def open(self, count: int) -> None:
        self.released += count
        for _ in range(count):
            self.permits.release()

    def as_json(self) -> dict[str, int]:
        return {"sent": self.sent, "released": self.released}


class Params:
    """A generation request: from the query string (GET) or the JSON body (POST)."""

    __slots__ = ("gate", "interval", "n", "prompt")

    def __init__(self, values: Mapping[str, Any], default_interval_ms: float, n_key: str) -> None:
        self.prompt = str(values.get("prompt", "hello from the streamer"))
        try:
            self.n = int(values.get(n_key, 8))
            self.interval = float(values.get("interval_ms", default_interval_ms)) / 1000.0
        except (TypeError, ValueError) as e:
            raise BadRequest(f"bad {n_key} or interval_ms: {e}") from None
        if not 0 <= self.n <= MAX_TOKENS or self.interval < 0:
            raise BadRequest(f"{n_key} must be 0..{MAX_TOKENS} and interval_ms >= 0")
        gate = values.get("gate")
        self.gate = None if gate is None else str(gate)


class Streamer:
    def __init__(self, model_name: str, interval_ms: float) -> None:
        self.model = model_name
        self.interval_ms = interval_ms
        self.gates: dict[str, Gate] = {}

    def app(self) -> web.Application:
        app = web.Application()
        app.add_routes(
            [
                web.get("/", self.root),
                # ":verb" routes first: "{name}" alone would also match "streamer:stream".
                web.get("/v1/models/{name}:stream", self.v1_stream),
                web.post("/v1/models/{name}:stream", self.v1_stream),
                web.post("/v1/models/{name}:predict", self.v1_predict),
                web.get("/v1/models/{name}", self.v1_model),
                web.get("/v2/health/live", self.v2_live),
                web.get("/v2/health/ready", self.v2_ready),
                web.post("/v1/completions", self.completions),
                web.get("/gates/{gate}", self.gate_state),
                web.post("/gates/{gate}/open", self.open_gate),
            ]
        )
        return app

    def gate(self, gate_id: str) -> Gate:
        gate = self.gates.get(gate_id)
        if gate is None:
            if len(self.gates) >= MAX_GATES:
                del self.gates[next(iter(self.gates))]
            gate = self.gates[gate_id] = Gate()
        return gate

    def unknown(self, name: str) -> web.Response | None:
        if name == self.model:
            return None
        return error(404, f"Model with name {name} does not exist.")

    async def body_json(self, request: web.Request) -> dict[str, Any]:
        try:
            body = json.loads(await request.read() or b"{}")
        except (ValueError, UnicodeDecodeError) as e:
            raise BadRequest(f"Unrecognized request format: {e}") from None
        if not isinstance(body, dict):
            raise BadRequest("Expected a JSON object in the request body")
        return body

    async def paced(self, words: list[str], params: Params) -> AsyncIterator[tuple[int, str]]:
        """The tokens, ``interval`` apart, each after the first waiting on the gate."""
        gate = self.gate(params.gate) if params.gate is not None else None
        for i, word in enumerate(words):
            if i and params.interval > 0:
                await asyncio.sleep(params.interval)
            if i and gate is not None:
                await asyncio.wait_for(gate.permits.acquire(), GATE_TIMEOUT)
            if gate is not None:
                gate.sent += 1  # counted before it is written: a reader never sees more
            yield i, word

    async def sse(
        self, request: web.Request, events: AsyncIterator[dict[str, Any]]
    ) -> web.StreamResponse:
        response = web.StreamResponse(headers=SSE_HEADERS)
        await response.prepare(request)
        try:
            try:
                async for event in events:
                    await response.write(f"data: {json.dumps(event)}\n\n".encode())
            except TimeoutError:
                message = f"gate not opened within {GATE_TIMEOUT:g} s"
                await response.write(f"data: {json.dumps({'error': message})}\n\n".encode())
            await response.write(b"data: [DONE]\n\n")
            await response.write_eof()
        except ConnectionResetError:
            pass  # the client went away: nothing to tell it
        return response

    # -- health -------------------------------------------------------------------------

    async def root(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "alive"})

    async def v1_model(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        return self.unknown(name) or web.json_response({"name": self.model, "ready": True})

    async def v2_live(self, request: web.Request) -> web.Response:
        return web.json_response({"live": True})

    async def v2_ready(self, request: web.Request) -> web.Response:
        return web.json_response({"ready": True})

    # -- generation ---------------------------------------------------------------------

    async def v1_stream(self, request: web.Request) -> web.StreamResponse:
        if (answer := self.unknown(request.match_info["name"])) is not None:
            return answer
        try:
            values = request.query if request.method == "GET" else await self.body_json(request)
            params = Params(values, self.interval_ms, "n")
        except BadRequest as e:
            return error(400, str(e))

        async def events() -> AsyncIterator[dict[str, Any]]:
            async for i, word in self.paced(tokens(params.prompt, params.n), params):
                yield {"token": word, "index": i}

        return await self.sse(request, events())

    async def v1_predict(self, request: web.Request) -> web.Response:
        """``{"instances": ["prompt", {"prompt": ..., "n": 3}, ...]}``: texts, at once."""
        if (answer := self.unknown(request.match_info["name"])) is not None:
            return answer
        try:
            body = await self.body_json(request)
            instances = body.get("instances")
            if not isinstance(instances, list):
                raise BadRequest('Expected "instances" (a list) in the request body')
            texts = []
            for instance in instances:
                values = instance if isinstance(instance, dict) else {"prompt": instance}
                params = Params(values, 0, "n")
                texts.append(" ".join(tokens(params.prompt, params.n)))
        except BadRequest as e:
            return error(400, str(e))
        return web.json_response({"predictions": texts})

    async def completions(self, request: web.Request) -> web.StreamResponse:
        """OpenAI's ``/v1/completions``, the subset a streaming client needs."""
        try:
            body = await self.body_json(request)
            params = Params(body, self.interval_ms, "max_tokens")
        except BadRequest as e:
            return error(400, str(e))
        model = str(body.get("model", self.model))
        if (answer := self.unknown(model)) is not None:
            return answer
        words = tokens(params.prompt, params.n)
        head = {
            "id": f"cmpl-{uuid.uuid4().hex}",
            "object": "text_completion",
            "created": int(time.time()),
            "model": self.model,
        }
        if not body.get("stream"):
            choice = {"index": 0, "text": " ".join(words), "finish_reason": "length"}
            usage = {
                "prompt_tokens": len(params.prompt.split()),
                "completion_tokens": len(words),
                "total_tokens": len(params.prompt.split()) + len(words),
            }
            return web.json_response({**head, "choices": [choice], "usage": usage})

        async def chunks() -> AsyncIterator[dict[str, Any]]:
            async for i, word in self.paced(words, params):
                last = i == len(words) - 1
                text = word if i == 0 else f" {word}"
                choice = {"index": 0, "text": text, "finish_reason": "length" if last else None}
                yield {**head, "choices": [choice]}

        return await self.sse(request, chunks())

    # -- gates, for tests -----------------------------------------------------------------

    async def gate_state(self, request: web.Request) -> web.Response:
        gate = self.gates.get(request.match_info["gate"])
        if gate is None:
            return error(404, f"no gate {request.match_info['gate']}")
        return web.json_response(gate.as_json())

    async def open_gate(self, request: web.Request) -> web.Response:
        try:
            count = int(request.query.get("count", "1"))
        except ValueError as e:
            return error(400, f"bad count: {e}")
        if count < 1:
            return error(400, "count must be >= 1")
        gate = self.gate(request.match_info["gate"])
        gate.open(count)
        return web.json_response(gate.as_json())


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8080")))
    p.add_argument("--model-name", default=os.environ.get("MODEL_NAME", "streamer"))
    p.add_argument(
        "--interval-ms",
        type=float,
        default=float(os.environ.get("STREAM_INTERVAL_MS", "50")),
        help="default pause between tokens; a request's interval_ms wins",
    )
    p.add_argument("--shutdown-timeout", type=float, default=10.0, metavar="SECONDS")
    return p.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    app = Streamer(args.model_name, args.interval_ms).app()
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=args.shutdown_timeout)
    await runner.setup()
    site = web.TCPSite(runner, args.host, args.port, backlog=4096)
    await site.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    port = runner.addresses[0][1]
    print(f"streamer ready port={port} monotonic={time.monotonic()}", file=sys.stderr, flush=True)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.interval_ms < 0:
        sys.exit("streamer: --interval-ms must be >= 0")
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve(args))
    else:
        uvloop.run(serve(args))


if __name__ == "__main__":
    main()
