"""The manifest as written: pydantic models, used at the edge only.

Attribute names are the YAML keys (camelCase), so a validation error's location is the
user's field path. Every model forbids unknown fields and is strict (no ``"1"`` for an
integer, no ``1`` for a string), as the Kubernetes API server is. Fields beyond
Zeroserve's subset are typed ``Any`` here so that the checks can refuse them by name
instead of reporting their insides. These models never leave the package: ``convert``
turns them into the frozen dataclasses of ``model``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class _Schema(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


# -- metadata --------------------------------------------------------------------------

SERVER_SET_METADATA = (
    "creationTimestamp",
    "deletionGracePeriodSeconds",
    "deletionTimestamp",
    "finalizers",
    "generation",
    "managedFields",
    "ownerReferences",
    "resourceVersion",
    "selfLink",
    "uid",
)


class ObjectMeta(_Schema):
    name: str
    namespace: str | None = None
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None
    # Set by the API server or controllers: accepted and ignored (exported manifests).
    creationTimestamp: Any = None
    deletionGracePeriodSeconds: Any = None
    deletionTimestamp: Any = None
    finalizers: Any = None
    generation: Any = None
    managedFields: Any = None
    ownerReferences: Any = None
    resourceVersion: Any = None
    selfLink: Any = None
    uid: Any = None


# -- containers ------------------------------------------------------------------------


class EnvVarSchema(_Schema):
    name: str
    value: str | None = None
    valueFrom: dict[str, Any] | None = None


class ContainerPortSchema(_Schema):
    containerPort: int
    name: str | None = None
    protocol: str | None = None


Quantity = int | float | str


class ResourcesSchema(_Schema):
    requests: dict[str, Quantity] | None = None
    limits: dict[str, Quantity] | None = None
    claims: Any = None


class HttpHeaderSchema(_Schema):
    name: str
    value: str


class HttpGetSchema(_Schema):
    path: str | None = None
    port: int | str | None = None
    host: str | None = None
    scheme: str | None = None
    httpHeaders: list[HttpHeaderSchema] | None = None


class TcpSocketSchema(_Schema):
    port: int | str | None = None
    host: str | None = None


class ExecSchema(_Schema):
    command: list[str] | None = None


class ProbeSchema(_Schema):
    httpGet: HttpGetSchema | None = None
    tcpSocket: TcpSocketSchema | None = None
    exec: ExecSchema | None = None
    grpc: Any = None  # refused: gRPC is not served yet
    initialDelaySeconds: int | None = None
    periodSeconds: int | None = None
    timeoutSeconds: int | None = None
    failureThreshold: int | None = None
    successThreshold: int | None = None
    terminationGracePeriodSeconds: int | None = None


KUBERNETES_CONTAINER_FIELDS = (
    "envFrom",
    "imagePullPolicy",
    "lifecycle",
    "securityContext",
    "startupProbe",
    "terminationMessagePath",
    "terminationMessagePolicy",
    "volumeMounts",
)


class ContainerSchema(_Schema):
    """The ``corev1.Container`` fields Knative accepts."""

    name: str | None = None
    image: str | None = None
    command: list[str] | None = None
    args: list[str] | None = None
    workingDir: str | None = None
    ports: list[ContainerPortSchema] | None = None
    env: list[EnvVarSchema] | None = None
    resources: ResourcesSchema | None = None
    readinessProbe: ProbeSchema | None = None
    livenessProbe: ProbeSchema | None = None
    # Used by the Kubernetes runtime only (KUBERNETES_CONTAINER_FIELDS).
    envFrom: Any = None
    imagePullPolicy: Any = None
    lifecycle: Any = None
    securityContext: Any = None
    startupProbe: Any = None
    terminationMessagePath: Any = None
    terminationMessagePolicy: Any = None
    volumeMounts: Any = None


# -- predictor -------------------------------------------------------------------------


class FrameworkSchema(ContainerSchema):
    """KServe's ``PredictorExtensionSpec``: a framework shorthand's fields, container inline."""

    storageUri: str | None = None
    runtimeVersion: str | None = None
    protocolVersion: str | None = None
    storage: Any = None  # refused: storage specs need a storage secret


class ModelFormatSchema(_Schema):
    name: str
    version: str | None = None


class ModelSchema(FrameworkSchema):
    modelFormat: ModelFormatSchema
    runtime: str | None = None


KUBERNETES_POD_FIELDS = (
    "affinity",
    "automountServiceAccountToken",
    "dnsConfig",
    "dnsPolicy",
    "enableServiceLinks",
    "hostAliases",
    "hostIPC",
    "hostNetwork",
    "hostPID",
    "imagePullSecrets",
    "initContainers",
    "nodeSelector",
    "priorityClassName",
    "runtimeClassName",
    "schedulerName",
    "securityContext",
    "serviceAccount",
    "serviceAccountName",
    "shareProcessNamespace",
    "tolerations",
    "topologySpreadConstraints",
    "volumes",
)


class PredictorSchema(_Schema):
    """KServe's ``PredictorSpec``: implementations, the inline PodSpec, the extension spec."""

    # Implementations (exactly one, with containers).
    sklearn: FrameworkSchema | None = None
    xgboost: FrameworkSchema | None = None
    tensorflow: FrameworkSchema | None = None
    pytorch: FrameworkSchema | None = None
    triton: FrameworkSchema | None = None
    onnx: FrameworkSchema | None = None
    huggingface: FrameworkSchema | None = None
    pmml: FrameworkSchema | None = None
    lightgbm: FrameworkSchema | None = None
    paddle: FrameworkSchema | None = None
    model: ModelSchema | None = None
    storageUris: Any = None  # refused
    workerSpec: Any = None  # refused
    name: Any = None  # refused (a named predictor renames the component)
    # The inline PodSpec.
    containers: list[ContainerSchema] | None = None
    affinity: Any = None
    automountServiceAccountToken: Any = None
    dnsConfig: Any = None
    dnsPolicy: Any = None
    enableServiceLinks: Any = None
    hostAliases: Any = None
    hostIPC: Any = None
    hostNetwork: Any = None
    hostPID: Any = None
    imagePullSecrets: Any = None
    initContainers: Any = None
    nodeSelector: Any = None
    priorityClassName: Any = None
    runtimeClassName: Any = None
    schedulerName: Any = None
    securityContext: Any = None
    serviceAccount: Any = None
    serviceAccountName: Any = None
    shareProcessNamespace: Any = None
    tolerations: Any = None
    topologySpreadConstraints: Any = None
    volumes: Any = None
    # The inline ComponentExtensionSpec.
    minReplicas: int | None = None
    maxReplicas: int | None = None
    scaleTarget: int | None = None
    scaleMetric: str | None = None
    scaleMetricType: str | None = None  # ignored: HPA/KEDA only
    containerConcurrency: int | None = None
    timeout: int | None = None
    canaryTrafficPercent: int | None = None
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None
    logger: Any = None  # refused
    batcher: Any = None  # refused
    deploymentStrategy: Any = None  # refused (raw deployment mode only)
    autoScaling: Any = None  # refused (raw deployment mode only)


class SpecSchema(_Schema):
    predictor: PredictorSchema
    transformer: Any = None  # refused
    explainer: Any = None  # refused
    canary: Any = None  # refused (Standard mode only)


class InferenceServiceSchema(_Schema):
    apiVersion: str
    kind: str
    metadata: ObjectMeta
    spec: SpecSchema
    status: Any = None  # server-set: ignored
