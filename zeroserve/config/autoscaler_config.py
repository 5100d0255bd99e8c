"""The cluster-wide scaling defaults: Knative's ``config-autoscaler`` keys, parsed its way.

One documented difference from Knative: ``allow-zero-initial-scale`` defaults to true and
``initial-scale`` to 0, so a ``minReplicas: 0`` service starts nothing until traffic
comes. A config that sets ``allow-zero-initial-scale: false`` without ``initial-scale``
gets Knative's 1, so that restating Knative's default is never an error.
``progress-deadline`` comes from Knative's ``config-deployment``; the scale-from-zero
gate needs it.

Parsing keeps Knative's order and texts: every key is parsed in ``cm.Parse`` order (the
first parse failure wins), then ``container-concurrency-target-percentage`` above 1 is
divided by 100, then validation runs in ``validate()`` order (the first failure wins).
Unknown keys are warnings, where Knative ignores them silently.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any, Literal

from zeroserve.config.durations import (
    HOUR,
    SECOND,
    format_go_duration,
    format_go_fixed,
    format_go_float,
    go_quote,
    ns_to_seconds,
    parse_go_bool,
    parse_go_duration,
    parse_go_float,
    parse_go_int,
    round_go_duration,
    truncate_go_duration,
)
from zeroserve.config.errors import ConfigError, ConfigWarning, ConfigWarnings, GoSyntaxError

KPA_CLASS = "kpa.autoscaling.knative.dev"
HPA_CLASS = "hpa.autoscaling.knative.dev"
TARGET_MIN = 0.01  # Knative's autoscaling.TargetMin
RPS_TARGET_UTILIZATION = 0.7  # Knative's fixed TargetUtilization for non-concurrency metrics
WINDOW_MIN_NS = 6 * SECOND
WINDOW_MAX_NS = HOUR
PANIC_WINDOW_PERCENTAGE_MIN = 1.0
PANIC_WINDOW_PERCENTAGE_MAX = 100.0
CONFIG_NAME = "config-autoscaler"


@dataclass(frozen=True, slots=True)
class AutoscalerConfig:
    """Parsed ``config-autoscaler``; durations in seconds, the target percentage as a fraction.

    Build one with ``parse_autoscaler_config``; the constructor trusts its arguments
    (tests use ``dataclasses.replace`` on the defaults).
    """

    pod_autoscaler_class: str = KPA_CLASS
    enable_scale_to_zero: bool = True
    allow_zero_initial_scale: bool = True  # Knative: false
    max_scale_up_rate: float = 1000.0
    max_scale_down_rate: float = 2.0
    container_concurrency_target_fraction: float = 0.7
    container_concurrency_target_default: float = 100.0
    requests_per_second_target_default: float = 200.0
    target_burst_capacity: float = 211.0
    panic_window_percentage: float = 10.0
    activator_capacity: float = 100.0
    panic_threshold_percentage: float = 200.0
    initial_scale: int = 0  # Knative: 1
    min_scale: int = 0
    max_scale: int = 0  # 0: no cap
    max_scale_limit: int = 0  # 0: none
    stable_window: float = 60.0
    scale_down_delay: float = 0.0
    scale_to_zero_grace_period: float = 30.0
    scale_to_zero_pod_retention_period: float = 0.0
    progress_deadline: float = 600.0  # config-deployment's key

    @property
    def target_utilization(self) -> float:
        """Knative's fixed utilization for the rps metric (not configurable)."""
        return RPS_TARGET_UTILIZATION


Kind = Literal["string", "bool", "float", "int32", "duration"]


@dataclass(frozen=True, slots=True)
class _Key:
    name: str
    kind: Kind

    @property
    def attr(self) -> str:
        if self.name == "container-concurrency-target-percentage":
            return "container_concurrency_target_fraction"
        return self.name.replace("-", "_")


# Knative's cm.Parse order (the first parse failure wins), then Zeroserve's addition.
KEYS: tuple[_Key, ...] = (
    _Key("pod-autoscaler-class", "string"),
    _Key("enable-scale-to-zero", "bool"),
    _Key("allow-zero-initial-scale", "bool"),
    _Key("max-scale-up-rate", "float"),
    _Key("max-scale-down-rate", "float"),
    _Key("container-concurrency-target-percentage", "float"),
    _Key("container-concurrency-target-default", "float"),
    _Key("requests-per-second-target-default", "float"),
    _Key("target-burst-capacity", "float"),
    _Key("panic-window-percentage", "float"),
    _Key("activator-capacity", "float"),
    _Key("panic-threshold-percentage", "float"),
    _Key("initial-scale", "int32"),
    _Key("min-scale", "int32"),
    _Key("max-scale", "int32"),
    _Key("max-scale-limit", "int32"),
    _Key("stable-window", "duration"),
    _Key("scale-down-delay", "duration"),
    _Key("scale-to-zero-grace-period", "duration"),
    _Key("scale-to-zero-pod-retention-period", "duration"),
    _Key("progress-deadline", "duration"),
)
KNOWN_KEYS: tuple[str, ...] = tuple(sorted(k.name for k in KEYS))
DEAD_KEYS = frozenset({"tick-interval"})


