"""The scaling specs every part shares, and the one function that computes them.

These dataclasses live here, at the bottom of the layers, so that the resource parser
(which produces ``PredictorScaling``), the controller and the autoscaler (which consume
``RevisionScaling``) agree on them without importing each other.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from zeroserve.config.annotations import INT32_MAX, METRIC, METRICS, TARGET, check_annotations
from zeroserve.config.autoscaler_config import TARGET_MIN, AutoscalerConfig
from zeroserve.config.durations import (
    SECOND,
    format_go_float,
    ns_to_seconds,
    round_go_duration,
    seconds_to_ns,
)
from zeroserve.config.errors import ConfigError, raise_if_any


class RouteMode(enum.Enum):
    """Knative's SKS mode: who receives a revision's requests."""

    SERVE = "Serve"  # gateways lease replicas directly
    PROXY = "Proxy"  # requests go through an activator (zero replicas, or no burst room)


@dataclass(frozen=True, slots=True)
class DeciderSpec:
    """Knative's DeciderSpec in snake case; seconds as floats.

    It accepts whatever Knative's decider accepts: range checks belong to settings
    validation, not here.
    """

    scaling_metric: str  # "concurrency" or "rps"
    target_value: float  # per replica, after utilization
    total_value: float  # per replica, before utilization
    target_burst_capacity: float  # -1: activator always in path; 0: only at zero
    activator_capacity: float
    panic_threshold: float  # a fraction: 2.0 means 200 %
    stable_window: float
    scale_down_delay: float
    max_scale_up_rate: float
    max_scale_down_rate: float
    activation_scale: int  # 1: off
    initial_scale: int
    reachable: bool


@dataclass(frozen=True, slots=True)
class WindowSpec:
    """How observed load is averaged: Knative's stable and panic windows."""

    stable_window: float
    panic_window: float
    algorithm: str  # "linear" or "weighted-exponential"


@dataclass(frozen=True, slots=True)
class BoundsSpec:
    """What turns a decision into replicas: Knative's reconciler-side rules (knative-kpa §5)."""

    min_scale: int
    max_scale: int  # 0: no cap
    initial_scale: int
    enable_scale_to_zero: bool
    scale_to_zero_grace_period: float
    scale_to_zero_pod_retention_period: float
    stable_window: float
    progress_deadline: float
    reachable: bool
    container_concurrency: int  # 0: unlimited
    total_value: float
    target_burst_capacity: float
    activator_capacity: float


@dataclass(frozen=True, slots=True)
class PredictorScaling:
    """The scaling knobs of an InferenceService predictor, as written (None: omitted).

    The resource parser produces this; KServe's defaults are applied by
    ``effective_spec``, so status can tell what the user wrote from what applies.
    """

    min_replicas: int | None = None
    max_replicas: int | None = None
    scale_target: int | None = None
    scale_metric: str | None = None
    container_concurrency: int | None = None
    timeout_seconds: int | None = None


@dataclass(frozen=True, slots=True)
class RevisionScaling:
    """Everything the autoscaler and the data path need to know about one revision."""

    decider: DeciderSpec
    windows: WindowSpec
    bounds: BoundsSpec
    container_concurrency: int
    timeout: float


# -- KServe's fields, and the one function that combines every source --------------------

PREDICTOR = "spec.predictor"
MIN_REPLICAS_FIELD = f"{PREDICTOR}.minReplicas"
MAX_REPLICAS_FIELD = f"{PREDICTOR}.maxReplicas"
SCALE_TARGET_FIELD = f"{PREDICTOR}.scaleTarget"
SCALE_METRIC_FIELD = f"{PREDICTOR}.scaleMetric"
CONTAINER_CONCURRENCY_FIELD = f"{PREDICTOR}.containerConcurrency"
TIMEOUT_FIELD = f"{PREDICTOR}.timeout"

DEFAULT_MIN_REPLICAS = 1  # KServe's constants.DefaultMinReplicas
CONTAINER_CONCURRENCY_MAX = 1000  # Knative's container-concurrency-max-limit
DEFAULT_TIMEOUT_SECONDS = 300  # Knative's revision-timeout-seconds
MAX_TIMEOUT_SECONDS = 600  # Knative's max-revision-timeout-seconds
PANIC_WINDOW_MIN_NS = SECOND  # Knative's BucketSize


