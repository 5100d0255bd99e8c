"""What a cold start costs beyond the predictor's own start-up, paired per trial.

    python loadtests/cold_start.py [--trials 20] [--predictor echo|iris|both] [--warmup 1]

Runs the whole server in this process (``zeroserve.testing.harness.Harness``, on uvloop,
with a ``FakeClock``) for ``examples/echo`` and for ``examples/iris`` (the model trained
by ``examples/iris/train.py`` into a temporary cache, ``examples/zeroserve.yaml`` copied
with its ``storageUriMap`` pointed there). Each trial, with the revision at zero:

* one request over a fresh loopback connection; its TTFB is real time from just before
  the connection is opened to the first response byte read;
* the predictor's own spawn-to-ready: the ``... ready port=<p> monotonic=<t>`` line it
  prints on stderr (read from the runtime's captured stderr tail) minus the replica's
  ``ReplicaStatus.spawned_at``;
* overhead = TTFB - spawn-to-ready;
* then the fake clock moves a second at a time until the replica drains, and the trial
  ends once it is stopped, its process gone and its endpoint forgotten (real-time
  deadlines on each wait).

Which spawn instant: ``LocalRuntime`` first stamps ``spawned_at`` just before it hands
the spawn command to the waiting lifeline supervisor, then replaces it with the
supervisor's own ``time.monotonic()`` taken just before ``posix_spawn``
(``ReplicaProcess.spawned``). The status shows the second one, and it is the one paired
here: from it on, the time is the predictor's (its exec, imports, model load, listen);
everything before it (the request reaching the gateway, the scale decision, the command
to the supervisor) is Zeroserve's and belongs in the overhead. CLOCK_MONOTONIC is one
clock for every process on Linux, so the predictor's and the supervisor's readings pair.

The overhead is also split on that one clock: client -> queued (the recorder's
``queued_at``), queued -> exec (decision and dispatch), probe lag (ready line -> runtime
marks ready) and ready -> first byte (lease, proxying, the predictor answering, the
client reading). Writes ``loadtests/results/cold_start.json`` and ``.md`` with medians
and p95 per predictor, and the medians of the ``Zeroserve-Cold-Start`` phases. Traffic
stays on 127.0.0.1; every process is the harness's (stopped when it closes); every wait
is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # ``python loadtests/cold_start.py`` from anywhere
    sys.path.insert(0, str(ROOT))

from zeroserve.testing.harness import Harness  # noqa: E402

EXAMPLES = ROOT / "examples"
RESULTS = Path(__file__).resolve().parent / "results"
TARGET_MEDIAN_MS = 20.0
TARGET_P95_MS = 50.0
REQUEST_TIMEOUT = 60.0  # real seconds for one cold request (iris imports scikit-learn)
WAIT_TIMEOUT = 15.0  # real seconds for each wait on the runtime
SCALE_DOWN_LIMIT = 600.0  # fake seconds of silence before giving up on a drain
HEADER_PHASES = ("queued", "decision", "spawn", "ready", "first-byte")
PHASE = re.compile(r"([a-z-]+)=([0-9.]+)ms")
SPLIT = {  # the parts of the overhead, in order, as the report names them
    "client_to_queued_ms": "client -> queued",
    "queued_to_exec_ms": "queued -> exec",
    "probe_lag_ms": "probe lag",
    "ready_to_lease_ms": "ready -> lease",
    "lease_to_first_byte_ms": "lease -> first byte",
}
IRIS_URI = "gs://kfserving-examples/models/sklearn/1.0/model"


class ColdStartError(Exception):
    """A trial went wrong: a bad answer, or the runtime did not get where it should."""


@dataclass(frozen=True, slots=True)
class Predictor:
    """One example to cold-start, and the request that wakes it."""

    name: str
    folder: Path
    host: str
    path: str
    body: bytes
    ready_line: re.Pattern[str]
    check: Callable[[Any], bool]  # the answer's JSON is right


ECHO = Predictor(
    name="echo",
    folder=EXAMPLES / "echo",
    host="echo.default.example.com",
    path="/v2/models/echo/infer",
    body=json.dumps(
        {"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1.0]}]}
    ).encode(),
    ready_line=re.compile(r"echo ready port=\d+ monotonic=([0-9.]+)"),
    check=lambda answer: answer.get("outputs", [{}])[0].get("data") == [1.0],
)
IRIS = Predictor(
    name="iris",
    folder=EXAMPLES / "iris",
    host="iris.default.example.com",
    path="/v1/models/iris:predict",
    body=b'{"instances": [[6.8, 2.8, 4.8, 1.4]]}',
    ready_line=re.compile(r"sklearn ready port=\d+ monotonic=([0-9.]+)"),
    check=lambda answer: answer == {"predictions": [1]},
)


# -- one request, timed to its first byte ----------------------------------------------


@dataclass(frozen=True, slots=True)
class Timed:
    sent: float  # time.monotonic() just before connecting
    first_byte: float  # time.monotonic() once the first response byte was read
    status: int
    headers: Mapping[str, str]  # lower-case names
    body: bytes


async def timed_post(port: int, host: str, path: str, body: bytes) -> Timed:
    """POST over a fresh connection (``Connection: close``, read to EOF)."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode("latin-1")
    async with asyncio.timeout(REQUEST_TIMEOUT):
        sent = time.monotonic()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(head + body)
            first = await reader.read(1)
            first_byte = time.monotonic()
            raw = first + await reader.read()
        finally:
            writer.close()
            await writer.wait_closed()
    status, headers, payload = parse_response(raw)
    return Timed(sent, first_byte, status, headers, payload)


