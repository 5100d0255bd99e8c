"""The status page at ``GET /``: the same report as ``zeroserve status``, as HTML.

Rendered on the server, no script; the browser reloads it every few seconds. Every value
goes through ``html.escape``: names, reasons and messages come from manifests and
predictors, which a page must never trust.
"""

from __future__ import annotations

import html
import time
from collections.abc import Iterable

from zeroserve.admin.model import RevisionSnapshot, ServerSnapshot, ServiceSnapshot
from zeroserve.admin.status_rows import (
    COLUMNS,
    condition_problems,
    format_phases,
    revision_cells,
    server_line,
)

__all__ = ["REFRESH_SECONDS", "render_page"]

REFRESH_SECONDS = 2

_STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
h2 { font-size: 1.1em; margin: 1.5em 0 0.3em; }
table { border-collapse: collapse; }
th, td { padding: 0.2em 0.8em 0.2em 0; text-align: left; white-space: nowrap; }
th { font-size: 0.8em; color: #666; border-bottom: 1px solid #ccc; }
.ready { color: #080; } .not-ready { color: #b00; }
.problem, .failed { color: #b00; } .note { color: #555; font-size: 0.9em; }
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _row(cells: Iterable[str], tag: str = "td", css: str = "") -> str:
    attr = f' class="{css}"' if css else ""
    return f"<tr{attr}>" + "".join(f"<{tag}>{_e(c)}</{tag}>" for c in cells) + "</tr>"


def _revision_rows(snapshot: ServerSnapshot, revision: RevisionSnapshot) -> list[str]:
    css = "failed" if revision.failed_reason is not None else ""
    rows = [_row(revision_cells(snapshot, revision), css=css)]
    span = len(COLUMNS)
    if revision.failed_reason is not None:
        rows.append(
            f'<tr class="failed"><td></td><td colspan="{span - 1}">'
            f"failed: {_e(revision.failed_reason)}</td></tr>"
        )
    if revision.last_cold_start is not None:
        rows.append(
            f'<tr class="note"><td></td><td colspan="{span - 1}">'
            f"last cold start: {_e(format_phases(revision.last_cold_start))}</td></tr>"
        )
    return rows


def _table(snapshot: ServerSnapshot, revisions: Iterable[RevisionSnapshot]) -> list[str]:
    body = [row for r in revisions for row in _revision_rows(snapshot, r)]
    if not body:
        return ['<p class="note">no revisions yet</p>']
    return [
        "<table>",
        "<thead>",
        _row(COLUMNS, "th"),
        "</thead>",
        "<tbody>",
        *body,
        "</tbody></table>",
    ]


def _service(snapshot: ServerSnapshot, service: ServiceSnapshot) -> list[str]:
    css, word = ("ready", "Ready") if service.ready else ("not-ready", "Not ready")
    lines = [
        f'<section id="{_e(service.key)}">',
        f'<h2>{_e(service.key)} <span class="{css}">{word}</span></h2>',
        f'<p><a href="{_e(service.url)}">{_e(service.url)}</a>',
    ]
    if service.hosts:
        lines.append(f" · hosts: {_e(', '.join(service.hosts))}")
    lines.append("</p>")
    lines.extend(f'<p class="problem">{_e(p)}</p>' for p in condition_problems(service))
    lines.extend(_table(snapshot, snapshot.revisions_of(service)))
    lines.append("</section>")
    return lines


def render_page(snapshot: ServerSnapshot) -> str:
    taken = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(snapshot.taken_at))
    lines = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="refresh" content="{REFRESH_SECONDS}">',
        "<title>Zeroserve status</title>",
        f"<style>{_STYLE}</style>",
        "</head><body>",
        "<h1>Zeroserve</h1>",
        f"<p>{_e(server_line(snapshot))} · {_e(taken)} · "
        '<a href="/metrics">metrics</a> · <a href="/api/v1/status">JSON</a></p>',
    ]
    if not snapshot.services and not snapshot.revisions:
        lines.append("<p>No InferenceServices.</p>")
    for service in snapshot.services:
        lines.extend(_service(snapshot, service))
    orphans = sorted(snapshot.orphans(), key=lambda r: r.name)
    if orphans:
        lines.append("<section><h2>Revisions whose InferenceService is gone</h2>")
        lines.extend(_table(snapshot, orphans))
        lines.append("</section>")
    lines.append("</body></html>")
    return "\n".join(lines) + "\n"
