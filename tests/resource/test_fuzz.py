"""Any YAML value anywhere in a manifest gets a verdict in Zeroserve's words, never a crash."""

from __future__ import annotations

import copy
from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from zeroserve.config import AutoscalerConfig
from zeroserve.resource import Outcome, parse_text

CONFIG = AutoscalerConfig()
BASE: dict[str, Any] = {
    "apiVersion": "serving.kserve.io/v1beta1",
    "kind": "InferenceService",
    "metadata": {"name": "iris", "annotations": {"a": "b"}},
    "spec": {
        "predictor": {
            "minReplicas": 0,
            "model": {
                "modelFormat": {"name": "sklearn"},
                "env": [{"name": "A", "value": "1"}],
                "ports": [{"containerPort": 8080}],
                "readinessProbe": {"httpGet": {"path": "/"}},
                "resources": {"limits": {"cpu": "1"}},
            },
        }
    },
}
KEYS = [
    "apiVersion", "kind", "metadata", "spec", "predictor", "name", "namespace", "annotations",
    "model", "modelFormat", "containers", "env", "ports", "containerPort", "readinessProbe",
    "httpGet", "port", "resources", "limits", "minReplicas", "canaryTrafficPercent", "sklearn",
    "protocolVersion", "image", "command", "autoscaling.knative.dev/target", "transformer",
]  # fmt: skip
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-3, 70000)
    | st.sampled_from(["", "v2", "h2c", "1", "100m", "grpc-v2", "ml"])
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=8,
)
REAL_PATHS: list[list[str | int]] = [
    ["spec", "predictor", "minReplicas"],
    ["spec", "predictor", "canaryTrafficPercent"],
    ["spec", "predictor", "model", "protocolVersion"],
    ["spec", "predictor", "model", "ports", 0, "containerPort"],
    ["spec", "predictor", "model", "ports", 0, "name"],
    ["spec", "predictor", "model", "readinessProbe", "httpGet", "port"],
    ["spec", "predictor", "model", "env", 0, "value"],
    ["spec", "predictor", "model", "resources", "limits", "cpu"],
    ["metadata", "annotations", "autoscaling.knative.dev/target"],
    ["metadata", "namespace"],
]
PATHS = st.sampled_from(REAL_PATHS) | st.lists(
    st.sampled_from(KEYS) | st.integers(0, 1), min_size=1, max_size=5
)
PYDANTIC_MARKERS = ("Input should", "Field required", "Extra inputs", "pydantic", "[type=")


def plant(doc: Any, path: list[str | int], value: object) -> Any:
    """Put ``value`` at ``path``, following existing containers as far as they go."""
    node = doc
    for step in path[:-1]:
        child = node.get(step) if isinstance(node, dict) else None
        if isinstance(node, list) and isinstance(step, int) and step < len(node):
            child = node[step]
        if not isinstance(child, dict | list):
            break
        node = child
    if isinstance(node, dict):
        node[path[-1]] = value
    elif isinstance(node, list):
        node.append(value)
    return doc


@settings(max_examples=150, derandomize=True, deadline=None)
@given(path=PATHS, value=VALUES)
def test_every_document_gets_a_verdict_in_our_words(path: list[str | int], value: object) -> None:
    doc = plant(copy.deepcopy(BASE), path, value)
    (verdict,) = parse_text(yaml.safe_dump(doc), CONFIG)
    assert (verdict.service is not None) == (verdict.outcome is Outcome.OK)
    if verdict.outcome is Outcome.REFUSED:
        assert verdict.problems
    for line in [p.text for p in verdict.problems] + [n.text for n in verdict.notices]:
        assert not any(marker in line for marker in PYDANTIC_MARKERS), line
