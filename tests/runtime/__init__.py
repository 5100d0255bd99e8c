"""Helpers shared by the runtime tests: echo templates, an event recorder, waits with
deadlines, and process checks that count zombies as gone (PID 1 here does not reap
orphans, and a zombie holds no resources and runs nothing)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from zeroserve.runtime.base import EndpointsSnapshot, EventKind, ReplicaEvent, RevisionTemplate
from zeroserve.runtime.local import LocalRuntime

ROOT = Path(__file__).resolve().parents[2]
ECHO = str(ROOT / "examples" / "echo" / "server.py")
PROC = Path("/proc")

# A predictor that ignores SIGTERM (and says so), listening on $PORT: stdlib only.
STUBBORN = r"""
import http.server, os, signal, sys
def on_term(signum, frame):
    print("stubborn: ignoring SIGTERM", file=sys.stderr, flush=True)
signal.signal(signal.SIGTERM, on_term)
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler)
print("stubborn: listening", file=sys.stderr, flush=True)
server.serve_forever()
"""


def echo_template(*args: str, **fields: Any) -> RevisionTemplate:
    """The echo predictor on ``{port}``, with extra arguments and template fields."""
    return RevisionTemplate(argv=(sys.executable, ECHO, "--port", "{port}", *args), **fields)


class Events:
    """Records a runtime's ``on_event`` calls; tests await them with a deadline."""

    def __init__(self) -> None:
        self.items: list[ReplicaEvent] = []
        self._changed = asyncio.Event()

    def __call__(self, event: ReplicaEvent) -> None:
        self.items.append(event)
        self._changed.set()

    def of(self, kind: EventKind, replica: str | None = None) -> list[ReplicaEvent]:
        return [e for e in self.items if e.kind == kind and replica in (None, e.replica)]

    def pids(self) -> set[int]:
        return {e.pid for e in self.items if e.pid is not None}

    async def wait(
        self,
        kind: EventKind,
        replica: str | None = None,
        count: int = 1,
        timeout: float = 10.0,  # noqa: ASYNC109
    ) -> ReplicaEvent:
        """The ``count``-th event of ``kind`` (for ``replica``), waiting up to ``timeout``."""
        try:
            async with asyncio.timeout(timeout):
                while len(self.of(kind, replica)) < count:
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            seen = "\n".join(f"  {e}" for e in self.items)
            what = f"{count}x {kind} {replica or ''}"
            raise AssertionError(f"no {what} in {timeout}s; seen:\n{seen}") from None
        return self.of(kind, replica)[count - 1]


async def wait_snapshot(
    runtime: LocalRuntime,
    revision: str,
    predicate: Callable[[EndpointsSnapshot], bool],
    timeout: float = 10.0,  # noqa: ASYNC109
) -> EndpointsSnapshot:
    """The first snapshot of ``revision`` (the current one included) that satisfies
    ``predicate``."""
    seen: list[EndpointsSnapshot] = []
    try:
        async with asyncio.timeout(timeout):
            async with contextlib.aclosing(runtime.watch()) as feed:
                async for snapshot in feed:
                    if snapshot.revision == revision:
                        seen.append(snapshot)
                        if predicate(snapshot):
                            return snapshot
    except TimeoutError:
        pass
    raise AssertionError(f"no matching snapshot of {revision} in {timeout}s; seen {seen}")


async def until(
    predicate: Callable[[], bool],
    what: str,
    timeout: float = 10.0,  # noqa: ASYNC109
) -> None:
    """Poll a condition nothing notifies (a process we did not spawn) until a deadline."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not {what} within {timeout}s")
        await asyncio.sleep(0.005)


# -- processes --------------------------------------------------------------------------


def _stat(pid: int) -> list[str] | None:
    """Fields after the command name in /proc/<pid>/stat: state, ppid, pgrp, ..."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()


def pid_alive(pid: int) -> bool:
    """Running (not a zombie)."""
    if PROC.is_dir():
        fields = _stat(pid)
        return fields is not None and fields[0] not in ("Z", "X")
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def group_members(pgid: int) -> list[int]:
    """Running (not zombie) processes in process group ``pgid``."""
    if not PROC.is_dir():  # no /proc: the group exists or not
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return []
        except PermissionError:
            pass
        return [pgid]
    members = []
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields is not None and fields[0] not in ("Z", "X") and int(fields[2]) == pgid:
                members.append(int(entry.name))
    return members


def live(pids: Iterable[int] = (), pgids: Iterable[int] = ()) -> list[str]:
    """What still runs of these processes and process groups."""
    left = [f"pid {p}" for p in pids if pid_alive(p)]
    for pgid in pgids:
        left += [f"pid {p} of group {pgid}" for p in group_members(pgid)]
    return left


async def wait_gone(
    pids: Iterable[int] = (),
    pgids: Iterable[int] = (),
    timeout: float = 10.0,  # noqa: ASYNC109
) -> None:
    pids, pgids = list(pids), list(pgids)
    try:
        await until(lambda: not live(pids, pgids), "gone", timeout)
    except AssertionError:
        raise AssertionError(f"still running after {timeout}s: {live(pids, pgids)}") from None


def fds_of(pid: int) -> list[str]:
    """What the process's open file descriptors point at (Linux)."""
    fd_dir = PROC / str(pid) / "fd"
    out = []
    for fd in sorted(fd_dir.iterdir(), key=lambda p: int(p.name)):
        with contextlib.suppress(OSError):
            out.append(f"{fd.name}:{os.readlink(fd)}")
    return out