def parse_response(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        raise ColdStartError(f"no complete response head: {raw[:200]!r}")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers: dict[str, str] = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = dechunk(body)
    return int(status_line.split()[1]), headers, body


def dechunk(data: bytes) -> bytes:
    out = bytearray()
    while True:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            return bytes(out)
        out += data[:size]
        data = data[size + 2 :]


# -- one trial ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Trial:
    """One cold start, in ms. The five parts after ``overhead`` add up to it."""

    ttfb_ms: float
    own_ms: float  # the predictor's spawn (supervisor's posix_spawn) -> its ready line
    overhead_ms: float
    client_to_queued_ms: float
    queued_to_exec_ms: float  # scale decision and the command to the lifeline supervisor
    probe_lag_ms: float  # ready line -> the runtime marks the replica ready
    ready_to_lease_ms: float  # the ready endpoint reaches the tracker: the request leased
    lease_to_first_byte_ms: float  # proxied to the predictor, its answer back to the client
    header: dict[str, float]  # the Zeroserve-Cold-Start phases, ms after queued


async def one_trial(h: Harness, predictor: Predictor, revision: str, n: int) -> Trial:
    """The ``n``-th cold start of ``revision`` (1-based), then back to zero."""
    if h.pids(revision) or h.endpoints(revision):
        raise ColdStartError(f"{revision} is not at zero before trial {n}")
    answer = await timed_post(h.server.port, predictor.host, predictor.path, predictor.body)
    if answer.status != 200 or not predictor.check(json.loads(answer.body)):
        raise ColdStartError(f"trial {n}: HTTP {answer.status}: {answer.body[:300]!r}")
    cold = answer.headers.get("zeroserve-cold-start")
    if cold is None or answer.headers.get("zeroserve-revision") != revision:
        raise ColdStartError(f"trial {n}: not a cold start of {revision}: {answer.headers}")
    header = {name: float(ms) for name, ms in PHASE.findall(cold)}
    if set(header) != set(HEADER_PHASES):
        raise ColdStartError(f"trial {n}: phases missing from {cold!r}")

    spawned = await h.wait_event("spawned", revision, count=n, timeout=WAIT_TIMEOUT)
    listened = await ready_line(h, predictor, revision, spawned.replica)
    (replica,) = (r for r in h.parts.runtime.status(revision).replicas if r.name == spawned.replica)
    if replica.spawned_at is None or replica.ready_at is None:
        raise ColdStartError(f"trial {n}: {replica.name} has no spawn or ready time")
    recorded = h.parts.recorder.last(revision)
    if recorded is None or not answer.sent <= recorded.queued_at <= answer.first_byte:
        raise ColdStartError(f"trial {n}: the recorder has not this request's cold start")

    ms = 1000.0
    leased = recorded.queued_at + recorded.lease_ms / ms
    trial = Trial(
        ttfb_ms=(answer.first_byte - answer.sent) * ms,
        own_ms=(listened - replica.spawned_at) * ms,
        overhead_ms=(answer.first_byte - answer.sent - (listened - replica.spawned_at)) * ms,
        client_to_queued_ms=(recorded.queued_at - answer.sent) * ms,
        queued_to_exec_ms=(replica.spawned_at - recorded.queued_at) * ms,
        probe_lag_ms=(replica.ready_at - listened) * ms,
        ready_to_lease_ms=(leased - replica.ready_at) * ms,
        lease_to_first_byte_ms=(answer.first_byte - leased) * ms,
        header=header,
    )
    await back_to_zero(h, revision, n, replica.pid)
    return trial


async def ready_line(h: Harness, predictor: Predictor, revision: str, name: str) -> float:
    """The ``monotonic=`` of the replica's ready line, once its stderr tail shows it."""
    found: list[float] = []

    def seen() -> bool:
        for replica in h.parts.runtime.status(revision).replicas:
            if replica.name == name:
                for line in replica.stderr:
                    if match := predictor.ready_line.search(line):
                        found.append(float(match[1]))
                        return True
        return False

    await h.wait_for(seen, WAIT_TIMEOUT, f"the ready line of {name}")
    return found[0]


async def back_to_zero(h: Harness, revision: str, n: int, pid: int | None) -> None:
    """Silence on the fake clock until the replica drains; then wait (real time) until it
    stopped, its process is gone and nothing routes to it any more."""
    limit = h.clock.now() + SCALE_DOWN_LIMIT
    while len(h.of("draining", revision)) < n:
        if h.clock.now() >= limit:
            raise ColdStartError(f"{revision} not drained after {SCALE_DOWN_LIMIT:g} s idle")
        await h.advance(1)
    await h.wait_event("stopped", revision, count=n, timeout=WAIT_TIMEOUT)
    await h.wait_for(
        lambda: (
            not h.pids(revision)
            and not h.endpoints(revision)
            and not h.parts.tracker.replicas(revision)
            and (pid is None or not pid_alive(pid))
        ),
        WAIT_TIMEOUT,
        f"{revision} back at zero",
    )
    # A service at zero for a while has a spare supervisor waiting; the trials follow
    # each other faster than that, so wait for it rather than measure its start.
    await h.wait_for(
        lambda: h.parts.runtime.spare_supervisors > 0, WAIT_TIMEOUT, "a spare supervisor"
    )


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# -- a run per predictor -----------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between the closest ranks (numpy's default)."""
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def summarize(name: str, trials: Sequence[Trial]) -> dict[str, Any]:
    def stat(values: Sequence[float]) -> dict[str, float]:
        return {
            "median": round(statistics.median(values), 3),
            "p95": round(percentile(values, 0.95), 3),
            "min": round(min(values), 3),
            "max": round(max(values), 3),
        }

    summary: dict[str, Any] = {"predictor": name, "trials": len(trials)}
    for field in ("ttfb_ms", "own_ms", "overhead_ms", *SPLIT):
        summary[field] = stat([getattr(t, field) for t in trials])
    summary["header_phase_median_ms"] = {
        phase: round(statistics.median(t.header[phase] for t in trials), 3)
        for phase in HEADER_PHASES
    }
    overhead = summary["overhead_ms"]
    summary["meets_target"] = (
        overhead["median"] <= TARGET_MEDIAN_MS and overhead["p95"] <= TARGET_P95_MS
    )
    return summary


async def run_predictor(
    predictor: Predictor, trials: int, warmup: int, config: Path | None
) -> dict[str, Any]:
    async with Harness(predictor.folder, config_path=config) as h:
        (revision,) = h.parts.runtime.revisions()
        done: list[Trial] = []
        for n in range(1, warmup + trials + 1):
            trial = await one_trial(h, predictor, revision, n)
            counted = n > warmup
            label = f"trial {n - warmup}" if counted else f"warm-up {n}"
            if counted:
                done.append(trial)
            print(
                f"{predictor.name} {label}: "
                f"ttfb {trial.ttfb_ms:.1f} ms, own {trial.own_ms:.1f} ms, "
                f"overhead {trial.overhead_ms:.1f} ms",
                file=sys.stderr,
                flush=True,
            )
    summary = summarize(predictor.name, done)
    summary["revision"] = revision
    summary["warmup"] = warmup
    summary["per_trial"] = [asdict(t) for t in done]
    return summary


def train_iris(cache: Path) -> Path:
    """The iris model in ``cache``; its folder."""
    subprocess.run(
        [sys.executable, str(EXAMPLES / "iris" / "train.py"), "--cache-dir", str(cache)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return cache / "current"


def iris_config(model: Path, into: Path) -> Path:
    """``examples/zeroserve.yaml`` with its storageUriMap pointed at ``model``."""
    config = yaml.safe_load((EXAMPLES / "zeroserve.yaml").read_text())
    config["storageUriMap"] = {IRIS_URI: str(model)}
    path = into / "zeroserve.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


# -- report ------------------------------------------------------------------------------


def render_markdown(results: Sequence[Mapping[str, Any]], meta: Mapping[str, Any]) -> str:
    def pair(stat: Mapping[str, float]) -> str:
        return f"{stat['median']:.1f} / {stat['p95']:.1f}"

    lines = [
        "# Cold start: Zeroserve's overhead over the predictor's own start",
        "",
        f"`{meta['command']}` on {meta['machine']}, {meta['loop']}. Overhead = client TTFB "
        "- predictor spawn-to-ready (supervisor's posix_spawn -> its ready line), paired "
        f"per trial. Target: overhead <= {TARGET_MEDIAN_MS:g} ms median, "
        f"<= {TARGET_P95_MS:g} ms p95. Each run starts with {meta['warmup']} uncounted "
        "warm-up cold start(s). Times in ms, median / p95.",
        "",
        "| predictor | trials | TTFB | spawn-to-ready | overhead | target met |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['predictor']} | {r['trials']} | {pair(r['ttfb_ms'])} | {pair(r['own_ms'])} "
            f"| {pair(r['overhead_ms'])} | {'yes' if r['meets_target'] else 'no'} |"
        )
    lines += [
        "",
        "Overhead split on one monotonic clock (median / p95):",
        "",
        "| predictor | client -> queued | queued -> exec | probe lag | ready -> lease "
        "| lease -> first byte |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['predictor']} | {pair(r['client_to_queued_ms'])} "
            f"| {pair(r['queued_to_exec_ms'])} | {pair(r['probe_lag_ms'])} "
            f"| {pair(r['ready_to_lease_ms'])} | {pair(r['lease_to_first_byte_ms'])} |"
        )
    lines.append("")
    for r in results:
        part = max(SPLIT, key=lambda f: float(r[f]["median"]))
        lines.append(
            f"- {r['predictor']}: the largest part is {SPLIT[part]} "
            f"({r[part]['median']:.1f} ms median of {r['overhead_ms']['median']:.1f})."
        )
    lines += [
        "",
        "`Zeroserve-Cold-Start` phases, median ms after the request was queued:",
        "",
        "| predictor | " + " | ".join(HEADER_PHASES) + " |",
        "|---|" + "---:|" * len(HEADER_PHASES),
    ]
    for r in results:
        medians = r["header_phase_median_ms"]
        lines.append(
            f"| {r['predictor']} | " + " | ".join(f"{medians[p]:.1f}" for p in HEADER_PHASES) + " |"
        )
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Measure Zeroserve's cold-start overhead.")
    p.add_argument("--trials", type=int, default=20, help="counted cold starts per predictor")
    p.add_argument("--predictor", choices=("echo", "iris", "both"), default="both")
    p.add_argument("--warmup", type=int, default=1, help="cold starts first, not counted")
    p.add_argument("--output", type=Path, default=RESULTS, help="where the results go")
    args = p.parse_args(argv)
    if args.trials < 1 or args.warmup < 0:
        p.error("--trials must be >= 1 and --warmup >= 0")
    return args


async def measure(args: argparse.Namespace) -> list[dict[str, Any]]:
    results = []
    if args.predictor in ("echo", "both"):
        results.append(await run_predictor(ECHO, args.trials, args.warmup, None))
    if args.predictor in ("iris", "both"):
        with tempfile.TemporaryDirectory(prefix="zeroserve-cold-start-") as tmp:
            model = train_iris(Path(tmp) / "cache")
            config = iris_config(model, Path(tmp))
            results.append(await run_predictor(IRIS, args.trials, args.warmup, config))
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    import uvloop

    results = uvloop.run(measure(args))
    meta = {
        "command": "python loadtests/cold_start.py "
        + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": (
            f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
        ),
        "loop": "uvloop " + version("uvloop"),
        "warmup": args.warmup,
        "target_ms": {"median": TARGET_MEDIAN_MS, "p95": TARGET_P95_MS},
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
    }
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "cold_start.json").write_text(
        json.dumps({"meta": meta, "results": results}, indent=2) + "\n"
    )
    table = render_markdown(results, meta)
    (args.output / "cold_start.md").write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
