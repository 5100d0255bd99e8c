"""A predictor that echoes, for fast tests and benchmarks (starts in about 0.3 s).

    python examples/echo/server.py --port 8081 [--model-name echo] [--host 127.0.0.1]

Speaks KServe V1 and the Open Inference Protocol V2, streams server-sent events, and
misbehaves on request: ``?sleep_ms=``, ``?status=``, ``?crash=1`` on any predict, infer
or stream call. ``/echo`` describes the request it got (for proxy tests) and ``/stats``
the in-flight requests this process has seen (for containerConcurrency tests). When it
listens it prints ``echo ready port=<p> monotonic=<time.monotonic()>`` to stderr, which a
cold-start measurement pairs with the moment it spawned the process. See README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import signal
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
CRASH_EXIT_CODE = 3
MAX_BODY = 128 * 1024 * 1024  # above the gateway's 100 MiB limit, so the gateway's applies


def error(status: int, message: str) -> web.Response:
    """KServe's error shape."""
    return web.json_response({"error": message}, status=status)


class Counts:
    """In-flight inference requests (predict, infer, stream, /echo; never probes)."""

    __slots__ = ("in_flight", "max_in_flight", "requests")

    def __init__(self) -> None:
        self.in_flight = 0
        self.max_in_flight = 0
        self.requests = 0

    def as_json(self) -> dict[str, int]:
        return {
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
            "requests": self.requests,
            "pid": os.getpid(),
        }


class Modes:
    """What ``?sleep_ms=``, ``?status=`` and ``?crash=1`` ask of one request."""

    __slots__ = ("sleep", "status")

    def __init__(self, request: web.Request) -> None:
        q = request.query
        if q.get("crash") in ("1", "true"):
            print("echo: crashing as asked (crash=1)", file=sys.stderr, flush=True)
            os._exit(CRASH_EXIT_CODE)
        try:
            self.sleep = float(q.get("sleep_ms", "0")) / 1000.0
            self.status = int(q.get("status", "0"))
        except ValueError as e:
            raise web.HTTPBadRequest(
                text=json.dumps({"error": f"bad mode in query: {e}"}),
                content_type="application/json",
            ) from None
        if self.sleep < 0 or not (self.status in (0, 200) or 400 <= self.status <= 599):
            raise web.HTTPBadRequest(
                text=json.dumps({"error": "sleep_ms must be >= 0, status 200 or 400..599"}),
                content_type="application/json",
            )

    async def apply(self) -> web.Response | None:
        """Sleep if asked; then the error response asked for, if any."""
        if self.sleep:
            await asyncio.sleep(self.sleep)
        if self.status >= 400:
            return error(self.status, f"echo: status {self.status} requested")
        return None


