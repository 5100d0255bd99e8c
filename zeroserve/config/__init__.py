"""Scaling settings: the cluster config, a predictor's annotations and fields, combined.

The bottom layer: it imports nothing else of Zeroserve's. ``effective_spec`` is the one
place where KServe's precedence and Knative's value resolution meet.
"""

from zeroserve.config.annotations import (
    ScalingAnnotations,
    annotation_warnings,
    check_annotations,
    parse_annotations,
)
from zeroserve.config.autoscaler_config import (
    KNOWN_KEYS,
    KPA_CLASS,
    AutoscalerConfig,
    parse_autoscaler_config,
)
from zeroserve.config.errors import (
    ConfigError,
    ConfigErrors,
    ConfigWarning,
    ConfigWarnings,
    GoSyntaxError,
)
from zeroserve.config.scaling import (
    BoundsSpec,
    DeciderSpec,
    PredictorScaling,
    RevisionScaling,
    RouteMode,
    WindowSpec,
    effective_spec,
    validate_predictor_scaling,
)

__all__ = [
    "KNOWN_KEYS",
    "KPA_CLASS",
    "AutoscalerConfig",
    "BoundsSpec",
    "ConfigError",
    "ConfigErrors",
    "ConfigWarning",
    "ConfigWarnings",
    "DeciderSpec",
    "GoSyntaxError",
    "PredictorScaling",
    "RevisionScaling",
    "RouteMode",
    "ScalingAnnotations",
    "WindowSpec",
    "annotation_warnings",
    "check_annotations",
    "effective_spec",
    "parse_annotations",
    "parse_autoscaler_config",
    "validate_predictor_scaling",
]
