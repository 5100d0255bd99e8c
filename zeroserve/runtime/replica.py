"""The runtime's records of revisions and replicas (mutable, owned by one event loop),
and their read-outs as frozen snapshots and statuses."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from zeroserve.clock import TimerHandle
from zeroserve.endpoint import Endpoint
from zeroserve.runtime.base import (
    CrashRecord,
    EndpointsSnapshot,
    Phase,
    ReplicaStatus,
    RevisionStatus,
    RevisionTemplate,
)
from zeroserve.runtime.plan import ReplicaView
from zeroserve.runtime.probe import ProbeResult
from zeroserve.runtime.process import ReplicaProcess


@dataclass(eq=False, slots=True)
class Replica:
    name: str
    seq: int
    port: int
    grpc_port: int
    phase: Phase = "starting"
    process: ReplicaProcess | None = None
    spawned_at: float | None = None  # time.monotonic()
    ready_at: float | None = None  # time.monotonic()
    ready_since: float | None = None  # Clock time, for the crash streak
    last_probe: ProbeResult | None = None
    run: asyncio.Task[None] | None = None
    probing: asyncio.Task[None] | None = None
    draining: asyncio.Task[None] | None = None
    deadline: TimerHandle | None = None
    kill: TimerHandle | None = None

    @property
    def was_ready(self) -> bool:
        return self.ready_at is not None

    def view(self) -> ReplicaView:
        return ReplicaView(self.name, self.seq, self.phase)

    def endpoint(self, host: str) -> Endpoint:
        return Endpoint(host, self.port, self.name)

    def status(self) -> ReplicaStatus:
        process = self.process
        return ReplicaStatus(
            name=self.name,
            phase=self.phase,
            port=self.port,
            grpc_port=self.grpc_port,
            pid=None if process is None else process.pid,
            supervisor_pid=None if process is None else process.supervisor_pid,
            spawned_at=self.spawned_at,
            ready_at=self.ready_at,
            last_probe=None if self.last_probe is None else self.last_probe.describe(),
            stderr=() if process is None else tuple(process.stderr_tail),
        )

    def cancel_work(self) -> None:
        """Timers and tasks other than the process watch (``run``) and the current task."""
        for timer in (self.deadline, self.kill):
            if timer is not None:
                timer.cancel()
        self.deadline = self.kill = None
        current = asyncio.current_task()
        for task in (self.probing, self.draining):
            if task is not None and task is not current:
                task.cancel()
        self.probing = self.draining = None


@dataclass(eq=False, slots=True)
class Revision:
    name: str
    template: RevisionTemplate
    desired: int = 0
    replicas: dict[str, Replica] = field(default_factory=dict)
    seq: int = 0
    failed: str | None = None
    removed: bool = False
    streak: int = 0  # crashes in a row, for backoff
    start_crashes: int = 0  # crashes before ready since a replica was last ready
    restarts: int = 0
    hold_until: float = 0.0  # Clock time before which nothing new starts (backoff)
    hold: TimerHandle | None = None
    last_crash: CrashRecord | None = None
    published: tuple[object, ...] | None = None

    def in_phase(self, *phases: Phase) -> list[Replica]:
        return sorted((r for r in self.replicas.values() if r.phase in phases), key=lambda r: r.seq)

    def snapshot(self, host: str, version: int) -> EndpointsSnapshot:
        ready, draining = self.endpoint_sets(host)
        return EndpointsSnapshot(self.name, version, ready, draining, self.failed)

    def endpoint_sets(self, host: str) -> tuple[tuple[Endpoint, ...], tuple[Endpoint, ...]]:
        """Ready replicas, and those that were ready and are on their way out."""
        ready = tuple(r.endpoint(host) for r in self.in_phase("ready"))
        leaving = self.in_phase("draining", "stopping")
        draining = tuple(r.endpoint(host) for r in leaving if r.was_ready)
        return ready, draining

    def status(self) -> RevisionStatus:
        return RevisionStatus(
            revision=self.name,
            desired=self.desired,
            starting=len(self.in_phase("starting")),
            ready=len(self.in_phase("ready")),
            draining=len(self.in_phase("draining", "stopping")),
            failed=self.failed is not None,
            reason=self.failed,
            restarts=self.restarts,
            last_crash=self.last_crash,
            replicas=tuple(r.status() for r in self.in_phase(*_PHASES)),
        )


_PHASES: tuple[Phase, ...] = ("starting", "ready", "draining", "stopping")
