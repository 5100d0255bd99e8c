"""Route tables: hosts, traffic, per-revision scaling, modes, and host conflicts."""

from __future__ import annotations

import pytest

from tests.control import echo, service
from zeroserve.config import AutoscalerConfig, RouteMode, effective_spec
from zeroserve.config.server_config import ServerConfig
from zeroserve.control.revisions import RevisionSpec
from zeroserve.control.rollout import KnownRevision, RolloutState, ServiceView
from zeroserve.control.routes import build_route_table, service_hosts
from zeroserve.resource import InferenceService
from zeroserve.runtime.base import RevisionTemplate
from zeroserve.store.routes import RevisionRoute, ServiceRoute, TrafficTarget

TEMPLATE = RevisionTemplate(argv=("serve",))


def view(svc: InferenceService, *numbers: int) -> ServiceView:
    spec = RevisionSpec(svc.namespace, svc.name, "id", TEMPLATE)
    return ServiceView(
        svc, tuple(KnownRevision(f"{svc.name}-predictor-{n:05d}", spec) for n in numbers)
    )


def named(name: str, namespace: str = "default", labels: str = "{}") -> InferenceService:
    return service(
        f"""
        apiVersion: serving.kserve.io/v1beta1
        kind: InferenceService
        metadata: {{name: {name}, namespace: {namespace}, labels: {labels}}}
        spec:
          predictor:
            model: {{modelFormat: {{name: sklearn}}, storageUri: "gs://b/m"}}
        """
    )


@pytest.mark.parametrize(
    ("svc", "domain", "hosts"),
    [
        (
            named("iris"),
            "example.com",
            (
                "iris.default.example.com",
                "iris-predictor.default.example.com",
                "iris.default.localhost",
                "iris-predictor.default.localhost",
            ),
        ),
        (
            named("flowers", "ml"),
            "models.internal",
            (
                "flowers.ml.models.internal",
                "flowers-predictor.ml.models.internal",
                "flowers.ml.localhost",
                "flowers-predictor.ml.localhost",
            ),
        ),
        (
            named("quiet", labels="{networking.knative.dev/visibility: cluster-local}"),
            "example.com",
            (
                "quiet.default.svc.cluster.local",
                "quiet-predictor.default.svc.cluster.local",
                "quiet.default.localhost",
                "quiet-predictor.default.localhost",
            ),
        ),
    ],
    ids=["default", "namespace-and-domain", "cluster-local"],
)
def test_hosts(svc: InferenceService, domain: str, hosts: tuple[str, ...]) -> None:
    assert service_hosts(svc, domain) == hosts


def test_the_latest_revision_takes_all_traffic_and_old_ones_scale_to_zero() -> None:
    svc = echo(minReplicas=2, timeout=30, containerConcurrency=4)
    other = named("iris")
    config = ServerConfig(domain="example.com")
    modes = {"echo-predictor-00002": RouteMode.SERVE}
    table, conflicts = build_route_table(
        7, [view(svc, 1, 2), view(other, 1)], modes, config, RolloutState()
    )
    assert conflicts == ()
    assert table.version == 7
    assert table.services == (
        ServiceRoute(
            "default",
            "echo",
            service_hosts(svc, "example.com"),
            (TrafficTarget("echo-predictor-00002", 100),),
        ),
        ServiceRoute(
            "default",
            "iris",
            service_hosts(other, "example.com"),
            (TrafficTarget("iris-predictor-00001", 100),),
        ),
    )
    routed = effective_spec(AutoscalerConfig(), svc.revision_annotations, svc.predictor.scaling)
    unrouted = effective_spec(
        AutoscalerConfig(), svc.revision_annotations, svc.predictor.scaling, reachable=False
    )
    assert routed.bounds.min_scale == 2 and unrouted.bounds.min_scale == 0
    assert table.revisions[:2] == (
        RevisionRoute(
            "echo-predictor-00001", 30.0, 4, RouteMode.PROXY, unrouted, "echo", "default"
        ),
        RevisionRoute("echo-predictor-00002", 30.0, 4, RouteMode.SERVE, routed, "echo", "default"),
    )
    iris = table.revision("iris-predictor-00001")
    assert iris is not None and (iris.timeout, iris.container_concurrency) == (300.0, 0)
    assert iris.mode is RouteMode.PROXY  # no decision yet


def test_the_config_s_autoscaler_keys_reach_each_revision() -> None:
    svc = echo()
    config = ServerConfig(autoscaler=AutoscalerConfig(stable_window=30.0))
    table, _ = build_route_table(1, [view(svc, 1)], {}, config, RolloutState())
    (route,) = table.revisions
    assert route.scaling is not None and route.scaling.windows.stable_window == 30.0


def test_knobs_a_new_config_refuses_leave_scaling_out() -> None:
    svc = echo(maxReplicas=5, timeout=20)
    config = ServerConfig(autoscaler=AutoscalerConfig(max_scale_limit=3))
    table, _ = build_route_table(1, [view(svc, 1)], {}, config, RolloutState())
    (route,) = table.revisions
    assert (route.scaling, route.timeout, route.container_concurrency) == (None, 20.0, 0)


def test_a_host_taken_by_an_earlier_service_is_left_out() -> None:
    first, second = named("a"), named("a-predictor")
    table, conflicts = build_route_table(
        1, [view(second, 1), view(first, 1)], {}, ServerConfig(), RolloutState()
    )
    assert conflicts == (
        "host a-predictor.default.example.com of default/a-predictor already reaches default/a",
        "host a-predictor.default.localhost of default/a-predictor already reaches default/a",
    )
    assert table.services[1].hosts == (
        "a-predictor-predictor.default.example.com",
        "a-predictor-predictor.default.localhost",
    )
