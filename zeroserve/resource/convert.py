"""A checked manifest (schema models) → the frozen dataclasses of ``model``, once.

Called only when every check passed, so it assumes exactly one implementation and a
well-formed predictor; it applies KServe's defaulting (``normalise``) and Kubernetes'
probe defaults. For ``serving.zeroserve.io/v1alpha1`` the container's ``workingDir`` is
resolved against the manifest's folder (which is also the default), so a local command
like ``python server.py`` runs where the manifest is.
"""

from __future__ import annotations

from pathlib import Path

from zeroserve.resource.container_checks import quantity_text
from zeroserve.resource.frozen import FrozenMap, Json, freeze
from zeroserve.resource.model import (
    DEFAULT_NAMESPACE,
    PREDICTOR_CONTAINER,
    PROBE_FAILURE_THRESHOLD,
    PROBE_SUCCESS_THRESHOLD,
    PROBE_TIMEOUT_SECONDS,
    PROTOCOL_V1,
    ZEROSERVE_API_VERSION,
    Container,
    EnvVar,
    HttpGet,
    InferenceService,
    ModelSpec,
    Port,
    Predictor,
    Probe,
    Resources,
    TcpSocket,
)
from zeroserve.resource.normalise import container_names, normalise_model
from zeroserve.resource.predictor_checks import CUSTOM_PROTOCOL_ENV, custom_protocol
from zeroserve.resource.scaling_checks import predictor_scaling
from zeroserve.resource.schema import (
    KUBERNETES_CONTAINER_FIELDS,
    KUBERNETES_POD_FIELDS,
    ContainerSchema,
    InferenceServiceSchema,
    PredictorSchema,
    ProbeSchema,
)


def to_service(
    schema: InferenceServiceSchema, *, source: str, base_dir: Path | None = None
) -> InferenceService:
    meta = schema.metadata
    return InferenceService(
        name=meta.name,
        namespace=meta.namespace or DEFAULT_NAMESPACE,
        annotations=FrozenMap(meta.annotations or {}),
        labels=FrozenMap(meta.labels or {}),
        predictor=to_predictor(schema.spec.predictor, schema.apiVersion, base_dir),
        source=source,
        api_version=schema.apiVersion,
    )


def to_predictor(
    predictor: PredictorSchema, api_version: str, base_dir: Path | None = None
) -> Predictor:
    local_dir = base_dir if api_version == ZEROSERVE_API_VERSION else None
    normalised = normalise_model(predictor)
    model: ModelSpec | None = None
    containers: tuple[Container, ...] = ()
    if normalised is not None:
        spec = normalised.spec
        model = ModelSpec(
            format=normalised.format,
            container=to_container(spec, PREDICTOR_CONTAINER, local_dir),
            format_version=normalised.format_version,
            runtime=normalised.runtime,
            storage_uri=spec.storageUri,
            protocol_version=normalised.protocol_version,
            runtime_version=spec.runtimeVersion,
            written_as=normalised.written_as,
        )
        protocol = normalised.protocol_version or PROTOCOL_V1
    else:
        written = predictor.containers or []
        names = container_names(written)
        index = names.index(PREDICTOR_CONTAINER) if PREDICTOR_CONTAINER in names else 0
        serving = to_container(written[index], names[index], local_dir)
        containers = (serving,)
        protocol = custom_protocol(serving.env_value(CUSTOM_PROTOCOL_ENV))
    return Predictor(
        model=model,
        containers=containers,
        scaling=predictor_scaling(predictor),
        canary_traffic_percent=predictor.canaryTrafficPercent,
        protocol=protocol,
        labels=FrozenMap(predictor.labels or {}),
        annotations=FrozenMap(predictor.annotations or {}),
        kubernetes=_raw(predictor, KUBERNETES_POD_FIELDS),
    )


def to_container(container: ContainerSchema, name: str, local_dir: Path | None) -> Container:
    resources = container.resources
    return Container(
        name=name,
        image=container.image,
        command=tuple(container.command or ()),
        args=tuple(container.args or ()),
        env=tuple(
            EnvVar(var.name, var.value, freeze(var.valueFrom) if var.valueFrom else None)
            for var in container.env or []
        ),
        ports=tuple(
            Port(p.containerPort, p.name or None, p.protocol or "TCP")
            for p in container.ports or []
        ),
        resources=Resources(
            requests=FrozenMap(
                {k: quantity_text(v) for k, v in ((resources and resources.requests) or {}).items()}
            ),
            limits=FrozenMap(
                {k: quantity_text(v) for k, v in ((resources and resources.limits) or {}).items()}
            ),
        ),
        readiness_probe=to_probe(container.readinessProbe),
        liveness_probe=to_probe(container.livenessProbe),
        working_dir=_working_dir(container.workingDir, local_dir),
        kubernetes=_raw(container, KUBERNETES_CONTAINER_FIELDS),
    )


def to_probe(probe: ProbeSchema | None) -> Probe | None:
    if probe is None:
        return None
    http = probe.httpGet
    tcp = probe.tcpSocket
    return Probe(
        http_get=None
        if http is None
        else HttpGet(
            path=http.path or "/",
            port=http.port,
            scheme=http.scheme or "HTTP",
            headers=tuple((h.name, h.value) for h in http.httpHeaders or []),
        ),
        tcp_socket=None if tcp is None else TcpSocket(tcp.port),
        exec_command=None if probe.exec is None else tuple(probe.exec.command or ()),
        initial_delay_seconds=probe.initialDelaySeconds or 0,
        period_seconds=probe.periodSeconds or None,
        timeout_seconds=probe.timeoutSeconds or PROBE_TIMEOUT_SECONDS,
        failure_threshold=probe.failureThreshold or PROBE_FAILURE_THRESHOLD,
        success_threshold=probe.successThreshold or PROBE_SUCCESS_THRESHOLD,
    )


def _working_dir(written: str | None, local_dir: Path | None) -> str | None:
    if local_dir is None:
        return written
    return str((local_dir / (written or ".")).resolve())


def _raw(model: object, names: tuple[str, ...]) -> FrozenMap[str, Json]:
    return FrozenMap(
        {name: freeze(getattr(model, name)) for name in names if getattr(model, name) is not None}
    )
