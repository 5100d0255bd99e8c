"""The runtime interface the controller drives, and the frozen data it speaks in.

A runtime owns replicas and nothing else: the controller says which revisions exist
(``ensure``), how many replicas each should have (``scale``) and which go (``remove``);
the runtime answers with versioned endpoint snapshots (``endpoints``, ``watch``) and a
status for people (``status``). Every call returns once the request is accepted, not once
replicas are up or gone, so the Kubernetes runtime (an API call per request) fits the
same protocol; progress is observed through ``watch``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Literal, Protocol

from zeroserve.endpoint import Endpoint
from zeroserve.runtime.errors import InvalidTemplate

ApiProtocol = Literal["v1", "v2"]
Phase = Literal["starting", "ready", "draining", "stopping"]
EventKind = Literal[
    "spawned", "ready", "crashed", "unhealthy", "draining", "stopping", "stopped", "failed"
]

PORT = "{port}"
GRPC_PORT = "{grpc_port}"


def render(text: str, port: int, grpc_port: int) -> str:
    """``{port}`` and ``{grpc_port}`` substituted; other braces left alone (not
    ``str.format``: arguments may well contain JSON)."""
    return text.replace(PORT, str(port)).replace(GRPC_PORT, str(grpc_port))


@dataclass(frozen=True, slots=True)
class Probe:
    """An HTTP GET probe, in Kubernetes' terms (``httpGet.path``, ``initialDelaySeconds``,
    ``periodSeconds``, ``timeoutSeconds``, ``failureThreshold``), seconds as floats.

    For readiness, ``period`` only caps the fast start-up schedule: until a replica is
    first ready it is probed every few ms, backing off (``backoff.ProbeSchedule``)."""

    path: str
    initial_delay: float = 0.0
    period: float = 10.0
    timeout: float = 1.0
    failure_threshold: int = 3

    def __post_init__(self) -> None:
        if not self.path.startswith("/"):
            raise InvalidTemplate(f"probe path must start with '/', got {self.path!r}")
        if self.initial_delay < 0 or self.period <= 0 or self.timeout <= 0:
            raise InvalidTemplate(
                "probe initial delay must be >= 0, period and timeout > 0; got "
                f"{self.initial_delay}, {self.period}, {self.timeout}"
            )
        if self.failure_threshold < 1:
            raise InvalidTemplate(
                f"probe failure threshold must be >= 1, got {self.failure_threshold}"
            )


DEFAULT_LIVENESS_PERIOD = 1.0


@dataclass(frozen=True, slots=True)
class RevisionTemplate:
    """What one revision runs, identical for each of its replicas.

    ``argv`` and ``env`` values may hold ``{port}`` and ``{grpc_port}``, two free loopback
    ports picked for each replica at spawn; ``PORT`` is set in the environment as well.
    ``timeout`` is the revision's request timeout: it bounds how long a draining replica
    waits for its in-flight requests. A replica not ready ``progress_deadline`` seconds
    after its spawn, or ``max_start_crashes`` crashes in a row before any replica got
    ready, fail the revision (while no replica is ready).
    """

    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()
    cwd: str | None = None
    protocol: ApiProtocol = "v2"
    model_name: str = ""
    readiness: Probe | None = None
    liveness: Probe | None = None
    timeout: float = 300.0
    termination_grace: float = 30.0
    progress_deadline: float = 600.0
    max_start_crashes: int = 3

    def __post_init__(self) -> None:
        if not self.argv or not self.argv[0]:
            raise InvalidTemplate("a revision template needs a command (argv is empty)")
        if self.protocol not in ("v1", "v2"):
            raise InvalidTemplate(f"protocol must be 'v1' or 'v2', got {self.protocol!r}")
        if self.protocol == "v1" and self.readiness is None and not self.model_name:
            raise InvalidTemplate("a V1 predictor needs a model name for its readiness path")
        if self.timeout <= 0 or self.termination_grace < 0 or self.progress_deadline <= 0:
            raise InvalidTemplate(
                "timeout and progress deadline must be > 0, termination grace >= 0; got "
                f"{self.timeout}, {self.progress_deadline}, {self.termination_grace}"
            )
        if self.max_start_crashes < 1:
            raise InvalidTemplate(f"max start crashes must be >= 1, got {self.max_start_crashes}")

    def readiness_probe(self) -> Probe:
        """The manifest's probe if it has one, else the protocol's health path."""
        if self.readiness is not None:
            return self.readiness
        if self.protocol == "v1":
            return Probe(f"/v1/models/{self.model_name}")
        return Probe("/v2/health/ready")

    def liveness_probe(self) -> Probe:
        """The manifest's probe, else the readiness path every second."""
        if self.liveness is not None:
            return self.liveness
        return Probe(self.readiness_probe().path, period=DEFAULT_LIVENESS_PERIOD)


