"""Files and folders → YAML documents, each with its source; malformed ones kept as problems.

A file is split at its ``---`` lines before parsing, so one malformed document does not
hide the documents after it (a YAML parser stops at the first error). Documents are
numbered from 1 in file order; empty ones (a trailing ``---``, comments only) are
dropped and not counted. The loader follows what ``kubectl`` reads: YAML 1.1 scalars,
timestamps kept as strings (Kubernetes converts YAML to JSON), duplicate keys refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from zeroserve.resource.errors import MissingPathError, Problem, Source, show

MANIFEST_SUFFIXES = (".yaml", ".yml")
_SEPARATOR = re.compile(r"---(?:[ \t\r\n]|$)")
_TIMESTAMP = "tag:yaml.org,2002:timestamp"


@dataclass(frozen=True, slots=True)
class Document:
    """One YAML document: its parsed body, or the problem that stopped parsing it."""

    source: Source
    body: object = None
    problem: Problem | None = None


def manifest_files(paths: Iterable[str | Path]) -> tuple[Path, ...]:
    """The files to read: files as named, folders' ``*.yaml``/``*.yml`` sorted (not recursive).

    Raises ``MissingPathError`` for the first path that does not exist. A file named
    twice is read once.
    """
    found: list[Path] = []
    seen: set[Path] = set()
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            candidates = sorted(
                p for p in path.iterdir() if p.suffix in MANIFEST_SUFFIXES and p.is_file()
            )
        elif path.exists():
            candidates = [path]
        else:
            raise MissingPathError(str(raw))
        for candidate in candidates:
            key = candidate.resolve()
            if key not in seen:
                seen.add(key)
                found.append(candidate)
    return tuple(found)


def read_documents(path: Path) -> tuple[Document, ...]:
    """Every document of one file; an unreadable file is one document with a problem."""
    label = str(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        reason = error.strerror or type(error).__name__
        return (Document(Source(label), problem=Problem("", f"cannot read the file: {reason}")),)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        message = (
            f"the file is not UTF-8 text (byte 0x{data[error.start]:02x} at offset {error.start})"
        )
        return (Document(Source(label), problem=Problem("", message)),)
    return split_documents(text, label)


def split_documents(text: str, path: str) -> tuple[Document, ...]:
    """Parse every ``---``-separated document of ``text``; ``path`` names them in sources."""
    documents: list[Document] = []
    lines = text.splitlines()
    for start_line, chunk in _chunks(text):
        # Padding keeps the parser's line numbers those of the whole file.
        bodies, error = _load("\n" * start_line + chunk)
        for body in bodies:
            if body is not None:
                documents.append(Document(Source(path, len(documents) + 1), body=body))
        if error is not None:
            where = Source(path, len(documents) + 1)
            documents.append(Document(where, problem=_yaml_problem(error, lines)))
    return tuple(documents)


def _chunks(text: str) -> list[tuple[int, str]]:
    """(first line index, text) per ``---`` section; directive-only sections join the next."""
    lines = text.splitlines(keepends=True)
    starts = [0] + [i for i, line in enumerate(lines) if i and _SEPARATOR.match(line)]
    chunks: list[tuple[int, str]] = []
    pending_start: int | None = None
    for n, start in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(lines)
        first = start if pending_start is None else pending_start
        body = lines[start:end]
        if _only_directives(body) and n + 1 < len(starts):
            pending_start = first
            continue
        pending_start = None
        chunks.append((first, "".join(lines[first:end])))
    return chunks


def _only_directives(lines: list[str]) -> bool:
    meaningful = [
        line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")
    ]
    return bool(meaningful) and all(line.startswith("%") for line in meaningful)


def _load(chunk: str) -> tuple[list[Any], yaml.YAMLError | None]:
    bodies: list[Any] = []
    try:
        for body in yaml.load_all(chunk, Loader=_Loader):
            bodies.append(body)
    except yaml.YAMLError as error:
        return bodies, error
    return bodies, None


def _yaml_problem(error: yaml.YAMLError, lines: list[str]) -> Problem:
    if not isinstance(error, yaml.MarkedYAMLError):
        return Problem("", f"malformed YAML: {error}")
    mark = error.problem_mark or error.context_mark
    text = "malformed YAML"
    offending: list[str] = []
    if mark is not None:
        text += f" at line {mark.line + 1}, column {mark.column + 1}"
        if mark.line < len(lines):
            offending.append(lines[mark.line])
    text += f": {error.problem or 'cannot parse'}"
    context = error.context_mark
    if error.context and context is not None and context is not mark:
        text += f" ({error.context} at line {context.line + 1}, column {context.column + 1})"
        if context.line < len(lines):
            offending.append(lines[context.line])
    if any(re.search(r"(?::|-)\s+\{", line) for line in offending):
        text += '; a value that starts with "{" is a YAML flow mapping: quote it if it is a string'
    return Problem("", text)


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing duplicate keys and keeping timestamps as strings."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[object, yaml.Mark] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=False)
            try:
                first = seen.get(key)
            except TypeError:
                continue  # unhashable: the base class reports it
            if first is not None:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"duplicate key {show(key)} (first at line {first.line + 1})",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _TIMESTAMP]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
