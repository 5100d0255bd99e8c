"""What ``zeroserve status`` prints: a table per service, like ``kubectl get``.

Pure: a snapshot in, lines out. Under each table, a line per failed revision with its
reason and per cold start with its phases, so the table itself stays one row per
revision.
"""

from __future__ import annotations

from collections.abc import Sequence

from zeroserve.admin.model import RevisionSnapshot, ServerSnapshot, ServiceSnapshot
from zeroserve.admin.status_rows import (
    COLUMNS,
    condition_problems,
    format_phases,
    ready_word,
    revision_cells,
    server_line,
)

__all__ = ["render_service", "render_status", "table"]

INDENT = "  "


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Columns left-aligned, two spaces apart, no trailing spaces."""
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in (header, *rows)
    ]


def _revision_notes(snapshot: ServerSnapshot, revision: RevisionSnapshot) -> list[str]:
    notes: list[str] = []
    if revision.failed_reason is not None:
        notes.append(f"{revision.name} failed: {revision.failed_reason}")
    cold = revision.last_cold_start
    if cold is not None:
        notes.append(f"{revision.name} last cold start: {format_phases(cold)}")
    return notes


def _revisions(snapshot: ServerSnapshot, revisions: Sequence[RevisionSnapshot]) -> list[str]:
    if not revisions:
        return [INDENT + "no revisions yet"]
    rows = [revision_cells(snapshot, r) for r in revisions]
    lines = [INDENT + line for line in table(COLUMNS, rows)]
    for revision in revisions:
        lines.extend(INDENT + note for note in _revision_notes(snapshot, revision))
    return lines


def render_service(snapshot: ServerSnapshot, service: ServiceSnapshot) -> list[str]:
    lines = [f"{service.key}  {ready_word(service)}  {service.url}"]
    if service.hosts:
        lines.append(f"{INDENT}hosts: {', '.join(service.hosts)}")
    lines.extend(f"{INDENT}{problem}" for problem in condition_problems(service))
    lines.extend(_revisions(snapshot, snapshot.revisions_of(service)))
    return lines


def render_status(snapshot: ServerSnapshot) -> list[str]:
    """The whole server: a line about it, then one block per service."""
    lines = [server_line(snapshot)]
    if not snapshot.services and not snapshot.revisions:
        lines.extend(["", "No InferenceServices."])
    for service in snapshot.services:
        lines.append("")
        lines.extend(render_service(snapshot, service))
    orphans = snapshot.orphans()
    if orphans:
        lines.extend(["", "Revisions whose InferenceService is gone"])
        lines.extend(_revisions(snapshot, sorted(orphans, key=lambda r: r.name)))
    return lines
