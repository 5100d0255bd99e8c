"""JSON documents of the records ``RedisStore`` keeps, and back.

One place knows the wire shape, so a record read back is equal to the one written.
Floats go through ``json`` (``repr``, which round-trips exactly); Lua never parses these
documents: the scripts compare versions and tokens kept beside them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from zeroserve.config.scaling import (
    BoundsSpec,
    DeciderSpec,
    RevisionScaling,
    RouteMode,
    WindowSpec,
)
from zeroserve.endpoint import Endpoint
from zeroserve.store.records import EndpointSet, Poke, ScaleRecord
from zeroserve.store.routes import RevisionRoute, RouteTable, ServiceRoute, TrafficTarget
from zeroserve.store.stats import Heartbeat, RevisionStats, StatsSample

__all__ = [
    "decode_endpoints",
    "decode_poke",
    "decode_report",
    "decode_routes",
    "decode_scale",
    "encode_endpoints",
    "encode_poke",
    "encode_report",
    "encode_routes",
    "encode_scale_body",
]


def _dumps(data: object) -> str:
    return json.dumps(data, separators=(",", ":"))


# -- stats ---------------------------------------------------------------------------------


def _stats(s: RevisionStats) -> list[Any]:
    return [
        s.concurrency,
        s.requests,
        s.status_2xx,
        s.status_3xx,
        s.status_4xx,
        s.status_5xx,
        list(s.latency),
        [[name, count] for name, count in s.in_flight],
    ]


def _revision_stats(d: list[Any]) -> RevisionStats:
    return RevisionStats(
        concurrency=float(d[0]),
        requests=d[1],
        status_2xx=d[2],
        status_3xx=d[3],
        status_4xx=d[4],
        status_5xx=d[5],
        latency=tuple(d[6]),
        in_flight=tuple((name, count) for name, count in d[7]),
    )


def encode_report(heartbeat: Heartbeat, stats: Mapping[str, RevisionStats]) -> str:
    return _dumps(
        {
            "h": [heartbeat.reporter, heartbeat.at, heartbeat.route_version, heartbeat.leaving],
            "s": [[revision, _stats(s)] for revision, s in stats.items()],
        }
    )


def decode_report(document: str) -> tuple[Heartbeat, tuple[StatsSample, ...]]:
    d = json.loads(document)
    reporter, at, route_version, leaving = d["h"]
    heartbeat = Heartbeat(reporter, float(at), route_version, leaving)
    second = math.floor(heartbeat.at)
    samples = tuple(
        StatsSample(reporter, second, revision, _revision_stats(s)) for revision, s in d["s"]
    )
    return heartbeat, samples


# -- pokes, scale, endpoints ---------------------------------------------------------------


def encode_poke(poke: Poke) -> str:
    return _dumps([poke.revision, poke.at])


def decode_poke(document: str) -> Poke:
    revision, at = json.loads(document)
    return Poke(revision, float(at))


def encode_scale_body(record: ScaleRecord) -> str:
    """The record without its version and without the opening brace: the script that
    assigns the version writes ``{"version":N,`` in front."""
    body = _dumps(
        {
            "revision": record.revision,
            "desired": record.desired,
            "mode": record.mode.value,
            "token": record.token,
            "decided_at": record.decided_at,
            "removed": record.removed,
        }
    )
    return body[1:]


def decode_scale(document: str) -> ScaleRecord:
    d = json.loads(document)
    return ScaleRecord(
        revision=d["revision"],
        desired=d["desired"],
        mode=RouteMode(d["mode"]),
        token=d["token"],
        decided_at=float(d["decided_at"]),
        version=d["version"],
        removed=d["removed"],
    )


def _endpoint(e: Endpoint) -> list[Any]:
    return [e.host, e.port, e.name]


def encode_endpoints(endpoints: EndpointSet) -> str:
    return _dumps(
        {
            "revision": endpoints.revision,
            "version": endpoints.version,
            "ready": [_endpoint(e) for e in endpoints.ready],
            "draining": [_endpoint(e) for e in endpoints.draining],
            "failed_reason": endpoints.failed_reason,
            "removed": endpoints.removed,
        }
    )


def decode_endpoints(document: str) -> EndpointSet:
    d = json.loads(document)
    return EndpointSet(
        revision=d["revision"],
        version=d["version"],
        ready=tuple(Endpoint(*e) for e in d["ready"]),
        draining=tuple(Endpoint(*e) for e in d["draining"]),
        failed_reason=d["failed_reason"],
        removed=d["removed"],
    )


# -- routes --------------------------------------------------------------------------------


def _scaling(s: RevisionScaling | None) -> dict[str, Any] | None:
    if s is None:
        return None
    return {
        "decider": _fields(s.decider),
        "windows": _fields(s.windows),
        "bounds": _fields(s.bounds),
        "container_concurrency": s.container_concurrency,
        "timeout": s.timeout,
    }


def _fields(spec: DeciderSpec | WindowSpec | BoundsSpec) -> dict[str, Any]:
    return {name: getattr(spec, name) for name in spec.__slots__}


def _revision_scaling(d: dict[str, Any] | None) -> RevisionScaling | None:
    if d is None:
        return None
    return RevisionScaling(
        decider=DeciderSpec(**d["decider"]),
        windows=WindowSpec(**d["windows"]),
        bounds=BoundsSpec(**d["bounds"]),
        container_concurrency=d["container_concurrency"],
        timeout=d["timeout"],
    )


def encode_routes(table: RouteTable) -> str:
    return _dumps(
        {
            "version": table.version,
            "services": [
                {
                    "namespace": s.namespace,
                    "name": s.name,
                    "hosts": list(s.hosts),
                    "traffic": [[t.revision, t.percent, t.tag, list(t.hosts)] for t in s.traffic],
                }
                for s in table.services
            ],
            "revisions": [
                {
                    "name": r.name,
                    "timeout": r.timeout,
                    "container_concurrency": r.container_concurrency,
                    "mode": r.mode.value,
                    "scaling": _scaling(r.scaling),
                    "service": r.service,
                    "namespace": r.namespace,
                }
                for r in table.revisions
            ],
        }
    )


def decode_routes(document: str) -> RouteTable:
    d = json.loads(document)
    return RouteTable(
        version=d["version"],
        services=tuple(
            ServiceRoute(
                namespace=s["namespace"],
                name=s["name"],
                hosts=tuple(s["hosts"]),
                traffic=tuple(
                    TrafficTarget(revision, percent, tag, tuple(hosts))
                    for revision, percent, tag, hosts in s["traffic"]
                ),
            )
            for s in d["services"]
        ),
        revisions=tuple(
            RevisionRoute(
                name=r["name"],
                timeout=float(r["timeout"]),
                container_concurrency=r["container_concurrency"],
                mode=RouteMode(r["mode"]),
                scaling=_revision_scaling(r["scaling"]),
                service=r["service"],
                namespace=r["namespace"],
            )
            for r in d["revisions"]
        ),
    )
