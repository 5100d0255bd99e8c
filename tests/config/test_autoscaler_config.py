"""config-autoscaler: each key at its limits and just past them, with Knative's texts.

Expected texts are written from knative-kpa §2 (and config-deployment for
progress-deadline): durations in Go form, ``%f`` with six decimals, ``%v`` floats.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
import yaml

from zeroserve.config.autoscaler_config import (
    KNOWN_KEYS,
    AutoscalerConfig,
    parse_autoscaler_config,
)
from zeroserve.config.errors import ConfigError


def parse(data: dict[str, Any]) -> AutoscalerConfig:
    config, _ = parse_autoscaler_config(data)
    return config


def refusal(data: dict[str, Any]) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_autoscaler_config(data)
    return info.value


def test_defaults_are_knatives_except_initial_scale() -> None:
    config, warnings = parse_autoscaler_config({})
    assert warnings == ()
    assert config == AutoscalerConfig()
    assert (config.allow_zero_initial_scale, config.initial_scale) == (True, 0)  # Zeroserve
    knative = {
        "pod_autoscaler_class": "kpa.autoscaling.knative.dev",
        "enable_scale_to_zero": True,
        "max_scale_up_rate": 1000.0,
        "max_scale_down_rate": 2.0,
        "container_concurrency_target_fraction": 0.7,
        "container_concurrency_target_default": 100.0,
        "requests_per_second_target_default": 200.0,
        "target_burst_capacity": 211.0,
        "panic_window_percentage": 10.0,
        "activator_capacity": 100.0,
        "panic_threshold_percentage": 200.0,
        "min_scale": 0,
        "max_scale": 0,
        "max_scale_limit": 0,
        "stable_window": 60.0,
        "scale_down_delay": 0.0,
        "scale_to_zero_grace_period": 30.0,
        "scale_to_zero_pod_retention_period": 0.0,
        "progress_deadline": 600.0,
    }
    assert {name: getattr(config, name) for name in knative} == knative
    assert config.target_utilization == 0.7
    assert parse_autoscaler_config(None)[0] == config


def test_none_of_the_keys_is_missing_from_the_known_list() -> None:
    assert set(KNOWN_KEYS) == {
        "pod-autoscaler-class",
        "enable-scale-to-zero",
        "allow-zero-initial-scale",
        "max-scale-up-rate",
        "max-scale-down-rate",
        "container-concurrency-target-percentage",
        "container-concurrency-target-default",
        "requests-per-second-target-default",
        "target-burst-capacity",
        "panic-window-percentage",
        "activator-capacity",
        "panic-threshold-percentage",
        "initial-scale",
        "min-scale",
        "max-scale",
        "max-scale-limit",
        "stable-window",
        "scale-down-delay",
        "scale-to-zero-grace-period",
        "scale-to-zero-pod-retention-period",
        "progress-deadline",
    }


# (data, attribute, parsed value)
ACCEPTED = [
    pytest.param(
        {"scale-to-zero-grace-period": "1ns"},
        "scale_to_zero_grace_period",
        1e-9,
        id="grace-smallest-positive",
    ),
    pytest.param(
        {"scale-to-zero-grace-period": "1m30s"},
        "scale_to_zero_grace_period",
        90.0,
        id="grace-go-duration",
    ),
    pytest.param({"scale-down-delay": "0"}, "scale_down_delay", 0.0, id="delay-bare-zero"),
    pytest.param({"scale-down-delay": "2h"}, "scale_down_delay", 7200.0, id="delay-no-upper"),
    pytest.param(
        {"scale-to-zero-pod-retention-period": "0s"},
        "scale_to_zero_pod_retention_period",
        0.0,
        id="retention-zero",
    ),
    pytest.param(
        {"scale-to-zero-pod-retention-period": "1.5s"},
        "scale_to_zero_pod_retention_period",
        1.5,
        id="retention-no-precision-rule",
    ),
    pytest.param(
        {"target-burst-capacity": "-1"}, "target_burst_capacity", -1.0, id="tbc-minus-one"
    ),
    pytest.param({"target-burst-capacity": "0"}, "target_burst_capacity", 0.0, id="tbc-zero"),
    pytest.param(
        {"container-concurrency-target-percentage": "70"},
        "container_concurrency_target_fraction",
        0.7,
        id="percentage-70-is-0.7",
    ),
    pytest.param(
        {"container-concurrency-target-percentage": "100"},
        "container_concurrency_target_fraction",
        1.0,
        id="percentage-100",
    ),
    pytest.param(
        {"container-concurrency-target-percentage": "1"},
        "container_concurrency_target_fraction",
        1.0,
        id="percentage-1-is-a-fraction",
    ),
    pytest.param(
        {"container-concurrency-target-percentage": "0.5"},
        "container_concurrency_target_fraction",
        0.5,
        id="percentage-0.5-is-a-fraction",
    ),
    pytest.param(
        {"container-concurrency-target-percentage": "1.5"},
        "container_concurrency_target_fraction",
        0.015,
        id="percentage-1.5-is-1.5pct",
    ),
    pytest.param(
        {
            "container-concurrency-target-percentage": "100",
            "container-concurrency-target-default": "0.01",
        },
        "container_concurrency_target_default",
        0.01,
        id="cc-default-yields-0.01",
    ),
    pytest.param(
        {"requests-per-second-target-default": "0.01"},
        "requests_per_second_target_default",
        0.01,
        id="rps-default-0.01",
    ),
    pytest.param({"activator-capacity": "1"}, "activator_capacity", 1.0, id="activator-1"),
    pytest.param({"max-scale-up-rate": "1.001"}, "max_scale_up_rate", 1.001, id="up-rate"),
    pytest.param({"max-scale-down-rate": "1.001"}, "max_scale_down_rate", 1.001, id="down-rate"),
    pytest.param({"stable-window": "6s"}, "stable_window", 6.0, id="window-6s"),
    pytest.param({"stable-window": "1h"}, "stable_window", 3600.0, id="window-1h"),
    pytest.param({"stable-window": "1m30s"}, "stable_window", 90.0, id="window-1m30s"),
    pytest.param(
        {"panic-window-percentage": "1"}, "panic_window_percentage", 1.0, id="panic-window-1"
    ),
    pytest.param(
        {"panic-window-percentage": "100"}, "panic_window_percentage", 100.0, id="panic-window-100"
    ),
    pytest.param(
        {"panic-threshold-percentage": "50"},
        "panic_threshold_percentage",
        50.0,
        id="panic-threshold-not-validated",
    ),
    pytest.param({"initial-scale": "0"}, "initial_scale", 0, id="initial-zero-allowed"),
    pytest.param(
        {"allow-zero-initial-scale": "false", "initial-scale": "1"},
        "initial_scale",
        1,
        id="initial-one-when-zero-not-allowed",
    ),
    pytest.param(
        {"allow-zero-initial-scale": "false"},
        "initial_scale",
        1,
        id="knatives-allow-setting-brings-knatives-initial-default",
    ),
    pytest.param(
        {"initial-scale": "2147483647"}, "initial_scale", 2**31 - 1, id="initial-int32-max"
    ),
    pytest.param({"min-scale": "0"}, "min_scale", 0, id="min-zero"),
    pytest.param({"max-scale": "0"}, "max_scale", 0, id="max-zero-unlimited"),
    pytest.param({"max-scale": "10", "max-scale-limit": "10"}, "max_scale", 10, id="max-at-limit"),
    pytest.param(
        {"max-scale": "1", "max-scale-limit": "10"}, "max_scale", 1, id="max-one-under-limit"
    ),
    pytest.param({"min-scale": "3", "max-scale": "3"}, "min_scale", 3, id="min-equals-max"),
    pytest.param({"min-scale": "4", "max-scale": "0"}, "min_scale", 4, id="min-with-no-max"),
    pytest.param({"progress-deadline": "1s"}, "progress_deadline", 1.0, id="progress-1s"),
    pytest.param({"enable-scale-to-zero": "False"}, "enable_scale_to_zero", False, id="bool-False"),
    pytest.param({"enable-scale-to-zero": "t"}, "enable_scale_to_zero", True, id="bool-t"),
    pytest.param(
        {"pod-autoscaler-class": "kpa.autoscaling.knative.dev"},
        "pod_autoscaler_class",
        "kpa.autoscaling.knative.dev",
        id="class-kpa",
    ),
]


@pytest.mark.parametrize(("data", "attribute", "value"), ACCEPTED)
def test_key_accepted_at_its_limit(data: dict[str, str], attribute: str, value: object) -> None:
    assert getattr(parse(data), attribute) == value


# (data, text): each just past a limit of the table in knative-kpa §2
REFUSED = [
    pytest.param(
        {"scale-to-zero-grace-period": "0s"},
        "scale-to-zero-grace-period must be positive, was: 0s",
        id="grace-zero",
    ),
    pytest.param(
        {"scale-to-zero-grace-period": "-1m"},
        "scale-to-zero-grace-period must be positive, was: -1m0s",
        id="grace-negative",
    ),
    pytest.param(
        {"scale-down-delay": "-1s"},
        "scale-down-delay cannot be negative, was: -1s",
        id="delay-negative",
    ),
    pytest.param(
        {"scale-down-delay": "1.5s"},
        "scale-down-delay = 1.5s, must be specified with at most second precision",
        id="delay-sub-second",
    ),
    pytest.param(
        {"scale-down-delay": "500ms"},
        "scale-down-delay = 500ms, must be specified with at most second precision",
        id="delay-milliseconds",
    ),
    pytest.param(
        {"scale-to-zero-pod-retention-period": "-1ns"},
        "scale-to-zero-pod-retention-period cannot be negative, was: -1ns",
        id="retention-negative",
    ),
    pytest.param(
        {"target-burst-capacity": "-0.5"},
        "target-burst-capacity must be either non-negative or -1 (for unlimited), was: -0.500000",
        id="tbc-between",
    ),
    pytest.param(
        {"target-burst-capacity": "-1.000001"},
        "target-burst-capacity must be either non-negative or -1 (for unlimited), was: -1.000001",
        id="tbc-below-minus-one",
    ),
    pytest.param(
        {"container-concurrency-target-percentage": "101"},
        "container-concurrency-target-percentage = 1.010000 is outside of valid range of (0, 100]",
        id="percentage-101",
    ),
    pytest.param(
        {"container-concurrency-target-percentage": "0"},
        "container-concurrency-target-percentage = 0.000000 is outside of valid range of (0, 100]",
        id="percentage-0",
    ),
    pytest.param(
        {"container-concurrency-target-percentage": "-10"},
        "container-concurrency-target-percentage = -10.000000 is outside of valid "
        "range of (0, 100]",
        id="percentage-negative",
    ),
    pytest.param(
        {
            "container-concurrency-target-percentage": "100",
            "container-concurrency-target-default": "0.009",
        },
        "container-concurrency-target-percentage and container-concurrency-target-"
        "default yield target concurrency of 0.009, can't be less than 0.01",
        id="cc-default-yields-0.009",
    ),
    pytest.param(
        {"container-concurrency-target-default": "0.01"},
        "container-concurrency-target-percentage and container-concurrency-target-"
        "default yield target concurrency of 0.006999999999999999, can't be less "
        "than 0.01",
        id="cc-default-times-default-fraction",
    ),
    pytest.param(
        {"requests-per-second-target-default": "0.0099"},
        "requests-per-second-target-default must be at least 0.01, was: 0.0099",
        id="rps-default",
    ),
    pytest.param(
        {"activator-capacity": "0.99"},
        "activator-capacity = 0.99, must be at least 1",
        id="activator",
    ),
    pytest.param(
        {"max-scale-up-rate": "1"}, "max-scale-up-rate = 1, must be greater than 1.0", id="up-rate"
    ),
    pytest.param(
        {"max-scale-down-rate": "1"},
        "max-scale-down-rate = 1, must be greater than 1.0",
        id="down-rate",
    ),
    pytest.param(
        {"max-scale-down-rate": "1e-05"},
        "max-scale-down-rate = 1e-05, must be greater than 1.0",
        id="down-rate-printed-with-exponent",
    ),
    pytest.param(
        {"stable-window": "5s"}, "stable-window = 5s, must be in [6s; 1h0m0s] range", id="window-5s"
    ),
    pytest.param(
        {"stable-window": "3601s"},
        "stable-window = 1h0m1s, must be in [6s; 1h0m0s] range",
        id="window-1h0m1s",
    ),
    pytest.param(
        {"stable-window": "0"},
        "stable-window = 0s, must be in [6s; 1h0m0s] range",
        id="window-zero",
    ),
    pytest.param(
        {"stable-window": "6.5s"},
        "stable-window = 6.5s, must be specified with at most second precision",
        id="window-sub-second",
    ),
    pytest.param(
        {"panic-window-percentage": "0.99"},
        "panic-window-percentage = 0.99, must be in [1, 100] interval",
        id="panic-window-low",
    ),
    pytest.param(
        {"panic-window-percentage": "100.1"},
        "panic-window-percentage = 100.1, must be in [1, 100] interval",
        id="panic-window-high",
    ),
    pytest.param(
        {"initial-scale": "-1"},
        "initial-scale = -1, must be at least 0 (or at least 1 when "
        "allow-zero-initial-scale is false)",
        id="initial-negative",
    ),
    pytest.param(
        {"allow-zero-initial-scale": "false", "initial-scale": "0"},
        "initial-scale = 0, must be at least 0 (or at least 1 when "
        "allow-zero-initial-scale is false)",
        id="initial-zero-not-allowed",
    ),
    pytest.param({"min-scale": "-1"}, "min-scale = -1, must be at least 0", id="min-negative"),
    pytest.param(
        {"max-scale": "-1"},
        "max-scale = -1, must be in [0, max-scale-limit(0)] range",
        id="max-negative",
    ),
    pytest.param(
        {"max-scale": "11", "max-scale-limit": "10"},
        "max-scale = 11, must be in [1, max-scale-limit(10)] range",
        id="max-over-limit",
    ),
    pytest.param(
        {"max-scale-limit": "10"},
        "max-scale = 0, must be in [1, max-scale-limit(10)] range",
        id="limit-needs-a-max",
    ),
    pytest.param(
        {"max-scale-limit": "-1"}, "max-scale-limit = -1, must be at least 0", id="limit-negative"
    ),
    pytest.param(
        {"min-scale": "4", "max-scale": "3"},
        "min-scale (4) must be less than max-scale (3)",
        id="min-over-max",
    ),
    pytest.param(
        {"progress-deadline": "0s"},
        "progress-deadline cannot be a non-positive duration, was 0s",
        id="progress-zero",
    ),
    pytest.param(
        {"progress-deadline": "1.5s"},
        "progress-deadline must be rounded to a whole second, was: 1.5s",
        id="progress-sub-second",
    ),
    pytest.param(
        {"pod-autoscaler-class": "hpa.autoscaling.knative.dev"},
        "pod-autoscaler-class = hpa.autoscaling.knative.dev, must be "
        "kpa.autoscaling.knative.dev (Zeroserve runs the KPA only)",
        id="class-hpa",
    ),
]


@pytest.mark.parametrize(("data", "text"), REFUSED)
def test_key_refused_just_past_its_limit(data: dict[str, str], text: str) -> None:
    error = refusal(data)
    assert str(error) == text
    assert error.field == key_of(text)


def key_of(text: str) -> str:
    """The key a text of §2 is about: its first word, but for the pair check on the default."""
    if text.startswith("container-concurrency-target-percentage and"):
        return "container-concurrency-target-default"
    return text.split()[0]


PARSE_FAILURES = [
    pytest.param(
        "max-scale-up-rate",
        "not a float",
        'strconv.ParseFloat: parsing "not a float": invalid syntax',
        id="float",
    ),
    pytest.param(
        "target-burst-capacity",
        "1e400",
        'strconv.ParseFloat: parsing "1e400": value out of range',
        id="float-range",
    ),
    pytest.param(
        "initial-scale", "1.5", 'strconv.ParseInt: parsing "1.5": invalid syntax', id="int"
    ),
    pytest.param(
        "max-scale",
        "3000000000",
        'strconv.ParseInt: parsing "3000000000": value out of range',
        id="int32-range",
    ),
    pytest.param("stable-window", "60", 'time: missing unit in duration "60"', id="duration-unit"),
    pytest.param(
        "scale-down-delay", "1 s", 'time: unknown unit " s" in duration "1 s"', id="duration-space"
    ),
    pytest.param("progress-deadline", "ten", 'time: invalid duration "ten"', id="duration-words"),
    pytest.param(
        "enable-scale-to-zero", "yes", 'strconv.ParseBool: parsing "yes": invalid syntax', id="bool"
    ),
    pytest.param("activator-capacity", "NaN", "NaN is not a number Zeroserve can use", id="nan"),
]


@pytest.mark.parametrize(("key", "raw", "reason"), PARSE_FAILURES)
def test_parse_failure_text(key: str, raw: str, reason: str) -> None:
    error = refusal({key: raw})
    assert str(error) == f'failed to parse data: failed to parse "{key}": {reason}'
    assert (error.field, error.value) == (key, raw)


# Validation order: consecutive rows of Knative's validate(); the earlier one must win.
ORDER = [
    ({"scale-to-zero-grace-period": "0s"}, "scale-to-zero-grace-period must be positive, was: 0s"),
    ({"scale-down-delay": "-1s"}, "scale-down-delay cannot be negative, was: -1s"),
    (
        {"scale-to-zero-pod-retention-period": "-1s"},
        "scale-to-zero-pod-retention-period cannot be negative, was: -1s",
    ),
    (
        {"target-burst-capacity": "-2"},
        "target-burst-capacity must be either non-negative or -1 (for unlimited), was: -2.000000",
    ),
    (
        {"container-concurrency-target-percentage": "101"},
        "container-concurrency-target-percentage = 1.010000 is outside of valid range of (0, 100]",
    ),
    (
        {"container-concurrency-target-default": "0"},
        "container-concurrency-target-percentage and container-concurrency-target-default yield "
        "target concurrency of 0, can't be less than 0.01",
    ),
    (
        {"requests-per-second-target-default": "0"},
        "requests-per-second-target-default must be at least 0.01, was: 0",
    ),
    ({"activator-capacity": "0"}, "activator-capacity = 0, must be at least 1"),
    ({"max-scale-up-rate": "1"}, "max-scale-up-rate = 1, must be greater than 1.0"),
    ({"max-scale-down-rate": "1"}, "max-scale-down-rate = 1, must be greater than 1.0"),
    ({"stable-window": "5s"}, "stable-window = 5s, must be in [6s; 1h0m0s] range"),
    ({"panic-window-percentage": "0"}, "panic-window-percentage = 0, must be in [1, 100] interval"),
    (
        {"initial-scale": "-1"},
        "initial-scale = -1, must be at least 0 (or at least 1 when allow-zero-initial-scale is "
        "false)",
    ),
    ({"min-scale": "-1"}, "min-scale = -1, must be at least 0"),
    ({"max-scale": "-1"}, "max-scale = -1, must be in [0, max-scale-limit(0)] range"),
    ({"max-scale-limit": "-1"}, "max-scale-limit = -1, must be at least 0"),
    ({"min-scale": "5", "max-scale": "3"}, "min-scale (5) must be less than max-scale (3)"),
    ({"progress-deadline": "0s"}, "progress-deadline cannot be a non-positive duration, was 0s"),
    (
        {"pod-autoscaler-class": "x"},
        "pod-autoscaler-class = x, must be kpa.autoscaling.knative.dev (Zeroserve runs the KPA "
        "only)",
    ),
]
PAIRS = [
    pytest.param({**later[0], **earlier[0]}, key_of(earlier[1]), id=f"{i:02d}-before-{i + 1:02d}")
    for i, (earlier, later) in enumerate(itertools.pairwise(ORDER))
    if not set(earlier[0]) & set(later[0])
]


def test_every_order_row_fails_alone() -> None:
    for data, text in ORDER:
        assert str(refusal(data)) == text


@pytest.mark.parametrize(("data", "key"), PAIRS)
def test_validation_order_first_failure_wins(data: dict[str, str], key: str) -> None:
    assert refusal(data).field == key


@pytest.mark.parametrize(
    ("data", "failing_key"),
    [
        pytest.param(
            {"stable-window": "x", "max-scale-up-rate": "x"},
            "max-scale-up-rate",
            id="floats-parse-before-durations",
        ),
        pytest.param(
            {"initial-scale": "x", "enable-scale-to-zero": "x"},
            "enable-scale-to-zero",
            id="bools-parse-before-ints",
        ),
        pytest.param(
            {"max-scale": "x", "min-scale": "x"},
            "min-scale",
            id="min-scale-parses-before-max-scale",
        ),
        pytest.param(
            {"scale-to-zero-grace-period": "0s", "max-scale": "x"},
            "max-scale",
            id="any-parse-failure-before-validation",
        ),
        pytest.param(
            {"scale-to-zero-pod-retention-period": "x", "progress-deadline": "x"},
            "scale-to-zero-pod-retention-period",
            id="knative-keys-parse-before-progress-deadline",
        ),
    ],
)
def test_parse_order_first_failure_wins(data: dict[str, str], failing_key: str) -> None:
    assert refusal(data).field == failing_key


def test_unknown_keys_warn_and_do_not_fail() -> None:
    config, warnings = parse_autoscaler_config(
        {"stable-windw": "2m", "made-up": "1", "stable-window": "90s"}
    )
    assert config.stable_window == 90.0
    assert [w.field for w in warnings] == ["made-up", "stable-windw"]
    known = ", ".join(KNOWN_KEYS)
    assert str(warnings[0]) == (
        f'config-autoscaler: unknown key "made-up" is ignored; known keys: {known}'
    )
    assert str(warnings[1]) == (
        'config-autoscaler: unknown key "stable-windw" is ignored (did you mean '
        f'"stable-window"?); known keys: {known}'
    )


def test_tick_interval_is_a_dead_key() -> None:
    config, warnings = parse_autoscaler_config({"tick-interval": "not even a duration"})
    assert config == AutoscalerConfig()
    assert [str(w) for w in warnings] == [
        'config-autoscaler: key "tick-interval" is ignored: Knative no longer reads it'
    ]


def test_known_keys_do_not_warn() -> None:
    _, warnings = parse_autoscaler_config({key: _valid(key) for key in KNOWN_KEYS})
    assert warnings == ()


def _valid(key: str) -> str:
    if key == "pod-autoscaler-class":
        return "kpa.autoscaling.knative.dev"
    if key in {"enable-scale-to-zero", "allow-zero-initial-scale"}:
        return "true"
    if key.endswith(("window", "period", "delay", "deadline")):
        return "60s"
    return "2"


YAML_VALUES = [
    pytest.param(
        "container-concurrency-target-percentage: 70",
        "container_concurrency_target_fraction",
        0.7,
        id="int-percentage",
    ),
    pytest.param("max-scale-up-rate: 1.5", "max_scale_up_rate", 1.5, id="float"),
    pytest.param("enable-scale-to-zero: false", "enable_scale_to_zero", False, id="bool"),
    pytest.param("max-scale: 5", "max_scale", 5, id="int"),
    pytest.param("scale-down-delay: 0", "scale_down_delay", 0.0, id="duration-bare-zero"),
    pytest.param(
        "target-burst-capacity: .inf", "target_burst_capacity", float("inf"), id="yaml-infinity"
    ),
    pytest.param('stable-window: "90s"', "stable_window", 90.0, id="quoted-string"),
]


@pytest.mark.parametrize(("document", "attribute", "value"), YAML_VALUES)
def test_yaml_scalars_are_read_like_their_go_spelling(
    document: str, attribute: str, value: object
) -> None:
    assert getattr(parse(yaml.safe_load(document)), attribute) == value


YAML_REFUSALS = [
    pytest.param(
        "stable-window: 60",
        'failed to parse data: failed to parse "stable-window": time: missing unit '
        'in duration "60"',
        id="duration-without-unit",
    ),
    pytest.param(
        "initial-scale: 2.0",
        'failed to parse data: failed to parse "initial-scale": strconv.ParseInt: '
        'parsing "2.0": invalid syntax',
        id="float-for-int",
    ),
    pytest.param(
        "max-scale:",
        'failed to parse data: failed to parse "max-scale": strconv.ParseInt: '
        'parsing "": invalid syntax',
        id="null-is-empty",
    ),
    pytest.param(
        "activator-capacity: true",
        'failed to parse data: failed to parse "activator-capacity": '
        'strconv.ParseFloat: parsing "true": invalid syntax',
        id="bool-for-float",
    ),
    pytest.param(
        "activator-capacity: [1, 2]",
        'failed to parse data: failed to parse "activator-capacity": expected a '
        "string, number or boolean, got a list",
        id="list",
    ),
]


@pytest.mark.parametrize(("document", "text"), YAML_REFUSALS)
def test_yaml_values_refused_with_go_texts(document: str, text: str) -> None:
    assert str(refusal(yaml.safe_load(document))) == text


def test_a_whole_configmap() -> None:
    data = yaml.safe_load(
        """
        container-concurrency-target-default: "10"
        container-concurrency-target-percentage: "80"
        enable-scale-to-zero: "true"
        max-scale-up-rate: "10"
        scale-to-zero-grace-period: "1m"
        stable-window: "2m"
        panic-window-percentage: "20.0"
        max-scale: "8"
        max-scale-limit: "10"
        """
    )
    config = parse(data)
    assert (
        config.container_concurrency_target_default,
        config.container_concurrency_target_fraction,
    ) == (10.0, 0.8)
    assert (config.max_scale_up_rate, config.scale_to_zero_grace_period) == (10.0, 60.0)
    assert (config.stable_window, config.panic_window_percentage) == (120.0, 20.0)
    assert (config.max_scale, config.max_scale_limit) == (8, 10)
