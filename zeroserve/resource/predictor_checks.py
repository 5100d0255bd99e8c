"""Checks on ``spec.predictor`` after its schema passed: KServe's webhook rules (exactly one
implementation, no ``name`` on a model, blocked env vars, the custom ``PROTOCOL``), the
fields beyond Zeroserve's subset, gRPC, the canary range, and what only Kubernetes uses.
"""

from __future__ import annotations

from zeroserve.resource.container_checks import (
    GRPC_NOT_SERVED,
    ContainerContext,
    Findings,
    check_blocked_env_raw,
    check_container,
    kubernetes_only,
)
from zeroserve.resource.errors import Notice, Problem, invalid, out_of_bounds, problem, unsupported
from zeroserve.resource.model import PREDICTOR_CONTAINER, PROTOCOL_V1, PROTOCOL_V2
from zeroserve.resource.normalise import (
    LEGACY_FRAMEWORKS,
    TRANSFORMER_CONTAINER,
    container_names,
    frameworks_present,
)
from zeroserve.resource.schema import (
    KUBERNETES_POD_FIELDS,
    EnvVarSchema,
    FrameworkSchema,
    PredictorSchema,
)

PREDICTOR = "spec.predictor"
PROTOCOLS = (PROTOCOL_V1, PROTOCOL_V2)
GRPC_PROTOCOLS = ("grpc-v1", "grpc-v2")
CUSTOM_PROTOCOL_ENV = "PROTOCOL"

# KServe's ExactlyOneErrorFor(PredictorSpec): every PredictorSpec field name but the last.
EXACTLY_ONE_ERROR = (
    "exactly one of [SKLearn, XGBoost, Tensorflow, PyTorch, Triton, ONNX, HuggingFace, PMML, "
    "LightGBM, Paddle, Model, StorageUris, WorkerSpec, PodSpec] must be specified in PredictorSpec"
)
EXACTLY_ONE_ALLOWED = (
    "one of model, containers (a custom predictor) or a framework shorthand ("
    + ", ".join(LEGACY_FRAMEWORKS)
    + ")"
)
NAME_NOT_ALLOWED = "the 'name' field is not allowed in standard predictor"  # KServe's text
# KServe's InvalidProtocol ("invalid protocol %s. Must be one of [%s]"), arguments in order.
INVALID_CUSTOM_PROTOCOL = "invalid protocol {}. Must be one of [{}]"

BEYOND_SUBSET = {
    "storageUris": ("multiple storage URIs are not supported", "storageUri"),
    "workerSpec": ("multi-node workers are not supported", None),
    "name": (
        "named predictors are not supported (a name renames the component to "
        "<isvc>-<name>-predictor)",
        None,
    ),
    "logger": ("payload logging is not supported", None),
    "batcher": ("request batching is not supported", None),
    "deploymentStrategy": (
        "customizing deploymentStrategy is only supported for raw deployment mode",  # KServe's
        None,
    ),
    "autoScaling": (
        "autoScaling (HPA and KEDA metrics) is only supported for raw deployment mode",
        "scaleMetric, scaleTarget and autoscaling.knative.dev/* annotations",
    ),
}


def check_predictor(predictor: PredictorSchema, *, isvc: str, api_version: str) -> Findings:
    found = Findings()
    for name, (message, allowed) in BEYOND_SUBSET.items():
        if getattr(predictor, name) is not None:
            found.problems.append(unsupported(message, f"{PREDICTOR}.{name}", allowed))
    implementations = implementation_paths(predictor)
    if len(implementations) != 1:
        paths = ", ".join(implementations) or PREDICTOR
        found.problems.append(
            Problem(PREDICTOR, f"{EXACTLY_ONE_ERROR}: {paths}; allowed: {EXACTLY_ONE_ALLOWED}")
        )
    for name in frameworks_present(predictor):
        _model(getattr(predictor, name), f"{PREDICTOR}.{name}", isvc, api_version, found)
    if predictor.model is not None:
        _model(predictor.model, f"{PREDICTOR}.model", isvc, api_version, found)
    _containers(predictor, isvc, api_version, single=len(implementations) == 1, found=found)
    found.problems.extend(
        check_blocked_env_raw(predictor.initContainers, f"{PREDICTOR}.initContainers", isvc)
    )
    canary = predictor.canaryTrafficPercent
    if canary is not None and not 0 <= canary <= 100:
        found.problems.append(out_of_bounds(f"{PREDICTOR}.canaryTrafficPercent", canary, 0, 100))
    for name in KUBERNETES_POD_FIELDS:
        if getattr(predictor, name) is not None:
            found.notices.append(kubernetes_only(f"{PREDICTOR}.{name}"))
    if predictor.scaleMetricType is not None:
        path = f"{PREDICTOR}.scaleMetricType"
        found.notices.append(
            Notice(path, f"{path} is ignored: only HPA and KEDA use it; Zeroserve runs the KPA")
        )
    return found


