"""HTTP GET probes over a raw asyncio connection, and the probing loops, in real time.

A probe reads only the status line: no client session, no body, a fresh connection each
time (a kept-alive one would hide a predictor that stopped accepting). Success is what
the kubelet counts as success: a status from 200 to 399.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass

from zeroserve.runtime.backoff import ProbeSchedule
from zeroserve.runtime.base import Probe

USER_AGENT = "zeroserve-probe/1"
MIN_PROBE_GAP = 0.001  # real seconds between output-triggered probes


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """``status`` when the predictor answered, else ``error`` says why not."""

    ok: bool
    status: int | None = None
    error: str | None = None

    def describe(self) -> str:
        if self.status is not None:
            return f"HTTP {self.status}"
        return self.error or "no answer"


def probe_request(host: str, port: int, path: str) -> bytes:
    return (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: {USER_AGENT}\r\n"
        "Accept: */*\r\nConnection: close\r\n\r\n"
    ).encode("latin-1")


def parse_status_line(line: bytes) -> int | None:
    """The status code of ``HTTP/1.x NNN reason``, or None for anything else."""
    parts = line.split(None, 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or len(parts[1]) != 3:
        return None
    try:
        code = int(parts[1])
    except ValueError:
        return None
    return code if 100 <= code <= 599 else None


async def http_probe(host: str, port: int, path: str, timeout: float) -> ProbeResult:  # noqa: ASYNC109 (a probe's timeout is part of its spec)
    """One ``GET path``; never raises for the predictor's faults."""
    writer: asyncio.StreamWriter | None = None
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(probe_request(host, port, path))
            line = await reader.readline()
    except TimeoutError:
        return ProbeResult(False, error=f"no answer within {timeout:g}s")
    except OSError as e:  # asyncio's texts name the address; errno says it shorter
        return ProbeResult(False, error=os.strerror(e.errno) if e.errno else str(e))
    except ValueError:  # a status line longer than the stream limit
        return ProbeResult(False, error="status line too long")
    finally:
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
    if not line:
        return ProbeResult(False, error="connection closed without an answer")
    status = parse_status_line(line)
    if status is None:
        return ProbeResult(False, error=f"not an HTTP answer: {line[:60]!r}")
    return ProbeResult(200 <= status < 400, status=status)


async def until_ready(
    host: str,
    port: int,
    probe: Probe,
    schedule: ProbeSchedule,
    output: asyncio.Event,
    seen: Callable[[ProbeResult], None],
) -> None:
    """Probe a starting replica until it answers: after ``initial_delay``, then on the
    fast schedule, and at once whenever it prints something (``output`` is set per
    line: a predictor often says so when it starts listening). ``seen`` gets every
    result, so a replica that never gets ready can say why."""
    if probe.initial_delay:
        await asyncio.sleep(probe.initial_delay)
    loop = asyncio.get_running_loop()
    attempt = 0
    while True:
        output.clear()
        began = loop.time()
        result = await http_probe(host, port, probe.path, probe.timeout)
        seen(result)
        if result.ok:
            return
        gap = schedule.interval(attempt, probe.period)
        attempt += 1
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(gap):
                await output.wait()
        if (spent := loop.time() - began) < MIN_PROBE_GAP:  # a chatty start-up
            await asyncio.sleep(MIN_PROBE_GAP - spent)


async def until_dead(host: str, port: int, probe: Probe) -> tuple[ProbeResult, int]:
    """Probe a ready replica every ``period`` until ``failure_threshold`` failures in a
    row; the last result and that count."""
    failures = 0
    while True:
        await asyncio.sleep(probe.period)
        result = await http_probe(host, port, probe.path, probe.timeout)
        failures = 0 if result.ok else failures + 1
        if failures >= probe.failure_threshold:
            return result, failures
