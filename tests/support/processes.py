"""Child processes for tests: start, wait until ready (with a deadline), always stop.

Each child runs in its own session and process group, with stdout and stderr merged and
collected line by line (``Child.output()``), so a failure can show what it printed.
``stop`` sends SIGTERM to the group, SIGKILL after a grace period, then SIGKILL to the
group once more for anything the child left behind; the context managers call it on every
exit path, and an ``atexit`` hook stops whatever is still running.

    port = free_port()
    with running([sys.executable, "server.py", "--port", str(port)], port=port) as child:
        ...
    async with async_running(argv, port=port, http_path="/v2/health/ready") as child:
        ...

Waiting polls a port or URL every 20 ms of real time until a deadline, and fails early,
with the child's output, if the child exits.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import http.client
import os
import re
import signal
import socket
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence

POLL = 0.02  # seconds between readiness attempts

__all__ = [
    "Child",
    "ChildExited",
    "async_running",
    "async_wait_for_http",
    "async_wait_for_port",
    "running",
    "start",
    "stop",
    "wait_for_http",
    "wait_for_port",
]


class ChildExited(RuntimeError):
    """The child ended while a test was waiting for it to become ready."""


class Child:
    """A started process. ``started`` is ``time.monotonic()`` just before it was spawned."""

    def __init__(self, argv: Sequence[str], popen: subprocess.Popen[str], started: float) -> None:
        self.argv = tuple(argv)
        self.popen = popen
        self.pid = popen.pid
        self.started = started
        self._lines: list[str] = []
        self._eof = False
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, name=f"child-{self.pid}", daemon=True)
        self._reader.start()

    @property
    def returncode(self) -> int | None:
        return self.popen.poll()

    def output(self) -> str:
        """Everything printed so far (stdout and stderr, merged)."""
        with self._cond:
            return "".join(self._lines)

    def wait_for_line(self, pattern: str, timeout: float = 10.0) -> re.Match[str]:
        """The first output line matching the regex ``pattern``, waiting up to ``timeout``."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        seen = 0
        with self._cond:
            while True:
                for line in self._lines[seen:]:
                    match = regex.search(line)
                    if match:
                        return match
                seen = len(self._lines)
                if self._eof:
                    raise ChildExited(self._describe(f"exited before printing /{pattern}/"))
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(self._describe(f"printed no /{pattern}/ in {timeout} s"))
                self._cond.wait(remaining)

    async def async_wait_for_line(
        self,
        pattern: str,
        timeout: float = 10.0,  # noqa: ASYNC109 (errors show the output)
    ) -> re.Match[str]:
        return await asyncio.to_thread(self.wait_for_line, pattern, timeout)

    def wait_exit(self, timeout: float = 10.0) -> int:
        """The exit code, once the child has exited on its own."""
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            raise TimeoutError(self._describe(f"still running after {timeout} s")) from None

    async def async_wait_exit(self, timeout: float = 10.0) -> int:  # noqa: ASYNC109
        return await asyncio.to_thread(self.wait_exit, timeout)

    def _read(self) -> None:
        stream = self.popen.stdout
        assert stream is not None
        with stream:
            for line in stream:
                with self._cond:
                    self._lines.append(line)
                    self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def _describe(self, what: str) -> str:
        tail = self.output()[-4000:]  # the Condition's lock is re-entrant
        code = self.popen.poll()
        status = "running" if code is None else f"exit code {code}"
        return f"{' '.join(self.argv)} (pid {self.pid}, {status}) {what}; output:\n{tail}"


_children: dict[int, Child] = {}


def start(
    argv: Sequence[str], *, env: Mapping[str, str] | None = None, cwd: str | None = None
) -> Child:
    """Spawn ``argv`` in a new session (its own process group); ``env`` adds to ours."""
    full_env = {**os.environ, **(env or {})}
    started = time.monotonic()
    popen = subprocess.Popen(
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        env=full_env,
        cwd=cwd,
        start_new_session=True,
    )
    child = Child(argv, popen, started)
    _children[child.pid] = child
    return child


def stop(child: Child, grace: float = 5.0) -> int:
    """SIGTERM the child's group, SIGKILL after ``grace`` seconds, then SIGKILL the group
    again for leftovers. Safe to call twice. Returns the exit code (negative: signal)."""
    popen = child.popen
    if popen.poll() is None:
        _signal_group(child.pid, signal.SIGTERM)
        try:
            popen.wait(grace)
        except subprocess.TimeoutExpired:
            _signal_group(child.pid, signal.SIGKILL)
            popen.wait()
    _signal_group(child.pid, signal.SIGKILL)
    child._reader.join(timeout=5)
    _children.pop(child.pid, None)
    return popen.returncode


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


@atexit.register
def _stop_all() -> None:
    for child in list(_children.values()):
        stop(child, grace=1.0)


# -- readiness --------------------------------------------------------------------------


