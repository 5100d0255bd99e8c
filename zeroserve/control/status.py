"""A service's status in KServe's shape, plus the replica state KServe cannot tell (pure).

KServe's fields and conditions (kserve.md §2.1, 2.5, 2.6): ``url``,
``components.predictor.{latestCreatedRevision, latestReadyRevision,
latestRolledoutRevision, previousRolledoutRevision, url, traffic}`` and the conditions
``PredictorReady``, ``IngressReady`` and ``Ready`` (a living condition set: the first
False dependent makes it False with that reason, an Unknown one Unknown).

A revision is ready as Knative's is with a zero initial scale: not failed, and not still
waiting for its first replica while one is wanted. So a service at zero is Ready, and
says so honestly beside: each revision's replica state (``scaled to zero``,
``starting``, ``ready``, ``scaling up``/``down``, ``scaling to zero``, ``failed``) with
desired, ready, starting and draining counts, where KServe shows ``Pending`` for both
"idle at zero" and "not started yet".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from zeroserve.config import RouteMode
from zeroserve.control.rollout import ServiceRollout, ServiceView
from zeroserve.control.routes import DEFAULT_MODE, service_domain, service_hosts, traffic_targets
from zeroserve.resource.hosts import predictor_host, predictor_label, service_host

TRUE, FALSE, UNKNOWN = "True", "False", "Unknown"
PREDICTOR_READY = "PredictorReady"
INGRESS_READY = "IngressReady"
READY = "Ready"
REVISION_FAILED = "RevisionFailed"
REVISION_MISSING = "RevisionMissing"
INGRESS_NOT_CREATED = "Predictor ingress not created"

SCALED_TO_ZERO = "scaled to zero"
SCALING_TO_ZERO = "scaling to zero"
STARTING = "starting"
READY_STATE = "ready"
SCALING_UP = "scaling up"
SCALING_DOWN = "scaling down"
FAILED = "failed"


@dataclass(frozen=True, slots=True)
class RevisionObservation:
    """What is known of one revision's replicas now. ``desired`` is the latest scale
    decision (None: none yet); ``failed`` the runtime's reason; ``ever_ready`` whether a
    replica of it was ever ready."""

    desired: int | None = None
    ready: int = 0
    starting: int = 0
    draining: int = 0
    failed: str | None = None
    ever_ready: bool = False
    restarts: int = 0
    last_crash: str | None = None


NOTHING_OBSERVED = RevisionObservation()


@dataclass(frozen=True, slots=True)
class Condition:
    type: str
    status: str  # "True", "False" or "Unknown"
    reason: str | None = None
    message: str | None = None


@dataclass(frozen=True, slots=True)
class TrafficStatus:
    """One entry of ``components.predictor.traffic``, as Knative reports it."""

    revision_name: str
    percent: int
    latest_revision: bool
    tag: str | None = None
    url: str | None = None


@dataclass(frozen=True, slots=True)
class RevisionState:
    """Zeroserve's replica state of one revision."""

    name: str
    state: str
    desired: int | None
    ready: int
    starting: int
    draining: int
    traffic: int
    mode: str
    failed: str | None = None
    restarts: int = 0
    last_crash: str | None = None


@dataclass(frozen=True, slots=True)
class ServiceStatus:
    namespace: str
    name: str
    url: str
    predictor_url: str
    hosts: tuple[str, ...]
    latest_created_revision: str
    latest_ready_revision: str | None
    latest_rolledout_revision: str | None
    previous_rolledout_revision: str | None
    traffic: tuple[TrafficStatus, ...]
    conditions: tuple[Condition, ...]
    revisions: tuple[RevisionState, ...]
    source: str = ""

    @property
    def ready(self) -> bool:
        return self.condition(READY).status == TRUE

    def condition(self, kind: str) -> Condition:
        return next(c for c in self.conditions if c.type == kind)

    def as_kserve(self) -> dict[str, object]:
        """The status as JSON data in KServe's spelling, Zeroserve's extra under
        ``zeroserve``."""
        return {
            "url": self.url,
            "components": {
                "predictor": {
                    "latestCreatedRevision": self.latest_created_revision,
                    "latestReadyRevision": self.latest_ready_revision or "",
                    "latestRolledoutRevision": self.latest_rolledout_revision or "",
                    "previousRolledoutRevision": self.previous_rolledout_revision or "",
                    "url": self.predictor_url,
                    "traffic": [_traffic_json(t) for t in self.traffic],
                }
            },
            "conditions": [_condition_json(c) for c in self.conditions],
            "zeroserve": {
                "hosts": list(self.hosts),
                "revisions": [_revision_json(r) for r in self.revisions],
            },
        }


