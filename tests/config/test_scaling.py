"""KServe's scaling fields, and effective_spec: KServe's precedence, Knative's resolution.

Expected numbers are worked by hand from knative-kpa §4 "Value resolution for the
decider" and kserve.md 1.1; the comment on each row shows the arithmetic.
"""

from __future__ import annotations

import ast
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

import zeroserve.config
from zeroserve.config.autoscaler_config import AutoscalerConfig
from zeroserve.config.errors import ConfigErrors
from zeroserve.config.scaling import (
    PredictorScaling,
    RevisionScaling,
    effective_spec,
    panic_window,
    validate_predictor_scaling,
)

G = "autoscaling.knative.dev/"
CONFIG = AutoscalerConfig()
P = "spec.predictor"


def spec(
    annotations: dict[str, str] | None = None,
    config: AutoscalerConfig = CONFIG,
    reachable: bool = True,
    **fields: Any,
) -> RevisionScaling:
    return effective_spec(
        config, annotations or {}, PredictorScaling(**fields), reachable=reachable
    )


def refusal(
    annotations: dict[str, str] | None = None, config: AutoscalerConfig = CONFIG, **fields: Any
) -> str:
    with pytest.raises(ConfigErrors) as info:
        spec(annotations, config, **fields)
    return str(info.value)


# -- KServe's fields ----------------------------------------------------------------------

FIELD_REFUSALS = [
    pytest.param(
        {"container_concurrency": -1},
        f"parallelism cannot be less than 0: {P}.containerConcurrency=-1; allowed: an "
        "integer in [0, 1000] (0: unlimited)",
        id="cc-negative",
    ),
    pytest.param(
        {"container_concurrency": 1001},
        f"expected 0 <= 1001 <= 1000: {P}.containerConcurrency",
        id="cc-over-1000",
    ),
    pytest.param(
        {"min_replicas": -1},
        f"'MinReplicas' cannot be less than 0: {P}.minReplicas=-1; allowed: an integer "
        ">= 0 (0: scale to zero)",
        id="min-negative",
    ),
    pytest.param(
        {"min_replicas": 2**31},
        f"expected 0 <= 2147483648 <= 2147483647: {P}.minReplicas",
        id="min-past-int32",
    ),
    pytest.param(
        {"max_replicas": -1},
        f"'MaxReplicas' cannot be less than 0: {P}.maxReplicas=-1; allowed: an integer "
        ">= 0 (0: the cluster's max-scale)",
        id="max-negative",
    ),
    pytest.param(
        {"min_replicas": 5, "max_replicas": 3},
        f"'MinReplicas' cannot be greater than MaxReplicas: {P}.minReplicas=5; allowed: "
        f"at most {P}.maxReplicas (3)",
        id="min-over-max",
    ),
    pytest.param(
        {"scale_metric": "cpu"},
        f"[cpu] is not a supported metric: {P}.scaleMetric; allowed: concurrency, rps "
        "(cpu and memory need an HPA; Zeroserve runs the KPA)",
        id="metric-cpu",
    ),
    pytest.param(
        {"scale_metric": "memory"},
        f"[memory] is not a supported metric: {P}.scaleMetric; allowed: concurrency, rps "
        "(cpu and memory need an HPA; Zeroserve runs the KPA)",
        id="metric-memory",
    ),
    pytest.param(
        {"scale_metric": "qps"},
        f"[qps] is not a supported metric: {P}.scaleMetric; allowed: concurrency, rps "
        "(cpu and memory need an HPA; Zeroserve runs the KPA)",
        id="metric-qps",
    ),
    pytest.param(
        {"scale_metric": "rps", "scale_target": 0},
        f"the target for rps should be greater than 1: {P}.scaleTarget=0; allowed: an integer >= 1",
        id="rps-target-0",
    ),
    pytest.param(
        {"scale_target": 0},
        f"target 0 should be at least 0.01: {P}.scaleTarget",
        id="concurrency-target-0",
    ),
    pytest.param({"timeout_seconds": 0}, f"expected 1 <= 0 <= 600: {P}.timeout", id="timeout-0"),
    pytest.param(
        {"timeout_seconds": 601}, f"expected 1 <= 601 <= 600: {P}.timeout", id="timeout-601"
    ),
]


@pytest.mark.parametrize(("fields", "text"), FIELD_REFUSALS)
def test_field_refused(fields: dict[str, Any], text: str) -> None:
    assert refusal(**fields) == text


def test_max_replicas_within_the_clusters_max_scale_limit() -> None:
    limited = replace(CONFIG, max_scale=5, max_scale_limit=10)
    assert refusal(config=limited, max_replicas=11) == f"expected 1 <= 11 <= 10: {P}.maxReplicas"
    assert spec(config=limited, max_replicas=10).bounds.max_scale == 10


