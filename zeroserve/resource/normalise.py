"""KServe's defaulting of the predictor's implementation, as its mutating webhook does it.

A legacy framework shorthand (``sklearn: {storageUri: …}``) becomes ``model`` with
``modelFormat.name`` set to the framework, its fields moved over unchanged; triton, onnx
and huggingface get ``protocolVersion: v2`` when none is written (``assign*Runtime`` in
``inference_service_defaults.go``), and so does ``model`` with format triton or vllm.
A custom predictor's only (or first, unnamed) container is named ``kserve-container``.
Exactly-one checking is in ``predictor_checks``; this module assumes it passed.
"""

from __future__ import annotations

from dataclasses import dataclass

from zeroserve.resource.model import PREDICTOR_CONTAINER, PROTOCOL_V2
from zeroserve.resource.schema import ContainerSchema, FrameworkSchema, ModelSchema, PredictorSchema

# In PredictorSpec's field order.
LEGACY_FRAMEWORKS = (
    "sklearn",
    "xgboost",
    "tensorflow",
    "pytorch",
    "triton",
    "onnx",
    "huggingface",
    "pmml",
    "lightgbm",
    "paddle",
)
V2_BY_DEFAULT_SHORTHANDS = frozenset({"triton", "onnx", "huggingface"})
V2_BY_DEFAULT_FORMATS = frozenset({"triton", "vllm"})
TRANSFORMER_CONTAINER = "transformer-container"


@dataclass(frozen=True, slots=True)
class NormalisedModel:
    """A model predictor in its ``model`` form; ``written_as`` keeps the field the user wrote."""

    written_as: str  # "model" or a shorthand, e.g. "sklearn"
    format: str
    format_version: str | None
    runtime: str | None
    protocol_version: str | None
    spec: FrameworkSchema


def frameworks_present(predictor: PredictorSchema) -> list[str]:
    """The shorthands written, in PredictorSpec's order."""
    return [name for name in LEGACY_FRAMEWORKS if getattr(predictor, name) is not None]


def normalise_model(predictor: PredictorSchema) -> NormalisedModel | None:
    """The one model implementation (shorthand or ``model``) in ``model`` form, or None."""
    for name in frameworks_present(predictor):
        spec: FrameworkSchema = getattr(predictor, name)
        return normalise_shorthand(name, spec)
    if predictor.model is not None:
        return normalise_model_spec(predictor.model)
    return None


def normalise_shorthand(name: str, spec: FrameworkSchema) -> NormalisedModel:
    protocol = spec.protocolVersion
    if protocol is None and name in V2_BY_DEFAULT_SHORTHANDS:
        protocol = PROTOCOL_V2
    return NormalisedModel(
        written_as=name,
        format=name,
        format_version=None,
        runtime=None,
        protocol_version=protocol,
        spec=spec,
    )


def normalise_model_spec(model: ModelSchema) -> NormalisedModel:
    protocol = model.protocolVersion
    if protocol is None and model.modelFormat.name in V2_BY_DEFAULT_FORMATS:
        protocol = PROTOCOL_V2
    return NormalisedModel(
        written_as="model",
        format=model.modelFormat.name,
        format_version=model.modelFormat.version,
        runtime=model.runtime,
        protocol_version=protocol,
        spec=model,
    )


def container_names(containers: list[ContainerSchema]) -> list[str]:
    """Names after KServe's ``CustomPredictor.Default``: with one container, or an unnamed
    first one, the first is ``kserve-container`` (a single container's own name is replaced)."""
    names = [c.name or "" for c in containers]
    if names and (len(names) == 1 or not names[0]):
        names[0] = PREDICTOR_CONTAINER
    return names
