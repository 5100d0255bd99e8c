"""What ``zeroserve status`` prints, from hand-built snapshots: a service at zero, one
panicking mid-canary, one whose canary failed."""

from __future__ import annotations

import pytest

from tests.admin.snapshots import HOSTILE, full_snapshot
from zeroserve.admin.model import RevisionSnapshot, RouteMode, ServerSnapshot, StoreHealth
from zeroserve.admin.status_rows import COLUMNS, format_ago, format_ms
from zeroserve.admin.status_table import render_service, render_status, table


def rows(lines: list[str]) -> dict[str, dict[str, str]]:
    """The revision rows under the (indented) header, cut at the header's column starts."""
    at = next(i for i, line in enumerate(lines) if line.strip().startswith("REVISION"))
    header = lines[at]
    starts = [header.index(column) for column in COLUMNS]
    found: dict[str, dict[str, str]] = {}
    for line in lines[at + 1 :]:
        if not line.startswith("  ") or " " in line[2:].split("  ")[0]:
            break  # past the table: notes start with "<revision> <words>"
        cells = [line[a:b].strip() for a, b in zip(starts, [*starts[1:], None], strict=True)]
        found[cells[0]] = dict(zip(COLUMNS, cells, strict=True))
    return found


def service_lines(snapshot: ServerSnapshot, name: str) -> list[str]:
    service = snapshot.service("default", name)
    assert service is not None
    return render_service(snapshot, service)


def test_a_service_scaled_to_zero() -> None:
    assert service_lines(full_snapshot(), "iris") == [
        "default/iris  Ready: True  http://iris.default.example.com",
        "  hosts: iris.default.example.com, iris-predictor.default.example.com",
        "  REVISION              TRAFFIC  STATE         DESIRED/READY  MODE   PANIC  HELD"
        "  IN FLIGHT  COLD STARTS  LAST COLD START",
        "  iris-predictor-00001  100%     ScaledToZero  0/0            Proxy  no     0   "
        "  0          3            810 ms, 2 min ago",
        "  iris-predictor-00001 last cold start: queued 0.4 ms, decision 1.6 ms, "
        "spawn 2.0 ms, ready 790 ms, first byte 16 ms",
    ]


def test_a_panicking_canary() -> None:
    lines = service_lines(full_snapshot(), "busy")
    table_rows = rows(lines)
    assert table_rows["busy-predictor-00002"] == {
        "REVISION": "busy-predictor-00002",
        "TRAFFIC": "10% (latest)",
        "STATE": "ScalingUp",
        "DESIRED/READY": "5/3",
        "MODE": "Proxy",
        "PANIC": "yes",
        "HELD": "7",
        "IN FLIGHT": "12",
        "COLD STARTS": "0",
        "LAST COLD START": "-",
    }
    assert table_rows["busy-predictor-00001"]["TRAFFIC"] == "90% (prev)"
    assert table_rows["busy-predictor-00001"]["PANIC"] == "no"
    assert table_rows["busy-predictor-00001"]["STATE"] == "Ready"
    assert not any("failed" in line or "cold start:" in line for line in lines)


def test_a_failed_canary() -> None:
    lines = service_lines(full_snapshot(), "broken")
    assert (
        lines[0]
        == "default/broken  Ready: False (RevisionFailed)  http://broken.default.example.com"
    )
    # Ready only repeats PredictorReady (Knative's living condition set): shown once.
    assert f"  PredictorReady False: RevisionFailed: {HOSTILE}" in lines
    assert not any(line.startswith("  Ready False") for line in lines)
    table_rows = rows(lines)
    assert table_rows["broken-predictor-00002"]["STATE"] == "Failed"
    assert table_rows["broken-predictor-00002"]["TRAFFIC"] == "0%"
    assert table_rows["broken-predictor-00001"]["TRAFFIC"] == "100% (prev)"
    assert lines[-1] == f"  broken-predictor-00002 failed: exit code 1: {HOSTILE}"


def test_the_whole_server() -> None:
    snapshot = full_snapshot()
    lines = render_status(snapshot)
    assert lines[0] == "Zeroserve 0.1.0, store memory: healthy"
    headlines = [line for line in lines if line and not line.startswith(" ")][1:]
    assert [h.split()[0] for h in headlines] == ["default/iris", "default/busy", "default/broken"]
    # a blank line before each service
    assert [lines[i - 1] for i, line in enumerate(lines) if line in headlines] == ["", "", ""]


def test_an_unreachable_store_an_empty_server_and_orphans() -> None:
    down = StoreHealth("redis", healthy=False, last_error="Connection refused")
    assert render_status(full_snapshot(store=down, services=(), revisions=())) == [
        "Zeroserve 0.1.0, store redis: UNREACHABLE (Connection refused)",
        "",
        "No InferenceServices.",
    ]
    gone = RevisionSnapshot("gone-predictor-00001", "default", "gone", RouteMode.SERVE, 0, 1)
    lines = render_status(full_snapshot(services=(), revisions=(gone,)))
    assert lines[2] == "Revisions whose InferenceService is gone"
    assert rows(lines)["gone-predictor-00001"]["STATE"] == "ScalingDown"
    assert rows(lines)["gone-predictor-00001"]["TRAFFIC"] == "-"


def test_columns_line_up() -> None:
    lines = table(("A", "LONGER"), [("xyz", "1"), ("", "22")])
    assert lines == ["A    LONGER", "xyz  1", "     22"]
    assert all(line == line.rstrip() for line in lines)


@pytest.mark.parametrize(
    ("ms", "text"),
    [(0.04, "0.0 ms"), (9.94, "9.9 ms"), (10, "10 ms"), (812.4, "812 ms"), (12_345, "12.3 s")],
)
def test_milliseconds(ms: float, text: str) -> None:
    assert format_ms(ms) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (-3, "just now"),
        (0.5, "just now"),
        (42, "42 s ago"),
        (125, "2 min ago"),
        (7300, "2 h ago"),
        (3 * 86400 + 5, "3 d ago"),
    ],
)
def test_ago(seconds: float, text: str) -> None:
    assert format_ago(seconds) == text
