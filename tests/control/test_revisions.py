"""Revision specs: what runs, its identity hash, names, and why a revision cannot run."""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

import pytest
import yaml

from tests.control import ECHO_DIR, iris, service
from zeroserve.config import AutoscalerConfig
from zeroserve.config.server_config import (
    SKLEARN_RUNTIME,
    ModelRuntime,
    ServerConfig,
    StorageMapping,
)
from zeroserve.control.revisions import RevisionSpec, build_revision, revision_name
from zeroserve.resource import InferenceService
from zeroserve.runtime.base import Probe

PY = "/opt/python/bin/python3.12"
IRIS_URI = "gs://kfserving-examples/models/sklearn/1.0/model"
MAPPED = ServerConfig(storage_uri_map=(StorageMapping(IRIS_URI, "/models/iris"),))

BASE: dict[str, Any] = {
    "apiVersion": "serving.zeroserve.io/v1alpha1",
    "kind": "InferenceService",
    "metadata": {"name": "echo", "annotations": {"autoscaling.knative.dev/target": "5"}},
    "spec": {
        "predictor": {
            "minReplicas": 0,
            "containers": [
                {
                    "command": ["python", "server.py", "--port", "{port}"],
                    "env": [{"name": "PROTOCOL", "value": "v2"}],
                }
            ],
        }
    },
}
MODEL: dict[str, Any] = {
    "apiVersion": "serving.kserve.io/v1beta1",
    "kind": "InferenceService",
    "metadata": {"name": "iris"},
    "spec": {
        "predictor": {
            "model": {"modelFormat": {"name": "sklearn"}, "storageUri": IRIS_URI},
        }
    },
}


def build(body: dict[str, Any], config: ServerConfig = MAPPED) -> RevisionSpec:
    return build_revision(service(yaml.safe_dump(body)), config, python=PY)


def changed(body: dict[str, Any], path: str, value: object) -> dict[str, Any]:
    """A deep copy of ``body`` with ``value`` set at the dotted ``path`` (``[0]`` indexes)."""
    out = copy.deepcopy(body)
    parts = path.replace("[", ".").replace("]", "").split(".")
    node: Any = out
    for part in parts[:-1]:
        node = node[int(part)] if part.isdigit() else node.setdefault(part, {})
    last = parts[-1]
    if last.isdigit():
        node[int(last)] = value
    else:
        node[last] = value
    return out


def test_revision_names_follow_knative() -> None:
    assert revision_name("iris", 1) == "iris-predictor-00001"
    assert revision_name("iris", 2) == "iris-predictor-00002"
    assert revision_name("my-model", 123456) == "my-model-predictor-123456"


def test_a_local_command_runs_from_the_manifest_folder() -> None:
    spec = build(BASE)
    assert spec.failed is None and spec.warnings == ()
    assert (spec.namespace, spec.service) == ("default", "echo")
    template = spec.template
    assert template is not None
    assert template.argv == (PY, "server.py", "--port", "{port}")  # python → the interpreter
    assert template.cwd == str(ECHO_DIR)
    assert template.env == (("PROTOCOL", "v2"),)
    assert (template.protocol, template.model_name) == ("v2", "echo")
    assert (template.timeout, template.progress_deadline) == (300.0, 600.0)
    assert template.termination_grace == 30.0
    assert (template.readiness, template.liveness) == (None, None)


@pytest.mark.parametrize("program", ["python", "python3"])
def test_python_means_the_running_interpreter(program: str) -> None:
    spec = build(changed(BASE, "spec.predictor.containers[0].command[0]", program))
    assert spec.template is not None and spec.template.argv[0] == PY
    other = build(changed(BASE, "spec.predictor.containers[0].command[0]", "python2"))
    assert other.template is not None and other.template.argv[0] == "python2"


def test_scaling_knobs_reach_the_template() -> None:
    body = changed(BASE, "spec.predictor.timeout", 30)
    deadline = {"serving.knative.dev/progress-deadline": "90s"}
    body = changed(body, "metadata.annotations", deadline)
    template = build(body).template
    assert template is not None
    assert (template.timeout, template.progress_deadline) == (30.0, 90.0)


def test_the_sklearn_runtime_with_a_mapped_uri() -> None:
    spec = build(MODEL)
    assert spec.failed is None, spec.failed
    assert spec.template is not None
    assert spec.template.argv == (
        SKLEARN_RUNTIME.command[0],  # already the interpreter: not rewritten
        "-m",
        "zeroserve.predictors.sklearn_server",
        "--port",
        "{port}",
        "--model-name",
        "iris",
        "--model-dir",
        "/models/iris",
        "--protocol",
        "v1",
    )
    assert (spec.template.protocol, spec.template.model_name, spec.template.cwd) == (
        "v1",
        "iris",
        None,
    )
    v2 = build(changed(MODEL, "spec.predictor.model.protocolVersion", "v2"))
    assert v2.template is not None and v2.template.argv[-1] == "v2"
    assert v2.template.protocol == "v2"


