"""The ``autoscaling.knative.dev/*`` annotations of a predictor, checked as Knative checks them.

Knative's names, aliases (the canonical key wins when both are present, and an error
names the key actually found), ranges, validation order and error texts, with all errors
accumulated and merged (``errors.merge_errors``). Zeroserve's changes:

* ``; allowed: …`` after every text of Knative's that names no range;
* ``min-scale``/``max-scale`` (and ``minScale``/``maxScale``) are refused with a pointer to
  ``minReplicas``/``maxReplicas``: KServe drops them silently, which surprises users;
* only the KPA class is accepted, since Zeroserve has no other autoscaler;
* NaN (which Go parses, and which passes all of Knative's range checks) is refused,
  and so is an ``initial-scale`` that does not fit Knative's int32.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from zeroserve.config.autoscaler_config import (
    KPA_CLASS,
    TARGET_MIN,
    WINDOW_MAX_NS,
    WINDOW_MIN_NS,
    AutoscalerConfig,
)
from zeroserve.config.durations import (
    SECOND,
    format_go_duration,
    format_go_float,
    ns_to_seconds,
    parse_go_duration,
    parse_go_float,
    parse_go_int,
    round_go_duration,
    truncate_go_duration,
)
from zeroserve.config.errors import (
    ConfigError,
    ConfigWarning,
    ConfigWarnings,
    GoSyntaxError,
    raise_if_any,
)

GROUP = "autoscaling.knative.dev/"
CLASS = (GROUP + "class",)
METRIC = (GROUP + "metric",)
TARGET = (GROUP + "target",)
TARGET_UTILIZATION_PERCENTAGE = (
    GROUP + "target-utilization-percentage",
    GROUP + "targetUtilizationPercentage",
)
TARGET_BURST_CAPACITY = (GROUP + "target-burst-capacity", GROUP + "targetBurstCapacity")
WINDOW = (GROUP + "window",)
PANIC_WINDOW_PERCENTAGE = (GROUP + "panic-window-percentage", GROUP + "panicWindowPercentage")
PANIC_THRESHOLD_PERCENTAGE = (
    GROUP + "panic-threshold-percentage",
    GROUP + "panicThresholdPercentage",
)
MIN_SCALE = (GROUP + "min-scale", GROUP + "minScale")
MAX_SCALE = (GROUP + "max-scale", GROUP + "maxScale")
ACTIVATION_SCALE = (GROUP + "activation-scale",)
INITIAL_SCALE = (GROUP + "initial-scale", GROUP + "initialScale")
SCALE_DOWN_DELAY = (GROUP + "scale-down-delay", GROUP + "scaleDownDelay")
SCALE_TO_ZERO_POD_RETENTION_PERIOD = (
    GROUP + "scale-to-zero-pod-retention-period",
    GROUP + "scaleToZeroPodRetentionPeriod",
)
METRIC_AGGREGATION_ALGORITHM = (
    GROUP + "metric-aggregation-algorithm",
    GROUP + "metricAggregationAlgorithm",
)
PROGRESS_DEADLINE = ("serving.knative.dev/progress-deadline",)

KNOWN_AUTOSCALING_KEYS: tuple[str, ...] = tuple(
    sorted(
        CLASS
        + METRIC
        + TARGET
        + TARGET_UTILIZATION_PERCENTAGE
        + TARGET_BURST_CAPACITY
        + WINDOW
        + PANIC_WINDOW_PERCENTAGE
        + PANIC_THRESHOLD_PERCENTAGE
        + MIN_SCALE
        + MAX_SCALE
        + ACTIVATION_SCALE
        + INITIAL_SCALE
        + SCALE_DOWN_DELAY
        + SCALE_TO_ZERO_POD_RETENTION_PERIOD
        + METRIC_AGGREGATION_ALGORITHM
    )
)

METRICS = ("concurrency", "rps")
ALGORITHMS = {  # accepted spelling -> the one WindowSpec carries
    "linear": "linear",
    "weighted-exponential": "weighted-exponential",
    "weightedExponential": "weighted-exponential",
}
INT32_MAX = 2**31 - 1
PANIC_THRESHOLD_MIN, PANIC_THRESHOLD_MAX = 110.0, 1000.0
PERCENT_MIN, PERCENT_MAX = 1.0, 100.0

_REPLICAS_FIELD = {MIN_SCALE: "spec.predictor.minReplicas", MAX_SCALE: "spec.predictor.maxReplicas"}


@dataclass(frozen=True, slots=True)
class ScalingAnnotations:
    """The overrides a predictor's annotations carry; None where absent. Seconds as floats."""

    autoscaler_class: str | None = None
    metric: str | None = None
    target: float | None = None
    target_utilization_percentage: float | None = None
    target_burst_capacity: float | None = None
    window: float | None = None
    panic_window_percentage: float | None = None
    panic_threshold_percentage: float | None = None
    activation_scale: int | None = None
    initial_scale: int | None = None
    scale_down_delay: float | None = None
    scale_to_zero_pod_retention_period: float | None = None
    metric_aggregation_algorithm: str | None = None  # "linear" or "weighted-exponential"
    progress_deadline: float | None = None