@dataclass(frozen=True, slots=True)
class EndpointsSnapshot:
    """A revision's replicas at one moment; a higher ``version`` is always newer.

    ``draining`` replicas take no new requests but may still finish some. ``failed`` is
    the reason the revision cannot serve (held requests should get a 503 with it at
    once). ``removed`` marks the last snapshot of a removed revision."""

    revision: str
    version: int
    ready: tuple[Endpoint, ...] = ()
    draining: tuple[Endpoint, ...] = ()
    failed: str | None = None
    removed: bool = False


@dataclass(frozen=True, slots=True)
class ReplicaStatus:
    """One replica for people. ``pid`` is the predictor's (also its process group);
    ``spawned_at`` and ``ready_at`` are ``time.monotonic()`` values, comparable with
    what a predictor prints, for cold-start phases. ``last_probe`` says why a starting
    replica is not ready yet; ``stderr`` is its last lines."""

    name: str
    phase: Phase
    port: int
    grpc_port: int
    pid: int | None
    supervisor_pid: int | None
    spawned_at: float | None
    ready_at: float | None
    last_probe: str | None = None
    stderr: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CrashRecord:
    """The last unexpected end of a replica: its exit, its last stderr lines."""

    replica: str
    exit_code: int | None
    signal: int | None
    reason: str
    stderr: tuple[str, ...]
    at: float


@dataclass(frozen=True, slots=True)
class RevisionStatus:
    revision: str
    desired: int
    starting: int
    ready: int
    draining: int
    failed: bool
    reason: str | None
    restarts: int
    last_crash: CrashRecord | None
    replicas: tuple[ReplicaStatus, ...]


@dataclass(frozen=True, slots=True)
class ReplicaEvent:
    """A replica's lifecycle step, for metrics and logs (cold-start phases, crash counts).
    ``monotonic`` is ``time.monotonic()`` when it happened."""

    kind: EventKind
    revision: str
    replica: str
    monotonic: float
    pid: int | None = None
    detail: str = ""


class Runtime(Protocol):
    """Where replicas live. Owned and driven by the controller, which alone decides scale."""

    async def ensure(self, revision: str, template: RevisionTemplate) -> None:
        """The revision exists (with zero replicas at first). Idempotent for the same
        template; ``TemplateConflict`` for another one (revisions are immutable)."""

    async def scale(self, revision: str, replicas: int) -> None:
        """Desired replicas. Scaling a failed revision up from zero tries it again."""

    def endpoints(self, revision: str) -> EndpointsSnapshot:
        """The latest snapshot of the revision (``UnknownRevision`` if none)."""
        ...

    def watch(self) -> AsyncIterator[EndpointsSnapshot]:
        """The latest snapshot of every revision, then each change, until ``close``.
        A slow reader skips intermediate snapshots of a revision, never the latest."""
        ...

    def status(self, revision: str) -> RevisionStatus:
        """Counts, failure and last crash for people (``UnknownRevision`` if none)."""
        ...

    async def remove(self, revision: str) -> None:
        """Drain and stop every replica, then forget the revision (a last snapshot with
        ``removed=True``)."""

    async def close(self) -> None:
        """Stop every replica and helper process this runtime started, now."""