def parse_autoscaler_config(
    data: Mapping[Any, object] | None,
) -> tuple[AutoscalerConfig, ConfigWarnings]:
    """A ConfigMap's data (strings) or a YAML mapping (scalars) → config and warnings.

    Raises ``ConfigError`` with Knative's text for the first failure.
    """
    data = data or {}
    by_name = {str(key): value for key, value in data.items()}
    defaults = AutoscalerConfig()
    values: dict[str, Any] = {}
    for f in fields(AutoscalerConfig):
        default = getattr(defaults, f.name)
        kind = next((k.kind for k in KEYS if k.attr == f.name), "string")
        values[f.name] = round(default * SECOND) if kind == "duration" else default
    raw: dict[str, str] = {}
    for key in KEYS:
        if key.name not in by_name:
            continue
        text = scalar_text(key.name, by_name[key.name])
        raw[key.name] = text
        values[key.attr] = _parse_value(key, text)
    if "initial-scale" not in raw and not values["allow_zero_initial_scale"]:
        values["initial_scale"] = 1  # Knative's default, with Knative's allow-zero setting
    if values["container_concurrency_target_fraction"] > 1.0:
        values["container_concurrency_target_fraction"] /= 100.0
    for key_name, check in _CHECKS:
        message = check(values)
        if message is not None:
            raise ConfigError(message, field=key_name, value=raw.get(key_name), standalone=True)
    for key in KEYS:
        if key.kind == "duration":
            values[key.attr] = ns_to_seconds(values[key.attr])
    return AutoscalerConfig(**values), _warnings(by_name)


