"""Snapshots as the admin API's JSON, and back (for ``zeroserve status``).

A service is an object with ``metadata`` and a KServe-shaped ``status``
(``reference/kserve.md`` 2.5: ``url``, ``components.predictor.{latestCreatedRevision,
latestReadyRevision, latestRolledoutRevision, previousRolledoutRevision, url, traffic}``,
``conditions``), to which Zeroserve adds ``hosts`` and ``revisions``. Like KServe's Go
types, absent optional strings (``None``, or a condition's empty reason) are omitted.
Derived values (``state``, ``trafficPercent``, totals) are written for readers and
ignored when decoding, so ``decode_status(encode_status(s))`` gives ``s`` back.

JSON has no infinity: the last latency bound is written ``"+Inf"``, as Prometheus does.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from zeroserve.admin.errors import BadAdminAnswer, InvalidSnapshot
from zeroserve.admin.model import (
    ColdStart,
    Condition,
    LatencyHistogram,
    RequestCounts,
    RevisionSnapshot,
    RouteMode,
    ServerSnapshot,
    ServiceSnapshot,
    StoreHealth,
    TrafficEntry,
)

__all__ = [
    "decode_revision",
    "decode_service",
    "decode_status",
    "encode_revision",
    "encode_service",
    "encode_status",
]

Json = dict[str, Any]

# Cold-start phases by their JSON keys (camelCase, like the rest of the API).
_PHASE_KEYS = {
    "queued": "queued",
    "decision": "decision",
    "spawn": "spawn",
    "ready": "ready",
    "first_byte": "firstByte",
}
_INF = "+Inf"


# -- encoding ------------------------------------------------------------------------------


def _put(target: Json, key: str, value: str | None) -> None:
    if value is not None:
        target[key] = value


def _condition(condition: Condition) -> Json:
    out: Json = {"type": condition.type, "status": condition.status}
    if condition.reason:
        out["reason"] = condition.reason
    if condition.message:
        out["message"] = condition.message
    return out


def _traffic(entry: TrafficEntry) -> Json:
    out: Json = {}
    _put(out, "tag", entry.tag)
    out["revisionName"] = entry.revision
    out["latestRevision"] = entry.latest_revision
    out["percent"] = entry.percent
    _put(out, "url", entry.url)
    return out


def _cold_start(cold: ColdStart) -> Json:
    return {
        "at": cold.at,
        "totalMs": cold.total_ms,
        "phasesMs": {_PHASE_KEYS[phase]: ms for phase, ms in cold.phases()},
    }


def encode_revision(snapshot: ServerSnapshot, revision: RevisionSnapshot) -> Json:
    service = snapshot.service(revision.namespace, revision.service)
    out: Json = {
        "name": revision.name,
        "namespace": revision.namespace,
        "service": revision.service,
        "state": revision.state.value,
        "mode": revision.mode.value,
        "trafficPercent": snapshot.traffic_percent(revision),
        "tags": [] if service is None else list(service.tags_of(revision.name)),
    }
    _put(out, "failedReason", revision.failed_reason)
    out["replicas"] = {
        "desired": revision.desired,
        "ready": revision.ready,
        "draining": revision.draining,
    }
    out["autoscaler"] = {
        "metric": revision.scaling_metric,
        "stable": revision.stable_value,
        "panic": revision.panic_value,
        "target": revision.target_value,
        "panicMode": revision.panic,
        "excessBurstCapacity": revision.excess_burst_capacity,
    }
    out["requests"] = {
        "inFlight": revision.in_flight,
        "held": revision.held,
        "total": revision.requests.total,
        "byStatusClass": dict(revision.requests.by_class()),
    }
    latency = revision.latency
    out["latencyMs"] = {
        "bounds": [_INF if b == math.inf else b for b in latency.bounds],
        "counts": list(latency.counts),
        "count": latency.count,
        "sum": latency.sum_ms,
    }
    last = revision.last_cold_start
    out["coldStarts"] = {
        "total": revision.cold_starts,
        "last": None if last is None else _cold_start(last),
    }
    return out


def encode_service(snapshot: ServerSnapshot, service: ServiceSnapshot) -> Json:
    predictor: Json = {}
    _put(predictor, "latestCreatedRevision", service.latest_created_revision)
    _put(predictor, "latestReadyRevision", service.latest_ready_revision)
    _put(predictor, "latestRolledoutRevision", service.latest_rolledout_revision)
    _put(predictor, "previousRolledoutRevision", service.previous_rolledout_revision)
    _put(predictor, "url", service.predictor_url)
    predictor["traffic"] = [_traffic(t) for t in service.traffic]
    return {
        "metadata": {"name": service.name, "namespace": service.namespace},
        "status": {
            "url": service.url,
            "components": {"predictor": predictor},
            "conditions": [_condition(c) for c in service.conditions],
            "hosts": list(service.hosts),
            "revisions": [encode_revision(snapshot, r) for r in snapshot.revisions_of(service)],
        },
    }


def encode_status(snapshot: ServerSnapshot) -> Json:
    """The whole snapshot (``GET /api/v1/status``): one read, so it is consistent."""
    store: Json = {"backend": snapshot.store.backend, "healthy": snapshot.store.healthy}
    _put(store, "lastError", snapshot.store.last_error)
    return {
        "version": snapshot.version,
        "takenAt": snapshot.taken_at,
        "store": store,
        "services": [encode_service(snapshot, s) for s in snapshot.services],
        "orphanRevisions": [encode_revision(snapshot, r) for r in snapshot.orphans()],
    }


# -- decoding ------------------------------------------------------------------------------


def _obj(value: object, where: str) -> Mapping[str, object]:
    if not isinstance(value, dict):
        raise BadAdminAnswer(f"{where}: expected an object, got {type(value).__name__}")
    return value


def _list(value: object, where: str) -> list[object]:
    if not isinstance(value, list):
        raise BadAdminAnswer(f"{where}: expected a list, got {type(value).__name__}")
    return value


def _field(m: Mapping[str, object], key: str, where: str) -> object:
    if key not in m:
        raise BadAdminAnswer(f"{where}: {key!r} is missing")
    return m[key]


def _str_value(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise BadAdminAnswer(f"{where}: expected a string, got {value!r}")
    return value


def _str(m: Mapping[str, object], key: str, where: str) -> str:
    return _str_value(_field(m, key, where), f"{where}.{key}")


def _opt_str(m: Mapping[str, object], key: str, where: str) -> str | None:
    return _str(m, key, where) if m.get(key) is not None else None


def _int_value(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadAdminAnswer(f"{where}: expected an integer, got {value!r}")
    return value


def _int(m: Mapping[str, object], key: str, where: str) -> int:
    return _int_value(_field(m, key, where), f"{where}.{key}")


def _bool(m: Mapping[str, object], key: str, where: str) -> bool:
    value = _field(m, key, where)
    if not isinstance(value, bool):
        raise BadAdminAnswer(f"{where}.{key}: expected true or false, got {value!r}")
    return value


def _number(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadAdminAnswer(f"{where}: expected a number, got {value!r}")
    return float(value)


def _float(m: Mapping[str, object], key: str, where: str) -> float:
    return _number(_field(m, key, where), f"{where}.{key}")


def _opt_float(m: Mapping[str, object], key: str, where: str) -> float | None:
    return _float(m, key, where) if m.get(key) is not None else None


def _bound(value: object, where: str) -> float:
    return math.inf if value == _INF else _number(value, where)


def _ints(value: object, where: str) -> tuple[int, ...]:
    return tuple(_int_value(item, where) for item in _list(value, where))


def _decode_cold_start(value: object, where: str) -> ColdStart:
    m = _obj(value, where)
    phases = _obj(_field(m, "phasesMs", where), f"{where}.phasesMs")
    ms = {phase: _float(phases, key, f"{where}.phasesMs") for phase, key in _PHASE_KEYS.items()}
    return ColdStart(
        at=_float(m, "at", where),
        queued_ms=ms["queued"],
        decision_ms=ms["decision"],
        spawn_ms=ms["spawn"],
        ready_ms=ms["ready"],
        first_byte_ms=ms["first_byte"],
    )


def _mode(value: str, where: str) -> RouteMode:
    try:
        return RouteMode(value)
    except ValueError:
        raise BadAdminAnswer(f"{where}.mode: unknown route mode {value!r}") from None


def _decode_revision(value: object) -> RevisionSnapshot:
    m = _obj(value, "revision")
    name = _str(m, "name", "revision")
    where = f"revision {name!r}"
    replicas = _obj(_field(m, "replicas", where), f"{where}.replicas")
    scaler = _obj(_field(m, "autoscaler", where), f"{where}.autoscaler")
    requests = _obj(_field(m, "requests", where), f"{where}.requests")
    by_class = _obj(_field(requests, "byStatusClass", where), f"{where}.byStatusClass")
    latency = _obj(_field(m, "latencyMs", where), f"{where}.latencyMs")
    bounds = _list(_field(latency, "bounds", where), f"{where}.latencyMs.bounds")
    cold = _obj(_field(m, "coldStarts", where), f"{where}.coldStarts")
    last = cold.get("last")
    return RevisionSnapshot(
        name=name,
        namespace=_str(m, "namespace", where),
        service=_str(m, "service", where),
        mode=_mode(_str(m, "mode", where), where),
        desired=_int(replicas, "desired", where),
        ready=_int(replicas, "ready", where),
        draining=_int(replicas, "draining", where),
        failed_reason=_opt_str(m, "failedReason", where),
        panic=_bool(scaler, "panicMode", where),
        excess_burst_capacity=_int(scaler, "excessBurstCapacity", where),
        scaling_metric=_str(scaler, "metric", where),
        stable_value=_opt_float(scaler, "stable", where),
        panic_value=_opt_float(scaler, "panic", where),
        target_value=_opt_float(scaler, "target", where),
        in_flight=_int(requests, "inFlight", where),
        held=_int(requests, "held", where),
        requests=RequestCounts(
            status_2xx=_int(by_class, "2xx", where),
            status_3xx=_int(by_class, "3xx", where),
            status_4xx=_int(by_class, "4xx", where),
            status_5xx=_int(by_class, "5xx", where),
        ),
        latency=LatencyHistogram(
            counts=_ints(_field(latency, "counts", where), f"{where}.latencyMs.counts"),
            sum_ms=_float(latency, "sum", where),
            bounds=tuple(_bound(b, f"{where}.latencyMs.bounds") for b in bounds),
        ),
        cold_starts=_int(cold, "total", where),
        last_cold_start=None if last is None else _decode_cold_start(last, f"{where}.last"),
    )


def _decode_condition(value: object, where: str) -> Condition:
    m = _obj(value, where)
    return Condition(
        type=_str(m, "type", where),
        status=_str(m, "status", where),
        reason=_opt_str(m, "reason", where) or "",
        message=_opt_str(m, "message", where) or "",
    )


def _decode_traffic(value: object, where: str) -> TrafficEntry:
    m = _obj(value, where)
    return TrafficEntry(
        revision=_str(m, "revisionName", where),
        percent=_int(m, "percent", where),
        tag=_opt_str(m, "tag", where),
        latest_revision=_bool(m, "latestRevision", where),
        url=_opt_str(m, "url", where),
    )


def _decode_service(value: object) -> tuple[ServiceSnapshot, tuple[RevisionSnapshot, ...]]:
    m = _obj(value, "service")
    meta = _obj(_field(m, "metadata", "service"), "service.metadata")
    where = f"service {_str(meta, 'namespace', 'metadata')}/{_str(meta, 'name', 'metadata')}"
    status = _obj(_field(m, "status", where), f"{where}.status")
    components = _obj(_field(status, "components", where), f"{where}.components")
    predictor = _obj(_field(components, "predictor", where), f"{where}.predictor")
    service = ServiceSnapshot(
        namespace=_str(meta, "namespace", where),
        name=_str(meta, "name", where),
        url=_str(status, "url", where),
        hosts=tuple(
            _str_value(h, f"{where}.hosts")
            for h in _list(_field(status, "hosts", where), f"{where}.hosts")
        ),
        conditions=tuple(
            _decode_condition(c, f"{where}.conditions")
            for c in _list(_field(status, "conditions", where), f"{where}.conditions")
        ),
        traffic=tuple(
            _decode_traffic(t, f"{where}.traffic")
            for t in _list(_field(predictor, "traffic", where), f"{where}.traffic")
        ),
        latest_created_revision=_opt_str(predictor, "latestCreatedRevision", where),
        latest_ready_revision=_opt_str(predictor, "latestReadyRevision", where),
        latest_rolledout_revision=_opt_str(predictor, "latestRolledoutRevision", where),
        previous_rolledout_revision=_opt_str(predictor, "previousRolledoutRevision", where),
        predictor_url=_opt_str(predictor, "url", where),
    )
    revisions = tuple(
        _decode_revision(r) for r in _list(_field(status, "revisions", where), f"{where}.revisions")
    )
    return service, revisions


def _decode_status(value: object) -> ServerSnapshot:
    m = _obj(value, "status")
    store = _obj(_field(m, "store", "status"), "status.store")
    services: list[ServiceSnapshot] = []
    revisions: list[RevisionSnapshot] = []
    for item in _list(_field(m, "services", "status"), "status.services"):
        service, theirs = _decode_service(item)
        services.append(service)
        revisions.extend(theirs)
    for item in _list(_field(m, "orphanRevisions", "status"), "status.orphanRevisions"):
        revisions.append(_decode_revision(item))
    return ServerSnapshot(
        version=_str(m, "version", "status"),
        taken_at=_float(m, "takenAt", "status"),
        store=StoreHealth(
            backend=_str(store, "backend", "store"),
            healthy=_bool(store, "healthy", "store"),
            last_error=_opt_str(store, "lastError", "store"),
        ),
        services=tuple(services),
        revisions=tuple(revisions),
    )


# The model's own checks run while decoding too: an answer that breaks them is the
# server's fault, reported like any other unreadable answer.


def decode_revision(value: object) -> RevisionSnapshot:
    try:
        return _decode_revision(value)
    except InvalidSnapshot as error:
        raise BadAdminAnswer(str(error)) from error


def decode_service(value: object) -> tuple[ServiceSnapshot, tuple[RevisionSnapshot, ...]]:
    """A service and the revisions embedded in its status."""
    try:
        return _decode_service(value)
    except InvalidSnapshot as error:
        raise BadAdminAnswer(str(error)) from error


def decode_status(value: object) -> ServerSnapshot:
    """The snapshot behind a ``GET /api/v1/status`` answer. Revisions come back grouped
    by service (then the orphans), whatever their order when encoded."""
    try:
        return _decode_status(value)
    except InvalidSnapshot as error:
        raise BadAdminAnswer(str(error)) from error
