"""KServe's and Kubernetes' defaults, KServe's precedence, and the v1alpha1 additions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from zeroserve.config import AutoscalerConfig, effective_spec
from zeroserve.resource import (
    ZEROSERVE_API_VERSION,
    FrozenMap,
    InferenceService,
    Outcome,
    Probe,
    parse_paths,
    parse_text,
    thaw,
)

CONFIG = AutoscalerConfig()
SKLEARN = {"sklearn": {"storageUri": "gs://bucket/model"}}


def document(
    predictor: dict[str, Any] | None = None,
    *,
    metadata: dict[str, Any] | None = None,
    api: str = "serving.kserve.io/v1beta1",
    **top: Any,
) -> str:
    doc = {
        "apiVersion": api,
        "kind": "InferenceService",
        "metadata": {"name": "iris", **(metadata or {})},
        "spec": {"predictor": SKLEARN if predictor is None else predictor},
        **top,
    }
    return yaml.safe_dump(doc, sort_keys=False)


def service(text: str) -> InferenceService:
    (verdict,) = parse_text(text, CONFIG)
    assert verdict.outcome is Outcome.OK, verdict.problems
    assert verdict.service is not None
    return verdict.service


def test_namespace_defaults_to_default() -> None:
    isvc = service(document())
    assert (isvc.namespace, isvc.name, isvc.key) == ("default", "iris", ("default", "iris"))
    assert service(document(metadata={"namespace": "kserve-test"})).namespace == "kserve-test"


def test_scaling_is_kept_as_written_and_effective_spec_applies_kserves_defaults() -> None:
    isvc = service(document())
    scaling = isvc.predictor.scaling
    assert scaling.min_replicas is None and scaling.max_replicas is None
    revision = effective_spec(CONFIG, isvc.revision_annotations, scaling)
    assert revision.bounds.min_scale == 1  # KServe's DefaultMinReplicas
    assert revision.bounds.max_scale == 0  # no cap: the config's max-scale (0)
    assert revision.timeout == 300.0
    assert revision.container_concurrency == 0  # unlimited


def test_scale_to_zero_and_explicit_knobs() -> None:
    predictor = {
        **SKLEARN,
        "minReplicas": 0,
        "maxReplicas": 3,
        "scaleTarget": 5,
        "scaleMetric": "concurrency",
        "containerConcurrency": 10,
        "timeout": 600,
        "canaryTrafficPercent": 10,
    }
    isvc = service(document(predictor))
    scaling = isvc.predictor.scaling
    assert (scaling.min_replicas, scaling.max_replicas, scaling.scale_target) == (0, 3, 5)
    assert (scaling.container_concurrency, scaling.timeout_seconds) == (10, 600)
    assert isvc.predictor.canary_traffic_percent == 10


def test_scale_target_overrides_the_target_annotation() -> None:
    meta = {"annotations": {"autoscaling.knative.dev/target": "50"}}
    isvc = service(document({**SKLEARN, "scaleTarget": 5}, metadata=meta))
    revision = effective_spec(CONFIG, isvc.revision_annotations, isvc.predictor.scaling)
    assert revision.decider.total_value == 5.0
    alone = service(document(metadata=meta))
    assert (
        effective_spec(
            CONFIG, alone.revision_annotations, alone.predictor.scaling
        ).decider.total_value
        == 50.0
    )


def test_predictor_annotations_win_over_the_services() -> None:
    meta = {"annotations": {"autoscaling.knative.dev/window": "30s", "a": "service"}}
    predictor = {**SKLEARN, "annotations": {"autoscaling.knative.dev/window": "90s"}}
    isvc = service(document(predictor, metadata=meta))
    assert dict(isvc.revision_annotations) == {
        "autoscaling.knative.dev/window": "90s",
        "a": "service",
    }
    revision = effective_spec(CONFIG, isvc.revision_annotations, isvc.predictor.scaling)
    assert revision.windows.stable_window == 90.0


def test_probe_defaults_are_kubernetes() -> None:
    probes = {
        "readinessProbe": {"httpGet": {"path": "/v1/models/flowers"}},
        "livenessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 5, "timeoutSeconds": 0},
    }
    container = service(document({"tensorflow": probes})).predictor.container
    readiness, liveness = container.readiness_probe, container.liveness_probe
    assert readiness is not None and readiness.http_get is not None
    assert (readiness.http_get.path, readiness.http_get.port, readiness.http_get.scheme) == (
        "/v1/models/flowers",
        None,
        "HTTP",
    )
    assert readiness == Probe(http_get=readiness.http_get)  # every number at its default
    assert (readiness.period_seconds, readiness.timeout_seconds) == (None, 1)
    assert (readiness.failure_threshold, readiness.success_threshold) == (3, 1)
    assert liveness is not None and liveness.tcp_socket is not None
    assert (liveness.tcp_socket.port, liveness.period_seconds, liveness.timeout_seconds) == (
        8080,
        5,
        1,
    )


def test_server_set_metadata_status_and_nulls_are_ignored() -> None:
    metadata = {
        "uid": "0d6c",
        "resourceVersion": "42",
        "generation": 3,
        "creationTimestamp": "2024-05-01T10:00:00Z",
        "managedFields": [{"manager": "kubectl"}],
        "finalizers": ["inferenceservice.finalizers"],
        "labels": None,
    }
    predictor = {**SKLEARN, "minReplicas": None, "logger": None}
    isvc = service(document(predictor, metadata=metadata, status={"url": "http://x"}))
    assert isvc.labels == {}
    assert isvc.predictor.scaling.min_replicas is None


def test_kubernetes_only_fields_are_kept_frozen() -> None:
    predictor = {
        "serviceAccountName": "sa",
        "nodeSelector": {"gpu": "true"},
        "tolerations": [{"key": "k", "operator": "Exists"}],
        "tensorflow": {"volumeMounts": [{"name": "v", "mountPath": "/m"}]},
    }
    isvc = service(document(predictor))
    pod = isvc.predictor.kubernetes
    assert isinstance(pod["nodeSelector"], FrozenMap)
    assert thaw(pod) == {
        "nodeSelector": {"gpu": "true"},
        "serviceAccountName": "sa",
        "tolerations": [{"key": "k", "operator": "Exists"}],
    }
    assert thaw(isvc.predictor.container.kubernetes) == {
        "volumeMounts": [{"name": "v", "mountPath": "/m"}]
    }


def test_services_are_immutable_values() -> None:
    a, b = service(document()), service(document())
    assert a == b and hash(a) == hash(b)
    changed = service(document({"sklearn": {"storageUri": "gs://bucket/other"}}))
    assert changed != a


def test_tag_routing_and_visibility() -> None:
    plain = service(document())
    assert not plain.tag_routing and not plain.cluster_local
    meta = {
        "annotations": {"serving.kserve.io/enable-tag-routing": "true"},
        "labels": {"networking.knative.dev/visibility": "cluster-local"},
    }
    tagged = service(document(metadata=meta))
    assert tagged.tag_routing and tagged.cluster_local


def test_v1alpha1_runs_a_command_next_to_its_manifest(tmp_path: Path) -> None:
    folder = tmp_path / "models"
    folder.mkdir()
    container = {"command": ["python", "server.py", "--port", "{port}", "--grpc={grpc_port}"]}
    (folder / "echo.yaml").write_text(
        document({"containers": [container]}, api=ZEROSERVE_API_VERSION)
    )
    with_dir = {**container, "workingDir": "../work"}
    (folder / "work.yaml").write_text(
        document({"containers": [with_dir]}, api=ZEROSERVE_API_VERSION, metadata={"name": "w"})
    )
    echo, work = (v.service for v in parse_paths([folder], CONFIG))
    assert echo is not None and work is not None
    assert echo.api_version == ZEROSERVE_API_VERSION
    served = echo.predictor.container
    assert served.image is None
    assert served.working_dir == str(folder.resolve())
    assert work.predictor.container.working_dir == str((tmp_path / "work").resolve())
    assert served.command == ("python", "server.py", "--port", "{port}", "--grpc={grpc_port}")


def test_v1beta1_working_dir_is_a_container_path() -> None:
    container = {"image": "x", "workingDir": "app"}
    isvc = service(document({"containers": [container]}))
    assert isvc.predictor.container.working_dir == "app"
