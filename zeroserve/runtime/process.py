"""Predictor processes, each started through its lifeline supervisor (``lifeline.py``).

The runtime's side of the lifeline: a ``SupervisorPool`` keeps one supervisor started
ahead of need (its ~15 ms interpreter start is then off the cold-start path) and hands it
a spawn command; a ``ReplicaProcess`` is the running predictor: its pid (also its process
group), its output (logged, the last stderr lines kept), signals, and how it ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import sys
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zeroserve.runtime.errors import SpawnFailed

LIFELINE = str(Path(__file__).with_name("lifeline.py"))
STDERR_TAIL = 50
REPLY_TIMEOUT = 10.0  # real seconds for a supervisor to answer a spawn command
OUTPUT_DRAIN = 1.0  # real seconds to collect a predictor's last words after it exited

log = logging.getLogger("zeroserve.runtime.process")
output_log = logging.getLogger("zeroserve.runtime.replica")


@dataclass(frozen=True, slots=True)
class ExitStatus:
    """How a predictor ended: an exit code, a signal, or neither when its supervisor
    died first (it was SIGKILLed with it)."""

    code: int | None = None
    signal: int | None = None

    def describe(self) -> str:
        if self.code is not None:
            return f"exit code {self.code}"
        if self.signal is not None:
            try:
                return f"signal {self.signal} ({signal.Signals(self.signal).name})"
            except ValueError:
                return f"signal {self.signal}"
        return "no exit status (killed with its supervisor)"


class Supervisor:
    """A started lifeline script waiting for its one spawn command."""

    __slots__ = ("proc", "reader", "writer")

    def __init__(
        self,
        proc: asyncio.subprocess.Process,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        self.proc = proc
        self.reader = reader
        self.writer = writer

    @classmethod
    async def start(cls, python: str) -> Supervisor:
        ours, theirs = socket.socketpair()  # both close-on-exec; theirs becomes its stdin
        try:
            proc = await asyncio.create_subprocess_exec(
                python,
                "-I",
                "-S",
                LIFELINE,
                stdin=theirs.fileno(),
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        reader, writer = await asyncio.open_unix_connection(sock=ours)
        supervisor = cls(proc, reader, writer)
        try:  # wait for its interpreter to boot, so a spare in the pool is a ready one
            async with asyncio.timeout(REPLY_TIMEOUT):
                line = await reader.readline()
        except TimeoutError:
            line = b""
        if not line:
            await supervisor.discard()
            raise ConnectionError("the lifeline supervisor ended before it was ready")
        return supervisor

    @property
    def alive(self) -> bool:
        return self.proc.returncode is None and not self.writer.is_closing()

    async def command(self, message: Mapping[str, Any]) -> dict[str, Any]:
        """Send the spawn command; the supervisor's answer (``pid`` or ``error``)."""
        self.writer.write(json.dumps(message).encode() + b"\n")
        async with asyncio.timeout(REPLY_TIMEOUT):
            await self.writer.drain()
            line = await self.reader.readline()
        if not line:
            raise ConnectionError("the lifeline supervisor ended before answering")
        reply = json.loads(line)
        if not isinstance(reply, dict):
            raise ConnectionError(f"the lifeline supervisor answered {line!r}")
        return reply

    async def discard(self) -> None:
        """EOF on its control socket: an idle supervisor just exits."""
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()
        if self.proc.returncode is None:
            try:
                async with asyncio.timeout(REPLY_TIMEOUT):
                    await self.proc.wait()
            except TimeoutError:
                _killpg(self.proc.pid, signal.SIGKILL)
                await self.proc.wait()