FIELDS_ACCEPTED = [
    pytest.param({"container_concurrency": 0}, id="cc-0-unlimited"),
    pytest.param({"container_concurrency": 1000}, id="cc-1000"),
    pytest.param({"min_replicas": 0}, id="min-0"),
    pytest.param({"min_replicas": 3, "max_replicas": 3}, id="min-equals-max"),
    pytest.param({"max_replicas": 1}, id="max-1-with-min-omitted"),
    pytest.param({"min_replicas": 5, "max_replicas": 0}, id="min-with-no-max"),
    pytest.param({"scale_metric": "rps", "scale_target": 1}, id="rps-target-1"),
    pytest.param({"scale_target": 1}, id="concurrency-target-1"),
    pytest.param({"timeout_seconds": 1}, id="timeout-1"),
    pytest.param({"timeout_seconds": 600}, id="timeout-600"),
]


@pytest.mark.parametrize("fields", FIELDS_ACCEPTED)
def test_field_accepted(fields: dict[str, Any]) -> None:
    assert validate_predictor_scaling(PredictorScaling(**fields), CONFIG) == []


def test_field_and_annotation_errors_are_reported_together() -> None:
    text = refusal(
        {G + "window": "5s", G + "max-scale": "3"}, min_replicas=-1, container_concurrency=2000
    )
    assert text.split("\n") == [
        f"'MinReplicas' cannot be less than 0: {P}.minReplicas=-1; allowed: an integer >= 0 "
        "(0: scale to zero)",
        f"{G}max-scale is not allowed on an InferenceService: set {P}.maxReplicas instead",
        f"expected 0 <= 2000 <= 1000: {P}.containerConcurrency",
        f"expected 6s <= 5s <= 1h0m0s: {G}window",
    ]


def test_activation_scale_is_checked_against_the_replica_fields() -> None:
    assert refusal({G + "activation-scale": "4"}, min_replicas=1, max_replicas=3) == (
        f"max-scale=3 is less than activation-scale=4: {G}activation-scale"
    )
    assert refusal({G + "activation-scale": "2"}, min_replicas=3) == (
        f"min-scale=3 is greater than activation-scale=2: {G}activation-scale"
    )


# -- effective_spec -----------------------------------------------------------------------


def test_defaults() -> None:
    s = spec()
    d, w, b = s.decider, s.windows, s.bounds
    assert (d.scaling_metric, d.total_value, d.target_value) == ("concurrency", 100.0, 70.0)
    assert (d.target_burst_capacity, d.activator_capacity, d.panic_threshold) == (211.0, 100.0, 2.0)
    assert (d.stable_window, d.scale_down_delay) == (60.0, 0.0)
    assert (d.max_scale_up_rate, d.max_scale_down_rate) == (1000.0, 2.0)
    assert (d.activation_scale, d.initial_scale, d.reachable) == (1, 0, True)
    assert (w.stable_window, w.panic_window, w.algorithm) == (60.0, 6.0, "linear")
    assert (b.min_scale, b.max_scale, b.initial_scale) == (1, 0, 0)  # minReplicas omitted: 1
    assert (b.enable_scale_to_zero, b.scale_to_zero_grace_period) == (True, 30.0)
    assert (b.scale_to_zero_pod_retention_period, b.progress_deadline) == (0.0, 600.0)
    assert (b.container_concurrency, b.total_value, b.target_burst_capacity) == (0, 100.0, 211.0)
    assert (s.container_concurrency, s.timeout) == (0, 300.0)