class Echo:
    def __init__(self, model_name: str) -> None:
        self.model = model_name
        self.counts = Counts()

    def counted(self, handler: Handler) -> Handler:
        counts = self.counts

        async def run(request: web.Request) -> web.StreamResponse:
            counts.requests += 1
            counts.in_flight += 1
            if counts.in_flight > counts.max_in_flight:
                counts.max_in_flight = counts.in_flight
            try:
                return await handler(request)
            finally:
                counts.in_flight -= 1

        return run

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY)
        c = self.counted
        app.add_routes(
            [
                web.get("/", self.root),
                # ":verb" routes first: "{name}" alone would also match "iris:stream".
                web.post("/v1/models/{name}:predict", c(self.v1_predict)),
                web.get("/v1/models/{name}:stream", c(self.v1_stream)),
                web.post("/v1/models/{name}:stream", c(self.v1_stream)),
                web.get("/v1/models/{name}", self.v1_model),
                web.get("/v2", self.v2_server),
                web.get("/v2/health/live", self.v2_live),
                web.get("/v2/health/ready", self.v2_ready),
                web.get("/v2/models/{name}", self.v2_model),
                web.get("/v2/models/{name}/ready", self.v2_model_ready),
                web.post("/v2/models/{name}/infer", c(self.v2_infer)),
                web.route("*", "/echo", c(self.echo)),
                web.route("*", "/echo/{tail:.*}", c(self.echo)),
                web.get("/stats", self.stats),
                web.delete("/stats", self.reset_stats),
            ]
        )
        return app

    def unknown(self, request: web.Request) -> web.Response | None:
        name = request.match_info["name"]
        if name == self.model:
            return None
        return error(404, f"Model with name {name} does not exist.")

    async def body_json(self, request: web.Request) -> Any:
        try:
            return json.loads(await request.read())
        except (ValueError, UnicodeDecodeError) as e:
            raise web.HTTPBadRequest(
                text=json.dumps({"error": f"Unrecognized request format: {e}"}),
                content_type="application/json",
            ) from None

    # -- health and metadata ------------------------------------------------------------

    async def root(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "alive"})

    async def v1_model(self, request: web.Request) -> web.Response:
        return self.unknown(request) or web.json_response({"name": self.model, "ready": True})

    async def v2_server(self, request: web.Request) -> web.Response:
        return web.json_response({"name": "zeroserve-echo", "version": "1", "extensions": []})

    async def v2_live(self, request: web.Request) -> web.Response:
        return web.json_response({"live": True})

    async def v2_ready(self, request: web.Request) -> web.Response:
        return web.json_response({"ready": True})

    async def v2_model(self, request: web.Request) -> web.Response:
        return self.unknown(request) or web.json_response(
            {
                "name": self.model,
                "versions": ["1"],
                "platform": "zeroserve-echo",
                "inputs": [],
                "outputs": [],
            }
        )

    async def v2_model_ready(self, request: web.Request) -> web.Response:
        return self.unknown(request) or web.json_response({"name": self.model, "ready": True})

    # -- inference ------------------------------------------------------------------------

    async def v1_predict(self, request: web.Request) -> web.Response:
        modes = Modes(request)
        if (answer := self.unknown(request) or await modes.apply()) is not None:
            return answer
        body = await self.body_json(request)
        if isinstance(body, dict) and "instances" in body:
            return web.json_response({"predictions": body["instances"]})
        if isinstance(body, dict) and "inputs" in body:
            return web.json_response({"predictions": body["inputs"]})
        return error(400, 'Expected "instances" or "inputs" in the request body')

    async def v2_infer(self, request: web.Request) -> web.Response:
        modes = Modes(request)
        if (answer := self.unknown(request) or await modes.apply()) is not None:
            return answer
        body = await self.body_json(request)
        if not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
            return error(400, 'Expected "inputs" (a list of tensors) in the request body')
        return web.json_response(
            {
                "model_name": self.model,
                "model_version": "1",
                "id": body.get("id") or str(uuid.uuid4()),
                "parameters": body.get("parameters") or {},
                "outputs": body["inputs"],
            }
        )

    async def v1_stream(self, request: web.Request) -> web.StreamResponse:
        modes = Modes(request)
        if (answer := self.unknown(request) or await modes.apply()) is not None:
            return answer
        try:
            n = int(request.query.get("n", "5"))
            interval = float(request.query.get("interval_ms", "10")) / 1000.0
        except ValueError as e:
            return error(400, f"bad stream parameter: {e}")
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        for i in range(n):
            if i and interval > 0:
                await asyncio.sleep(interval)
            await response.write(f"data: token-{i}\n\n".encode())
        await response.write_eof()
        return response

    # -- for proxy and concurrency tests ------------------------------------------------

    async def echo(self, request: web.Request) -> web.Response:
        digest = hashlib.sha256()
        length = 0
        async for chunk in request.content.iter_chunked(1 << 16):
            digest.update(chunk)
            length += len(chunk)
        headers = [[k.decode("latin-1"), v.decode("latin-1")] for k, v in request.raw_headers]
        return web.json_response(
            {
                "method": request.method,
                "path": request.path,
                "raw_path": request.raw_path,
                "query_string": request.query_string,
                "version": f"{request.version.major}.{request.version.minor}",
                "headers": headers,
                "body_length": length,
                "body_sha256": digest.hexdigest(),
            }
        )

    async def stats(self, request: web.Request) -> web.Response:
        return web.json_response(self.counts.as_json())

    async def reset_stats(self, request: web.Request) -> web.Response:
        counts = self.counts
        counts.max_in_flight = counts.in_flight
        counts.requests = 0
        return web.json_response(counts.as_json())


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8080")))
    p.add_argument("--model-name", default=os.environ.get("MODEL_NAME", "echo"))
    p.add_argument("--startup-delay", type=float, default=0.0, metavar="SECONDS")
    p.add_argument("--fail-start", action="store_true", help="exit 1 at once, as a bad image")
    p.add_argument("--shutdown-timeout", type=float, default=10.0, metavar="SECONDS")
    return p.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    runner = web.AppRunner(
        Echo(args.model_name).app(), access_log=None, shutdown_timeout=args.shutdown_timeout
    )
    await runner.setup()
    site = web.TCPSite(runner, args.host, args.port, backlog=4096)
    await site.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    port = runner.addresses[0][1]
    print(f"echo ready port={port} monotonic={time.monotonic()}", file=sys.stderr, flush=True)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.fail_start:
        print("echo: failing at start as asked (--fail-start)", file=sys.stderr, flush=True)
        sys.exit(1)
    if args.startup_delay > 0:
        time.sleep(args.startup_delay)  # a slow model load
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve(args))
    else:
        uvloop.run(serve(args))


if __name__ == "__main__":
    main()
