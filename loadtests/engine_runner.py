"""The Zeroserve engine alone in its own process, for benchmarks.

    python loadtests/engine_runner.py --upstream-port 8081 [--host m.default.example.com]

Routes one Host to one revision whose only replica is ``127.0.0.1:<upstream-port>``,
listens on a free loopback port (or ``--port``) on uvloop, prints ``port=<p>`` on stdout
once it accepts, and drains and exits on SIGTERM or SIGINT. Nothing else runs in the
process, so its CPU time (from /proc) is the engine's cost.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Run the Zeroserve proxy engine for a benchmark.")
    p.add_argument("--upstream-port", type=int, required=True)
    p.add_argument("--host", default="m.default.example.com", help="the Host routed upstream")
    p.add_argument("--port", type=int, default=0, help="listen port (0: a free one)")
    p.add_argument("--timeout", type=float, default=60.0, help="the route's response timeout")
    p.add_argument("--drain", type=float, default=2.0, help="seconds to drain on SIGTERM")
    return p.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from zeroserve.capacity.lease import Endpoint
    from zeroserve.capacity.tracker import CapacityTracker
    from zeroserve.clock import RealClock
    from zeroserve.proxy.limits import ProxyLimits
    from zeroserve.proxy.routing import Route, StaticRouter
    from zeroserve.proxy.server import ProxyServer

    clock = RealClock()
    tracker = CapacityTracker(clock)
    tracker.set_endpoints("bench-00001", [Endpoint("127.0.0.1", args.upstream_port, "echo-0")])
    router = StaticRouter({args.host.lower().encode(): Route("bench-00001", args.timeout)})
    server = ProxyServer(router, tracker, clock, limits=ProxyLimits())
    port = await server.start("127.0.0.1", args.port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"port={port}", flush=True)
    try:
        await stop.wait()
    finally:
        await server.close(args.drain)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    import uvloop

    uvloop.run(serve(args))


if __name__ == "__main__":
    main()
