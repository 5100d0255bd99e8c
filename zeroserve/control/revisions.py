"""An InferenceService and the server config → what one revision runs, or why it cannot.

Pure. The identity hash covers what runs, as written and as resolved: the serving
container (image, command, args, env, ports, resources, probes, working dir, the
Kubernetes-only fields), the model (format, runtime, storageUri, protocol), the pod
fields, the runtime row that runs the format and the model folder ``storageUriMap``
gave. Scaling knobs (``minReplicas``… ``timeout``, the autoscaling annotations) are left
out on purpose: changing them retunes the live revision instead of rolling out a new
one. So is the interpreter that ``python`` means (a new virtualenv is not a new
revision). A revision's
template is fixed when it is created, so the ``timeout`` and progress deadline it holds
are those of that moment; the route table carries the live ones.

A revision that cannot run here (no local runtime for its model format, a storageUri
with no local folder, an image without a command) is still a revision: it is Failed with
the reason, which ``serve`` reports, and ``validate`` (offline) never sees.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys

from zeroserve.config import ConfigError, effective_spec
from zeroserve.config.server_config import ModelRuntime, ServerConfig
from zeroserve.resource.frozen import FrozenMap
from zeroserve.resource.model import PROTOCOL_V2, Container, InferenceService, ModelSpec
from zeroserve.resource.model import Probe as ManifestProbe
from zeroserve.runtime.base import Probe, RevisionTemplate
from zeroserve.runtime.errors import InvalidTemplate

PYTHON_NAMES = ("python", "python3")
IDENTITY_LENGTH = 16
DEFAULT_PROBE_PERIOD = 10.0  # Kubernetes' periodSeconds default
MODEL_DIR = "{model_dir}"
CONFIG_FILE = "zeroserve.yaml"
MODEL_FIELD = "spec.predictor.model"
CONTAINER_FIELD = "spec.predictor.containers[0]"


@dataclasses.dataclass(frozen=True, slots=True)
class RevisionSpec:
    """What one revision of a service runs (``template``), or why it cannot (``failed``).

    Exactly one of the two is set. ``identity`` is the hash of what runs: two specs with
    the same identity are the same revision. ``warnings`` say what the local runtime
    does differently from the manifest (a tcpSocket probe, an env ``valueFrom``)."""

    namespace: str
    service: str
    identity: str
    template: RevisionTemplate | None
    failed: str | None = None
    warnings: tuple[str, ...] = ()

    @property
    def runnable(self) -> bool:
        return self.template is not None


def revision_name(service: str, number: int) -> str:
    """Knative's ``{configuration}-{%05d}``, the configuration being ``{name}-predictor``."""
    return f"{service}-predictor-{number:05d}"


def build_revision(
    service: InferenceService, config: ServerConfig, *, python: str = sys.executable
) -> RevisionSpec:
    predictor = service.predictor
    container = predictor.container
    warnings: list[str] = []
    failures: list[str] = []
    runtime: ModelRuntime | None = None
    model_dir: str | None = None
    argv: tuple[str, ...] = ()
    where = MODEL_FIELD if predictor.model is not None else CONTAINER_FIELD

    if predictor.model is not None:
        model = predictor.model
        runtime = config.runtime(model.format)
        model_dir, storage_failure = local_model_dir(model.storage_uri, config)
        if model.runtime:
            warnings.append(
                f'{where}.runtime "{model.runtime}" is not used locally: '
                "the runtimes table picks the runtime by model format"
            )
        if runtime is None:
            known = ", ".join(config.runtime_formats) or "none"
            failures.append(f'no local runtime for model format "{model.format}"; known: {known}')
        elif predictor.protocol not in runtime.protocols:
            failures.append(
                f'the local runtime for model format "{runtime.format}" speaks '
                f"{', '.join(runtime.protocols)}, not {predictor.protocol} "
                f"(add {predictor.protocol} to runtimes.{runtime.format}.protocols in "
                f"{CONFIG_FILE} if it does)"
            )
        if storage_failure is not None:
            failures.append(storage_failure)
        if runtime is not None:
            argv = model_argv(service, model, runtime)
            if any(MODEL_DIR in arg for arg in argv) and model.storage_uri is None:
                failures.append(
                    f'model format "{model.format}" needs a storageUri: '
                    f"its runtime command uses {MODEL_DIR}"
                )
            if model_dir is not None:
                argv = tuple(arg.replace(MODEL_DIR, model_dir) for arg in argv)
    else:
        argv = (*container.command, *container.args)
        if not container.command:
            image = f' (image "{container.image}")' if container.image else ""
            failures.append(
                f"container {container.name} has no command{image}: the local runtime runs a "
                f"command, not an image; add {where}.command"
            )

    if argv and argv[0] in PYTHON_NAMES:
        argv = (python, *argv[1:])
    env = _env(container, where, warnings)
    readiness = local_probe(
        container.readiness_probe, f"{where}.readinessProbe", container, service, warnings
    )
    liveness = local_probe(
        container.liveness_probe, f"{where}.livenessProbe", container, service, warnings
    )
    identity = revision_identity(service, runtime, model_dir)

    template: RevisionTemplate | None = None
    if not failures:
        try:
            scaling = effective_spec(
                config.autoscaler, service.revision_annotations, predictor.scaling
            )
            template = RevisionTemplate(
                argv=argv,
                env=env,
                cwd=container.working_dir,
                protocol="v2" if predictor.protocol == PROTOCOL_V2 else "v1",
                model_name=service.name,
                readiness=readiness,
                liveness=liveness,
                timeout=scaling.timeout,
                progress_deadline=scaling.bounds.progress_deadline,
            )
        except (ConfigError, InvalidTemplate) as error:
            failures.append(str(error))
    return RevisionSpec(
        namespace=service.namespace,
        service=service.name,
        identity=identity,
        template=template,
        failed="; ".join(failures) if failures else None,
        warnings=tuple(warnings),
    )