def parse_annotations(
    annotations: Mapping[str, str],
    config: AutoscalerConfig,
    *,
    min_scale: int = 1,
    max_scale: int = 0,
) -> ScalingAnnotations:
    """The parsed overrides, or ``ConfigErrors`` with every problem, merged.

    ``min_scale``/``max_scale`` are what KServe writes from ``minReplicas``/``maxReplicas``
    (Knative checks ``activation-scale`` against them; 0 for max: no bound).
    """
    parsed, errors = check_annotations(
        annotations, config, min_scale=min_scale, max_scale=max_scale
    )
    raise_if_any(errors)
    return parsed


def check_annotations(
    annotations: Mapping[str, str],
    config: AutoscalerConfig,
    *,
    min_scale: int = 1,
    max_scale: int = 0,
) -> tuple[ScalingAnnotations, list[ConfigError]]:
    """Like ``parse_annotations``, returning the errors (in Knative's order) instead."""
    c = _Checker(annotations, config)
    autoscaler_class = c.autoscaler_class()
    c.refuse_replica_annotations()
    activation_scale = c.activation_scale(min_scale, max_scale)
    percent = f"a number in [{format_go_float(PERCENT_MIN)}, {format_go_float(PERCENT_MAX)}]"
    panic_window_percentage = c.bounded_float(
        PANIC_WINDOW_PERCENTAGE, PERCENT_MIN, PERCENT_MAX, percent
    )
    panic_threshold_percentage = c.bounded_float(
        PANIC_THRESHOLD_PERCENTAGE,
        PANIC_THRESHOLD_MIN,
        PANIC_THRESHOLD_MAX,
        f"a number in [{format_go_float(PANIC_THRESHOLD_MIN)}, "
        f"{format_go_float(PANIC_THRESHOLD_MAX)}]",
    )
    target = c.target()
    target_utilization = c.bounded_float(
        TARGET_UTILIZATION_PERCENTAGE, PERCENT_MIN, PERCENT_MAX, percent
    )
    target_burst_capacity = c.target_burst_capacity()
    window = c.window()
    retention = c.retention()
    scale_down_delay = c.scale_down_delay()
    metric = c.metric()
    algorithm = c.algorithm()
    initial_scale = c.initial_scale()
    progress_deadline = c.progress_deadline()
    parsed = ScalingAnnotations(
        autoscaler_class=autoscaler_class,
        metric=metric,
        target=target,
        target_utilization_percentage=target_utilization,
        target_burst_capacity=target_burst_capacity,
        window=_seconds(window),
        panic_window_percentage=panic_window_percentage,
        panic_threshold_percentage=panic_threshold_percentage,
        activation_scale=activation_scale,
        initial_scale=initial_scale,
        scale_down_delay=_seconds(scale_down_delay),
        scale_to_zero_pod_retention_period=_seconds(retention),
        metric_aggregation_algorithm=algorithm,
        progress_deadline=_seconds(progress_deadline),
    )
    return parsed, c.errors


def annotation_warnings(annotations: Mapping[str, str]) -> ConfigWarnings:
    """``autoscaling.knative.dev/*`` keys nobody reads (Knative ignores them silently)."""
    known = set(KNOWN_AUTOSCALING_KEYS)
    unknown = sorted(k for k in annotations if k.startswith(GROUP) and k not in known)
    return tuple(
        ConfigWarning(
            field=key,
            message=f"annotation {key} is ignored: it is not an autoscaling annotation "
            f"Knative knows; known: {', '.join(KNOWN_AUTOSCALING_KEYS)}",
        )
        for key in unknown
    )