def test_the_model_container_overrides_the_runtime_command() -> None:
    body = changed(MODEL, "spec.predictor.model.args", ["--workers", "2"])
    spec = build(body)
    assert spec.template is not None and spec.template.argv[-2:] == ("--workers", "2")
    body = changed(MODEL, "spec.predictor.model.command", ["python", "serve.py", "{model_dir}"])
    spec = build(body)
    assert spec.template is not None and spec.template.argv == (PY, "serve.py", "/models/iris")


@pytest.mark.parametrize(
    ("uri", "model_dir"),
    [
        ("file:///srv/models/iris", "/srv/models/iris"),
        ("/srv/models/iris", "/srv/models/iris"),
        (f"{IRIS_URI}/v2", "/models/iris/v2"),
    ],
)
def test_local_and_mapped_storage(uri: str, model_dir: str) -> None:
    spec = build(changed(MODEL, "spec.predictor.model.storageUri", uri))
    assert spec.template is not None and spec.template.argv[8] == model_dir


@pytest.mark.parametrize(
    ("body", "config", "reason"),
    [
        (
            changed(MODEL, "spec.predictor.model.modelFormat.name", "xgboost"),
            MAPPED,
            'no local runtime for model format "xgboost"; known: sklearn',
        ),
        (
            MODEL,
            ServerConfig(),
            f"storageUri {IRIS_URI} has no local folder: add it to storageUriMap in zeroserve.yaml",
        ),
        (
            changed(MODEL, "spec.predictor.model.modelFormat.name", "xgboost"),
            ServerConfig(),
            'no local runtime for model format "xgboost"; known: sklearn; '
            f"storageUri {IRIS_URI} has no local folder: add it to storageUriMap in zeroserve.yaml",
        ),
        (
            changed(MODEL, "spec.predictor.model.storageUri", None),
            MAPPED,
            'model format "sklearn" needs a storageUri: its runtime command uses {model_dir}',
        ),
        (
            changed(MODEL, "spec.predictor.model.protocolVersion", "v2"),
            replace(MAPPED, runtimes=(replace(SKLEARN_RUNTIME, protocols=("v1",)),)),
            'the local runtime for model format "sklearn" speaks v1, not v2 '
            "(add v2 to runtimes.sklearn.protocols in zeroserve.yaml if it does)",
        ),
        (
            {
                "apiVersion": "serving.kserve.io/v1beta1",
                "kind": "InferenceService",
                "metadata": {"name": "custom"},
                "spec": {"predictor": {"containers": [{"image": "kserve/custom-model:v1"}]}},
            },
            MAPPED,
            'container kserve-container has no command (image "kserve/custom-model:v1"): '
            "the local runtime runs a command, not an image; add "
            "spec.predictor.containers[0].command",
        ),
        (
            changed(BASE, "spec.predictor.maxReplicas", 5),
            replace(MAPPED, autoscaler=AutoscalerConfig(max_scale_limit=3)),
            "expected 1 <= 5 <= 3: spec.predictor.maxReplicas",
        ),
    ],
    ids=[
        "no-runtime",
        "unmapped-uri",
        "both",
        "no-uri",
        "protocol",
        "image-only",
        "config-refuses-knobs",
    ],
)
def test_revisions_that_cannot_run_here_say_why(
    body: dict[str, Any], config: ServerConfig, reason: str
) -> None:
    spec = build(body, config)
    assert spec.template is None and not spec.runnable
    assert spec.failed == reason


def test_probes() -> None:
    container = "spec.predictor.containers[0]"
    body = changed(
        BASE,
        f"{container}.readinessProbe",
        {"httpGet": {"path": "/healthz"}, "periodSeconds": 2, "initialDelaySeconds": 1},
    )
    body = changed(body, f"{container}.livenessProbe", {"tcpSocket": {"port": 8080}})
    spec = build(body)
    assert spec.template is not None
    assert spec.template.readiness == Probe(
        "/healthz", initial_delay=1.0, period=2.0, timeout=1.0, failure_threshold=3
    )
    assert spec.template.liveness is None
    assert spec.warnings == (
        f"{container}.livenessProbe.tcpSocket is not run by the local runtime; it probes "
        "GET /v2/health/ready (the v2 default) instead",
    )
    body = changed(MODEL, "spec.predictor.model.readinessProbe", {"exec": {"command": ["true"]}})
    assert build(body).warnings == (
        "spec.predictor.model.readinessProbe.exec is not run by the local runtime; it probes "
        "GET /v1/models/iris (the v1 default) instead",
    )