def service_status(
    view: ServiceView,
    rollout: ServiceRollout,
    observations: Mapping[str, RevisionObservation],
    modes: Mapping[str, RouteMode],
    *,
    routed: bool,
    domain: str,
) -> ServiceStatus:
    """``routed``: the service is in the last route table the store accepted."""
    service = view.service
    name, namespace = service.name, service.namespace
    actual_domain = service_domain(service, domain)
    targets = traffic_targets(view, rollout)
    percent = {t.revision: t.percent for t in targets}
    latest = view.latest

    def failure(revision: str) -> str | None:
        spec = next(r.spec for r in view.revisions if r.name == revision)
        return spec.failed or observations.get(revision, NOTHING_OBSERVED).failed

    def waiting(revision: str) -> bool:
        seen = observations.get(revision, NOTHING_OBSERVED)
        return bool(seen.desired) and seen.ready == 0 and not seen.ever_ready

    ready_revisions = [
        r.name for r in view.revisions if failure(r.name) is None and not waiting(r.name)
    ]
    states = tuple(
        _revision_state(
            r.name,
            observations.get(r.name, NOTHING_OBSERVED),
            failure(r.name),
            percent.get(r.name, 0),
            modes.get(r.name, DEFAULT_MODE),
        )
        for r in reversed(view.revisions)
    )
    configuration = predictor_label(name)
    reason = failure(latest.name)
    if reason is not None:
        predictor = Condition(
            PREDICTOR_READY,
            FALSE,
            REVISION_FAILED,
            f'Revision "{latest.name}" failed with message: {reason}.',
        )
    elif waiting(latest.name):
        predictor = Condition(
            PREDICTOR_READY,
            UNKNOWN,
            REVISION_MISSING,
            f'Configuration "{configuration}" is waiting for a Revision to become ready.',
        )
    else:
        predictor = Condition(PREDICTOR_READY, TRUE)
    ingress = (
        Condition(INGRESS_READY, TRUE)
        if routed
        else Condition(INGRESS_READY, UNKNOWN, INGRESS_NOT_CREATED, INGRESS_NOT_CREATED)
    )
    return ServiceStatus(
        namespace=namespace,
        name=name,
        url=f"http://{service_host(name, namespace, actual_domain)}",
        predictor_url=f"http://{predictor_host(name, namespace, actual_domain)}",
        hosts=service_hosts(service, domain),
        latest_created_revision=latest.name,
        latest_ready_revision=ready_revisions[-1] if ready_revisions else None,
        latest_rolledout_revision=rollout.latest_rolled_out,
        previous_rolledout_revision=rollout.previous_rolled_out,
        traffic=tuple(
            TrafficStatus(t.revision, t.percent, t.revision == latest.name, t.tag) for t in targets
        ),
        conditions=(ingress, predictor, ready_condition(predictor, ingress)),
        revisions=states,
        source=service.source,
    )


def ready_condition(*dependents: Condition) -> Condition:
    """Knative's living condition set: the first False dependent, else the first
    Unknown one, gives ``Ready`` its status, reason and message."""
    for status in (FALSE, UNKNOWN):
        for dependent in dependents:
            if dependent.status == status:
                return Condition(READY, status, dependent.reason, dependent.message)
    return Condition(READY, TRUE)


def replica_state(failed: bool, seen: RevisionObservation) -> str:
    if failed:
        return FAILED
    desired = seen.desired
    if desired:
        if seen.ready == 0:
            return STARTING
        if seen.ready < desired:
            return SCALING_UP
        if seen.ready > desired:
            return SCALING_DOWN
        return READY_STATE
    if desired is None and (seen.ready or seen.starting):
        return READY_STATE if seen.ready else STARTING
    if seen.ready or seen.starting or seen.draining:
        return SCALING_TO_ZERO
    return SCALED_TO_ZERO


def _revision_state(
    name: str, seen: RevisionObservation, failed: str | None, percent: int, mode: RouteMode
) -> RevisionState:
    return RevisionState(
        name=name,
        state=replica_state(failed is not None, seen),
        desired=seen.desired,
        ready=seen.ready,
        starting=seen.starting,
        draining=seen.draining,
        traffic=percent,
        mode=mode.value,
        failed=failed,
        restarts=seen.restarts,
        last_crash=seen.last_crash,
    )


def _traffic_json(entry: TrafficStatus) -> dict[str, object]:
    out: dict[str, object] = {
        "revisionName": entry.revision_name,
        "percent": entry.percent,
        "latestRevision": entry.latest_revision,
    }
    if entry.tag is not None:
        out["tag"] = entry.tag
    if entry.url is not None:
        out["url"] = entry.url
    return out


def _condition_json(condition: Condition) -> dict[str, object]:
    out: dict[str, object] = {"type": condition.type, "status": condition.status}
    if condition.reason is not None:
        out["reason"] = condition.reason
    if condition.message is not None:
        out["message"] = condition.message
    return out


def _revision_json(state: RevisionState) -> dict[str, object]:
    out: dict[str, object] = {
        "name": state.name,
        "state": state.state,
        "desired": state.desired,
        "ready": state.ready,
        "starting": state.starting,
        "draining": state.draining,
        "traffic": state.traffic,
        "mode": state.mode,
        "restarts": state.restarts,
    }
    if state.failed is not None:
        out["failed"] = state.failed
    if state.last_crash is not None:
        out["lastCrash"] = state.last_crash
    return out
