"""Accepted with a warning: fields and annotations that have no effect here."""

from __future__ import annotations

from typing import Any

import yaml

from zeroserve.config import AutoscalerConfig
from zeroserve.resource import Outcome, parse_text

CONFIG = AutoscalerConfig()
SKLEARN = {"sklearn": {"storageUri": "gs://bucket/model"}}


def warnings(predictor: dict[str, Any] | None = None, **metadata: Any) -> list[tuple[str, str]]:
    doc = {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": "iris", **metadata},
        "spec": {"predictor": SKLEARN if predictor is None else predictor},
    }
    (verdict,) = parse_text(yaml.safe_dump(doc), CONFIG)
    assert verdict.outcome is Outcome.OK, verdict.problems
    return [(n.field, n.text) for n in verdict.notices]


def test_runtime_version() -> None:
    assert warnings({"sklearn": {"runtimeVersion": "1.3.0"}}) == [
        (
            "spec.predictor.sklearn.runtimeVersion",
            "spec.predictor.sklearn.runtimeVersion is ignored: Zeroserve's runtimes table "
            "decides what runs",
        )
    ]


def test_kubernetes_only_pod_and_container_fields() -> None:
    predictor = {
        "serviceAccount": "serving-admin",
        "tensorflow": {"imagePullPolicy": "Always", "env": [{"name": "T", "valueFrom": {}}]},
    }
    assert warnings(predictor) == [
        (
            "spec.predictor.tensorflow.env[0].valueFrom",
            "spec.predictor.tensorflow.env[0].valueFrom is ignored by the local runtime (T is "
            "unset there); the Kubernetes runtime uses it",
        ),
        (
            "spec.predictor.tensorflow.imagePullPolicy",
            "spec.predictor.tensorflow.imagePullPolicy is ignored by the local runtime (only the "
            "Kubernetes runtime uses it)",
        ),
        (
            "spec.predictor.serviceAccount",
            "spec.predictor.serviceAccount is ignored by the local runtime (only the Kubernetes "
            "runtime uses it)",
        ),
    ]


def test_kserve_only_annotations() -> None:
    annotations = {
        "serving.kserve.io/enable-prometheus-scraping": "true",
        "serving.kserve.io/autoscalerClass": "hpa",
        "serving.kserve.io/some-future-knob": "x",
        "serving.kserve.io/enable-tag-routing": "true",
        "sidecar.istio.io/inject": "false",
    }
    assert [text for _, text in warnings(annotations=annotations)] == [
        "annotation serving.kserve.io/autoscalerClass is ignored: it applies to Standard (raw "
        "deployment) mode only; Zeroserve scales with Knative's KPA",
        "annotation serving.kserve.io/enable-prometheus-scraping is ignored: Zeroserve always "
        "exports Prometheus metrics (/metrics on the admin port)",
        "annotation serving.kserve.io/some-future-knob is ignored: Zeroserve does not implement it",
    ]


def test_unknown_autoscaling_annotation_keeps_the_settings_text() -> None:
    (found,) = warnings({**SKLEARN, "annotations": {"autoscaling.knative.dev/windw": "60s"}})
    field, text = found
    assert field == "spec.predictor.annotations.autoscaling.knative.dev/windw"
    assert text.startswith(
        "annotation autoscaling.knative.dev/windw is ignored: it is not an autoscaling "
        "annotation Knative knows; known: autoscaling.knative.dev/activation-scale, "
    )


def test_scale_metric_type() -> None:
    assert warnings({**SKLEARN, "scaleMetricType": "Utilization"}) == [
        (
            "spec.predictor.scaleMetricType",
            "spec.predictor.scaleMetricType is ignored: only HPA and KEDA use it; "
            "Zeroserve runs the KPA",
        )
    ]


def test_a_plain_manifest_has_no_warnings() -> None:
    assert warnings() == []