# (annotations, fields, config changes, expected (metric, total, target))
TARGETS = [
    pytest.param(
        {},
        {"container_concurrency": 10},
        {},
        ("concurrency", 10.0, 7.0),
        id="cc-is-total: 10 x 0.7",
    ),
    pytest.param(
        {G + "target": "50"},
        {"container_concurrency": 10},
        {},
        ("concurrency", 10.0, 7.0),
        id="target-capped-at-cc: min(50,10) x 0.7",
    ),
    pytest.param(
        {G + "target": "5"},
        {"container_concurrency": 10},
        {},
        ("concurrency", 5.0, 3.5),
        id="target-under-cc: 5 x 0.7",
    ),
    pytest.param(
        {G + "target": "50"},
        {},
        {},
        ("concurrency", 50.0, 35.0),
        id="target-uncapped-when-cc-0: 50 x 0.7",
    ),
    pytest.param(
        {G + "target-utilization-percentage": "50"},
        {"container_concurrency": 10},
        {},
        ("concurrency", 10.0, 5.0),
        id="utilization-annotation: 10 x 0.5",
    ),
    pytest.param(
        {},
        {},
        {
            "container_concurrency_target_default": 20.0,
            "container_concurrency_target_fraction": 0.5,
        },
        ("concurrency", 20.0, 10.0),
        id="config-default-and-fraction: 20 x 0.5",
    ),
    pytest.param({G + "metric": "rps"}, {}, {}, ("rps", 200.0, 140.0), id="rps-default: 200 x 0.7"),
    pytest.param(
        {G + "metric": "rps"},
        {},
        {"container_concurrency_target_fraction": 0.5},
        ("rps", 200.0, 140.0),
        id="rps-ignores-the-concurrency-fraction",
    ),
    pytest.param(
        {G + "metric": "rps", G + "target": "50"},
        {"container_concurrency": 10},
        {},
        ("rps", 50.0, 35.0),
        id="rps-target-not-capped-by-cc: 50 x 0.7",
    ),
    pytest.param(
        {G + "metric": "rps", G + "target-utilization-percentage": "100"},
        {},
        {},
        ("rps", 200.0, 200.0),
        id="rps-utilization: 200 x 1",
    ),
    pytest.param(
        {G + "metric": "rps"},
        {},
        {"requests_per_second_target_default": 10.0},
        ("rps", 10.0, 7.0),
        id="rps-config-default: 10 x 0.7",
    ),
    pytest.param(
        {G + "target": "0.01"},
        {},
        {},
        ("concurrency", 0.01, 0.01),
        id="target-value-floor: max(0.01, 0.007)",
    ),
    pytest.param(
        {G + "target": "abc"},
        {"scale_target": 20},
        {},
        ("concurrency", 20.0, 14.0),
        id="scaleTarget-beats-target-annotation-unchecked",
    ),
    pytest.param(
        {G + "metric": "concurrency"},
        {"scale_metric": "rps"},
        {},
        ("rps", 200.0, 140.0),
        id="scaleMetric-beats-metric-annotation",
    ),
    pytest.param(
        {G + "metric": "bogus"},
        {"scale_metric": "concurrency"},
        {},
        ("concurrency", 100.0, 70.0),
        id="replaced-metric-annotation-unchecked",
    ),
    pytest.param(
        {},
        {"scale_metric": "rps", "scale_target": 30},
        {},
        ("rps", 30.0, 21.0),
        id="scaleMetric-and-scaleTarget: 30 x 0.7",
    ),
]


@pytest.mark.parametrize(("annotations", "fields", "changes", "expected"), TARGETS)
def test_target_resolution(
    annotations: dict[str, str],
    fields: dict[str, Any],
    changes: dict[str, Any],
    expected: tuple[str, float, float],
) -> None:
    d = spec(annotations, replace(CONFIG, **changes), **fields).decider
    metric, total, target = expected
    assert d.scaling_metric == metric
    assert d.total_value == pytest.approx(total)
    assert d.target_value == pytest.approx(target)


@pytest.mark.parametrize(
    ("fields", "config_max", "expected"),
    [
        pytest.param({}, 0, (1, 0), id="omitted: min 1, no cap"),
        pytest.param({"min_replicas": 0}, 0, (0, 0), id="scale-to-zero"),
        pytest.param({"max_replicas": 0}, 7, (1, 7), id="max-0-defers-to-config-max-scale"),
        pytest.param({"max_replicas": 3}, 7, (1, 3), id="max-replicas-wins"),
        pytest.param({"min_replicas": 2, "max_replicas": 4}, 0, (2, 4), id="both"),
    ],
)
def test_replica_bounds(fields: dict[str, Any], config_max: int, expected: tuple[int, int]) -> None:
    b = spec(config=replace(CONFIG, max_scale=config_max), **fields).bounds
    assert (b.min_scale, b.max_scale) == expected


def test_config_min_scale_never_applies_because_kserve_always_writes_min_scale() -> None:
    assert spec(config=replace(CONFIG, min_scale=3)).bounds.min_scale == 1


@pytest.mark.parametrize(
    ("annotations", "config", "expected"),
    [
        pytest.param({}, CONFIG, 0, id="zeroserve-default-starts-nothing"),
        pytest.param({G + "initial-scale": "0"}, CONFIG, 0, id="annotation-0-allowed"),
        pytest.param({G + "initialScale": "3"}, CONFIG, 3, id="alias-annotation-3"),
        pytest.param(
            {},
            replace(CONFIG, allow_zero_initial_scale=False, initial_scale=1),
            1,
            id="knative-config",
        ),
        pytest.param(
            {G + "initial-scale": "2"},
            replace(CONFIG, initial_scale=5),
            2,
            id="annotation-beats-config",
        ),
    ],
)
def test_initial_scale(
    annotations: dict[str, str], config: AutoscalerConfig, expected: int
) -> None:
    s = spec(annotations, config, min_replicas=0)
    assert (s.decider.initial_scale, s.bounds.initial_scale) == (expected, expected)


