"""``Harness``: the whole all-in-one server on a test's event loop, with simulated time.

    async with Harness(manifests=ECHO_YAML) as h:
        answer = await h.request("echo.default.example.com", "/v2/models/echo/infer",
                                 body={"inputs": []})
        assert answer.status == 200
        await h.advance(95)                      # windows, grace periods, timeouts
        await h.wait_for(lambda: not h.ready("echo-predictor-00001"), timeout=10)

What is real and what is simulated: predictors are real processes started by the real
``LocalRuntime``; requests go over real sockets to the gateway (an aiohttp client); the
``FakeClock`` runs every window, grace period, request timeout, backoff and progress
deadline, so it moves only when the test calls ``advance``. Readiness probes, drains
waiting for in-flight requests and socket timeouts are real time, which is why waiting
for their effects is ``wait_for`` with a real-time deadline.

The server listens on free ports (0) with its rollout state in a temporary folder that
is removed afterwards; manifests given as text are written there too.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp
from multidict import CIMultiDict, CIMultiDictProxy

from autoscaler.loop import DEFAULT_TICK
from zeroserve.clock import FakeClock
from zeroserve.embedded.server import EmbeddedServer, Parts
from zeroserve.endpoint import Endpoint
from zeroserve.proxy.limits import ProxyLimits
from zeroserve.runtime.base import EventKind, ReplicaEvent
from zeroserve.runtime.errors import UnknownRevision

__all__ = ["Answer", "Harness", "HarnessError"]

Predicate = Callable[[], bool | Awaitable[bool]]

# How often ``wait_for`` looks again when nothing it hears of (a replica event) woke it:
# some conditions (a process gone, a count in another part) notify nobody.
_RECHECK = 0.01
_SETTLE_ROUNDS = 20


class HarnessError(AssertionError):
    """A wait that ran out of time, or a harness used out of order; the text says what
    was waited for and what was seen."""


@dataclass(frozen=True, slots=True)
class Answer:
    """One HTTP response, read whole."""

    status: int
    headers: CIMultiDictProxy[str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        return self.headers.get(name)


class Harness:
    """Runs an ``EmbeddedServer`` for ``folder`` (or for ``manifests``: one YAML text, or
    file name → text for several files, written into a temporary folder).

    ``clock`` defaults to a new ``FakeClock``; ``request_timeout`` is the client's real
    time limit per request; ``close_drain`` the real seconds in-flight requests get when
    the harness closes (0: cut at once). Everything else goes to ``EmbeddedServer``."""

    def __init__(
        self,
        folder: str | Path | None = None,
        *,
        manifests: str | Mapping[str, str] | None = None,
        config_path: str | Path | None = None,
        clock: FakeClock | None = None,
        limits: ProxyLimits | None = None,
        tick: float = DEFAULT_TICK,
        request_timeout: float = 30.0,
        close_drain: float = 0.0,
    ) -> None:
        if (folder is None) == (manifests is None):
            raise HarnessError("give the harness a folder or manifests, not both or neither")
        self._folder = None if folder is None else Path(folder)
        self._manifests = {"manifests.yaml": manifests} if isinstance(manifests, str) else manifests
        self._config_path = config_path
        self.clock = clock or FakeClock()
        self._limits = limits
        self._tick = tick
        self._request_timeout = request_timeout
        self._close_drain = close_drain
        self._tmp: Path | None = None
        self._server: EmbeddedServer | None = None
        self._session: aiohttp.ClientSession | None = None
        self._changed = asyncio.Event()
        self.events: list[ReplicaEvent] = []

    # -- lifecycle ----------------------------------------------------------------------

    async def __aenter__(self) -> Harness:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def start(self) -> None:
        self._tmp = Path(tempfile.mkdtemp(prefix="zeroserve-harness-"))
        folder = self._folder
        if folder is None:
            folder = self._tmp / "manifests"
            folder.mkdir()
            for name, text in (self._manifests or {}).items():
                path = folder / name
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text)
        self._server = EmbeddedServer(
            folder,
            config_path=self._config_path,
            port=0,
            admin_port=0,
            state_dir=self._tmp / "state",
            clock=self.clock,
            limits=self._limits,
            tick=self._tick,
            on_event=self._on_event,
        )
        try:
            await self._server.start()
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0),
                timeout=aiohttp.ClientTimeout(total=self._request_timeout),
                auto_decompress=False,
            )
        except BaseException:
            await self.close()
            raise
        await self.settle()

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()
        server = self._server
        if server is not None:
            await server.close(drain_timeout=self._close_drain)
        tmp, self._tmp = self._tmp, None
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)

    # -- the parts ----------------------------------------------------------------------

    @property
    def server(self) -> EmbeddedServer:
        if self._server is None:
            raise HarnessError("the harness is not started")
        return self._server

    @property
    def parts(self) -> Parts:
        return self.server.parts

    @property
    def folder(self) -> Path:
        """Where the manifests were read from."""
        if self._folder is not None:
            return self._folder
        if self._tmp is None:
            raise HarnessError("the harness is not started")
        return self._tmp / "manifests"

    @property
    def state_dir(self) -> Path:
        if self._tmp is None:
            raise HarnessError("the harness is not started")
        return self._tmp / "state"

    @property
    def gateway_url(self) -> str:
        return self.server.gateway_url

    @property
    def admin_url(self) -> str:
        return self.server.admin_url

    def endpoints(self, revision: str) -> tuple[Endpoint, ...]:
        """The revision's ready replicas, as the runtime reports them (none if unknown)."""
        try:
            return self.parts.runtime.endpoints(revision).ready
        except UnknownRevision:
            return ()

    def pids(self, revision: str) -> dict[str, int]:
        """Replica name → predictor pid (also its process group) of the running replicas."""
        try:
            status = self.parts.runtime.status(revision)
        except UnknownRevision:
            return {}
        return {r.name: r.pid for r in status.replicas if r.pid is not None}

    def of(self, kind: EventKind, revision: str | None = None) -> list[ReplicaEvent]:
        """Replica events of ``kind`` seen so far (of ``revision``)."""
        return [e for e in self.events if e.kind == kind and revision in (None, e.revision)]

    # -- requests -----------------------------------------------------------------------

    async def request(
        self,
        host: str,
        path: str,
        *,
        body: bytes | str | Mapping[str, Any] | list[Any] | None = None,
        method: str | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - a per-request client limit
    ) -> Answer:
        """One request to the gateway with ``Host: host``. ``body`` may be bytes, text or
        JSON data; ``method`` defaults to POST with a body, GET without."""
        sent = dict(headers or {})
        sent["Host"] = host
        data: bytes | None
        if body is None or isinstance(body, bytes):
            data = body
        elif isinstance(body, str):
            data = body.encode()
        else:
            data = json.dumps(body).encode()
            sent.setdefault("Content-Type", "application/json")
        return await self._fetch(
            method or ("GET" if data is None else "POST"),
            self.gateway_url + path,
            data,
            sent,
            timeout,
        )

    async def admin(self, path: str, *, timeout: float | None = None) -> Answer:  # noqa: ASYNC109
        """``GET`` on the admin API (``/api/v1/status``, ``/metrics``, ``/``)."""
        return await self._fetch("GET", self.admin_url + path, None, {}, timeout)

    async def _fetch(
        self,
        method: str,
        url: str,
        data: bytes | None,
        headers: Mapping[str, str],
        timeout: float | None,  # noqa: ASYNC109
    ) -> Answer:
        session = self._session
        if session is None:
            raise HarnessError("the harness is not started")
        limit = None if timeout is None else aiohttp.ClientTimeout(total=timeout)
        async with session.request(
            method, url, data=data, headers=headers, timeout=limit
        ) as response:
            payload = await response.read()
            return Answer(response.status, CIMultiDictProxy(CIMultiDict(response.headers)), payload)

    # -- time ---------------------------------------------------------------------------

    async def settle(self, rounds: int = _SETTLE_ROUNDS) -> None:
        """Let the tasks woken so far run to their next wait (no time passes)."""
        for _ in range(rounds):
            await asyncio.sleep(0)

    async def advance(self, seconds: float, *, step: float = 1.0) -> None:
        """Move the fake clock ``seconds`` forward, ``step`` at a time, letting the loops
        run between steps (every timer fires in order, as ``FakeClock.advance`` does)."""
        if seconds < 0 or step <= 0:
            raise HarnessError(f"cannot advance by {seconds} s in steps of {step} s")
        left = seconds
        while left > 1e-9:
            delta = min(step, left)
            await self.clock.advance(delta)
            await self.settle()
            left -= delta

    async def wait_for(
        self,
        predicate: Predicate,
        timeout: float = 10.0,  # noqa: ASYNC109 - a real-time deadline is the point
        what: str = "",
    ) -> None:
        """Until ``predicate()`` (plain or async) is true, at most ``timeout`` real
        seconds: it is checked again at each replica event and every few ms."""
        deadline = time.monotonic() + timeout
        while True:
            self._changed.clear()
            result = predicate()
            if inspect.isawaitable(result):
                result = await result
            if result:
                return
            left = deadline - time.monotonic()
            if left <= 0:
                seen = "\n".join(
                    f"  {e.kind} {e.replica or e.revision} {e.detail}" for e in self.events
                )
                name = what or getattr(predicate, "__name__", "the condition")
                raise HarnessError(
                    f"{name} not met within {timeout} s; replica events:\n{seen or '  none'}"
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(left, _RECHECK))

    async def wait_event(
        self,
        kind: EventKind,
        revision: str | None = None,
        *,
        count: int = 1,
        timeout: float = 10.0,  # noqa: ASYNC109
    ) -> ReplicaEvent:
        """The ``count``-th replica event of ``kind`` (of ``revision``)."""
        await self.wait_for(
            lambda: len(self.of(kind, revision)) >= count,
            timeout,
            f"{count} {kind} event(s) of {revision or 'any revision'}",
        )
        return self.of(kind, revision)[count - 1]

    def _on_event(self, event: ReplicaEvent) -> None:
        self.events.append(event)
        self._changed.set()