def scalar_text(key: str, value: object) -> str:
    """The string Go would have seen: YAML scalars become their plain spelling."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)  # shortest round trip, which Go's ParseFloat reads back exactly
    kind = type(value).__name__
    raise ConfigError(
        f"failed to parse data: failed to parse {go_quote(key)}: "
        f"expected a string, number or boolean, got a {kind}",
        field=key,
        value=value,
        standalone=True,
    )


def _parse_value(key: _Key, text: str) -> object:
    try:
        if key.kind == "string":
            return text
        if key.kind == "bool":
            return parse_go_bool(text)
        if key.kind == "int32":
            return parse_go_int(text, 32)
        if key.kind == "duration":
            return parse_go_duration(text)
        number = parse_go_float(text)
    except GoSyntaxError as error:
        raise _parse_failure(key.name, text, error.message) from None
    if math.isnan(number):
        raise _parse_failure(key.name, text, "NaN is not a number Zeroserve can use")
    return number


def _parse_failure(key: str, text: str, reason: str) -> ConfigError:
    return ConfigError(
        f"failed to parse data: failed to parse {go_quote(key)}: {reason}",
        field=key,
        value=text,
        standalone=True,
    )


def _warnings(by_name: Mapping[str, object]) -> ConfigWarnings:
    known = {k.name for k in KEYS}
    out: list[ConfigWarning] = []
    for name in sorted(by_name):
        if name in known:
            continue
        if name in DEAD_KEYS:
            message = f"{CONFIG_NAME}: key {go_quote(name)} is ignored: Knative no longer reads it"
        else:
            close = difflib.get_close_matches(name, KNOWN_KEYS, n=1)
            hint = f" (did you mean {go_quote(close[0])}?)" if close else ""
            message = (
                f"{CONFIG_NAME}: unknown key {go_quote(name)} is ignored{hint}; "
                f"known keys: {', '.join(KNOWN_KEYS)}"
            )
        out.append(ConfigWarning(field=name, message=message))
    return tuple(out)


# -- validation, in Knative's order -----------------------------------------------------

Values = dict[str, Any]
_d = format_go_duration
_v = format_go_float


def _grace(v: Values) -> str | None:
    g = v["scale_to_zero_grace_period"]
    return None if g > 0 else f"scale-to-zero-grace-period must be positive, was: {_d(g)}"


def _delay_sign(v: Values) -> str | None:
    d = v["scale_down_delay"]
    return None if d >= 0 else f"scale-down-delay cannot be negative, was: {_d(d)}"


def _delay_precision(v: Values) -> str | None:
    d = v["scale_down_delay"]
    if round_go_duration(d, SECOND) == d:
        return None
    return f"scale-down-delay = {_d(d)}, must be specified with at most second precision"


def _retention(v: Values) -> str | None:
    r = v["scale_to_zero_pod_retention_period"]
    return (
        None if r >= 0 else f"scale-to-zero-pod-retention-period cannot be negative, was: {_d(r)}"
    )


def _tbc(v: Values) -> str | None:
    t = v["target_burst_capacity"]
    if not (t < 0 and t != -1):
        return None
    return (
        "target-burst-capacity must be either non-negative or -1 (for unlimited), "
        f"was: {format_go_fixed(t)}"
    )


def _fraction(v: Values) -> str | None:
    f = v["container_concurrency_target_fraction"]
    if 0 < f <= 1:
        return None
    return (
        f"container-concurrency-target-percentage = {format_go_fixed(f)} "
        "is outside of valid range of (0, 100]"
    )


def _cc_default(v: Values) -> str | None:
    x = v["container_concurrency_target_fraction"] * v["container_concurrency_target_default"]
    if not x < TARGET_MIN:
        return None
    return (
        "container-concurrency-target-percentage and container-concurrency-target-default "
        f"yield target concurrency of {_v(x)}, can't be less than {_v(TARGET_MIN)}"
    )


def _rps_default(v: Values) -> str | None:
    r = v["requests_per_second_target_default"]
    if not r < TARGET_MIN:
        return None
    return f"requests-per-second-target-default must be at least {_v(TARGET_MIN)}, was: {_v(r)}"


def _activator(v: Values) -> str | None:
    a = v["activator_capacity"]
    return None if not a < 1 else f"activator-capacity = {_v(a)}, must be at least 1"


def _up_rate(v: Values) -> str | None:
    r = v["max_scale_up_rate"]
    return None if not r <= 1.0 else f"max-scale-up-rate = {_v(r)}, must be greater than 1.0"


def _down_rate(v: Values) -> str | None:
    r = v["max_scale_down_rate"]
    return None if not r <= 1.0 else f"max-scale-down-rate = {_v(r)}, must be greater than 1.0"


def _window_range(v: Values) -> str | None:
    w = v["stable_window"]
    if WINDOW_MIN_NS <= w <= WINDOW_MAX_NS:
        return None
    return f"stable-window = {_d(w)}, must be in [{_d(WINDOW_MIN_NS)}; {_d(WINDOW_MAX_NS)}] range"


def _window_precision(v: Values) -> str | None:
    w = v["stable_window"]
    if round_go_duration(w, SECOND) == w:
        return None
    return f"stable-window = {_d(w)}, must be specified with at most second precision"


def _panic_window(v: Values) -> str | None:
    p = v["panic_window_percentage"]
    if not (p < PANIC_WINDOW_PERCENTAGE_MIN or p > PANIC_WINDOW_PERCENTAGE_MAX):
        return None
    return (
        f"panic-window-percentage = {_v(p)}, must be in "
        f"[{_v(PANIC_WINDOW_PERCENTAGE_MIN)}, {_v(PANIC_WINDOW_PERCENTAGE_MAX)}] interval"
    )


def _initial(v: Values) -> str | None:
    i = v["initial_scale"]
    if i > 0 or (i == 0 and v["allow_zero_initial_scale"]):
        return None
    return (
        f"initial-scale = {i}, must be at least 0 "
        "(or at least 1 when allow-zero-initial-scale is false)"
    )


def _min_scale(v: Values) -> str | None:
    m = v["min_scale"]
    return None if m >= 0 else f"min-scale = {m}, must be at least 0"


def _max_scale(v: Values) -> str | None:
    m, limit = v["max_scale"], v["max_scale_limit"]
    lowest = 1 if limit > 0 else 0
    if not (m < lowest or (limit > 0 and m > limit)):
        return None
    return f"max-scale = {m}, must be in [{lowest}, max-scale-limit({limit})] range"


def _max_scale_limit(v: Values) -> str | None:
    limit = v["max_scale_limit"]
    return None if limit >= 0 else f"max-scale-limit = {limit}, must be at least 0"


def _min_max(v: Values) -> str | None:
    low, high = v["min_scale"], v["max_scale"]
    if not (high > 0 and low > high):
        return None
    return f"min-scale ({low}) must be less than max-scale ({high})"


def _progress_deadline(v: Values) -> str | None:  # config-deployment's texts
    p = v["progress_deadline"]
    if p <= 0:
        return f"progress-deadline cannot be a non-positive duration, was {_d(p)}"
    if truncate_go_duration(p, SECOND) != p:
        return f"progress-deadline must be rounded to a whole second, was: {_d(p)}"
    return None


def _class(v: Values) -> str | None:  # Zeroserve's: there is no other autoscaler here
    c = v["pod_autoscaler_class"]
    if c == KPA_CLASS:
        return None
    return f"pod-autoscaler-class = {c}, must be {KPA_CLASS} (Zeroserve runs the KPA only)"


_CHECKS: tuple[tuple[str, Callable[[Values], str | None]], ...] = (
    ("scale-to-zero-grace-period", _grace),
    ("scale-down-delay", _delay_sign),
    ("scale-down-delay", _delay_precision),
    ("scale-to-zero-pod-retention-period", _retention),
    ("target-burst-capacity", _tbc),
    ("container-concurrency-target-percentage", _fraction),
    ("container-concurrency-target-default", _cc_default),
    ("requests-per-second-target-default", _rps_default),
    ("activator-capacity", _activator),
    ("max-scale-up-rate", _up_rate),
    ("max-scale-down-rate", _down_rate),
    ("stable-window", _window_range),
    ("stable-window", _window_precision),
    ("panic-window-percentage", _panic_window),
    ("initial-scale", _initial),
    ("min-scale", _min_scale),
    ("max-scale", _max_scale),
    ("max-scale-limit", _max_scale_limit),
    ("min-scale", _min_max),
    ("progress-deadline", _progress_deadline),
    ("pod-autoscaler-class", _class),
)