def local_model_dir(uri: str | None, config: ServerConfig) -> tuple[str | None, str | None]:
    """(the local folder of a storageUri, or why there is none). ``file://`` and local
    paths are used as they are; remote URIs go through ``storageUriMap``."""
    if uri is None:
        return None, None
    if uri.startswith("file://"):
        return uri.removeprefix("file://") or "/", None
    if "://" not in uri:
        return uri, None
    folder = config.local_folder(uri)
    if folder is None:
        return None, (
            f"storageUri {uri} has no local folder: add it to storageUriMap in {CONFIG_FILE}"
        )
    return folder, None


def model_argv(
    service: InferenceService, model: ModelSpec, runtime: ModelRuntime
) -> tuple[str, ...]:
    """KServe's rule: the model's inline container overrides the runtime's; here its
    ``command`` replaces the runtime's command and its ``args`` are appended."""
    command = model.container.command or runtime.command
    protocol = service.predictor.protocol
    values = {"{model_name}": service.name, "{protocol}": protocol}
    out = []
    for arg in (*command, *model.container.args):
        for token, value in values.items():
            arg = arg.replace(token, value)
        out.append(arg)
    return tuple(out)


def _env(container: Container, where: str, warnings: list[str]) -> tuple[tuple[str, str], ...]:
    env: list[tuple[str, str]] = []
    for i, var in enumerate(container.env):
        if var.value is not None:
            env.append((var.name, var.value))
        elif var.value_from is not None:
            warnings.append(
                f"{where}.env[{i}].valueFrom ({var.name}) is not resolved by the local "
                "runtime: the variable is not set"
            )
        else:
            env.append((var.name, ""))
    return tuple(env)


def local_probe(
    probe: ManifestProbe | None,
    field: str,
    container: Container,
    service: InferenceService,
    warnings: list[str],
) -> Probe | None:
    """The manifest's ``httpGet`` probe for the local runtime; other kinds fall back to
    the protocol's default (with a warning)."""
    if probe is None:
        return None
    http = probe.http_get
    if http is None:
        kind = "tcpSocket" if probe.tcp_socket is not None else "exec"
        if probe.tcp_socket is None and probe.exec_command is None:
            return None
        default = (
            "/v2/health/ready"
            if service.predictor.protocol == PROTOCOL_V2
            else f"/v1/models/{service.name}"
        )
        warnings.append(
            f"{field}.{kind} is not run by the local runtime; it probes GET {default} "
            f"(the {service.predictor.protocol} default) instead"
        )
        return None
    if http.scheme.upper() != "HTTP":
        warnings.append(f"{field}.httpGet.scheme {http.scheme}: the local runtime probes over HTTP")
    if http.headers:
        warnings.append(f"{field}.httpGet.httpHeaders are not sent by the local runtime")
    if http.port is not None and not _serving_port(http.port, container):
        warnings.append(
            f"{field}.httpGet.port {http.port}: the local runtime probes the port it gives "
            "the replica"
        )
    path = http.path if http.path.startswith("/") else f"/{http.path}"
    return Probe(
        path=path,
        initial_delay=float(probe.initial_delay_seconds),
        period=float(probe.period_seconds or DEFAULT_PROBE_PERIOD),
        timeout=float(probe.timeout_seconds),
        failure_threshold=probe.failure_threshold,
    )


def _serving_port(port: int | str, container: Container) -> bool:
    if not container.ports:
        return False
    declared = container.ports[0]
    return port == declared.container_port or (declared.name is not None and port == declared.name)


def revision_identity(
    service: InferenceService, runtime: ModelRuntime | None, model_dir: str | None
) -> str:
    """What runs, as written and as resolved from the config; not the interpreter that
    ``python`` means, so a new virtualenv does not make a new revision."""
    predictor = service.predictor
    model = predictor.model
    what = {
        "container": _plain(predictor.container),
        "model": None
        if model is None
        else {
            "format": model.format.lower(),
            "format_version": model.format_version,
            "runtime": model.runtime,
            "storage_uri": model.storage_uri,
            "protocol_version": model.protocol_version,
            "runtime_version": model.runtime_version,
        },
        "protocol": predictor.protocol,
        "pod": _plain(predictor.kubernetes),
        "runtime": None if runtime is None else _plain(runtime),
        "model_dir": model_dir,
    }
    text = json.dumps(what, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:IDENTITY_LENGTH]


def _plain(value: object) -> object:
    """Dataclasses, frozen maps and tuples as JSON-ready data, for hashing."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, FrozenMap | dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value
