"""KServe's defaulting webhook: framework shorthands → ``model``, protocols, container names."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from zeroserve.config import AutoscalerConfig
from zeroserve.resource import InferenceService, Outcome, parse_text

CONFIG = AutoscalerConfig()
SHORTHANDS = [
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
]
V2_BY_DEFAULT = {"triton", "onnx", "huggingface"}


def service(predictor: dict[str, Any]) -> InferenceService:
    doc = {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": "m"},
        "spec": {"predictor": predictor},
    }
    (verdict,) = parse_text(yaml.safe_dump(doc), CONFIG)
    assert verdict.outcome is Outcome.OK, verdict.problems
    assert verdict.service is not None
    return verdict.service


@pytest.mark.parametrize("framework", SHORTHANDS)
def test_every_shorthand_becomes_model(framework: str) -> None:
    spec = {
        "storageUri": f"gs://bucket/{framework}",
        "runtimeVersion": "1.2.3",
        "args": ["--workers=2"],
        "env": [{"name": "A", "value": "1"}],
        "resources": {"limits": {"cpu": 1, "memory": "1Gi"}},
    }
    predictor = service({framework: spec}).predictor
    model = predictor.model
    assert model is not None
    assert model.format == framework
    assert model.written_as == framework
    assert model.storage_uri == f"gs://bucket/{framework}"
    assert model.runtime_version == "1.2.3"
    assert model.format_version is None and model.runtime is None
    assert model.container.name == "kserve-container"
    assert model.container.args == ("--workers=2",)
    assert model.container.env_value("A") == "1"
    assert dict(model.container.resources.limits) == {"cpu": "1", "memory": "1Gi"}
    assert predictor.containers == ()
    assert predictor.container is model.container
    expected = "v2" if framework in V2_BY_DEFAULT else None
    assert model.protocol_version == expected
    assert predictor.protocol == (expected or "v1")


@pytest.mark.parametrize("framework", sorted(V2_BY_DEFAULT))
def test_a_written_protocol_wins_over_the_v2_default(framework: str) -> None:
    model = service({framework: {"protocolVersion": "v1"}}).predictor.model
    assert model is not None and model.protocol_version == "v1"


@pytest.mark.parametrize(
    ("format_name", "expected"),
    [("triton", "v2"), ("vllm", "v2"), ("onnx", None), ("huggingface", None), ("sklearn", None)],
)
def test_model_defaults_v2_for_triton_and_vllm_only(format_name: str, expected: str | None) -> None:
    model = service({"model": {"modelFormat": {"name": format_name}}}).predictor.model
    assert model is not None
    assert model.written_as == "model"
    assert model.protocol_version == expected


def test_model_fields() -> None:
    model_spec = {
        "modelFormat": {"name": "sklearn", "version": "1"},
        "runtime": "kserve-sklearnserver",
        "protocolVersion": "v2",
        "storageUri": "gs://bucket/m",
    }
    model = service({"model": model_spec}).predictor.model
    assert model is not None
    assert (model.format, model.format_version, model.runtime) == (
        "sklearn",
        "1",
        "kserve-sklearnserver",
    )
    assert (model.protocol_version, model.storage_uri) == ("v2", "gs://bucket/m")


def test_a_single_custom_container_is_named_kserve_container() -> None:
    predictor = service({"containers": [{"name": "torchserve-container", "image": "x"}]}).predictor
    assert predictor.model is None
    assert [c.name for c in predictor.containers] == ["kserve-container"]
    assert predictor.protocol == "v1"


def test_a_custom_container_declares_its_protocol_with_env() -> None:
    container = {"image": "x", "env": [{"name": "PROTOCOL", "value": "v2"}]}
    assert service({"containers": [container]}).predictor.protocol == "v2"
