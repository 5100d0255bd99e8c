"""Checks on one container of a predictor: env, ports, probes, resources, what runs.

Texts are KServe's where KServe checks (PYTHONPATH), Knative's where Knative's webhook
would refuse the revision later (ports), Kubernetes' where the API server would (probes,
quantities), each with the field path and what is allowed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from zeroserve.resource import placeholders
from zeroserve.resource.errors import Notice, Problem, invalid, missing, problem
from zeroserve.resource.model import ZEROSERVE_API_VERSION
from zeroserve.resource.schema import KUBERNETES_CONTAINER_FIELDS, ContainerSchema, ProbeSchema

BLOCKED_ENV = ("PYTHONPATH",)  # KServe's validation.DefaultBlockedEnvVars
BLOCKED_ENV_ERROR = (
    'the InferenceService "{isvc}" is invalid: setting {var} in container "{container}" '
    "is not allowed for security reasons"
)
GRPC_NOT_SERVED = "gRPC/h2c is not served yet"
H2C = "h2c"
PORT_NAMES = ("http1",)  # Knative also accepts h2c, which is gRPC/HTTP2
PORT_MIN, PORT_MAX = 1, 65535
QUANTITY_FORMAT = "^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"  # Kubernetes' resource.Quantity
_QUANTITY = re.compile(QUANTITY_FORMAT)


@dataclass(slots=True)
class Findings:
    """Problems and notices collected by one pass of checks."""

    problems: list[Problem] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)

    def extend(self, other: Findings) -> None:
        self.problems.extend(other.problems)
        self.notices.extend(other.notices)


@dataclass(frozen=True, slots=True)
class ContainerContext:
    """Who the container is: its path, its name after defaulting, the service, its role."""

    path: str  # e.g. "spec.predictor.containers[0]" or "spec.predictor.sklearn"
    name: str  # the name KServe's messages use ("" for a framework container)
    isvc: str
    api_version: str
    custom: bool  # a custom predictor's container (must say what runs) or a model's inline one


def check_container(container: ContainerSchema, ctx: ContainerContext) -> Findings:
    found = Findings()
    _what_runs(container, ctx, found)
    for i, var in enumerate(container.env or []):
        path = f"{ctx.path}.env[{i}]"
        if var.name in BLOCKED_ENV:
            text = BLOCKED_ENV_ERROR.format(isvc=ctx.isvc, var=var.name, container=ctx.name)
            found.problems.append(Problem(f"{path}.name", f"{text}: {path}.name"))
        if var.valueFrom is not None:
            found.notices.append(
                Notice(
                    f"{path}.valueFrom",
                    f"{path}.valueFrom is ignored by the local runtime ({var.name} is unset "
                    "there); the Kubernetes runtime uses it",
                )
            )
    _ports(container, ctx.path, found)
    for probe_field, liveness in (("readinessProbe", False), ("livenessProbe", True)):
        probe = getattr(container, probe_field)
        if probe is not None:
            _probe(probe, f"{ctx.path}.{probe_field}", liveness, found)
    _resources(container, ctx.path, found)
    for name in KUBERNETES_CONTAINER_FIELDS:
        if getattr(container, name) is not None:
            found.notices.append(kubernetes_only(f"{ctx.path}.{name}"))
    return found


def kubernetes_only(path: str) -> Notice:
    return Notice(
        path, f"{path} is ignored by the local runtime (only the Kubernetes runtime uses it)"
    )


def check_blocked_env_raw(containers: object, path: str, isvc: str) -> list[Problem]:
    """KServe checks init containers too; they are kept raw (Kubernetes runtime only)."""
    problems: list[Problem] = []
    if not isinstance(containers, list):
        return problems
    for i, container in enumerate(containers):
        env = container.get("env") if isinstance(container, dict) else None
        name = container.get("name") if isinstance(container, dict) else None
        for j, var in enumerate(env if isinstance(env, list) else []):
            if isinstance(var, dict) and var.get("name") in BLOCKED_ENV:
                where = f"{path}[{i}].env[{j}].name"
                text = BLOCKED_ENV_ERROR.format(isvc=isvc, var=var["name"], container=name or "")
                problems.append(Problem(where, f"{text}: {where}"))
    return problems


def _what_runs(container: ContainerSchema, ctx: ContainerContext, found: Findings) -> None:
    local = ctx.api_version == ZEROSERVE_API_VERSION
    if ctx.custom and not container.image and not (local and container.command):
        if local:
            found.problems.append(
                missing(
                    f"{ctx.path}.command",
                    f"{ctx.path}.image",
                    allowed="a command to run locally, or an image (or both)",
                )
            )
        else:
            found.problems.append(
                missing(
                    f"{ctx.path}.image",
                    allowed=f"an image ({ZEROSERVE_API_VERSION} also runs a local "
                    "command without one)",
                )
            )
    if not local:
        return
    texts = [
        (f"{ctx.path}.{list_field}[{i}]", text)
        for list_field in ("command", "args")
        for i, text in enumerate(getattr(container, list_field) or [])
    ]
    texts += [
        (f"{ctx.path}.env[{i}].value", var.value)
        for i, var in enumerate(container.env or [])
        if var.value is not None
    ]
    known = ", ".join(placeholders.PLACEHOLDERS)
    for path, text in texts:
        for token in placeholders.unknown_placeholders(text):
            found.notices.append(
                Notice(
                    path,
                    f"{path} has {token}, which is not a placeholder: it is passed as written "
                    f"(placeholders: {known})",
                )
            )


def _ports(container: ContainerSchema, path: str, found: Findings) -> None:
    ports = container.ports or []
    if len(ports) > 1:
        found.problems.append(
            problem("More than one container port is set", f"{path}.ports", allowed="a single port")
        )
    for i, port in enumerate(ports):
        where = f"{path}.ports[{i}]"
        if port.name == H2C:
            found.problems.append(
                problem(
                    GRPC_NOT_SERVED,
                    f"{where}.name",
                    value=port.name,
                    allowed="no name, or http1 (HTTP/1.1)",
                )
            )
        elif port.name is not None and port.name != "" and port.name not in PORT_NAMES:
            found.problems.append(
                problem(
                    f"Port name {port.name} is not allowed",
                    f"{where}.name",
                    allowed="no name, or http1 (h2c is gRPC, not served yet)",
                )
            )
        if not PORT_MIN <= port.containerPort <= PORT_MAX:
            found.problems.append(
                problem(
                    f"expected {PORT_MIN} <= {port.containerPort} <= {PORT_MAX}",
                    f"{where}.containerPort",
                )
            )
        if port.protocol is not None and port.protocol != "TCP":
            found.problems.append(invalid(f"{where}.protocol", port.protocol, "TCP"))


def _probe(probe: ProbeSchema, path: str, liveness: bool, found: Findings) -> None:
    handlers = [
        name
        for name in ("httpGet", "tcpSocket", "exec", "grpc")
        if getattr(probe, name) is not None
    ]
    if len(handlers) > 1:
        found.problems.append(
            problem(
                "may not specify more than 1 handler type",
                path,
                allowed=f"one of httpGet, tcpSocket, exec (found {', '.join(handlers)})",
            )
        )
    http = probe.httpGet
    if http is not None and http.path is not None and not http.path.startswith("/"):
        found.problems.append(invalid(f"{path}.httpGet.path", http.path, "a path starting with /"))
    if probe.grpc is not None:
        found.problems.append(
            problem(GRPC_NOT_SERVED, f"{path}.grpc", allowed="httpGet, tcpSocket or exec")
        )
    for name in (
        "initialDelaySeconds",
        "periodSeconds",
        "timeoutSeconds",
        "failureThreshold",
        "successThreshold",
        "terminationGracePeriodSeconds",
    ):
        value = getattr(probe, name)
        if value is not None and value < 0:
            found.problems.append(
                invalid(f"{path}.{name}", value, "an integer >= 0 (0: Kubernetes' default)")
            )
    if liveness and probe.successThreshold not in (None, 0, 1):
        found.problems.append(
            invalid(f"{path}.successThreshold", probe.successThreshold, "1 (for a liveness probe)")
        )


def _resources(container: ContainerSchema, path: str, found: Findings) -> None:
    resources = container.resources
    if resources is None:
        return
    for group in ("requests", "limits"):
        for key, value in (getattr(resources, group) or {}).items():
            where = f"{path}.resources.{group}.{key}"
            text = quantity_text(value)
            if not _QUANTITY.match(text):
                found.problems.append(
                    problem(
                        f"quantities must match the regular expression '{QUANTITY_FORMAT}'",
                        where,
                        value=text,
                    )
                )
            elif text.startswith("-"):
                found.problems.append(invalid(where, text, "a quantity >= 0"))
    if resources.claims is not None:
        found.notices.append(kubernetes_only(f"{path}.resources.claims"))


def quantity_text(value: int | float | str) -> str:
    """A YAML number as Kubernetes reads it: ``1`` → ``"1"``, ``0.5`` → ``"0.5"``."""
    return value if isinstance(value, str) else repr(value)
