"""The local runtime: each replica a child process on this machine.

Clocks, and why: backoff before replacing a crash, the progress deadline, the drain
timeout (the revision's request timeout) and the termination grace are the injected
Clock's (they are windows and grace periods; tests move them with ``FakeClock``).
Probe intervals and the drain poll are real time (they measure a real process). ``close``
is a shutdown: it waits real seconds, so it works whatever the Clock does.

Every replica runs under a lifeline supervisor (``lifeline.py``, via ``process.py``), so
its process group dies with the server even on SIGKILL. One event loop owns all state;
nothing here is thread-safe.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncGenerator, Callable

from zeroserve.clock import Clock
from zeroserve.runtime.backoff import Backoff, ProbeSchedule
from zeroserve.runtime.base import (
    CrashRecord,
    EndpointsSnapshot,
    EventKind,
    ReplicaEvent,
    RevisionStatus,
    RevisionTemplate,
    render,
)
from zeroserve.runtime.errors import (
    InvalidTemplate,
    RuntimeClosed,
    SpawnFailed,
    TemplateConflict,
    UnknownRevision,
)
from zeroserve.runtime.feed import SnapshotFeed
from zeroserve.runtime.plan import plan_scale
from zeroserve.runtime.probe import ProbeResult, until_dead, until_ready
from zeroserve.runtime.process import ExitStatus, ReplicaProcess, SupervisorPool
from zeroserve.runtime.replica import Replica, Revision

InFlight = Callable[[str, str], int]
"""``in_flight(revision, replica_name)``: requests the replica still serves."""

SPAWN_EXIT_CODE = 127  # what a shell reports for a command it cannot start

log = logging.getLogger("zeroserve.runtime.local")


def _idle(revision: str, replica: str) -> int:
    return 0


# Real seconds between a replica's readiness and starting the next spare supervisor: long
# enough for the requests held for it to be answered first (loadtests/cold_start.py).
SPARE_AFTER_READY = 0.5


class LocalRuntime:
    """Implements ``Runtime`` with local processes on loopback ports.

    Choices, and why:
    * Replicas are named ``{revision}-{n}``, ``n`` never reused, so a replacement never
      shares a name (and in-flight counts) with the replica it replaces.
    * Scale-down lets starting replicas go first, then ready ones, newest first; a ready
      one drains (out of the ready set at once, listed as draining) until ``in_flight``
      says 0 or the revision's timeout passes, then gets SIGTERM, SIGKILL after the grace.
      Scaling back up takes draining replicas back before starting new ones.
    * A revision fails only while no replica of it is ready: crashes before readiness
      ``max_start_crashes`` times in a row, or a replica not ready after the progress
      deadline. With a ready replica, the faulty newcomers are replaced with backoff
      instead: failing would answer 503 although a replica serves.
    * A failed revision starts nothing until it is scaled up from zero again (the next
      cold start after traffic stopped retries, as Knative does).
    * Liveness: after ready, the liveness probe (the readiness path every second unless
      the template says otherwise); ``failure_threshold`` failures in a row replace the
      replica, like a crash.
    """

    def __init__(
        self,
        clock: Clock,
        *,
        in_flight: InFlight = _idle,
        host: str = "127.0.0.1",
        backoff: Backoff | None = None,
        probes: ProbeSchedule | None = None,
        drain_poll: float = 0.02,
        close_grace: float = 10.0,
        spares: int = 1,
        python: str = sys.executable,
        on_event: Callable[[ReplicaEvent], None] | None = None,
    ) -> None:
        self._clock = clock
        self._in_flight = in_flight
        self._host = host
        self._backoff = backoff or Backoff()
        self._probes = probes or ProbeSchedule()
        self._drain_poll = drain_poll
        self._close_grace = close_grace
        self._on_event = on_event
        self._pool = SupervisorPool(python, spares)
        self._feed = SnapshotFeed()
        self._revisions: dict[str, Revision] = {}
        self._ports: set[int] = set()
        self._version = 0
        self._closing = False

    async def __aenter__(self) -> LocalRuntime:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- the Runtime protocol -------------------------------------------------------

    async def ensure(self, revision: str, template: RevisionTemplate) -> None:
        self._check_open()
        rev = self._revisions.get(revision)
        if rev is not None:
            if rev.template != template:
                raise TemplateConflict(
                    f"revision {revision!r} exists with another template; "
                    "a changed command needs a new revision"
                )
            if rev.removed:  # ensured again while its replicas drained away
                rev.removed = False
                self._reconcile(rev)
            return
        rev = Revision(revision, template)
        self._revisions[revision] = rev
        self._pool.warm()
        self._publish(rev)

    async def scale(self, revision: str, replicas: int) -> None:
        self._check_open()
        if replicas < 0:
            raise InvalidTemplate(f"replicas must be >= 0, got {replicas}")
        rev = self._get(revision)
        if rev.failed is not None and replicas > 0 and rev.desired == 0:
            log.info("revision %s: scaled up from zero after failing, trying again", rev.name)
            rev.failed = None
            rev.start_crashes = rev.streak = 0
            rev.hold_until = 0.0
            self._publish(rev)
        rev.desired = replicas
        self._reconcile(rev)

    def endpoints(self, revision: str) -> EndpointsSnapshot:
        snapshot = self._feed.latest(revision)
        if snapshot is None:
            raise UnknownRevision(f"no revision {revision!r} in this runtime")
        return snapshot

    def watch(self) -> AsyncGenerator[EndpointsSnapshot, None]:
        return self._feed.watch()

    def status(self, revision: str) -> RevisionStatus:
        rev = self._revisions.get(revision)
        if rev is None:
            raise UnknownRevision(f"no revision {revision!r} in this runtime")
        return rev.status()

    async def remove(self, revision: str) -> None:
        self._check_open()
        rev = self._get(revision)
        rev.removed = True
        rev.desired = 0
        self._reconcile(rev)
        self._forget_if_gone(rev)

    @property
    def spare_supervisors(self) -> int:
        """Lifeline supervisors started ahead of need (a cold start that finds none pays
        ~30 ms for an interpreter's start)."""
        return self._pool.spares

    async def close(self) -> None:
        """SIGTERM every replica, SIGKILL what is left after the largest termination
        grace (at most ``close_grace`` real seconds), stop the spare supervisors."""
        if self._closing:
            return
        self._closing = True
        replicas = [r for rev in self._revisions.values() for r in rev.replicas.values()]
        graces = [rev.template.termination_grace for rev in self._revisions.values()]
        for rev in self._revisions.values():
            if rev.hold is not None:
                rev.hold.cancel()
        for replica in replicas:
            replica.cancel_work()
            replica.phase = "stopping"
            if replica.process is not None:
                replica.process.signal(signal.SIGTERM)
        runs = [r.run for r in replicas if r.run is not None]
        if runs:
            _, pending = await asyncio.wait(runs, timeout=min(self._close_grace, max(graces)))
            for replica in replicas:
                if replica.process is not None and replica.run in pending:
                    replica.process.signal(signal.SIGKILL)
            if pending:
                await asyncio.wait(pending, timeout=self._close_grace)
        await self._pool.close()
        self._feed.close()

    # -- more read-outs ---------------------------------------------------------------

    def revisions(self) -> list[str]:
        return list(self._revisions)

    # -- reconciling --------------------------------------------------------------------

    def _reconcile(self, rev: Revision) -> None:
        if self._closing:
            return
        desired = 0 if rev.failed is not None or rev.removed else rev.desired
        plan = plan_scale(desired, [r.view() for r in rev.replicas.values()])
        for name in plan.undrain:
            replica = rev.replicas[name]
            replica.cancel_work()
            replica.phase = "ready"
            self._emit("ready", rev, replica, "taken back from draining")
            self._watch_liveness(rev, replica)
        for name in plan.stop:
            self._terminate(rev, rev.replicas[name])
        for name in plan.drain:
            self._drain(rev, rev.replicas[name])
        if plan.spawn:
            if self._clock.now() < rev.hold_until:
                self._hold(rev)
            else:
                for _ in range(plan.spawn):
                    self._spawn(rev)
        self._publish(rev)

    def _hold(self, rev: Revision) -> None:
        """Start nothing before ``hold_until``; reconcile then."""
        if rev.hold is not None:
            rev.hold.cancel()

        def release() -> None:
            rev.hold = None
            if self._revisions.get(rev.name) is rev:
                self._reconcile(rev)

        rev.hold = self._clock.call_at(rev.hold_until, release)

    def _publish(self, rev: Revision) -> None:
        """A new snapshot if what watchers see changed."""
        ready, draining = rev.endpoint_sets(self._host)
        content = (ready, draining, rev.failed)
        if content == rev.published:
            return
        rev.published = content
        self._version += 1
        self._feed.publish(rev.snapshot(self._host, self._version))

    def _forget_if_gone(self, rev: Revision) -> None:
        if not rev.removed or rev.replicas or self._revisions.get(rev.name) is not rev:
            return
        del self._revisions[rev.name]
        if rev.hold is not None:
            rev.hold.cancel()
        self._version += 1
        self._feed.publish(EndpointsSnapshot(rev.name, self._version, removed=True))
        log.info("revision %s removed", rev.name)

    # -- one replica's life -------------------------------------------------------------

    def _spawn(self, rev: Revision) -> None:
        rev.seq += 1
        replica = Replica(f"{rev.name}-{rev.seq}", rev.seq, self._free_port(), self._free_port())
        rev.replicas[replica.name] = replica
        deadline = self._clock.now() + rev.template.progress_deadline
        replica.deadline = self._clock.call_at(deadline, lambda: self._on_deadline(rev, replica))
        replica.run = asyncio.create_task(self._run(rev, replica), name=replica.name)

    async def _run(self, rev: Revision, replica: Replica) -> None:
        """Start the process, then wait for its end, whatever ends it."""
        template = rev.template
        argv = [render(arg, replica.port, replica.grpc_port) for arg in template.argv]
        env = dict(os.environ)
        env.update({k: render(v, replica.port, replica.grpc_port) for k, v in template.env})
        env["PORT"] = str(replica.port)
        replica.spawned_at = time.monotonic()
        try:
            process = await self._pool.spawn(
                replica.name, argv, env, template.cwd, template.termination_grace
            )
        except (SpawnFailed, OSError) as e:
            self._on_exit(rev, replica, ExitStatus(code=SPAWN_EXIT_CODE), (str(e),))
            return
        replica.process = process
        replica.spawned_at = process.spawned
        self._emit("spawned", rev, replica)
        if replica.phase == "stopping":  # let go (or closed) while it was being spawned
            self._send_stop(rev, replica)
        else:
            replica.probing = asyncio.create_task(self._until_ready(rev, replica, process))
        ended = await process.finished()
        self._on_exit(rev, replica, ended, tuple(process.stderr_tail))

    async def _until_ready(self, rev: Revision, replica: Replica, process: ReplicaProcess) -> None:
        def seen(result: ProbeResult) -> None:
            replica.last_probe = result

        probe = rev.template.readiness_probe()
        await until_ready(self._host, replica.port, probe, self._probes, process.output, seen)
        replica.probing = None
        self._on_ready(rev, replica)

    def _watch_liveness(self, rev: Revision, replica: Replica) -> None:
        replica.probing = asyncio.create_task(self._liveness(rev, replica))

    async def _liveness(self, rev: Revision, replica: Replica) -> None:
        probe = rev.template.liveness_probe()
        result, failures = await until_dead(self._host, replica.port, probe)
        replica.probing = None
        self._on_unhealthy(rev, replica, probe.path, result, failures)

    def _on_ready(self, rev: Revision, replica: Replica) -> None:
        if replica.phase != "starting":
            return
        replica.phase = "ready"
        replica.ready_at = time.monotonic()
        replica.ready_since = self._clock.now()
        if replica.deadline is not None:
            replica.deadline.cancel()
            replica.deadline = None
        rev.start_crashes = 0
        self._pool.warm(delay=SPARE_AFTER_READY)
        spawned = replica.spawned_at or replica.ready_at
        self._emit("ready", rev, replica, f"{(replica.ready_at - spawned) * 1000:.1f} ms")
        self._watch_liveness(rev, replica)
        self._publish(rev)

    def _on_deadline(self, rev: Revision, replica: Replica) -> None:
        replica.deadline = None
        if replica.phase != "starting" or self._closing:
            return
        probe = rev.template.readiness_probe()
        detail = f"replica {replica.name} not ready after {rev.template.progress_deadline:g}s"
        if replica.last_probe is not None:
            detail += f" (last probe GET {probe.path}: {replica.last_probe.describe()})"
        if not rev.in_phase("ready"):
            self._fail(rev, detail)
            return
        self._crashed(rev, replica, detail)
        self._terminate(rev, replica)
        self._reconcile(rev)

    def _on_unhealthy(
        self, rev: Revision, replica: Replica, path: str, result: ProbeResult, failures: int
    ) -> None:
        if replica.phase != "ready":
            return
        detail = (
            f"replica {replica.name} failed its liveness probe {failures} times in a row "
            f"(GET {path}: {result.describe()})"
        )
        tail = tuple(replica.process.stderr_tail) if replica.process is not None else ()
        self._emit("unhealthy", rev, replica, detail)
        self._crashed(rev, replica, detail, tail)
        self._terminate(rev, replica)
        self._reconcile(rev)

    def _on_exit(
        self, rev: Revision, replica: Replica, ended: ExitStatus, stderr: tuple[str, ...]
    ) -> None:
        replica.cancel_work()
        rev.replicas.pop(replica.name, None)
        self._ports.difference_update((replica.port, replica.grpc_port))
        if replica.phase == "stopping" or self._closing:
            self._emit("stopped", rev, replica, ended.describe())
        else:
            self._on_crash(rev, replica, ended, stderr)
        if self._closing:
            return
        self._pool.warm()
        self._publish(rev)
        if rev.removed:
            self._forget_if_gone(rev)
        else:
            self._reconcile(rev)

    def _on_crash(
        self, rev: Revision, replica: Replica, ended: ExitStatus, stderr: tuple[str, ...]
    ) -> None:
        before = "" if replica.was_ready else " before becoming ready"
        detail = f"replica {replica.name} exited with {ended.describe()}{before}"
        last = stderr[-1] if stderr else "(no stderr output)"
        log.warning("%s; last stderr line: %s", detail, last)
        self._emit("crashed", rev, replica, f"{detail}; last stderr line: {last}")
        self._crashed(rev, replica, detail, stderr, ended)
        if replica.was_ready:
            return
        rev.start_crashes += 1
        if rev.start_crashes >= rev.template.max_start_crashes and not rev.in_phase("ready"):
            times = f" ({rev.start_crashes} times in a row)" if rev.start_crashes > 1 else ""
            self._fail(rev, f"{detail}{times}; last stderr line: {last}")

    def _crashed(
        self,
        rev: Revision,
        replica: Replica,
        reason: str,
        stderr: tuple[str, ...] = (),
        ended: ExitStatus | None = None,
    ) -> None:
        """Count a replica lost to a fault and hold its replacement back (backoff)."""
        now = self._clock.now()
        ready_for = None if replica.ready_since is None else now - replica.ready_since
        rev.restarts += 1
        code, sig = (None, None) if ended is None else (ended.code, ended.signal)
        rev.last_crash = CrashRecord(replica.name, code, sig, reason, stderr, now)
        rev.streak = self._backoff.next_streak(rev.streak, ready_for)
        rev.hold_until = max(rev.hold_until, now + self._backoff.delay(rev.streak))

    def _fail(self, rev: Revision, detail: str) -> None:
        if rev.failed is not None:
            return
        rev.failed = f"revision {rev.name} cannot start: {detail}"
        log.error("%s", rev.failed)
        self._emit_revision("failed", rev, rev.failed)
        if rev.hold is not None:
            rev.hold.cancel()
            rev.hold = None
        for replica in rev.in_phase("starting"):
            self._terminate(rev, replica)
        self._publish(rev)

    # -- letting replicas go ------------------------------------------------------------

    def _drain(self, rev: Revision, replica: Replica) -> None:
        replica.cancel_work()  # no liveness while it leaves
        replica.phase = "draining"
        self._emit("draining", rev, replica)
        replica.draining = asyncio.create_task(self._drain_then_stop(rev, replica))

    async def _drain_then_stop(self, rev: Revision, replica: Replica) -> None:
        timed_out = asyncio.Event()
        timer = self._clock.call_at(self._clock.now() + rev.template.timeout, timed_out.set)
        try:
            while not timed_out.is_set() and self._busy(rev, replica):
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._drain_poll):
                        await timed_out.wait()
        finally:
            timer.cancel()
        if replica.phase == "draining":
            replica.draining = None
            self._terminate(rev, replica)

    def _busy(self, rev: Revision, replica: Replica) -> bool:
        try:
            return self._in_flight(rev.name, replica.name) > 0
        except Exception:  # an unknown count never cuts requests short: wait it out
            log.exception("in_flight(%s, %s) failed", rev.name, replica.name)
            return True

    def _terminate(self, rev: Revision, replica: Replica) -> None:
        """SIGTERM now, SIGKILL after the termination grace (Clock)."""
        if replica.phase == "stopping":
            return
        replica.cancel_work()
        replica.phase = "stopping"
        self._emit("stopping", rev, replica)
        if replica.process is not None:
            self._send_stop(rev, replica)
        self._publish(rev)

    def _send_stop(self, rev: Revision, replica: Replica) -> None:
        process = replica.process
        assert process is not None
        grace = rev.template.termination_grace
        if grace <= 0:
            process.signal(signal.SIGKILL)
            return
        process.signal(signal.SIGTERM)
        replica.kill = self._clock.call_at(
            self._clock.now() + grace, lambda: process.signal(signal.SIGKILL)
        )

    # -- small things -------------------------------------------------------------------

    def _get(self, revision: str) -> Revision:
        rev = self._revisions.get(revision)
        if rev is None or rev.removed:
            raise UnknownRevision(f"no revision {revision!r} in this runtime")
        return rev

    def _check_open(self) -> None:
        if self._closing:
            raise RuntimeClosed("the local runtime is closed")

    def _free_port(self) -> int:
        """A loopback port nothing listens on now and no replica of ours was given."""
        while True:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.bind((self._host, 0))
                port: int = s.getsockname()[1]
            if port not in self._ports:
                self._ports.add(port)
                return port

    def _emit(self, kind: EventKind, rev: Revision, replica: Replica, detail: str = "") -> None:
        pid = replica.process.pid if replica.process is not None else None
        self._send_event(ReplicaEvent(kind, rev.name, replica.name, time.monotonic(), pid, detail))

    def _emit_revision(self, kind: EventKind, rev: Revision, detail: str) -> None:
        self._send_event(ReplicaEvent(kind, rev.name, "", time.monotonic(), None, detail))

    def _send_event(self, event: ReplicaEvent) -> None:
        log.debug(
            "%s %s %s %s",
            event.kind,
            event.replica or event.revision,
            event.pid or "",
            event.detail,
        )
        if self._on_event is not None:
            try:
                self._on_event(event)
            except Exception:
                log.exception("on_event callback failed for %s", event)
