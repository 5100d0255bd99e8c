"""autoscaling.knative.dev/* annotations: each at its limits and just past, Knative's texts.

Texts follow knative-kpa §4 (FieldError ``<message>: <key>``), with Zeroserve's
``; allowed: …`` where Knative's text names no range.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from zeroserve.config.annotations import (
    KNOWN_AUTOSCALING_KEYS,
    ScalingAnnotations,
    annotation_warnings,
    check_annotations,
    parse_annotations,
)
from zeroserve.config.autoscaler_config import AutoscalerConfig
from zeroserve.config.errors import ConfigError, ConfigErrors

G = "autoscaling.knative.dev/"
CONFIG = AutoscalerConfig()
KNATIVE_CONFIG = replace(CONFIG, allow_zero_initial_scale=False, initial_scale=1)
PERCENT = "; allowed: a number in [1, 100]"


def refusal(annotations: dict[str, str], **kwargs: int) -> ConfigErrors:
    with pytest.raises(ConfigErrors) as info:
        parse_annotations(annotations, CONFIG, **kwargs)
    return info.value


# (annotations, attribute, parsed value); canonical key and alias each have a row
ACCEPTED = [
    pytest.param(
        {G + "class": "kpa.autoscaling.knative.dev"},
        "autoscaler_class",
        "kpa.autoscaling.knative.dev",
        id="class-kpa",
    ),
    pytest.param({G + "metric": "concurrency"}, "metric", "concurrency", id="metric-concurrency"),
    pytest.param({G + "metric": "rps"}, "metric", "rps", id="metric-rps"),
    pytest.param({G + "target": "0.01"}, "target", 0.01, id="target-min"),
    pytest.param({G + "target": "1e3"}, "target", 1000.0, id="target-go-float"),
    pytest.param(
        {G + "target-utilization-percentage": "1"},
        "target_utilization_percentage",
        1.0,
        id="utilization-1",
    ),
    pytest.param(
        {G + "targetUtilizationPercentage": "100"},
        "target_utilization_percentage",
        100.0,
        id="utilization-alias-100",
    ),
    pytest.param(
        {G + "target-burst-capacity": "-1"}, "target_burst_capacity", -1.0, id="tbc-minus-one"
    ),
    pytest.param(
        {G + "targetBurstCapacity": "0"}, "target_burst_capacity", 0.0, id="tbc-alias-zero"
    ),
    pytest.param({G + "window": "6s"}, "window", 6.0, id="window-6s"),
    pytest.param({G + "window": "1h"}, "window", 3600.0, id="window-1h"),
    pytest.param(
        {G + "panic-window-percentage": "1"}, "panic_window_percentage", 1.0, id="panic-window-1"
    ),
    pytest.param(
        {G + "panicWindowPercentage": "100"},
        "panic_window_percentage",
        100.0,
        id="panic-window-alias-100",
    ),
    pytest.param(
        {G + "panic-threshold-percentage": "110"},
        "panic_threshold_percentage",
        110.0,
        id="panic-threshold-110",
    ),
    pytest.param(
        {G + "panicThresholdPercentage": "1000"},
        "panic_threshold_percentage",
        1000.0,
        id="panic-threshold-alias-1000",
    ),
    pytest.param({G + "activation-scale": "2"}, "activation_scale", 2, id="activation-2"),
    pytest.param(
        {G + "initial-scale": "0"},
        "initial_scale",
        0,
        id="initial-zero-allowed-by-zeroserve-default",
    ),
    pytest.param(
        {G + "initialScale": "2147483647"}, "initial_scale", 2**31 - 1, id="initial-alias-int32-max"
    ),
    pytest.param({G + "scale-down-delay": "0s"}, "scale_down_delay", 0.0, id="delay-0s"),
    pytest.param({G + "scaleDownDelay": "1h"}, "scale_down_delay", 3600.0, id="delay-alias-1h"),
    pytest.param(
        {G + "scale-to-zero-pod-retention-period": "1h"},
        "scale_to_zero_pod_retention_period",
        3600.0,
        id="retention-1h",
    ),
    pytest.param(
        {G + "scaleToZeroPodRetentionPeriod": "1.5s"},
        "scale_to_zero_pod_retention_period",
        1.5,
        id="retention-alias-no-precision",
    ),
    pytest.param(
        {G + "metric-aggregation-algorithm": "linear"},
        "metric_aggregation_algorithm",
        "linear",
        id="algorithm-linear",
    ),
    pytest.param(
        {G + "metric-aggregation-algorithm": "weighted-exponential"},
        "metric_aggregation_algorithm",
        "weighted-exponential",
        id="algorithm-weighted",
    ),
    pytest.param(
        {G + "metricAggregationAlgorithm": "weightedExponential"},
        "metric_aggregation_algorithm",
        "weighted-exponential",
        id="algorithm-alias-camel-value",
    ),
    pytest.param(
        {G + "metric-aggregation-algorithm": ""},
        "metric_aggregation_algorithm",
        None,
        id="algorithm-empty-is-default",
    ),
    pytest.param(
        {"serving.knative.dev/progress-deadline": "120s"},
        "progress_deadline",
        120.0,
        id="progress-deadline",
    ),
    pytest.param(
        {G + "target-burst-capacity": "10", G + "targetBurstCapacity": "bad"},
        "target_burst_capacity",
        10.0,
        id="canonical-wins-over-alias",
    ),
]


@pytest.mark.parametrize(("annotations", "attribute", "value"), ACCEPTED)
def test_annotation_accepted_at_its_limit(
    annotations: dict[str, str], attribute: str, value: object
) -> None:
    parsed = parse_annotations(annotations, CONFIG)
    assert getattr(parsed, attribute) == value
    others = {k: v for k, v in vars_of(parsed).items() if k != attribute}
    assert all(v is None for v in others.values())


def vars_of(parsed: ScalingAnnotations) -> dict[str, object]:
    return {name: getattr(parsed, name) for name in ScalingAnnotations.__slots__}


def test_no_annotations_means_no_overrides() -> None:
    assert parse_annotations({}, CONFIG) == ScalingAnnotations()


# (annotations, text): one refusal each, just past a limit
REFUSED = [
    pytest.param(
        {G + "class": "hpa.autoscaling.knative.dev"},
        f"invalid value: hpa.autoscaling.knative.dev: {G}class; allowed: "
        "kpa.autoscaling.knative.dev (Zeroserve runs the KPA only)",
        id="class-hpa",
    ),
    pytest.param(
        {G + "class": "foo.knative.dev"},
        f"invalid value: foo.knative.dev: {G}class; allowed: "
        "kpa.autoscaling.knative.dev (Zeroserve runs the KPA only)",
        id="class-unknown-knative",
    ),
    pytest.param(
        {G + "metric": "foo"},
        f"invalid value: foo: {G}metric; allowed: concurrency, rps",
        id="metric-foo",
    ),
    pytest.param(
        {G + "metric": "cpu"},
        f"invalid value: cpu: {G}metric; allowed: concurrency, rps",
        id="metric-cpu",
    ),
    pytest.param(
        {G + "metric": ""},
        f"invalid value: : {G}metric; allowed: concurrency, rps",
        id="metric-empty",
    ),
    pytest.param(
        {G + "target": "0.009"},
        f"target 0.009 should be at least 0.01: {G}target",
        id="target-below-min",
    ),
    pytest.param(
        {G + "target": "-1"}, f"target -1 should be at least 0.01: {G}target", id="target-negative"
    ),
    pytest.param(
        {G + "target": "abc"},
        f"invalid value: abc: {G}target; allowed: a number >= 0.01",
        id="target-words",
    ),
    pytest.param(
        {G + "target": "NaN"},
        f"invalid value: NaN: {G}target; allowed: a number >= 0.01",
        id="target-nan",
    ),
    pytest.param(
        {G + "target-utilization-percentage": "0.99"},
        f"expected 1 <= 0.99 <= 100: {G}target-utilization-percentage",
        id="utilization-low",
    ),
    pytest.param(
        {G + "targetUtilizationPercentage": "100.5"},
        f"expected 1 <= 100.5 <= 100: {G}targetUtilizationPercentage",
        id="utilization-alias-high-names-alias",
    ),
    pytest.param(
        {G + "target-utilization-percentage": "70%"},
        f"invalid value: 70%: {G}target-utilization-percentage{PERCENT}",
        id="utilization-percent-sign",
    ),
    pytest.param(
        {G + "target-burst-capacity": "-0.5"},
        f"invalid value: -0.5: {G}target-burst-capacity; allowed: a number >= 0, or -1 "
        "(the activator always in the path)",
        id="tbc-between",
    ),
    pytest.param(
        {G + "targetBurstCapacity": "-2"},
        f"invalid value: -2: {G}targetBurstCapacity; allowed: a number >= 0, or -1 "
        "(the activator always in the path)",
        id="tbc-alias-below",
    ),
    pytest.param(
        {G + "window": "5s"}, f"expected 6s <= 5s <= 1h0m0s: {G}window", id="window-short"
    ),
    pytest.param(
        {G + "window": "3601s"},
        f"expected 6s <= 3601s <= 1h0m0s: {G}window",
        id="window-long-raw-value",
    ),
    pytest.param(
        {G + "window": "6.5s"},
        f"must be specified with at most second precision: {G}window",
        id="window-sub-second",
    ),
    pytest.param(
        {G + "window": "60"},
        f"invalid value: 60: {G}window; allowed: a duration in [6s, 1h0m0s] in whole seconds",
        id="window-no-unit",
    ),
    pytest.param(
        {G + "panic-window-percentage": "0.5"},
        f"expected 1 <= 0.5 <= 100: {G}panic-window-percentage",
        id="panic-window-low",
    ),
    pytest.param(
        {G + "panicWindowPercentage": "101"},
        f"expected 1 <= 101 <= 100: {G}panicWindowPercentage",
        id="panic-window-alias-high",
    ),
    pytest.param(
        {G + "panic-window-percentage": "x"},
        f"invalid value: x: {G}panic-window-percentage{PERCENT}",
        id="panic-window-words",
    ),
    pytest.param(
        {G + "panic-threshold-percentage": "109.9"},
        f"expected 110 <= 109.9 <= 1000: {G}panic-threshold-percentage",
        id="panic-threshold-low",
    ),
    pytest.param(
        {G + "panicThresholdPercentage": "1000.1"},
        f"expected 110 <= 1000.1 <= 1000: {G}panicThresholdPercentage",
        id="panic-threshold-alias-high",
    ),
    pytest.param(
        {G + "panic-threshold-percentage": ""},
        f"invalid value: : {G}panic-threshold-percentage; allowed: a number in [110, 1000]",
        id="panic-threshold-empty",
    ),
    pytest.param(
        {G + "activation-scale": "1"},
        f"activation-scale=1 must be greater than 1: {G}activation-scale",
        id="activation-1",
    ),
    pytest.param(
        {G + "activation-scale": "0"},
        f"min-scale=1 is greater than activation-scale=0: {G}activation-scale",
        id="activation-below-min-replicas-default",
    ),
    pytest.param(
        {G + "activation-scale": "two"},
        f"invalid value: two: {G}activation-scale; allowed: an integer >= 2, between "
        "the minimum and maximum replicas",
        id="activation-words",
    ),
    pytest.param(
        {G + "initial-scale": "-1"},
        f"invalid value: -1: {G}initial-scale must be greater than 0",
        id="initial-negative",
    ),
    pytest.param(
        {G + "initialScale": "-1"},
        f"invalid value: -1: {G}initialScale must be greater than 0",
        id="initial-alias-negative",
    ),
    pytest.param(
        {G + "initial-scale": "1.5"},
        f"invalid value: 1.5: {G}initial-scale; allowed: an integer >= 0",
        id="initial-float",
    ),
    pytest.param(
        {G + "initial-scale": "2147483648"},
        f"expected 0 <= 2147483648 <= 2147483647: {G}initial-scale",
        id="initial-past-int32",
    ),
    pytest.param(
        {G + "scale-down-delay": "-1s"},
        f"expected 0s <= -1s <= 1h0m0s: {G}scale-down-delay",
        id="delay-negative",
    ),
    pytest.param(
        {G + "scaleDownDelay": "61m"},
        f"expected 0s <= 61m <= 1h0m0s: {G}scaleDownDelay",
        id="delay-alias-long",
    ),
    pytest.param(
        {G + "scale-down-delay": "1.5s"},
        f"must be specified with at most second precision: {G}scale-down-delay",
        id="delay-sub-second",
    ),
    pytest.param(
        {G + "scale-down-delay": "soon"},
        f"invalid value: soon: {G}scale-down-delay; allowed: a duration in [0s, 1h0m0s] "
        "in whole seconds",
        id="delay-words",
    ),
    pytest.param(
        {G + "scale-to-zero-pod-retention-period": "-1ns"},
        f"expected 0s <= -1ns <= 1h0m0s: {G}scale-to-zero-pod-retention-period",
        id="retention-negative",
    ),
    pytest.param(
        {G + "scaleToZeroPodRetentionPeriod": "3601s"},
        f"expected 0s <= 3601s <= 1h0m0s: {G}scaleToZeroPodRetentionPeriod",
        id="retention-alias-long",
    ),
    pytest.param(
        {G + "scale-to-zero-pod-retention-period": "5"},
        f"invalid value: 5: {G}scale-to-zero-pod-retention-period; allowed: a duration "
        "in [0s, 1h0m0s]",
        id="retention-no-unit",
    ),
    pytest.param(
        {G + "metric-aggregation-algorithm": "ewma"},
        f"invalid value: ewma: {G}metric-aggregation-algorithm; allowed: linear, "
        "weighted-exponential, weightedExponential",
        id="algorithm-unknown",
    ),
    pytest.param(
        {G + "metricAggregationAlgorithm": "Linear"},
        f"invalid value: Linear: {G}metricAggregationAlgorithm; allowed: linear, "
        "weighted-exponential, weightedExponential",
        id="algorithm-alias-case",
    ),
    pytest.param(
        {"serving.knative.dev/progress-deadline": "1.5s"},
        "progress-deadline=1.5s is not at second precision: serving.knative.dev/progress-deadline",
        id="progress-sub-second",
    ),
    pytest.param(
        {"serving.knative.dev/progress-deadline": "0s"},
        "progress-deadline=0s must be positive: serving.knative.dev/progress-deadline",
        id="progress-zero",
    ),
    pytest.param(
        {"serving.knative.dev/progress-deadline": "10"},
        "invalid value: 10: serving.knative.dev/progress-deadline; allowed: a positive "
        "duration in whole seconds",
        id="progress-no-unit",
    ),
]


@pytest.mark.parametrize(("annotations", "text"), REFUSED)
def test_annotation_refused_just_past_its_limit(annotations: dict[str, str], text: str) -> None:
    error = refusal(annotations)
    assert str(error) == text
    (key,) = annotations
    assert [e.field for e in error.errors] == [key]
    assert error.errors[0].value == annotations[key]


@pytest.mark.parametrize(
    ("min_scale", "max_scale", "value", "text"),
    [
        pytest.param(
            3, 0, "2", "min-scale=3 is greater than activation-scale=2", id="below-min-replicas"
        ),
        pytest.param(
            1, 5, "6", "max-scale=5 is less than activation-scale=6", id="above-max-replicas"
        ),
        pytest.param(0, 0, "0", "activation-scale=0 must be greater than 1", id="zero"),
    ],
)
def test_activation_scale_against_replicas(
    min_scale: int, max_scale: int, value: str, text: str
) -> None:
    error = refusal({G + "activation-scale": value}, min_scale=min_scale, max_scale=max_scale)
    assert str(error) == f"{text}: {G}activation-scale"


@pytest.mark.parametrize(
    ("min_scale", "max_scale", "value"),
    [pytest.param(3, 0, "3", id="at-min"), pytest.param(1, 5, "5", id="at-max")],
)
def test_activation_scale_between_replicas(min_scale: int, max_scale: int, value: str) -> None:
    parsed = parse_annotations(
        {G + "activation-scale": value}, CONFIG, min_scale=min_scale, max_scale=max_scale
    )
    assert parsed.activation_scale == int(value)


def test_initial_scale_zero_needs_the_cluster_to_allow_it() -> None:
    with pytest.raises(ConfigErrors) as info:
        parse_annotations({G + "initial-scale": "0"}, KNATIVE_CONFIG)
    assert str(info.value) == (
        f"invalid value: 0: {G}initial-scale=0 not allowed by cluster; allowed: an integer >= 1 "
        "(the cluster sets allow-zero-initial-scale: false)"
    )
    assert parse_annotations({G + "initial-scale": "1"}, KNATIVE_CONFIG).initial_scale == 1


@pytest.mark.parametrize(
    ("key", "field"),
    [
        pytest.param("min-scale", "minReplicas", id="min-scale"),
        pytest.param("minScale", "minReplicas", id="minScale"),
        pytest.param("max-scale", "maxReplicas", id="max-scale"),
        pytest.param("maxScale", "maxReplicas", id="maxScale"),
    ],
)
def test_min_and_max_scale_annotations_are_refused(key: str, field: str) -> None:
    error = refusal({G + key: "3"})
    assert str(error) == (
        f"{G}{key} is not allowed on an InferenceService: set spec.predictor.{field} instead"
    )


def test_identical_messages_join_their_paths_sorted() -> None:
    error = refusal({G + "target-utilization-percentage": "x", G + "panicWindowPercentage": "x"})
    assert str(error) == (
        f"invalid value: x: {G}panicWindowPercentage, {G}target-utilization-percentage{PERCENT}"
    )
    assert len(error.errors) == 1


def test_lines_are_sorted_by_message() -> None:
    error = refusal(
        {
            G + "window": "5s",
            G + "target": "0",
            G + "metric": "cpu",
            G + "min-scale": "0",
            G + "scale-down-delay": "1.5s",
        }
    )
    assert str(error).split("\n") == [
        f"{G}min-scale is not allowed on an InferenceService: set spec.predictor.minReplicas "
        "instead",
        f"expected 6s <= 5s <= 1h0m0s: {G}window",
        f"invalid value: cpu: {G}metric; allowed: concurrency, rps",
        f"must be specified with at most second precision: {G}scale-down-delay",
        f"target 0 should be at least 0.01: {G}target",
    ]
    assert error.field == ", ".join(
        sorted(G + k for k in ("window", "target", "metric", "min-scale", "scale-down-delay"))
    )


def test_same_raw_value_with_different_ranges_stays_on_separate_lines() -> None:
    error = refusal({G + "panic-window-percentage": "x", G + "panic-threshold-percentage": "x"})
    assert str(error).split("\n") == [  # same message: ordered by the allowed text
        f"invalid value: x: {G}panic-window-percentage{PERCENT}",
        f"invalid value: x: {G}panic-threshold-percentage; allowed: a number in [110, 1000]",
    ]


def test_errors_come_in_knatives_validation_order() -> None:
    annotations = {
        G + "initial-scale": "x",
        G + "metric-aggregation-algorithm": "x",
        G + "metric": "x",
        G + "scale-down-delay": "x",
        G + "scale-to-zero-pod-retention-period": "x",
        G + "window": "x",
        G + "target-burst-capacity": "x",
        G + "target-utilization-percentage": "x",
        G + "target": "x",
        G + "panic-threshold-percentage": "x",
        G + "panic-window-percentage": "x",
        G + "activation-scale": "x",
        G + "max-scale": "x",
        G + "min-scale": "x",
        G + "class": "x",
    }
    _, errors = check_annotations(annotations, CONFIG)
    assert [e.field for e in errors] == list(reversed(annotations))


def test_a_refusal_is_a_config_error_and_a_value_error() -> None:
    error = refusal({G + "metric": "foo"})
    assert isinstance(error, ConfigError)
    assert isinstance(error, ValueError)
    assert error.errors[0].allowed == "concurrency, rps"


def test_unknown_autoscaling_annotations_warn() -> None:
    warnings = annotation_warnings(
        {G + "targetUtilisation": "50", G + "window": "60s", "example.com/other": "x"}
    )
    assert [w.field for w in warnings] == [G + "targetUtilisation"]
    assert str(warnings[0]) == (
        f"annotation {G}targetUtilisation is ignored: it is not an autoscaling annotation "
        f"Knative knows; known: {', '.join(KNOWN_AUTOSCALING_KEYS)}"
    )
