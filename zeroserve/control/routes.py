"""Services, their revisions and the route modes → the route table gateways route with (pure).

Hosts follow KServe's serverless scheme (kserve.md §3): ``{name}.{namespace}.{domain}``
and ``{name}-predictor.{namespace}.{domain}``, and the embedded server answers the same
names under ``.localhost`` (which resolves to loopback without DNS set-up). A service
labelled ``networking.knative.dev/visibility: cluster-local`` gets ``svc.cluster.local``
instead of the domain, as Knative does.

Each revision carries its effective scaling (``effective_spec``), computed with the
service's current knobs, so a knob change retunes live revisions; a revision that takes
no traffic is unreachable in Knative's sense (its ``minReplicas`` no longer holds it up).
The mode comes from the latest scale decision, ``Proxy`` while none is known: with no
decision there may be no replica, and the activator is where requests wait.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from zeroserve.config import (
    AutoscalerConfig,
    ConfigError,
    RevisionScaling,
    RouteMode,
    effective_spec,
)
from zeroserve.config.scaling import DEFAULT_TIMEOUT_SECONDS
from zeroserve.config.server_config import ServerConfig
from zeroserve.control.rollout import RolloutState, ServiceRollout, ServiceView
from zeroserve.resource.hosts import predictor_host, service_host
from zeroserve.resource.model import InferenceService
from zeroserve.store.routes import RevisionRoute, RouteTable, ServiceRoute, TrafficTarget

LOCALHOST = "localhost"
CLUSTER_LOCAL_DOMAIN = "svc.cluster.local"
DEFAULT_MODE = RouteMode.PROXY


def service_domain(service: InferenceService, domain: str) -> str:
    return CLUSTER_LOCAL_DOMAIN if service.cluster_local else domain


def service_hosts(service: InferenceService, domain: str) -> tuple[str, ...]:
    """The hosts that reach the service, in the order status shows them."""
    name, namespace = service.name, service.namespace
    actual = service_domain(service, domain)
    return (
        service_host(name, namespace, actual),
        predictor_host(name, namespace, actual),
        service_host(name, namespace, LOCALHOST),
        predictor_host(name, namespace, LOCALHOST),
    )


def traffic_targets(view: ServiceView, rollout: ServiceRollout) -> tuple[TrafficTarget, ...]:
    """How the service's traffic splits. For now 100% to the latest created revision;
    the canary (``canaryTrafficPercent`` against ``rollout.latest_rolled_out``) and the
    ``prev``/``latest`` tags slot in here."""
    return (TrafficTarget(view.latest.name, 100),)


def revision_scaling(
    service: InferenceService, config: AutoscalerConfig, *, reachable: bool
) -> RevisionScaling | None:
    """The effective scaling, None if the current config refuses the service's knobs
    (the resource parser checked them against the same config, so only a config change
    gets here)."""
    try:
        return effective_spec(
            config, service.revision_annotations, service.predictor.scaling, reachable=reachable
        )
    except ConfigError:
        return None


def build_route_table(
    version: int,
    views: Sequence[ServiceView],
    modes: Mapping[str, RouteMode],
    config: ServerConfig,
    rollout: RolloutState,
) -> tuple[RouteTable, tuple[str, ...]]:
    """The table, and the hosts left out because an earlier service (by namespace and
    name) already has them (``a-predictor`` the service vs ``a``'s predictor host)."""
    services: list[ServiceRoute] = []
    revisions: list[RevisionRoute] = []
    taken: dict[str, str] = {}
    conflicts: list[str] = []
    for view in sorted(views, key=lambda v: v.key):
        service = view.service
        owner = f"{service.namespace}/{service.name}"
        hosts = []
        for host in service_hosts(service, config.domain):
            if host in taken:
                conflicts.append(f"host {host} of {owner} already reaches {taken[host]}")
                continue
            taken[host] = owner
            hosts.append(host)
        traffic = traffic_targets(view, rollout.of(view.key))
        services.append(ServiceRoute(service.namespace, service.name, tuple(hosts), traffic))
        reachable = {t.revision for t in traffic if t.percent > 0 or t.tag}
        for revision in view.revisions:
            scaling = revision_scaling(
                service, config.autoscaler, reachable=revision.name in reachable
            )
            revisions.append(
                RevisionRoute(
                    name=revision.name,
                    timeout=_timeout(service, scaling),
                    container_concurrency=_concurrency(service, scaling),
                    mode=modes.get(revision.name, DEFAULT_MODE),
                    scaling=scaling,
                    service=service.name,
                    namespace=service.namespace,
                )
            )
    return RouteTable(version, tuple(services), tuple(revisions)), tuple(conflicts)


def _timeout(service: InferenceService, scaling: RevisionScaling | None) -> float:
    if scaling is not None:
        return scaling.timeout
    written = service.predictor.scaling.timeout_seconds
    return float(written if written and written > 0 else DEFAULT_TIMEOUT_SECONDS)


def _concurrency(service: InferenceService, scaling: RevisionScaling | None) -> int:
    if scaling is not None:
        return scaling.container_concurrency
    return max(0, service.predictor.scaling.container_concurrency or 0)
