"""Every refusal, with the exact text a user reads (field path, value, what is allowed)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from zeroserve.config import AutoscalerConfig
from zeroserve.resource import (
    KSERVE_API_VERSION,
    ZEROSERVE_API_VERSION,
    Outcome,
    RefusedError,
    Verdict,
    parse_text,
)

CONFIG = AutoscalerConfig()
SKLEARN = {"sklearn": {"storageUri": "gs://bucket/model"}}
CUSTOM = {"containers": [{"name": "kserve-container", "image": "example/server:1"}]}


def manifest(
    predictor: dict[str, Any] | None = None,
    *,
    name: str = "iris",
    api: str = KSERVE_API_VERSION,
    metadata: dict[str, Any] | None = None,
    spec: dict[str, Any] | None = None,
) -> str:
    doc = {
        "apiVersion": api,
        "kind": "InferenceService",
        "metadata": {"name": name, **(metadata or {})},
        "spec": {"predictor": SKLEARN if predictor is None else predictor, **(spec or {})},
    }
    return yaml.safe_dump(doc, sort_keys=False)


def verdict(text: str, config: AutoscalerConfig = CONFIG) -> Verdict:
    (only,) = parse_text(text, config, path="t.yaml")
    return only


def problems(text: str, config: AutoscalerConfig = CONFIG) -> list[str]:
    found = verdict(text, config)
    assert found.outcome is Outcome.REFUSED, found
    assert found.service is None
    return [p.text for p in found.problems]


def one(text: str, config: AutoscalerConfig = CONFIG) -> str:
    (only,) = problems(text, config)
    return only


# -- components beyond the subset ------------------------------------------------------


def test_transformer() -> None:
    text = manifest(spec={"transformer": {"containers": [{"image": "t"}]}})
    assert one(text) == (
        "transformers are not supported (Zeroserve serves the predictor only): spec.transformer"
    )


def test_explainer() -> None:
    text = manifest(spec={"explainer": {"alibi": {"type": "AnchorTabular"}}})
    assert one(text) == (
        "explainers are not supported (Zeroserve serves the predictor only): spec.explainer"
    )


def test_spec_canary_uses_kserves_text() -> None:
    text = manifest(spec={"canary": [{"name": "v2"}]})
    assert one(text) == (
        "canary is only supported in Standard deployment mode: spec.canary; "
        "allowed: spec.predictor.canaryTrafficPercent (the serverless canary)"
    )


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("logger", {"mode": "all"}, "payload logging is not supported: spec.predictor.logger"),
        (
            "batcher",
            {"maxBatchSize": 16},
            "request batching is not supported: spec.predictor.batcher",
        ),
        (
            "workerSpec",
            {"pipelineParallelSize": 2},
            "multi-node workers are not supported: spec.predictor.workerSpec",
        ),
        (
            "storageUris",
            [{"uri": "s3://a"}],
            "multiple storage URIs are not supported: spec.predictor.storageUris; "
            "allowed: storageUri",
        ),
        (
            "deploymentStrategy",
            {"type": "RollingUpdate"},
            "customizing deploymentStrategy is only supported for raw deployment mode: "
            "spec.predictor.deploymentStrategy",
        ),
        (
            "autoScaling",
            {"metrics": []},
            "autoScaling (HPA and KEDA metrics) is only supported for raw deployment mode: "
            "spec.predictor.autoScaling; allowed: scaleMetric, scaleTarget and "
            "autoscaling.knative.dev/* annotations",
        ),
        (
            "name",
            "blue",
            "named predictors are not supported (a name renames the component to "
            "<isvc>-<name>-predictor): spec.predictor.name",
        ),
    ],
)
def test_predictor_fields_beyond_the_subset(field: str, value: object, expected: str) -> None:
    assert one(manifest({**SKLEARN, field: value})) == expected


def test_storage_spec() -> None:
    text = manifest({"sklearn": {"storage": {"key": "minio", "path": "sklearn"}}})
    assert one(text) == (
        "storage specs (a storage secret key) are not supported: spec.predictor.sklearn.storage;"
        " allowed: storageUri"
    )


# -- deployment mode -------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["Standard", "RawDeployment", "ModelMesh", "serverless"])
def test_deployment_modes_other_than_serverless(mode: str) -> None:
    text = manifest(metadata={"annotations": {"serving.kserve.io/deploymentMode": mode}})
    assert one(text) == (
        f'deploymentMode "{mode}" is not supported: '
        "metadata.annotations.serving.kserve.io/deploymentMode; allowed: Serverless, Knative "
        "or no annotation (Zeroserve runs KServe's serverless mode)"
    )


@pytest.mark.parametrize("mode", ["Serverless", "Knative"])
def test_serverless_modes_are_accepted(mode: str) -> None:
    text = manifest(metadata={"annotations": {"serving.kserve.io/deploymentMode": mode}})
    assert verdict(text).outcome is Outcome.OK


def test_autoscaler_class_kserve_text() -> None:
    text = manifest(metadata={"annotations": {"serving.kserve.io/autoscalerClass": "kpa"}})
    assert one(text) == (
        "[kpa] is not a supported autoscaler class type: "
        "metadata.annotations.serving.kserve.io/autoscalerClass; "
        "allowed: hpa, external, none, keda (used in Standard mode only)"
    )


# -- gRPC ------------------------------------------------------------------------------


def test_h2c_port() -> None:
    container = {
        "name": "kserve-container",
        "image": "kserve/custom-model-grpc:latest",
        "ports": [{"name": "h2c", "protocol": "TCP", "containerPort": 8081}],
    }
    assert one(manifest({"containers": [container]})) == (
        "gRPC/h2c is not served yet: spec.predictor.containers[0].ports[0].name=h2c; "
        "allowed: no name, or http1 (HTTP/1.1)"
    )


@pytest.mark.parametrize("protocol", ["grpc-v1", "grpc-v2"])
def test_grpc_protocol_version(protocol: str) -> None:
    text = manifest({"model": {"modelFormat": {"name": "sklearn"}, "protocolVersion": protocol}})
    assert one(text) == (
        f"gRPC/h2c is not served yet: spec.predictor.model.protocolVersion={protocol}; "
        "allowed: v1, v2"
    )


def test_grpc_protocol_version_names_the_shorthand_as_written() -> None:
    text = manifest({"triton": {"storageUri": "gs://b/m", "protocolVersion": "grpc-v2"}})
    assert one(text) == (
        "gRPC/h2c is not served yet: spec.predictor.triton.protocolVersion=grpc-v2; allowed: v1, v2"
    )


def test_unknown_protocol_version() -> None:
    text = manifest({"sklearn": {"protocolVersion": "v3"}})
    assert one(text) == (
        'invalid value: "v3": spec.predictor.sklearn.protocolVersion; '
        "allowed: v1, v2 (grpc-v1, grpc-v2: gRPC is not served yet)"
    )


def test_custom_protocol_env_grpc() -> None:
    container = {**CUSTOM["containers"][0], "env": [{"name": "PROTOCOL", "value": "grpc-v2"}]}
    assert one(manifest({"containers": [container]})) == (
        "gRPC/h2c is not served yet: spec.predictor.containers[0].env[0].value=grpc-v2; "
        "allowed: v1, v2"
    )


def test_custom_protocol_env_invalid_kserve_text_in_the_right_order() -> None:
    container = {**CUSTOM["containers"][0], "env": [{"name": "PROTOCOL", "value": "v9"}]}
    assert one(manifest({"containers": [container]})) == (
        "invalid protocol v9. Must be one of [v1, v2]: spec.predictor.containers[0].env[0].value"
    )


def test_grpc_probe() -> None:
    text = manifest({"sklearn": {"readinessProbe": {"grpc": {"port": 8081}}}})
    assert one(text) == (
        "gRPC/h2c is not served yet: spec.predictor.sklearn.readinessProbe.grpc; "
        "allowed: httpGet, tcpSocket or exec"
    )


# -- KServe's webhook rules ------------------------------------------------------------

EXACTLY_ONE = (
    "exactly one of [SKLearn, XGBoost, Tensorflow, PyTorch, Triton, ONNX, HuggingFace, PMML, "
    "LightGBM, Paddle, Model, StorageUris, WorkerSpec, PodSpec] must be specified in "
    "PredictorSpec"
)
EXACTLY_ONE_ALLOWED = (
    "allowed: one of model, containers (a custom predictor) or a framework shorthand "
    "(sklearn, xgboost, tensorflow, pytorch, triton, onnx, huggingface, pmml, lightgbm, paddle)"
)


def test_exactly_one_none() -> None:
    assert one(manifest({"minReplicas": 0})) == (
        f"{EXACTLY_ONE}: spec.predictor; {EXACTLY_ONE_ALLOWED}"
    )


def test_exactly_one_two_shorthands() -> None:
    text = manifest({**SKLEARN, "xgboost": {"storageUri": "gs://b/x"}})
    assert one(text) == (
        f"{EXACTLY_ONE}: spec.predictor.sklearn, spec.predictor.xgboost; {EXACTLY_ONE_ALLOWED}"
    )


def test_exactly_one_model_and_predictor_container() -> None:
    text = manifest({"model": {"modelFormat": {"name": "sklearn"}}, **CUSTOM})
    assert one(text) == (
        f"{EXACTLY_ONE}: spec.predictor.model, spec.predictor.containers[0]; {EXACTLY_ONE_ALLOWED}"
    )


def test_name_on_a_framework_predictor() -> None:
    text = manifest({"sklearn": {"protocolVersion": "v1", "name": "sklearn-iris-predictor"}})
    assert one(text) == (
        "the 'name' field is not allowed in standard predictor: "
        "spec.predictor.sklearn.name=sklearn-iris-predictor; "
        "allowed: no name (a model's container is always kserve-container)"
    )


def test_name_on_a_model_predictor_even_kserve_container() -> None:
    text = manifest({"model": {"modelFormat": {"name": "onnx"}, "name": "kserve-container"}})
    assert one(text) == (
        "the 'name' field is not allowed in standard predictor: "
        "spec.predictor.model.name=kserve-container; "
        "allowed: no name (a model's container is always kserve-container)"
    )


def test_pythonpath_in_a_custom_container() -> None:
    container = {
        "image": "x",
        "env": [{"name": "A", "value": "1"}, {"name": "PYTHONPATH", "value": "/x"}],
    }
    assert one(manifest({"containers": [container]})) == (
        'the InferenceService "iris" is invalid: setting PYTHONPATH in container '
        '"kserve-container" is not allowed for security reasons: '
        "spec.predictor.containers[0].env[1].name"
    )


def test_pythonpath_in_a_model_container() -> None:
    text = manifest({"sklearn": {"env": [{"name": "PYTHONPATH", "value": "/x"}]}})
    assert one(text) == (
        'the InferenceService "iris" is invalid: setting PYTHONPATH in container "" is not '
        "allowed for security reasons: spec.predictor.sklearn.env[0].name"
    )


def test_pythonpath_in_an_init_container() -> None:
    init = [{"name": "fetch", "image": "busybox", "env": [{"name": "PYTHONPATH", "value": "/"}]}]
    assert one(manifest({**SKLEARN, "initContainers": init})) == (
        'the InferenceService "iris" is invalid: setting PYTHONPATH in container "fetch" is not '
        "allowed for security reasons: spec.predictor.initContainers[0].env[0].name"
    )


@pytest.mark.parametrize("name", ["Iris", "1iris", "iris-", "iris_v2", "iris.v2"])
def test_name_regex(name: str) -> None:
    assert one(manifest(name=name)) == (
        f'the InferenceService "{name}" is invalid: a InferenceService name must consist of '
        "lower case alphanumeric characters or '-', and must start with alphabetical character. "
        '(e.g. "my-name" or "abc-123", regex used for validation is '
        "'[a-z]([-a-z0-9]*[a-z0-9])?'): metadata.name"
    )


def test_namespace_must_be_a_dns_label() -> None:
    text = manifest(metadata={"namespace": "<namespace>"})
    assert one(text) == (
        'invalid value: "<namespace>": metadata.namespace; allowed: a lowercase RFC 1123 '
        "label: at most 63 lower case alphanumeric characters or '-', starting and ending with "
        "an alphanumeric character (regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
    )


# -- ranges: Zeroserve's and those zeroserve.config checks ------------------------------


@pytest.mark.parametrize("percent", [-1, 101])
def test_canary_traffic_percent_range(percent: int) -> None:
    text = manifest({**SKLEARN, "canaryTrafficPercent": percent})
    assert one(text) == f"expected 0 <= {percent} <= 100: spec.predictor.canaryTrafficPercent"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {"minReplicas": -1},
            "'MinReplicas' cannot be less than 0: spec.predictor.minReplicas=-1; "
            "allowed: an integer >= 0 (0: scale to zero)",
        ),
        (
            {"minReplicas": 3, "maxReplicas": 2},
            "'MinReplicas' cannot be greater than MaxReplicas: spec.predictor.minReplicas=3; "
            "allowed: at most spec.predictor.maxReplicas (2)",
        ),
        ({"timeout": 601}, "expected 1 <= 601 <= 600: spec.predictor.timeout"),
        (
            {"containerConcurrency": 1001},
            "expected 0 <= 1001 <= 1000: spec.predictor.containerConcurrency",
        ),
        (
            {"scaleMetric": "qps", "scaleTarget": 1},
            "[qps] is not a supported metric: spec.predictor.scaleMetric; allowed: concurrency, "
            'rps (cpu and memory need an HPA; Zeroserve runs the KPA); did you mean "rps"?',
        ),
    ],
)
def test_scaling_fields(fields: dict[str, Any], expected: str) -> None:
    assert one(manifest({**SKLEARN, **fields})) == expected


def test_scaling_annotation_names_where_it_was_written() -> None:
    meta = {"annotations": {"autoscaling.knative.dev/target": "abc"}}
    assert one(manifest(metadata=meta)) == (
        "invalid value: abc: metadata.annotations.autoscaling.knative.dev/target; "
        "allowed: a number >= 0.01"
    )
    predictor = {**SKLEARN, "annotations": {"autoscaling.knative.dev/window": "1s"}}
    assert one(manifest(predictor)) == (
        "expected 6s <= 1s <= 1h0m0s: spec.predictor.annotations.autoscaling.knative.dev/window"
    )


def test_min_scale_annotation_points_at_min_replicas() -> None:
    meta = {"annotations": {"autoscaling.knative.dev/min-scale": "2"}}
    assert one(manifest(metadata=meta)) == (
        "autoscaling.knative.dev/min-scale is not allowed on an InferenceService: "
        "set spec.predictor.minReplicas instead"
    )


def test_max_replicas_above_the_configs_limit() -> None:
    config = AutoscalerConfig(max_scale_limit=5)
    text = manifest({**SKLEARN, "maxReplicas": 6})
    assert one(text, config) == "expected 1 <= 6 <= 5: spec.predictor.maxReplicas"


# -- hostnames -------------------------------------------------------------------------


def test_host_label_over_63_characters() -> None:
    name = "a" * 54  # "-predictor" makes 64
    assert one(manifest(name=name)) == (
        f'host label "{name}-predictor" is 64 characters long '
        f"(host {name}-predictor.default.example.com): metadata.name; "
        "allowed: at most 63 characters per DNS label, so a name of at most 53 characters"
    )
    assert verdict(manifest(name="a" * 53)).outcome is Outcome.OK


def test_prev_tag_host_counts_while_a_canary_is_set() -> None:
    name = "b" * 49
    assert verdict(manifest(name=name)).outcome is Outcome.OK
    text = manifest({**SKLEARN, "canaryTrafficPercent": 10}, name=name)
    assert one(text) == (
        f'host label "prev-{name}-predictor" is 64 characters long '
        f"(host prev-{name}-predictor.default.example.com): metadata.name; "
        "allowed: at most 63 characters per DNS label, so a name of at most 48 characters"
    )


def test_latest_tag_host_counts_with_tag_routing() -> None:
    name = "c" * 47
    meta = {"namespace": "ml", "annotations": {"serving.kserve.io/enable-tag-routing": "true"}}
    assert one(manifest(name=name, metadata=meta)) == (
        f'host label "latest-{name}-predictor" is 64 characters long '
        f"(host latest-{name}-predictor.ml.example.com): metadata.name; "
        "allowed: at most 63 characters per DNS label, so a name of at most 46 characters"
    )


# -- apiVersion and kind ---------------------------------------------------------------


def test_old_kubeflow_api_group() -> None:
    text = manifest(api="serving.kubeflow.org/v1beta1")
    assert one(text) == (
        "apiVersion serving.kubeflow.org/v1beta1 is the old KFServing API group, which KServe "
        "replaced: apiVersion; allowed: serving.kserve.io/v1beta1, serving.zeroserve.io/v1alpha1"
    )


def test_unknown_api_version() -> None:
    assert one(manifest(api="serving.kserve.io/v1alpha1")) == (
        'invalid value: "serving.kserve.io/v1alpha1": apiVersion; '
        "allowed: serving.kserve.io/v1beta1, serving.zeroserve.io/v1alpha1"
    )


def test_missing_api_version_and_kind() -> None:
    assert one("metadata: {name: iris}\n") == "missing field(s): apiVersion, kind"
    assert one("kind: InferenceService\nmetadata: {name: iris}\n") == (
        "missing field(s): apiVersion; "
        "allowed: serving.kserve.io/v1beta1, serving.zeroserve.io/v1alpha1"
    )


def test_a_document_that_is_not_a_mapping() -> None:
    assert one("- a\n- b\n") == "a document must be a Kubernetes object (a mapping), got a list"


# -- the schema: unknown fields, types, required fields --------------------------------


def test_unknown_field_lists_the_allowed_ones_at_its_level() -> None:
    text = manifest({"model": {"modelFormat": {"name": "sklearn", "verison": "1"}}})
    assert one(text) == (
        'unknown field "verison": spec.predictor.model.modelFormat.verison; allowed: name, version'
    )


def test_unknown_predictor_field() -> None:
    (text,) = problems(manifest({**SKLEARN, "minReplica": 0}))
    assert text.startswith('unknown field "minReplica": spec.predictor.minReplica; allowed: ')
    allowed = text.split("; allowed: ")[1].split(", ")
    assert allowed == sorted(allowed)
    assert {"minReplicas", "model", "containers", "sklearn", "serviceAccountName"} <= set(allowed)


def test_unknown_top_level_and_metadata_fields() -> None:
    text = manifest(metadata={"generateName": "iris-"})
    assert one(text) == (
        'unknown field "generateName": metadata.generateName; allowed: annotations, '
        "creationTimestamp, deletionGracePeriodSeconds, deletionTimestamp, finalizers, "
        "generation, labels, managedFields, name, namespace, ownerReferences, resourceVersion, "
        "selfLink, uid"
    )


def test_wrong_types() -> None:
    text = manifest({**SKLEARN, "minReplicas": "1", "canaryTrafficPercent": 1.5})
    assert problems(text) == [
        'invalid value: "1": spec.predictor.minReplicas; allowed: an integer',
        "invalid value: 1.5: spec.predictor.canaryTrafficPercent; allowed: an integer",
    ]


def test_an_unquoted_annotation_value_gets_a_hint() -> None:
    meta = {"annotations": {"serving.kserve.io/enable-tag-routing": True}}
    assert one(manifest(metadata=meta)) == (
        "invalid value: true: metadata.annotations.serving.kserve.io/enable-tag-routing; "
        'allowed: a string (quote it: "true")'
    )


def test_wrong_type_for_a_nested_object_and_a_list() -> None:
    assert problems(manifest({"containers": {"image": "x"}})) == [
        "invalid value: a mapping: spec.predictor.containers; "
        "allowed: a list (each item: a mapping)"
    ]
    assert problems(manifest({"sklearn": {"readinessProbe": "/ready"}})) == [
        'invalid value: "/ready": spec.predictor.sklearn.readinessProbe; allowed: a mapping'
    ]


def test_union_types_report_once() -> None:
    probe = {"httpGet": {"path": "/", "port": 1.5}}
    assert one(manifest({"sklearn": {"readinessProbe": probe}})) == (
        "invalid value: 1.5: spec.predictor.sklearn.readinessProbe.httpGet.port; "
        "allowed: an integer or a string"
    )


def test_required_fields() -> None:
    assert one(manifest({"model": {"storageUri": "gs://b/m"}})) == (
        "missing field(s): spec.predictor.model.modelFormat"
    )
    assert one(manifest({"model": {"modelFormat": {}}})) == (
        "missing field(s): spec.predictor.model.modelFormat.name"
    )
    head = "apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\n"
    assert problems(f"{head}metadata: {{}}\nspec: {{}}\n") == [
        "missing field(s): metadata.name",
        "missing field(s): spec.predictor",
    ]
    assert problems(f"{head}metadata: {{name: a}}\nspec: {{predictor: null}}\n") == [
        "missing field(s): spec.predictor"
    ]


def test_keys_must_be_strings() -> None:
    meta = {"annotations": {1: "x"}}
    assert one(manifest(metadata=meta)) == (
        'invalid key: 1: metadata.annotations; allowed: string keys (quote it: "1")'
    )


# -- containers ------------------------------------------------------------------------


def test_transformer_collocation() -> None:
    containers = [
        {"name": "kserve-container", "image": "pytorch/torchserve:0.9.0-cpu"},
        {"name": "transformer-container", "image": "kserve/image-transformer:latest"},
    ]
    assert one(manifest({"containers": containers})) == (
        "transformer collocation is not supported (Zeroserve serves the predictor only): "
        "spec.predictor.containers[1]"
    )


def test_sidecar_containers() -> None:
    containers = [{"name": "proxy", "image": "envoy"}, {"image": "server"}]
    assert one(manifest({"containers": containers})) == (
        "containers beside the predictor's own are not supported yet (Zeroserve runs one "
        "container per replica): spec.predictor.containers[1]"
    )


def test_a_container_beside_a_model() -> None:
    text = manifest({**SKLEARN, "containers": [{"name": "logger", "image": "x"}]})
    assert one(text) == (
        "containers beside the predictor's own are not supported yet (Zeroserve runs one "
        "container per replica): spec.predictor.containers[0]"
    )


def test_ports() -> None:
    container = {
        "image": "x",
        "ports": [
            {"containerPort": 70000, "name": "grpc"},
            {"containerPort": 8080, "protocol": "UDP"},
        ],
    }
    assert problems(manifest({"containers": [container]})) == [
        "More than one container port is set: spec.predictor.containers[0].ports; "
        "allowed: a single port",
        "Port name grpc is not allowed: spec.predictor.containers[0].ports[0].name; "
        "allowed: no name, or http1 (h2c is gRPC, not served yet)",
        "expected 1 <= 70000 <= 65535: spec.predictor.containers[0].ports[0].containerPort",
        'invalid value: "UDP": spec.predictor.containers[0].ports[1].protocol; allowed: TCP',
    ]


def test_probes() -> None:
    probe = {"httpGet": {"path": "/"}, "tcpSocket": {"port": 8080}, "periodSeconds": -1}
    liveness = {"httpGet": {"path": "/"}, "successThreshold": 2}
    text = manifest({"sklearn": {"readinessProbe": probe, "livenessProbe": liveness}})
    assert problems(text) == [
        "may not specify more than 1 handler type: spec.predictor.sklearn.readinessProbe; "
        "allowed: one of httpGet, tcpSocket, exec (found httpGet, tcpSocket)",
        "invalid value: -1: spec.predictor.sklearn.readinessProbe.periodSeconds; "
        "allowed: an integer >= 0 (0: Kubernetes' default)",
        "invalid value: 2: spec.predictor.sklearn.livenessProbe.successThreshold; "
        "allowed: 1 (for a liveness probe)",
    ]
    relative = {"readinessProbe": {"httpGet": {"path": "ready"}}}
    assert one(manifest({"sklearn": relative})) == (
        'invalid value: "ready": spec.predictor.sklearn.readinessProbe.httpGet.path; '
        "allowed: a path starting with /"
    )


def test_resource_quantities() -> None:
    resources = {"limits": {"cpu": "one", "memory": "-1Gi"}, "requests": {"cpu": 0.5}}
    assert problems(manifest({"sklearn": {"resources": resources}})) == [
        "quantities must match the regular expression "
        "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$': "
        "spec.predictor.sklearn.resources.limits.cpu=one",
        'invalid value: "-1Gi": spec.predictor.sklearn.resources.limits.memory; '
        "allowed: a quantity >= 0",
    ]


def test_v1beta1_custom_container_needs_an_image() -> None:
    container = {"name": "kserve-container", "command": ["python", "server.py"]}
    assert one(manifest({"containers": [container]})) == (
        "missing field(s): spec.predictor.containers[0].image; "
        "allowed: an image (serving.zeroserve.io/v1alpha1 also runs a local command without one)"
    )


def test_v1alpha1_container_needs_a_command_or_an_image() -> None:
    text = manifest({"containers": [{"args": ["--port", "{port}"]}]}, api=ZEROSERVE_API_VERSION)
    assert one(text) == (
        "missing field(s): spec.predictor.containers[0].command, "
        "spec.predictor.containers[0].image; "
        "allowed: a command to run locally, or an image (or both)"
    )


def test_v1alpha1_placeholders_that_are_not_ones_warn() -> None:
    container = {
        "command": ["serve", "--port={port}", "{model}", '{"json": {"a": 1}}'],
        "env": [{"name": "GRPC", "value": "{grpc_port}"}, {"name": "X", "value": "{prot}"}],
    }
    found = verdict(manifest({"containers": [container]}, api=ZEROSERVE_API_VERSION))
    assert found.outcome is Outcome.OK
    assert [n.text for n in found.notices] == [
        "spec.predictor.containers[0].command[2] has {model}, which is not a placeholder: it "
        "is passed as written (placeholders: {port}, {grpc_port})",
        "spec.predictor.containers[0].env[1].value has {prot}, which is not a placeholder: it "
        "is passed as written (placeholders: {port}, {grpc_port})",
    ]


def test_v1beta1_commands_are_not_templates() -> None:
    container = {"image": "x", "args": ["--name={model}"]}
    found = verdict(manifest({"containers": [container]}))
    assert (found.outcome, found.notices) == (Outcome.OK, ())


# -- all problems at once, with the source ---------------------------------------------


def test_every_problem_of_a_document_is_reported_with_its_source() -> None:
    text = manifest(
        {**SKLEARN, "logger": {"mode": "all"}, "canaryTrafficPercent": 120},
        name="Iris",
        spec={"transformer": {"containers": []}},
    )
    found = verdict(text)
    assert [p.field for p in found.problems] == [
        "metadata.name",
        "spec.transformer",
        "spec.predictor.logger",
        "spec.predictor.canaryTrafficPercent",
    ]
    assert found.messages[1] == (
        "t.yaml (document 1): transformers are not supported (Zeroserve serves the predictor "
        "only): spec.transformer"
    )
    with pytest.raises(RefusedError) as raised:
        found.raise_if_refused()
    assert str(raised.value).splitlines() == list(found.messages)


def test_pydantic_texts_never_reach_a_user() -> None:
    text = manifest(
        {"model": {"modelFormat": {"name": 3}}, "minReplicas": [1], "bogus": None},
        metadata={"labels": {"a": {"b": 1}}},
    )
    for line in problems(text):
        for marker in ("Input should", "Field required", "Extra inputs", "pydantic", "type="):
            assert marker not in line
