"""Helpers for the all-in-one tests: manifests of the echo predictor, written as users
write them (a Zeroserve InferenceService with a local command), with the knobs a test
turns (annotations, predictor fields, extra arguments)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
ECHO_SERVER = str(EXAMPLES / "echo" / "server.py")


def echo_manifest(
    name: str = "echo",
    *,
    args: Sequence[str] = (),
    annotations: Mapping[str, str] | None = None,
    predictor: Mapping[str, Any] | None = None,
    container: Mapping[str, Any] | None = None,
) -> str:
    """The echo predictor as ``name`` in ``default``, at zero, V2 (``PROTOCOL``), with
    ``args`` after its own; ``predictor``/``container`` fields are merged in."""
    body: dict[str, Any] = {
        "apiVersion": "serving.zeroserve.io/v1alpha1",
        "kind": "InferenceService",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "predictor": {
                "minReplicas": 0,
                "containers": [
                    {
                        "name": "kserve-container",
                        "command": [
                            "python",
                            ECHO_SERVER,
                            "--port",
                            "{port}",
                            "--model-name",
                            name,
                            *args,
                        ],
                        "env": [{"name": "PROTOCOL", "value": "v2"}],
                        **(container or {}),
                    }
                ],
                **(predictor or {}),
            }
        },
    }
    if annotations:
        body["metadata"]["annotations"] = dict(annotations)
    return yaml.safe_dump(body, sort_keys=False)


def revision(name: str = "echo", number: int = 1) -> str:
    return f"{name}-predictor-{number:05d}"


def host(name: str = "echo") -> str:
    return f"{name}.default.example.com"


def infer_path(name: str = "echo", query: str = "") -> str:
    return f"/v2/models/{name}/infer" + (f"?{query}" if query else "")


INFER_BODY: dict[str, Any] = {
    "inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1.0]}]
}