def validate_predictor_scaling(
    scaling: PredictorScaling, config: AutoscalerConfig
) -> list[ConfigError]:
    """KServe's webhook checks (its texts), then what KServe leaves to Knative, up front.

    KServe stops at its first error; this reports every field, one error per field, since
    the fields are independent. Texts that do not show the value get ``=value`` after
    the path; texts that name no range get ``; allowed: …``.
    """
    errors: list[ConfigError] = []

    def kserve(message: str, field: str, value: object, allowed: str) -> None:
        errors.append(
            ConfigError(
                message, field=field, value=value, allowed=allowed, paths=(f"{field}={value}",)
            )
        )

    def bounds(field: str, value: int, low: int, high: int) -> None:
        errors.append(ConfigError(f"expected {low} <= {value} <= {high}", field=field, value=value))

    cc = scaling.container_concurrency
    if cc is not None and cc < 0:
        kserve(
            "parallelism cannot be less than 0",
            CONTAINER_CONCURRENCY_FIELD,
            cc,
            f"an integer in [0, {CONTAINER_CONCURRENCY_MAX}] (0: unlimited)",
        )
    elif cc is not None and cc > CONTAINER_CONCURRENCY_MAX:
        bounds(CONTAINER_CONCURRENCY_FIELD, cc, 0, CONTAINER_CONCURRENCY_MAX)

    low, high = scaling.min_replicas, scaling.max_replicas
    low_ok = high_ok = True
    if low is not None and low < 0:
        kserve(
            "'MinReplicas' cannot be less than 0",
            MIN_REPLICAS_FIELD,
            low,
            "an integer >= 0 (0: scale to zero)",
        )
        low_ok = False
    elif low is not None and low > INT32_MAX:
        bounds(MIN_REPLICAS_FIELD, low, 0, INT32_MAX)
        low_ok = False
    if high is not None and high < 0:
        kserve(
            "'MaxReplicas' cannot be less than 0",
            MAX_REPLICAS_FIELD,
            high,
            "an integer >= 0 (0: the cluster's max-scale)",
        )
        high_ok = False
    elif high is not None and high > INT32_MAX:
        bounds(MAX_REPLICAS_FIELD, high, 0, INT32_MAX)
        high_ok = False
    elif high and config.max_scale_limit > 0 and high > config.max_scale_limit:
        bounds(MAX_REPLICAS_FIELD, high, 1, config.max_scale_limit)
        high_ok = False
    effective_low = DEFAULT_MIN_REPLICAS if low is None else low
    if low_ok and high_ok and high and effective_low > high:
        kserve(
            "'MinReplicas' cannot be greater than MaxReplicas",
            MIN_REPLICAS_FIELD,
            effective_low,
            f"at most {MAX_REPLICAS_FIELD} ({high})",
        )

    metric = scaling.scale_metric
    if metric is not None and metric not in METRICS:
        errors.append(
            ConfigError(
                f"[{metric}] is not a supported metric",
                field=SCALE_METRIC_FIELD,
                value=metric,
                allowed=", ".join(METRICS)
                + " (cpu and memory need an HPA; Zeroserve runs the KPA)",
            )
        )
    target = scaling.scale_target
    if target is not None and metric == "rps" and target < 1:
        kserve(
            "the target for rps should be greater than 1",
            SCALE_TARGET_FIELD,
            target,
            "an integer >= 1",
        )
    elif target is not None and target < TARGET_MIN:
        errors.append(
            ConfigError(
                f"target {target} should be at least {format_go_float(TARGET_MIN)}",
                field=SCALE_TARGET_FIELD,
                value=target,
            )
        )

    timeout = scaling.timeout_seconds
    if timeout is not None and not 1 <= timeout <= MAX_TIMEOUT_SECONDS:
        bounds(TIMEOUT_FIELD, timeout, 1, MAX_TIMEOUT_SECONDS)
    return errors


