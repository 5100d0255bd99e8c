"""The server's own config: ``kind: ZeroserveConfig`` (``examples/zeroserve.yaml``).

What a laptop needs beyond the manifests: the hostname ``domain``, Knative's
``config-autoscaler`` keys (under ``autoscaler``), the runtimes table (model format →
local command, like KServe's ServingRuntimes), ``storageUriMap`` (remote storage URIs →
local folders, so KServe's manifests run unchanged) and how many unrouted revisions
each service keeps. The shape follows Kubernetes component configs (``apiVersion`` and
``kind``, fields at the top level). Unknown fields are refused, every problem at once,
each naming the file, the field path, the value and what is allowed.

The bottom layer: this imports nothing of Zeroserve's but ``zeroserve.config``. Reading
the file is the caller's business; ``parse_server_config`` takes the parsed document.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from zeroserve.config.autoscaler_config import AutoscalerConfig, parse_autoscaler_config
from zeroserve.config.errors import ConfigError, ConfigWarning, ConfigWarnings

API_VERSION = "serving.zeroserve.io/v1alpha1"
KIND = "ZeroserveConfig"
DEFAULT_DOMAIN = "example.com"
PROTOCOLS = ("v1", "v2")
DEFAULT_RUNTIME_PROTOCOLS = ("v1",)  # KServe: a runtime listing no protocolVersions speaks v1
COMMAND_PLACEHOLDERS = ("{port}", "{grpc_port}", "{model_name}", "{model_dir}", "{protocol}")
DEFAULT_REVISION_HISTORY_LIMIT = 1
MAX_REVISION_HISTORY_LIMIT = 1000

TOP_FIELDS = (
    "apiVersion",
    "kind",
    "metadata",
    "domain",
    "autoscaler",
    "runtimes",
    "storageUriMap",
    "revisionHistoryLimit",
)
METADATA_FIELDS = ("name",)
RUNTIME_FIELDS = ("command", "protocols", "image")

_PLACEHOLDER = re.compile(r"\{[A-Za-z_][A-Za-z0-9_-]*\}")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_ENV_VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))")
_AUTOSCALER_PREFIX = "config-autoscaler: "


@dataclass(frozen=True, slots=True)
class ModelRuntime:
    """One row of the runtimes table: how a model format runs locally (and on Kubernetes).

    ``command`` may hold ``{port}``, ``{grpc_port}`` (free ports per replica, substituted
    by the runtime), ``{model_name}``, ``{model_dir}`` and ``{protocol}`` (substituted per
    revision). ``format`` is lower-case: model formats match case-insensitively."""

    format: str
    command: tuple[str, ...]
    protocols: tuple[str, ...] = DEFAULT_RUNTIME_PROTOCOLS
    image: str | None = None


SKLEARN_RUNTIME = ModelRuntime(
    format="sklearn",
    command=(
        sys.executable,
        "-m",
        "zeroserve.predictors.sklearn_server",
        "--port",
        "{port}",
        "--model-name",
        "{model_name}",
        "--model-dir",
        "{model_dir}",
        "--protocol",
        "{protocol}",
    ),
    protocols=PROTOCOLS,
)
DEFAULT_RUNTIMES: tuple[ModelRuntime, ...] = (SKLEARN_RUNTIME,)
DEFAULT_AUTOSCALER = AutoscalerConfig()


@dataclass(frozen=True, slots=True)
class StorageMapping:
    """``prefix`` (a remote storage URI, no trailing slash unless it is a bare scheme such
    as ``gs://``) is served from ``folder`` (expanded, absolute or as written)."""

    prefix: str
    folder: str

    def matches(self, uri: str) -> bool:
        if self.prefix.endswith("/"):
            return uri.startswith(self.prefix)
        return uri == self.prefix or uri.startswith(self.prefix + "/")

    def local(self, uri: str) -> str:
        rest = uri[len(self.prefix) :].strip("/")
        return f"{self.folder.rstrip('/')}/{rest}" if rest else self.folder


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """The parsed ``ZeroserveConfig``; the defaults are what an absent file means."""

    domain: str = DEFAULT_DOMAIN
    autoscaler: AutoscalerConfig = DEFAULT_AUTOSCALER
    runtimes: tuple[ModelRuntime, ...] = DEFAULT_RUNTIMES
    storage_uri_map: tuple[StorageMapping, ...] = ()
    revision_history_limit: int = DEFAULT_REVISION_HISTORY_LIMIT
    source: str | None = None  # the file it came from, for messages; None: the defaults

    def runtime(self, model_format: str) -> ModelRuntime | None:
        wanted = model_format.lower()
        return next((r for r in self.runtimes if r.format == wanted), None)

    @property
    def runtime_formats(self) -> tuple[str, ...]:
        return tuple(sorted(r.format for r in self.runtimes))

    def local_folder(self, uri: str) -> str | None:
        """The local folder of a remote storage URI: the longest matching prefix wins."""
        found = [m for m in self.storage_uri_map if m.matches(uri)]
        if not found:
            return None
        return max(found, key=lambda m: len(m.prefix)).local(uri)


class ServerConfigError(ConfigError):
    """A refused ``ZeroserveConfig``: every problem, one line each, the source in front."""

    def __init__(self, source: str, problems: tuple[str, ...]) -> None:
        self.source = source
        self.problems = problems
        super().__init__("\n".join(f"{source}: {p}" for p in problems), field="", standalone=True)


def parse_server_config(
    body: object,
    *,
    source: str = "<input>",
    base_dir: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> tuple[ServerConfig, ConfigWarnings]:
    """A YAML document (already parsed) → the config and its warnings.

    ``storageUriMap`` folders get ``~``, ``$VAR``, ``${VAR}`` and ``${VAR:-default}``
    expanded from ``environ`` (the process environment by default); relative ones are
    taken from ``base_dir`` (the config file's folder). Raises ``ServerConfigError``
    with every problem found.
    """
    reader = _Reader(source, dict(os.environ) if environ is None else environ, base_dir)
    config = reader.read(body)
    if reader.problems:
        raise ServerConfigError(source, tuple(reader.problems))
    assert config is not None
    return config, tuple(reader.warnings)


# -- reading ---------------------------------------------------------------------------


class _Reader:
    """Collects problems instead of stopping at the first, so one run shows them all."""

    def __init__(
        self, source: str, environ: Mapping[str, str], base_dir: str | Path | None
    ) -> None:
        self.source = source
        self.environ = environ
        self.base_dir = None if base_dir is None else Path(base_dir)
        self.problems: list[str] = []
        self.warnings: list[ConfigWarning] = []

    def problem(
        self, message: str, path: str, *, value: object = None, allowed: str | None = None
    ) -> None:
        text = f"{message}: {path}"
        if value is not None:
            text += f"={_raw(value)}"
        if allowed:
            text += f"; allowed: {allowed}"
        self.problems.append(text)

    def unknown_fields(
        self, body: Mapping[object, object], allowed: tuple[str, ...], at: str
    ) -> None:
        for key in body:
            if str(key) not in allowed:
                path = f"{at}.{key}" if at else str(key)
                self.problem(f"unknown field {_show(key)}", path, allowed=", ".join(allowed))

    def read(self, body: object) -> ServerConfig | None:
        if not isinstance(body, Mapping):
            self.problems.append(f"a {KIND} must be a mapping, got {_kind(body)}")
            return None
        self.unknown_fields(body, TOP_FIELDS, "")
        self.expect_exact(body, "apiVersion", API_VERSION)
        self.expect_exact(body, "kind", KIND)
        metadata = body.get("metadata")
        if metadata is not None:
            if isinstance(metadata, Mapping):
                self.unknown_fields(metadata, METADATA_FIELDS, "metadata")
            else:
                self.invalid("metadata", metadata, "a mapping")
        domain = self.domain(body.get("domain"))
        autoscaler = self.autoscaler(body.get("autoscaler"))
        runtimes = self.runtimes(body.get("runtimes"))
        storage = self.storage_map(body.get("storageUriMap"))
        limit = self.history_limit(body.get("revisionHistoryLimit"))
        return ServerConfig(
            domain=domain,
            autoscaler=autoscaler,
            runtimes=runtimes,
            storage_uri_map=storage,
            revision_history_limit=limit,
            source=self.source,
        )

    def invalid(self, path: str, value: object, allowed: str) -> None:
        self.problem(f"invalid value: {_show(value)}", path, allowed=allowed)

    def expect_exact(self, body: Mapping[object, object], key: str, wanted: str) -> None:
        value = body.get(key)
        if value is None:
            self.problem("missing field(s)", key, allowed=wanted)
        elif value != wanted:
            self.invalid(key, value, wanted)

    def domain(self, value: object) -> str:
        if value is None:
            return DEFAULT_DOMAIN
        allowed = "a lower-case DNS name such as example.com"
        if not isinstance(value, str) or not value:
            self.invalid("domain", value, allowed)
            return DEFAULT_DOMAIN
        labels = value.split(".")
        if len(value) > 253 or not all(_DNS_LABEL.match(label) for label in labels):
            self.invalid("domain", value, allowed)
        return value

    def autoscaler(self, value: object) -> AutoscalerConfig:
        if value is None:
            return AutoscalerConfig()
        if not isinstance(value, Mapping):
            self.invalid("autoscaler", value, "a mapping of Knative config-autoscaler keys")
            return AutoscalerConfig()
        try:
            config, warnings = parse_autoscaler_config(value)
        except ConfigError as error:
            path = f"autoscaler.{error.field}" if error.field else "autoscaler"
            text = f"{error.text}: {path}"
            if error.value is not None:
                text += f"={_raw(error.value)}"
            self.problems.append(text)
            return AutoscalerConfig()
        for warning in warnings:
            message = warning.message.removeprefix(_AUTOSCALER_PREFIX)
            self.warnings.append(
                ConfigWarning(
                    field=f"autoscaler.{warning.field}",
                    message=f"{self.source}: autoscaler.{warning.field}: {message}",
                )
            )
        return config

    def runtimes(self, value: object) -> tuple[ModelRuntime, ...]:
        if value is None:
            return DEFAULT_RUNTIMES
        if not isinstance(value, Mapping):
            allowed = "a mapping of model format → {command, protocols, image}"
            self.invalid("runtimes", value, allowed)
            return DEFAULT_RUNTIMES
        table = {r.format: r for r in DEFAULT_RUNTIMES}
        written: dict[str, str] = {}
        for key, entry in value.items():
            path = f"runtimes.{key}"
            if not isinstance(key, str) or not key:
                allowed = "a model format name"
                self.problem(f"invalid key: {_show(key)}", "runtimes", allowed=allowed)
                continue
            lower = key.lower()
            if lower in written:
                self.problem(
                    f'model format "{key}" is also written as "{written[lower]}"',
                    path,
                    allowed="each format once (formats match case-insensitively)",
                )
                continue
            written[lower] = key
            runtime = self.runtime(lower, entry, path)
            if runtime is not None:
                table[lower] = runtime
        return tuple(table[name] for name in sorted(table))

    def runtime(self, name: str, entry: object, path: str) -> ModelRuntime | None:
        if not isinstance(entry, Mapping):
            self.invalid(path, entry, "a mapping with command, protocols, image")
            return None
        self.unknown_fields(entry, RUNTIME_FIELDS, path)
        command = self.command(entry.get("command"), f"{path}.command")
        protocols = self.protocols(entry.get("protocols"), f"{path}.protocols")
        image = entry.get("image")
        if image is not None and (not isinstance(image, str) or not image):
            self.invalid(f"{path}.image", image, "a container image name")
            image = None
        if command is None or protocols is None:
            return None
        return ModelRuntime(name, command, protocols, image if isinstance(image, str) else None)

    def command(self, value: object, path: str) -> tuple[str, ...] | None:
        allowed = "a non-empty list of strings"
        if value is None:
            self.problem("missing field(s)", path, allowed=allowed)
            return None
        if not isinstance(value, list) or not value:
            self.invalid(path, value, allowed)
            return None
        ok = True
        for i, arg in enumerate(value):
            if not isinstance(arg, str):
                self.invalid(f"{path}[{i}]", arg, f"a string (quote it: {_show(str(arg))})")
                ok = False
                continue
            for token in _PLACEHOLDER.findall(arg):
                if token not in COMMAND_PLACEHOLDERS:
                    self.problem(
                        f"unknown placeholder {_show(token)}",
                        f"{path}[{i}]",
                        value=arg,
                        allowed=", ".join(COMMAND_PLACEHOLDERS),
                    )
                    ok = False
        if ok and not value[0]:
            self.invalid(f"{path}[0]", value[0], "a program to run")
            ok = False
        return tuple(value) if ok else None

    def protocols(self, value: object, path: str) -> tuple[str, ...] | None:
        if value is None:
            return DEFAULT_RUNTIME_PROTOCOLS
        allowed = ", ".join(PROTOCOLS)
        if not isinstance(value, list) or not value:
            self.invalid(path, value, f"a non-empty list of {allowed}")
            return None
        ok = True
        for i, protocol in enumerate(value):
            if protocol not in PROTOCOLS:
                self.invalid(f"{path}[{i}]", protocol, allowed)
                ok = False
        return tuple(dict.fromkeys(value)) if ok else None

    def storage_map(self, value: object) -> tuple[StorageMapping, ...]:
        if value is None:
            return ()
        if not isinstance(value, Mapping):
            self.invalid("storageUriMap", value, "a mapping of storage URI prefix → local folder")
            return ()
        found: dict[str, StorageMapping] = {}
        for key, folder in value.items():
            path = f"storageUriMap[{_show(key)}]"
            if not isinstance(key, str) or "://" not in key:
                self.problem(
                    f"invalid key: {_show(key)}",
                    "storageUriMap",
                    allowed="a storage URI prefix such as gs://bucket/models",
                )
                continue
            prefix = _normalise_prefix(key)
            if prefix in found:
                self.problem(
                    "the same prefix is mapped twice (trailing slashes do not count)",
                    path,
                    allowed="each prefix once",
                )
                continue
            if not isinstance(folder, str) or not folder.strip():
                self.invalid(path, folder, "a local folder (~ and $VARIABLES are expanded)")
                continue
            local = self.expand(folder, path)
            if local is not None:
                found[prefix] = StorageMapping(prefix, local)
        return tuple(sorted(found.values(), key=lambda m: (-len(m.prefix), m.prefix)))

    def expand(self, folder: str, path: str) -> str | None:
        missing: list[str] = []

        def variable(match: re.Match[str]) -> str:
            name = match.group(1) or match.group(3)
            default = match.group(2)
            found = self.environ.get(name)
            if found:
                return found
            if default is not None:
                return default
            missing.append(name)
            return match.group(0)

        text = _ENV_VAR.sub(variable, folder)
        if missing:
            self.problem(
                f"environment variable {_show(missing[0])} is not set",
                path,
                value=folder,
                allowed="set variables, or ${NAME:-default}",
            )
            return None
        if text == "~" or text.startswith("~/"):
            home = self.environ.get("HOME") or str(Path.home())
            text = home + text[1:]
        if not os.path.isabs(text) and self.base_dir is not None:
            text = str(self.base_dir / text)
        return os.path.normpath(text)

    def history_limit(self, value: object) -> int:
        if value is None:
            return DEFAULT_REVISION_HISTORY_LIMIT
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or not 0 <= value <= MAX_REVISION_HISTORY_LIMIT
        ):
            self.invalid(
                "revisionHistoryLimit",
                value,
                f"an integer in [0, {MAX_REVISION_HISTORY_LIMIT}] (old revisions kept per service)",
            )
            return DEFAULT_REVISION_HISTORY_LIMIT
        return value


def _normalise_prefix(key: str) -> str:
    stripped = key.rstrip("/")
    return f"{stripped}//" if stripped.endswith(":") else stripped


def _show(value: object) -> str:
    """A value as the user wrote it: strings quoted, null, lists and mappings named."""
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return str(value)


def _raw(value: object) -> str:
    return value if isinstance(value, str) else _show(value)


def _kind(value: object) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "nothing"
    return f"a {type(value).__name__}"
