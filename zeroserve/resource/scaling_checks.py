"""The predictor's scaling knobs and autoscaling annotations, checked by ``effective_spec``.

``zeroserve.config`` owns the rules and texts (KServe's, then Knative's, with Zeroserve's
``; allowed: …``); this module feeds it the predictor's fields and KServe's merged
annotations, and says in each text where an annotation was written
(``metadata.annotations.…`` or ``spec.predictor.annotations.…``), as Knative's paths do.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping

from zeroserve.config import (
    AutoscalerConfig,
    ConfigError,
    ConfigErrors,
    PredictorScaling,
    annotation_warnings,
    effective_spec,
)
from zeroserve.resource.container_checks import Findings
from zeroserve.resource.errors import Notice, Problem
from zeroserve.resource.schema import InferenceServiceSchema, PredictorSchema

METADATA_ANNOTATIONS = "metadata.annotations"
PREDICTOR_ANNOTATIONS = "spec.predictor.annotations"
SCALE_METRIC_FIELD = "spec.predictor.scaleMetric"
METRICS = ("concurrency", "rps")  # the KPA's, as zeroserve.config checks them


def predictor_scaling(predictor: PredictorSchema) -> PredictorScaling:
    return PredictorScaling(
        min_replicas=predictor.minReplicas,
        max_replicas=predictor.maxReplicas,
        scale_target=predictor.scaleTarget,
        scale_metric=predictor.scaleMetric,
        container_concurrency=predictor.containerConcurrency,
        timeout_seconds=predictor.timeout,
    )


def annotation_origins(schema: InferenceServiceSchema) -> dict[str, str]:
    """Each annotation key → where its effective value was written (the predictor's wins)."""
    origins = {key: METADATA_ANNOTATIONS for key in schema.metadata.annotations or {}}
    origins.update({key: PREDICTOR_ANNOTATIONS for key in schema.spec.predictor.annotations or {}})
    return origins


def merged_annotations(schema: InferenceServiceSchema) -> dict[str, str]:
    """KServe's order: the service's annotations, then the predictor's (later wins)."""
    return {**(schema.metadata.annotations or {}), **(schema.spec.predictor.annotations or {})}


def check_scaling(schema: InferenceServiceSchema, config: AutoscalerConfig) -> Findings:
    found = Findings()
    annotations = merged_annotations(schema)
    origins = annotation_origins(schema)
    try:
        effective_spec(config, annotations, predictor_scaling(schema.spec.predictor))
    except ConfigError as error:
        errors = error.errors if isinstance(error, ConfigErrors) else (error,)
        found.problems.extend(_problem(e, origins) for e in errors)
    for warning in annotation_warnings(annotations):
        found.notices.append(Notice(_where(warning.field, origins), warning.message))
    return found


def _problem(error: ConfigError, origins: Mapping[str, str]) -> Problem:
    field = _where(error.field, origins)
    if error.standalone:
        return Problem(field, error.text)
    text = f"{error.message}: {', '.join(_where(p, origins) for p in error.paths)}"
    if error.allowed:
        text += f"; allowed: {error.allowed}"
    if error.field == SCALE_METRIC_FIELD and isinstance(error.value, str):
        close = difflib.get_close_matches(error.value, METRICS, n=1)
        if close:
            text += f'; did you mean "{close[0]}"?'
    return Problem(field, text)


def _where(path: str, origins: Mapping[str, str]) -> str:
    """Prefix a path that starts with an annotation key with where the key was written."""
    for key in sorted(origins, key=len, reverse=True):
        if path == key or path.startswith((f"{key} ", f"{key}=")):
            return f"{origins[key]}.{path}"
    return path