def effective_spec(
    cluster_config: AutoscalerConfig,
    annotations: Mapping[str, str],
    predictor_scaling: PredictorScaling,
    *,
    reachable: bool = True,
) -> RevisionScaling:
    """What applies to one revision: KServe's precedence, then Knative's value resolution.

    KServe writes ``minReplicas`` (1 when omitted) as ``min-scale``, so the config's own
    ``min-scale`` never applies to an InferenceService; ``maxReplicas: 0`` leaves the
    config's ``max-scale``; ``scaleTarget``/``scaleMetric`` replace the ``target``/``metric``
    annotations before anything reads them (KServe overwrites them, so they are neither
    used nor checked). Raises ``ConfigErrors`` with every problem found.
    """
    cfg, ps = cluster_config, predictor_scaling
    errors = validate_predictor_scaling(ps, cfg)
    replaced = set()
    if ps.scale_target is not None:
        replaced.add(TARGET[0])
    if ps.scale_metric is not None:
        replaced.add(METRIC[0])
    visible = {k: v for k, v in annotations.items() if k not in replaced}
    min_replicas = DEFAULT_MIN_REPLICAS if ps.min_replicas is None else ps.min_replicas
    max_replicas = ps.max_replicas or 0
    parsed, annotation_errors = check_annotations(
        visible,
        cfg,
        min_scale=min_replicas if 0 <= min_replicas <= INT32_MAX else 0,
        max_scale=max_replicas if 0 <= max_replicas <= INT32_MAX else 0,
    )
    raise_if_any(errors + annotation_errors)

    metric = ps.scale_metric or parsed.metric or "concurrency"
    cc = ps.container_concurrency or 0
    target = float(ps.scale_target) if ps.scale_target is not None else parsed.target
    total, utilization = _resolve_target(cfg, metric, cc, target)
    if parsed.target_utilization_percentage is not None:
        utilization = parsed.target_utilization_percentage / 100.0
    target_value = max(TARGET_MIN, total * utilization)

    stable_window = parsed.window if parsed.window is not None else cfg.stable_window
    panic_pct = _pick(parsed.panic_window_percentage, cfg.panic_window_percentage)
    threshold_pct = _pick(parsed.panic_threshold_percentage, cfg.panic_threshold_percentage)
    tbc = _pick(parsed.target_burst_capacity, cfg.target_burst_capacity)
    initial_scale = cfg.initial_scale
    if parsed.initial_scale is not None and (
        parsed.initial_scale != 0 or cfg.allow_zero_initial_scale
    ):
        initial_scale = parsed.initial_scale
    retention = _pick(
        parsed.scale_to_zero_pod_retention_period, cfg.scale_to_zero_pod_retention_period
    )

    decider = DeciderSpec(
        scaling_metric=metric,
        target_value=target_value,
        total_value=total,
        target_burst_capacity=tbc,
        activator_capacity=cfg.activator_capacity,
        panic_threshold=threshold_pct / 100.0,
        stable_window=stable_window,
        scale_down_delay=_pick(parsed.scale_down_delay, cfg.scale_down_delay),
        max_scale_up_rate=cfg.max_scale_up_rate,
        max_scale_down_rate=cfg.max_scale_down_rate,
        activation_scale=parsed.activation_scale or 1,
        initial_scale=initial_scale,
        reachable=reachable,
    )
    windows = WindowSpec(
        stable_window=stable_window,
        panic_window=panic_window(stable_window, panic_pct),
        algorithm=parsed.metric_aggregation_algorithm or "linear",
    )
    bounds = BoundsSpec(
        min_scale=min_replicas if reachable else 0,
        max_scale=max_replicas if max_replicas > 0 else cfg.max_scale,
        initial_scale=initial_scale,
        enable_scale_to_zero=cfg.enable_scale_to_zero,
        scale_to_zero_grace_period=cfg.scale_to_zero_grace_period,
        scale_to_zero_pod_retention_period=retention if reachable else 0.0,
        stable_window=stable_window,
        progress_deadline=_pick(parsed.progress_deadline, cfg.progress_deadline),
        reachable=reachable,
        container_concurrency=cc,
        total_value=total,
        target_burst_capacity=tbc,
        activator_capacity=cfg.activator_capacity,
    )
    timeout = ps.timeout_seconds if ps.timeout_seconds is not None else DEFAULT_TIMEOUT_SECONDS
    return RevisionScaling(
        decider=decider,
        windows=windows,
        bounds=bounds,
        container_concurrency=cc,
        timeout=float(timeout),
    )


def panic_window(stable_window: float, panic_window_percentage: float) -> float:
    """Knative's MakeMetric: stable × pct / 100, rounded to whole seconds, at least 1 s."""
    stable_ns = seconds_to_ns(stable_window)
    ns = round_go_duration(int(float(stable_ns) * panic_window_percentage / 100.0), SECOND)
    return ns_to_seconds(max(ns, PANIC_WINDOW_MIN_NS))


def _resolve_target(
    cfg: AutoscalerConfig, metric: str, cc: int, target: float | None
) -> tuple[float, float]:
    """Knative's ResolveMetricTarget, before the utilization annotation: (total, TU)."""
    if metric == "rps":
        total, utilization = cfg.requests_per_second_target_default, cfg.target_utilization
    else:
        total = float(cc) if cc else cfg.container_concurrency_target_default
        utilization = cfg.container_concurrency_target_fraction
    if target is not None:
        total = target
        if metric == "concurrency" and cc != 0:
            total = min(target, float(cc))
    return total, utilization


def _pick(override: float | None, default: float) -> float:
    return default if override is None else override
