"""A folder of manifests → the services to serve, the server config, and what was refused.

``zeroserve serve examples/`` reads every ``*.yaml``/``*.yml`` under the folder,
recursively (sub-folders in name order, hidden ones skipped), since examples live in
``examples/*/``. At most one ``kind: ZeroserveConfig`` document among them configures the
server; it is read first, because its ``autoscaler`` keys and ``domain`` are what the
manifests are checked against. A refused document (or config) is logged with its
reasons and left out; everything else still serves.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from zeroserve.config import ConfigWarnings
from zeroserve.config.server_config import (
    KIND as CONFIG_KIND,
)
from zeroserve.config.server_config import (
    ServerConfig,
    ServerConfigError,
    parse_server_config,
)
from zeroserve.resource.documents import MANIFEST_SUFFIXES, Document, read_documents
from zeroserve.resource.errors import MissingPathError
from zeroserve.resource.model import InferenceService
from zeroserve.resource.parse import Outcome, parse_paths

log = logging.getLogger("zeroserve.control.loader")


@dataclass(frozen=True, slots=True)
class LoadedFolder:
    """What a folder holds. ``refusals`` and ``warnings`` are complete lines, each with
    its source in front; ``config_source`` names the config document used, if any."""

    services: tuple[InferenceService, ...]
    config: ServerConfig
    refusals: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    config_source: str | None = None


def manifest_paths(path: str | Path) -> tuple[Path, ...]:
    """A file as named; a folder's manifests recursively, files before sub-folders, each
    level in name order, hidden entries (``.git``) skipped."""
    root = Path(path)
    if root.is_file():
        return (root,)
    if not root.is_dir():
        raise MissingPathError(str(path))
    found: list[Path] = []

    def walk(folder: Path) -> None:
        entries = sorted(p for p in folder.iterdir() if not p.name.startswith("."))
        found.extend(p for p in entries if p.is_file() and p.suffix in MANIFEST_SUFFIXES)
        for sub in entries:
            if sub.is_dir():
                walk(sub)

    walk(root)
    return tuple(found)


def load_folder(
    path: str | Path,
    *,
    config_path: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> LoadedFolder:
    """Parse ``path`` (a folder, recursively, or one file). ``config_path`` names the
    server config explicitly (then a ``ZeroserveConfig`` in the folder is ignored, with a
    warning); a refused explicit config raises ``ServerConfigError``.

    Raises ``MissingPathError`` if ``path`` does not exist."""
    files = manifest_paths(path)
    refusals: list[str] = []
    warnings: list[str] = []
    config = ServerConfig()
    config_source: str | None = None
    config_docs = [d for f in files for d in read_documents(f) if _is_config(d)]

    if config_path is not None:
        config, found = load_server_config(config_path, environ=environ)
        config_source = str(config_path)
        warnings.extend(w.message for w in found)
        warnings.extend(
            f"{d.source.label}: {CONFIG_KIND} ignored: the config comes from {config_path}"
            for d in config_docs
        )
    elif config_docs:
        first, *others = config_docs
        refusals.extend(
            f"{d.source.label}: at most one {CONFIG_KIND} per folder; "
            f"{first.source.ref} is the one used"
            for d in others
        )
        try:
            config, found = parse_server_config(
                first.body,
                source=first.source.label,
                base_dir=Path(first.source.path).parent,
                environ=environ,
            )
            config_source = first.source.label
            warnings.extend(w.message for w in found)
        except ServerConfigError as error:
            refusals.extend(error.text.splitlines())
            refusals.append(f"{first.source.label}: refused; Zeroserve's defaults apply instead")

    services: list[InferenceService] = []
    for verdict in parse_paths(files, config.autoscaler, domain=config.domain):
        warnings.extend(f"{verdict.source.label}: warning: {n.text}" for n in verdict.notices)
        if verdict.outcome is Outcome.OK and verdict.service is not None:
            services.append(verdict.service)
        elif verdict.outcome is Outcome.REFUSED:
            refusals.extend(verdict.messages)
        elif verdict.kind != CONFIG_KIND:
            warnings.append(f"{verdict.source.label}: {verdict.skip_reason}")

    for line in refusals:
        log.error("refused: %s", line)
    for line in warnings:
        log.warning("%s", line)
    return LoadedFolder(
        services=tuple(services),
        config=config,
        refusals=tuple(refusals),
        warnings=tuple(warnings),
        config_source=config_source,
    )


def load_server_config(
    path: str | Path, *, environ: Mapping[str, str] | None = None
) -> tuple[ServerConfig, ConfigWarnings]:
    """One file holding one ``ZeroserveConfig`` document; ``ServerConfigError`` naming
    the file otherwise."""
    file = Path(path)
    if not file.is_file():
        raise ServerConfigError(str(path), ("no such file",))
    documents = read_documents(file)
    if len(documents) != 1:
        raise ServerConfigError(
            str(path), (f"expected one {CONFIG_KIND} document, found {len(documents)}",)
        )
    document = documents[0]
    if document.problem is not None:
        raise ServerConfigError(str(path), (document.problem.text,))
    return parse_server_config(
        document.body, source=str(path), base_dir=file.parent, environ=environ
    )


def _is_config(document: Document) -> bool:
    body = document.body
    return isinstance(body, Mapping) and body.get("kind") == CONFIG_KIND