def first_present(annotations: Mapping[str, str], keys: tuple[str, ...]) -> tuple[str, str] | None:
    """Knative's ``KeyPriority.Get``: the first key present (canonical before alias)."""
    for key in keys:
        if key in annotations:
            return key, annotations[key]
    return None


def _seconds(ns: int | None) -> float | None:
    return None if ns is None else ns_to_seconds(ns)


class _Checker:
    """One validation pass; collects errors in the order Knative finds them."""

    def __init__(self, annotations: Mapping[str, str], config: AutoscalerConfig) -> None:
        self.annotations = annotations
        self.config = config
        self.errors: list[ConfigError] = []

    # -- error helpers, Knative's FieldError constructors --

    def invalid(self, key: str, raw: str, allowed: str | None) -> None:
        self.errors.append(
            ConfigError(f"invalid value: {raw}", field=key, value=raw, allowed=allowed)
        )

    def out_of_bounds(self, key: str, raw: str, low: str, high: str) -> None:
        self.errors.append(ConfigError(f"expected {low} <= {raw} <= {high}", field=key, value=raw))

    def generic(self, key: str, raw: str, message: str) -> None:
        self.errors.append(ConfigError(message, field=key, value=raw))

    def find(self, keys: tuple[str, ...]) -> tuple[str, str] | None:
        return first_present(self.annotations, keys)

    # -- the checks, in ValidateAnnotations order --

    def autoscaler_class(self) -> str | None:
        found = self.find(CLASS)
        if found is None:
            return None
        key, raw = found
        if raw != KPA_CLASS:
            self.invalid(key, raw, f"{KPA_CLASS} (Zeroserve runs the KPA only)")
            return None
        return raw

    def refuse_replica_annotations(self) -> None:
        for keys, field in _REPLICAS_FIELD.items():
            for key in keys:
                if key in self.annotations:
                    self.errors.append(
                        ConfigError(
                            f"{key} is not allowed on an InferenceService: set {field} instead",
                            field=key,
                            value=self.annotations[key],
                            standalone=True,
                        )
                    )

    def activation_scale(self, min_scale: int, max_scale: int) -> int | None:
        found = self.find(ACTIVATION_SCALE)
        if found is None:
            return None
        key, raw = found
        try:
            value = parse_go_int(raw, 32)
        except GoSyntaxError:
            self.invalid(key, raw, "an integer >= 2, between the minimum and maximum replicas")
            return None
        if min_scale > value:
            self.generic(
                key, raw, f"min-scale={min_scale} is greater than activation-scale={value}"
            )
        elif value > max_scale and max_scale != 0:
            self.generic(key, raw, f"max-scale={max_scale} is less than activation-scale={value}")
        elif value < 2:
            self.generic(key, raw, f"activation-scale={value} must be greater than 1")
        else:
            return value
        return None

    def number(self, keys: tuple[str, ...], allowed: str) -> tuple[str, str, float] | None:
        found = self.find(keys)
        if found is None:
            return None
        key, raw = found
        try:
            value = parse_go_float(raw)
        except GoSyntaxError:
            value = math.nan
        if math.isnan(value):
            self.invalid(key, raw, allowed)
            return None
        return key, raw, value

    def bounded_float(
        self, keys: tuple[str, ...], low: float, high: float, allowed: str
    ) -> float | None:
        found = self.number(keys, allowed)
        if found is None:
            return None
        key, raw, value = found
        if value < low or value > high:
            self.out_of_bounds(key, raw, format_go_float(low), format_go_float(high))
            return None
        return value

    def target(self) -> float | None:
        found = self.number(TARGET, f"a number >= {format_go_float(TARGET_MIN)}")
        if found is None:
            return None
        key, raw, value = found
        if value < TARGET_MIN:
            self.generic(key, raw, f"target {raw} should be at least {format_go_float(TARGET_MIN)}")
            return None
        return value

    def target_burst_capacity(self) -> float | None:
        allowed = "a number >= 0, or -1 (the activator always in the path)"
        found = self.number(TARGET_BURST_CAPACITY, allowed)
        if found is None:
            return None
        key, raw, value = found
        if value < 0 and value != -1:
            self.invalid(key, raw, allowed)
            return None
        return value

    def duration(self, keys: tuple[str, ...], allowed: str) -> tuple[str, str, int] | None:
        found = self.find(keys)
        if found is None:
            return None
        key, raw = found
        try:
            return key, raw, parse_go_duration(raw)
        except GoSyntaxError:
            self.invalid(key, raw, allowed)
            return None

    def window(self) -> int | None:
        low, high = format_go_duration(WINDOW_MIN_NS), format_go_duration(WINDOW_MAX_NS)
        found = self.duration(WINDOW, f"a duration in [{low}, {high}] in whole seconds")
        if found is None:
            return None
        _, raw, ns = found
        key = WINDOW[0]  # Knative names the canonical key here
        if ns < WINDOW_MIN_NS or ns > WINDOW_MAX_NS:
            self.out_of_bounds(key, raw, low, high)
        elif truncate_go_duration(ns, SECOND) != ns:
            self.generic(key, raw, "must be specified with at most second precision")
        else:
            return ns
        return None

    def retention(self) -> int | None:
        low, high = format_go_duration(0), format_go_duration(WINDOW_MAX_NS)
        found = self.duration(SCALE_TO_ZERO_POD_RETENTION_PERIOD, f"a duration in [{low}, {high}]")
        if found is None:
            return None
        key, raw, ns = found
        if ns < 0 or ns > WINDOW_MAX_NS:
            self.out_of_bounds(key, raw, low, high)
            return None
        return ns

    def scale_down_delay(self) -> int | None:
        low, high = format_go_duration(0), format_go_duration(WINDOW_MAX_NS)
        found = self.duration(SCALE_DOWN_DELAY, f"a duration in [{low}, {high}] in whole seconds")
        if found is None:
            return None
        key, raw, ns = found
        if ns < 0 or ns > WINDOW_MAX_NS:
            self.out_of_bounds(key, raw, low, high)
        elif round_go_duration(ns, SECOND) != ns:
            self.generic(key, raw, "must be specified with at most second precision")
        else:
            return ns
        return None

    def metric(self) -> str | None:
        found = self.find(METRIC)
        if found is None:
            return None
        key, raw = found
        if raw not in METRICS:
            self.invalid(key, raw, ", ".join(METRICS))
            return None
        return raw

    def algorithm(self) -> str | None:
        # Knative checks this only under an explicit KPA class; KServe always sets one.
        found = self.find(METRIC_AGGREGATION_ALGORITHM)
        if found is None:
            return None
        key, raw = found
        if raw == "":
            return None
        if raw not in ALGORITHMS:
            self.invalid(key, raw, ", ".join(ALGORITHMS))
            return None
        return ALGORITHMS[raw]

    def initial_scale(self) -> int | None:
        found = self.find(INITIAL_SCALE)
        if found is None:
            return None
        key, raw = found
        try:
            value = parse_go_int(raw, 64, func="Atoi")
        except GoSyntaxError:
            self.invalid(key, raw, "an integer >= 0")
            return None
        if value < 0:
            self.errors.append(
                ConfigError(
                    f"invalid value: {raw}",
                    field=key,
                    value=raw,
                    paths=(f"{key} must be greater than 0",),
                )
            )
        elif value == 0 and not self.config.allow_zero_initial_scale:
            self.errors.append(
                ConfigError(
                    f"invalid value: {raw}",
                    field=key,
                    value=raw,
                    paths=(f"{key}=0 not allowed by cluster",),
                    allowed="an integer >= 1 (the cluster sets allow-zero-initial-scale: false)",
                )
            )
        elif value > INT32_MAX:
            self.out_of_bounds(key, raw, "0", str(INT32_MAX))
        else:
            return value
        return None

    def progress_deadline(self) -> int | None:
        found = self.find(PROGRESS_DEADLINE)
        if found is None or found[1] == "":
            return None
        key, raw = found
        try:
            ns = parse_go_duration(raw)
        except GoSyntaxError:
            self.invalid(key, raw, "a positive duration in whole seconds")
            return None
        if round_go_duration(ns, SECOND) != ns:
            self.generic(key, raw, f"progress-deadline={raw} is not at second precision")
        elif ns <= 0:
            self.generic(key, raw, f"progress-deadline={raw} must be positive")
        else:
            return ns
        return None