def implementation_paths(predictor: PredictorSchema) -> list[str]:
    """KServe's ``GetImplementations``, as field paths: shorthands, model, then each container
    named kserve-container; with none of those, the first container."""
    paths = [f"{PREDICTOR}.{name}" for name in frameworks_present(predictor)]
    if predictor.model is not None:
        paths.append(f"{PREDICTOR}.model")
    containers = predictor.containers or []
    paths += [
        f"{PREDICTOR}.containers[{i}]"
        for i, c in enumerate(containers)
        if c.name == PREDICTOR_CONTAINER
    ]
    if not paths and containers:
        paths.append(f"{PREDICTOR}.containers[0]")
    return paths


def _model(spec: FrameworkSchema, path: str, isvc: str, api_version: str, found: Findings) -> None:
    if spec.name is not None and spec.name != "":
        found.problems.append(
            problem(
                NAME_NOT_ALLOWED,
                f"{path}.name",
                value=spec.name,
                allowed=f"no name (a model's container is always {PREDICTOR_CONTAINER})",
            )
        )
    if spec.storage is not None:
        found.problems.append(
            unsupported(
                "storage specs (a storage secret key) are not supported",
                f"{path}.storage",
                "storageUri",
            )
        )
    protocol = spec.protocolVersion
    if protocol in GRPC_PROTOCOLS:
        found.problems.append(
            problem(
                GRPC_NOT_SERVED,
                f"{path}.protocolVersion",
                value=protocol,
                allowed=", ".join(PROTOCOLS),
            )
        )
    elif protocol is not None and protocol not in PROTOCOLS:
        found.problems.append(
            invalid(
                f"{path}.protocolVersion",
                protocol,
                f"{', '.join(PROTOCOLS)} ({', '.join(GRPC_PROTOCOLS)}: gRPC is not served yet)",
            )
        )
    if spec.runtimeVersion is not None:
        where = f"{path}.runtimeVersion"
        found.notices.append(
            Notice(where, f"{where} is ignored: Zeroserve's runtimes table decides what runs")
        )
    ctx = ContainerContext(path, spec.name or "", isvc, api_version, custom=False)
    found.extend(check_container(spec, ctx))


def _containers(
    predictor: PredictorSchema, isvc: str, api_version: str, *, single: bool, found: Findings
) -> None:
    containers = predictor.containers or []
    if not containers:
        return
    model = bool(frameworks_present(predictor)) or predictor.model is not None
    names = container_names(containers) if not model else [c.name or "" for c in containers]
    serving = None if model else _serving_index(names)
    for i, container in enumerate(containers):
        path = f"{PREDICTOR}.containers[{i}]"
        if single and i != serving:
            if names[i] == TRANSFORMER_CONTAINER:
                message = (
                    "transformer collocation is not supported (Zeroserve serves the predictor only)"
                )
            else:
                message = (
                    "containers beside the predictor's own are not supported yet "
                    "(Zeroserve runs one container per replica)"
                )
            found.problems.append(unsupported(message, path))
        ctx = ContainerContext(path, names[i], isvc, api_version, custom=i == serving)
        found.extend(check_container(container, ctx))
    if serving is not None:
        _custom_protocol(containers[serving].env or [], f"{PREDICTOR}.containers[{serving}]", found)


def _serving_index(names: list[str]) -> int:
    return names.index(PREDICTOR_CONTAINER) if PREDICTOR_CONTAINER in names else 0


def _custom_protocol(env: list[EnvVarSchema], path: str, found: Findings) -> None:
    for i, var in enumerate(env):
        value = var.value
        if var.name != CUSTOM_PROTOCOL_ENV:
            continue
        where = f"{path}.env[{i}].value"
        if value in GRPC_PROTOCOLS:
            found.problems.append(
                problem(GRPC_NOT_SERVED, where, value=value, allowed=", ".join(PROTOCOLS))
            )
        elif value not in PROTOCOLS:
            text = INVALID_CUSTOM_PROTOCOL.format(value or "", ", ".join(PROTOCOLS))
            found.problems.append(Problem(where, f"{text}: {where}"))
        return  # KServe reads the first PROTOCOL only


def custom_protocol(env_value: str | None) -> str:
    """The protocol a custom predictor declares with ``env PROTOCOL`` (KServe: v1 by default)."""
    return env_value if env_value in PROTOCOLS else PROTOCOL_V1