def _check_alive(child: Child | None, what: str) -> None:
    if child is not None and child.returncode is not None:
        child._reader.join(timeout=1)  # collect its last words
        raise ChildExited(child._describe(f"exited while waiting for {what}"))


def _timed_out(child: Child | None, what: str, timeout: float) -> TimeoutError:
    if child is None:
        return TimeoutError(f"no {what} within {timeout} s")
    return TimeoutError(child._describe(f"gave no {what} within {timeout} s"))


def _port_accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _http_status(host: str, port: int, path: str) -> int | None:
    conn = http.client.HTTPConnection(host, port, timeout=2.0)
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


def wait_for_port(
    port: int, *, host: str = "127.0.0.1", timeout: float = 10.0, child: Child | None = None
) -> None:
    """Until a TCP connect to ``host:port`` succeeds."""
    what = f"listener on {host}:{port}"
    deadline = time.monotonic() + timeout
    while not _port_accepts(host, port):
        _check_alive(child, what)
        if time.monotonic() >= deadline:
            raise _timed_out(child, what, timeout)
        time.sleep(POLL)


def wait_for_http(
    port: int,
    path: str = "/",
    *,
    host: str = "127.0.0.1",
    status: int = 200,
    timeout: float = 10.0,
    child: Child | None = None,
) -> None:
    """Until ``GET http://host:port/path`` answers ``status``."""
    what = f"{status} from http://{host}:{port}{path}"
    deadline = time.monotonic() + timeout
    while _http_status(host, port, path) != status:
        _check_alive(child, what)
        if time.monotonic() >= deadline:
            raise _timed_out(child, what, timeout)
        time.sleep(POLL)


async def async_wait_for_port(
    port: int,
    *,
    host: str = "127.0.0.1",
    timeout: float = 10.0,  # noqa: ASYNC109
    child: Child | None = None,
) -> None:
    what = f"listener on {host}:{port}"
    deadline = time.monotonic() + timeout
    while True:
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 0.5)
        except (OSError, TimeoutError):
            _check_alive(child, what)
            if time.monotonic() >= deadline:
                raise _timed_out(child, what, timeout) from None
            await asyncio.sleep(POLL)
            continue
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return


async def async_wait_for_http(
    port: int,
    path: str = "/",
    *,
    host: str = "127.0.0.1",
    status: int = 200,
    timeout: float = 10.0,  # noqa: ASYNC109
    child: Child | None = None,
) -> None:
    what = f"{status} from http://{host}:{port}{path}"
    deadline = time.monotonic() + timeout
    while await asyncio.to_thread(_http_status, host, port, path) != status:
        _check_alive(child, what)
        if time.monotonic() >= deadline:
            raise _timed_out(child, what, timeout)
        await asyncio.sleep(POLL)


# -- context managers -------------------------------------------------------------------


@contextlib.contextmanager
def running(
    argv: Sequence[str],
    *,
    port: int | None = None,
    http_path: str | None = None,
    ready_line: str | None = None,
    host: str = "127.0.0.1",
    timeout: float = 10.0,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    grace: float = 5.0,
) -> Iterator[Child]:
    """Start ``argv``; wait (all within ``timeout``) for an output line matching
    ``ready_line``, then for ``http_path`` to answer 200 on ``port``, or else for ``port``
    to accept; yield the child; stop it however the block ends."""
    child = start(argv, env=env, cwd=cwd)
    try:
        deadline = time.monotonic() + timeout
        if ready_line is not None:
            child.wait_for_line(ready_line, timeout)
        left = max(0.0, deadline - time.monotonic())
        if http_path is not None:
            if port is None:
                raise ValueError("http_path needs a port")
            wait_for_http(port, http_path, host=host, timeout=left, child=child)
        elif port is not None:
            wait_for_port(port, host=host, timeout=left, child=child)
        yield child
    finally:
        stop(child, grace)


@contextlib.asynccontextmanager
async def async_running(
    argv: Sequence[str],
    *,
    port: int | None = None,
    http_path: str | None = None,
    ready_line: str | None = None,
    host: str = "127.0.0.1",
    timeout: float = 10.0,  # noqa: ASYNC109
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    grace: float = 5.0,
) -> AsyncIterator[Child]:
    """``running`` for async tests: the same steps, without blocking the event loop."""
    child = start(argv, env=env, cwd=cwd)
    try:
        deadline = time.monotonic() + timeout
        if ready_line is not None:
            await child.async_wait_for_line(ready_line, timeout)
        left = max(0.0, deadline - time.monotonic())
        if http_path is not None:
            if port is None:
                raise ValueError("http_path needs a port")
            await async_wait_for_http(port, http_path, host=host, timeout=left, child=child)
        elif port is not None:
            await async_wait_for_port(port, host=host, timeout=left, child=child)
        yield child
    finally:
        await asyncio.shield(asyncio.to_thread(stop, child, grace))