class ReplicaProcess:
    """A running predictor. ``pid`` is also its process group id; ``spawned`` is the
    supervisor's ``time.monotonic()`` just before ``posix_spawn``."""

    def __init__(self, name: str, supervisor: Supervisor, pid: int, spawned: float) -> None:
        self.name = name
        self.pid = pid
        self.spawned = spawned
        self.supervisor_pid = supervisor.proc.pid
        self.stderr_tail: deque[str] = deque(maxlen=STDERR_TAIL)
        self.output = asyncio.Event()  # set on every line: a hint to probe now
        self._supervisor = supervisor
        self._cut = False
        self._status: asyncio.Future[ExitStatus] = asyncio.get_running_loop().create_future()
        proc = supervisor.proc
        assert proc.stdout is not None and proc.stderr is not None
        self._readers = (
            asyncio.create_task(self._read_output(proc.stdout, "stdout")),
            asyncio.create_task(self._read_output(proc.stderr, "stderr")),
        )
        self._control = asyncio.create_task(self._read_control())

    @property
    def exited(self) -> bool:
        return self._status.done()

    def signal(self, sig: int) -> None:
        """Signal the predictor's process group (through the supervisor, which knows
        whether the group is still the predictor's)."""
        if self._status.done():
            return
        writer = self._supervisor.writer
        if self._cut or writer.is_closing():
            _killpg(self.pid, sig)
        else:
            writer.write(json.dumps({"signal": int(sig)}).encode() + b"\n")

    def cut(self) -> None:
        """Half-close the lifeline: the supervisor SIGTERMs the group, SIGKILLs it after
        its grace, reports the exit and ends. What the server's death does, on purpose."""
        if not self._cut and not self._supervisor.writer.is_closing():
            self._cut = True
            self._supervisor.writer.write_eof()

    async def finished(self) -> ExitStatus:
        """How the predictor ended, once it has, its output read to the end and its
        supervisor reaped."""
        status = await asyncio.shield(self._status)
        proc = self._supervisor.proc
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(OUTPUT_DRAIN):
                await proc.wait()
                await asyncio.gather(*self._readers)
        for task in self._readers:
            task.cancel()
        self._supervisor.writer.close()
        if proc.returncode is None:  # a wedged supervisor: it has done its job
            _killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
        return status

    async def _read_control(self) -> None:
        reader = self._supervisor.reader
        status = ExitStatus()
        try:
            while line := await reader.readline():
                with contextlib.suppress(ValueError):
                    message = json.loads(line)
                    if isinstance(message, dict) and "exit" in message:
                        status = ExitStatus(code=int(message["exit"]))
                        break
                    if isinstance(message, dict) and "signal" in message:
                        status = ExitStatus(signal=int(message["signal"]))
                        break
        except (OSError, ValueError):
            pass
        finally:
            if status == ExitStatus():
                # The supervisor died without a word (SIGKILLed): nobody guards the
                # predictor any more, so kill its group ourselves.
                _killpg(self.pid, signal.SIGKILL)
            if not self._status.done():
                self._status.set_result(status)

    async def _read_output(self, stream: asyncio.StreamReader, which: str) -> None:
        while True:
            try:
                raw = await stream.readline()
            except ValueError:  # a line beyond the stream limit: its rest comes next
                continue
            if not raw:
                return
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if which == "stderr":
                self.stderr_tail.append(line)
            output_log.info("%s %s: %s", self.name, which, line)
            self.output.set()


class SupervisorPool:
    """Spawns predictors through lifeline supervisors, one kept started ahead of need."""

    def __init__(self, python: str = sys.executable, spares: int = 1) -> None:
        self._python = python
        self._spares_wanted = spares
        self._spares: list[Supervisor] = []
        self._starting: set[asyncio.Task[None]] = set()
        self._closed = False
        self._closing = asyncio.Event()

    def warm(self, delay: float = 0.0) -> None:
        """Start spares in the background up to the wanted number. Not done by ``spawn``:
        a spare's start would take CPU from the predictor's own; the runtime calls this
        when a replica is ready or gone. ``delay`` (real seconds) keeps a new interpreter
        off the CPU while a just-ready replica answers the requests held for it (it
        stalled the loop ~5-9 ms and slowed the first answer on 2 cores)."""
        while not self._closed and len(self._spares) + len(self._starting) < self._spares_wanted:
            task = asyncio.create_task(self._start_spare(delay))
            self._starting.add(task)
            task.add_done_callback(self._starting.discard)

    async def spawn(
        self,
        name: str,
        argv: Sequence[str],
        env: Mapping[str, str],
        cwd: str | None,
        grace: float,
    ) -> ReplicaProcess:
        """Start ``argv``; ``SpawnFailed`` if it cannot be started at all."""
        command = {"argv": list(argv), "env": dict(env), "cwd": cwd, "grace": grace}
        for _ in range(2):  # a spare that died while waiting gets one successor
            try:
                supervisor = await self._take()
            except OSError as e:
                log.warning("lifeline supervisor could not start: %r", e)
                continue
            try:
                reply = await supervisor.command(command)
            except (OSError, TimeoutError, ValueError) as e:
                log.warning("lifeline supervisor %d failed: %r", supervisor.proc.pid, e)
                await supervisor.discard()
                continue
            if "error" in reply:
                await supervisor.discard()
                raise SpawnFailed(str(reply["error"]))
            return ReplicaProcess(name, supervisor, int(reply["pid"]), float(reply["spawned"]))
        raise SpawnFailed("the lifeline supervisor could not be started")

    @property
    def spares(self) -> int:
        """Supervisors started ahead of need, ready to spawn a predictor at once."""
        return sum(1 for supervisor in self._spares if supervisor.alive)

    async def close(self) -> None:
        self._closed = True
        self._closing.set()
        for task in list(self._starting):
            with contextlib.suppress(Exception):
                await task
        spares, self._spares = self._spares, []
        for supervisor in spares:
            await supervisor.discard()

    async def _take(self) -> Supervisor:
        while self._spares:
            supervisor = self._spares.pop(0)
            if supervisor.alive:
                return supervisor
            await supervisor.discard()
        return await Supervisor.start(self._python)

    async def _start_spare(self, delay: float) -> None:
        if delay > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), delay)
            if self._closed:
                return
        try:
            supervisor = await Supervisor.start(self._python)
        except OSError as e:  # the next spawn starts its own; nothing is lost
            log.warning("spare lifeline supervisor could not start: %r", e)
            return
        if self._closed:
            await supervisor.discard()
        else:
            self._spares.append(supervisor)


def _killpg(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
