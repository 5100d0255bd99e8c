"""The words and numbers of a status report, shared by ``zeroserve status`` and the
status page, so both say the same thing the same way. Pure: text in, text out."""

from __future__ import annotations

from zeroserve.admin.model import (
    ColdStart,
    Condition,
    RevisionSnapshot,
    ServerSnapshot,
    ServiceSnapshot,
)

__all__ = [
    "COLUMNS",
    "condition_problems",
    "format_ago",
    "format_ms",
    "format_phases",
    "last_cold_start_cell",
    "ready_word",
    "revision_cells",
    "server_line",
    "traffic_cell",
]

COLUMNS: tuple[str, ...] = (
    "REVISION",
    "TRAFFIC",
    "STATE",
    "DESIRED/READY",
    "MODE",
    "PANIC",
    "HELD",
    "IN FLIGHT",
    "COLD STARTS",
    "LAST COLD START",
)

_PHASE_WORDS = {"first_byte": "first byte"}


def format_ms(ms: float) -> str:
    """``0.4 ms``, ``12 ms``, ``2.5 s``: precise where small, short where large."""
    if ms < 10:
        return f"{ms:.1f} ms"
    if ms < 10_000:
        return f"{ms:.0f} ms"
    return f"{ms / 1000:.1f} s"


def format_ago(seconds: float) -> str:
    if seconds < 1:
        return "just now"
    if seconds < 60:
        return f"{seconds:.0f} s ago"
    if seconds < 3600:
        return f"{seconds // 60:.0f} min ago"
    if seconds < 86400:
        return f"{seconds // 3600:.0f} h ago"
    return f"{seconds // 86400:.0f} d ago"


def format_phases(cold: ColdStart) -> str:
    """``queued 0.3 ms, decision 1.2 ms, spawn 2.0 ms, ready 790 ms, first byte 16 ms``."""
    return ", ".join(f"{_PHASE_WORDS.get(p, p)} {format_ms(ms)}" for p, ms in cold.phases())


def traffic_cell(service: ServiceSnapshot | None, revision: str) -> str:
    """``90%``, with the tags that reach the revision alone: ``90% (prev)``."""
    if service is None:
        return "-"
    percent = f"{service.percent_of(revision)}%"
    tags = service.tags_of(revision)
    return f"{percent} ({', '.join(tags)})" if tags else percent


def last_cold_start_cell(snapshot: ServerSnapshot, revision: RevisionSnapshot) -> str:
    cold = revision.last_cold_start
    if cold is None:
        return "-"
    return f"{format_ms(cold.total_ms)}, {format_ago(snapshot.taken_at - cold.at)}"


def revision_cells(snapshot: ServerSnapshot, revision: RevisionSnapshot) -> tuple[str, ...]:
    """One row under ``COLUMNS``."""
    service = snapshot.service(revision.namespace, revision.service)
    return (
        revision.name,
        traffic_cell(service, revision.name),
        revision.state.value,
        f"{revision.desired}/{revision.ready}",
        revision.mode.value,
        "yes" if revision.panic else "no",
        str(revision.held),
        str(revision.in_flight),
        str(revision.cold_starts),
        last_cold_start_cell(snapshot, revision),
    )


def _healthy(condition: Condition) -> bool:
    # KServe's ``Stopped`` is False on a healthy service; every other condition is True.
    if condition.type == "Stopped":
        return condition.status == "False"
    return condition.status == "True"


def condition_problems(service: ServiceSnapshot) -> tuple[str, ...]:
    """``PredictorReady False: RevisionFailed: …`` for each condition not as it should be.

    ``Ready`` only copies the first failing dependent (a Knative living condition set), so
    it is listed only when it is the sole problem."""
    bad = [c for c in service.conditions if not _healthy(c)]
    if any(c.type != "Ready" for c in bad):
        bad = [c for c in bad if c.type != "Ready"]
    problems: list[str] = []
    for condition in bad:
        why = ": ".join(part for part in (condition.reason, condition.message) if part)
        problem = f"{condition.type} {condition.status}"
        problems.append(f"{problem}: {why}" if why else problem)
    return tuple(problems)


def ready_word(service: ServiceSnapshot) -> str:
    ready = service.condition("Ready")
    if ready is None:
        return "Ready: Unknown"
    return f"Ready: {ready.status}" + (f" ({ready.reason})" if ready.reason else "")


def server_line(snapshot: ServerSnapshot) -> str:
    store = snapshot.store
    if store.healthy:
        health = "healthy"
    else:
        health = "UNREACHABLE" + (f" ({store.last_error})" if store.last_error else "")
    return f"Zeroserve {snapshot.version}, store {store.backend}: {health}"