def test_env_value_from_is_not_resolved_locally() -> None:
    env = [
        {"name": "PROTOCOL", "value": "v2"},
        {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
    ]
    spec = build(changed(BASE, "spec.predictor.containers[0].env", env))
    assert spec.template is not None and spec.template.env == (("PROTOCOL", "v2"),)
    assert spec.warnings == (
        "spec.predictor.containers[0].env[1].valueFrom (TOKEN) is not resolved by the local "
        "runtime: the variable is not set",
    )


# -- identity -------------------------------------------------------------------------

WHAT_RUNS = [
    ("spec.predictor.containers[0].args", ["--model-name", "e2"]),
    ("spec.predictor.containers[0].command[1]", "other.py"),
    ("spec.predictor.containers[0].image", "echo:v2"),
    ("spec.predictor.containers[0].env[0].value", "v1"),
    ("spec.predictor.containers[0].resources", {"limits": {"cpu": "1"}}),
    ("spec.predictor.containers[0].readinessProbe", {"httpGet": {"path": "/ready"}}),
    ("spec.predictor.containers[0].workingDir", "sub"),
    ("spec.predictor.nodeSelector", {"gpu": "yes"}),
]
NOT_WHAT_RUNS = [
    ("spec.predictor.minReplicas", 3),
    ("spec.predictor.maxReplicas", 9),
    ("spec.predictor.scaleTarget", 7),
    ("spec.predictor.scaleMetric", "rps"),
    ("spec.predictor.containerConcurrency", 4),
    ("spec.predictor.timeout", 60),
    ("spec.predictor.canaryTrafficPercent", 10),
    ("metadata.annotations", {"autoscaling.knative.dev/window": "120s"}),
    ("metadata.labels", {"team": "ml"}),
    ("spec.predictor.annotations", {"autoscaling.knative.dev/target-burst-capacity": "0"}),
]


def identity(body: dict[str, Any], config: ServerConfig = MAPPED) -> str:
    return build(body, config).identity


def test_the_identity_is_a_stable_hash() -> None:
    first = identity(BASE)
    assert first == identity(copy.deepcopy(BASE))
    assert len(first) == 16 and int(first, 16) >= 0


@pytest.mark.parametrize(("path", "value"), WHAT_RUNS, ids=[p for p, _ in WHAT_RUNS])
def test_the_identity_changes_with_what_runs(path: str, value: object) -> None:
    assert identity(changed(BASE, path, value)) != identity(BASE)


@pytest.mark.parametrize(("path", "value"), NOT_WHAT_RUNS, ids=[p for p, _ in NOT_WHAT_RUNS])
def test_the_identity_ignores_scaling_knobs(path: str, value: object) -> None:
    assert identity(changed(BASE, path, value)) == identity(BASE)


@pytest.mark.parametrize(
    ("body", "config"),
    [
        (changed(MODEL, "spec.predictor.model.storageUri", "gs://other/model"), MAPPED),
        (changed(MODEL, "spec.predictor.model.modelFormat.version", "1"), MAPPED),
        (changed(MODEL, "spec.predictor.model.protocolVersion", "v2"), MAPPED),
        (MODEL, replace(MAPPED, storage_uri_map=(StorageMapping(IRIS_URI, "/elsewhere"),))),
        (
            MODEL,
            replace(MAPPED, runtimes=(ModelRuntime("sklearn", ("sk", "{model_dir}"), ("v1",)),)),
        ),
        (MODEL, replace(MAPPED, runtimes=())),
    ],
    ids=[
        "storage-uri",
        "format-version",
        "protocol",
        "storage-map",
        "runtime-command",
        "no-runtime",
    ],
)
def test_a_model_identity_follows_its_storage_and_runtime(
    body: dict[str, Any], config: ServerConfig
) -> None:
    assert identity(body, config) != identity(MODEL, MAPPED)


def test_the_identity_ignores_config_that_does_not_change_what_runs() -> None:
    base = identity(MODEL, MAPPED)
    other = replace(
        MAPPED,
        domain="models.internal",
        autoscaler=AutoscalerConfig(stable_window=30.0),
        revision_history_limit=5,
        runtimes=(*MAPPED.runtimes, ModelRuntime("xgboost", ("xgb",))),
    )
    assert identity(MODEL, other) == base


def test_the_identity_does_not_depend_on_the_interpreter() -> None:
    svc = service(yaml.safe_dump(BASE))
    one, two = (
        build_revision(svc, MAPPED, python="/a/python"),
        build_revision(svc, MAPPED, python="/b/python"),
    )
    assert one.template is not None and two.template is not None
    assert one.template.argv[0] != two.template.argv[0]
    assert one.identity == two.identity


def test_the_identity_does_not_depend_on_the_service_object() -> None:
    one: InferenceService = iris()
    two = replace(one, source="elsewhere.yaml (document 3)")
    assert build_revision(one, MAPPED).identity == build_revision(two, MAPPED).identity
