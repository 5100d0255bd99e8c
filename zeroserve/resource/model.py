"""A parsed InferenceService: frozen dataclasses, KServe's defaults applied, nothing raw.

Every consumer (controller, runtimes, gateway, admin) reads these, never the YAML. What
KServe's defaulting webhook would have set is set here (the namespace, the
``kserve-container`` name, framework shorthands rewritten into ``model``, the V2
protocol for triton/onnx/huggingface), except the scaling knobs: ``PredictorScaling``
keeps what the user wrote, and ``zeroserve.config.effective_spec`` applies the
defaults, so status can show both.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from zeroserve.config import PredictorScaling
from zeroserve.resource.frozen import EMPTY, FrozenMap, Json

KSERVE_API_VERSION = "serving.kserve.io/v1beta1"
ZEROSERVE_API_VERSION = "serving.zeroserve.io/v1alpha1"
KIND = "InferenceService"
DEFAULT_NAMESPACE = "default"
PREDICTOR_CONTAINER = "kserve-container"  # KServe's constants.InferenceServiceContainerName
PROTOCOL_V1 = "v1"
PROTOCOL_V2 = "v2"

# Kubernetes' probe defaults (SetDefaults_Probe: 0 or unset means the default).
PROBE_TIMEOUT_SECONDS = 1
PROBE_FAILURE_THRESHOLD = 3
PROBE_SUCCESS_THRESHOLD = 1
LIVENESS_PERIOD_SECONDS = 10


@dataclass(frozen=True, slots=True)
class EnvVar:
    name: str
    value: str | None = None
    value_from: Json = None  # a Kubernetes EnvVarSource, frozen; the local runtime ignores it


@dataclass(frozen=True, slots=True)
class Port:
    container_port: int
    name: str | None = None
    protocol: str = "TCP"


@dataclass(frozen=True, slots=True)
class Resources:
    """Requests and limits as Kubernetes quantities (``"100m"``, ``"1Gi"``), as written."""

    requests: FrozenMap[str, str] = EMPTY
    limits: FrozenMap[str, str] = EMPTY


@dataclass(frozen=True, slots=True)
class HttpGet:
    path: str = "/"
    port: int | str | None = None  # None: the serving port
    scheme: str = "HTTP"
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class TcpSocket:
    port: int | str | None = None  # None: the serving port


@dataclass(frozen=True, slots=True)
class Probe:
    """A readiness or liveness probe; at most one of the three actions is set.

    None of them set: the runtime's default check (the protocol's readiness path).
    ``period_seconds`` None: unset, so readiness is probed fast (as Knative's queue-proxy
    does) and liveness every ``LIVENESS_PERIOD_SECONDS``.
    """

    http_get: HttpGet | None = None
    tcp_socket: TcpSocket | None = None
    exec_command: tuple[str, ...] | None = None
    initial_delay_seconds: int = 0
    period_seconds: int | None = None
    timeout_seconds: int = PROBE_TIMEOUT_SECONDS
    failure_threshold: int = PROBE_FAILURE_THRESHOLD
    success_threshold: int = PROBE_SUCCESS_THRESHOLD


@dataclass(frozen=True, slots=True)
class Container:
    """The serving container (what runs), as KServe's pod would get it.

    ``command``/``args`` keep ``{port}``/``{grpc_port}`` placeholders unsubstituted (the
    local runtime substitutes them for ``serving.zeroserve.io/v1alpha1`` services).
    ``kubernetes`` holds container fields only the Kubernetes runtime uses
    (``volumeMounts``, ``envFrom``, ``securityContext``…), frozen.
    """

    name: str
    image: str | None = None
    command: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    env: tuple[EnvVar, ...] = ()
    ports: tuple[Port, ...] = ()
    resources: Resources = Resources()
    readiness_probe: Probe | None = None
    liveness_probe: Probe | None = None
    working_dir: str | None = None
    kubernetes: FrozenMap[str, Json] = field(default_factory=FrozenMap)

    def env_value(self, name: str) -> str | None:
        """The last plain value set for ``name`` (Kubernetes: the last one wins)."""
        found = None
        for var in self.env:
            if var.name == name:
                found = var.value
        return found


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """``spec.predictor.model`` (a framework shorthand arrives here rewritten).

    ``container`` holds the inline container fields, which override the runtime's
    container (KServe's rule); its name is always ``kserve-container``.
    ``written_as`` is the field the user wrote: ``model`` or a shorthand like ``sklearn``.
    """

    format: str
    container: Container
    format_version: str | None = None
    runtime: str | None = None
    storage_uri: str | None = None
    protocol_version: str | None = None  # as written, or KServe's default; None: v1
    runtime_version: str | None = None
    written_as: str = "model"


@dataclass(frozen=True, slots=True)
class Predictor:
    """``spec.predictor``: exactly one of ``model`` or ``containers`` (a custom predictor).

    ``containers`` is empty for a model predictor and holds the one serving container of
    a custom predictor. ``protocol`` is the effective data-plane protocol (``v1``/``v2``).
    ``kubernetes`` holds the PodSpec fields only the Kubernetes runtime uses, frozen.
    """

    model: ModelSpec | None
    containers: tuple[Container, ...]
    scaling: PredictorScaling
    canary_traffic_percent: int | None = None
    protocol: str = PROTOCOL_V1
    labels: FrozenMap[str, str] = EMPTY
    annotations: FrozenMap[str, str] = EMPTY
    kubernetes: FrozenMap[str, Json] = field(default_factory=FrozenMap)

    @property
    def container(self) -> Container:
        """The serving container, whichever form the predictor takes."""
        if self.model is not None:
            return self.model.container
        return self.containers[0]


@dataclass(frozen=True, slots=True)
class InferenceService:
    """One admitted InferenceService. ``source`` names where it came from, for messages."""

    name: str
    namespace: str
    annotations: FrozenMap[str, str]
    labels: FrozenMap[str, str]
    predictor: Predictor
    source: str
    api_version: str = KSERVE_API_VERSION

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.name)

    @property
    def revision_annotations(self) -> FrozenMap[str, str]:
        """KServe's merge for the revision: the service's annotations, then the predictor's."""
        return FrozenMap({**self.annotations, **self.predictor.annotations})

    @property
    def tag_routing(self) -> bool:
        """``serving.kserve.io/enable-tag-routing: "true"`` (KServe compares the exact string)."""
        return self.annotations.get("serving.kserve.io/enable-tag-routing") == "true"

    @property
    def cluster_local(self) -> bool:
        """The ``networking.knative.dev/visibility: cluster-local`` label (internal hosts only)."""
        return self.labels.get("networking.knative.dev/visibility") == "cluster-local"