def test_unreachable_drops_min_and_retention() -> None:
    annotations = {G + "scale-to-zero-pod-retention-period": "30s"}
    reachable = spec(annotations, min_replicas=3)
    unreachable = spec(annotations, reachable=False, min_replicas=3)
    assert (reachable.bounds.min_scale, reachable.bounds.scale_to_zero_pod_retention_period) == (
        3,
        30.0,
    )
    assert (
        unreachable.bounds.min_scale,
        unreachable.bounds.scale_to_zero_pod_retention_period,
    ) == (
        0,
        0.0,
    )
    assert (unreachable.decider.reachable, unreachable.bounds.reachable) == (False, False)


def test_annotations_override_config() -> None:
    s = spec(
        {
            G + "window": "2m",
            G + "panicWindowPercentage": "25",
            G + "panic-threshold-percentage": "300",
            G + "target-burst-capacity": "-1",
            G + "scale-down-delay": "30s",
            G + "activation-scale": "3",
            G + "metricAggregationAlgorithm": "weightedExponential",
            "serving.knative.dev/progress-deadline": "120s",
        },
        timeout_seconds=30,
    )
    assert (s.decider.stable_window, s.windows.stable_window, s.bounds.stable_window) == (
        120.0,
        120.0,
        120.0,
    )
    assert s.windows.panic_window == 30.0  # 120 s x 25 %
    assert s.decider.panic_threshold == 3.0
    assert (s.decider.target_burst_capacity, s.bounds.target_burst_capacity) == (-1.0, -1.0)
    assert (s.decider.scale_down_delay, s.decider.activation_scale) == (30.0, 3)
    assert s.windows.algorithm == "weighted-exponential"
    assert (s.bounds.progress_deadline, s.timeout) == (120.0, 30.0)


def test_config_values_flow_through() -> None:
    config = replace(
        CONFIG,
        stable_window=30.0,
        panic_window_percentage=20.0,
        panic_threshold_percentage=150.0,
        scale_down_delay=10.0,
        enable_scale_to_zero=False,
        scale_to_zero_grace_period=45.0,
        scale_to_zero_pod_retention_period=5.0,
        activator_capacity=50.0,
        max_scale_up_rate=10.0,
        max_scale_down_rate=4.0,
        progress_deadline=90.0,
    )
    s = spec(config=config, container_concurrency=4)
    assert (s.decider.stable_window, s.windows.panic_window) == (30.0, 6.0)  # 30 s x 20 %
    assert (s.decider.panic_threshold, s.decider.scale_down_delay) == (1.5, 10.0)
    assert (s.decider.max_scale_up_rate, s.decider.max_scale_down_rate) == (10.0, 4.0)
    assert (s.decider.activator_capacity, s.bounds.activator_capacity) == (50.0, 50.0)
    assert (s.bounds.enable_scale_to_zero, s.bounds.scale_to_zero_grace_period) == (False, 45.0)
    assert (s.bounds.scale_to_zero_pod_retention_period, s.bounds.progress_deadline) == (5.0, 90.0)
    assert (s.container_concurrency, s.bounds.container_concurrency) == (4, 4)


@pytest.mark.parametrize(
    ("stable", "percentage", "expected"),
    [
        pytest.param(60.0, 10.0, 6.0, id="default: 60 x 10%"),
        pytest.param(6.0, 1.0, 1.0, id="0.06s-is-at-least-1s"),
        pytest.param(15.0, 10.0, 2.0, id="1.5s-rounds-half-up"),
        pytest.param(14.0, 10.0, 1.0, id="1.4s-rounds-down"),
        pytest.param(25.0, 10.0, 3.0, id="2.5s-rounds-up"),
        pytest.param(3600.0, 100.0, 3600.0, id="whole-window"),
        pytest.param(7.0, 33.0, 2.0, id="2.31s-rounds-down"),
    ],
)
def test_panic_window(stable: float, percentage: float, expected: float) -> None:
    assert panic_window(stable, percentage) == expected


def test_the_config_package_imports_nothing_else_of_ours() -> None:
    package = Path(zeroserve.config.__file__).parent
    for module in package.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            for name in names:
                ours = name.split(".")[0] in {"zeroserve", "gateway", "activator", "autoscaler"}
                assert not ours or name.startswith("zeroserve.config"), (module.name, name)


def test_the_merged_error_names_every_field_found() -> None:
    with pytest.raises(ConfigErrors) as info:
        spec({G + "initial-scale": "-1"}, min_replicas=-1)
    error = info.value
    assert error.field == f"{G}initial-scale, {P}.minReplicas"
    assert [(e.field, e.value) for e in error.errors] == [
        (f"{P}.minReplicas", -1),
        (f"{G}initial-scale", "-1"),
    ]
