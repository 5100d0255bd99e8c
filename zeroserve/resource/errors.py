"""The resource part's one error hierarchy, its problems, and how their texts are built.

A refusal is a list of ``Problem``s, each one line that names the field path, the value
and what is allowed. Texts follow the settings layer (``zeroserve.config.errors``),
which follows Knative's ``FieldError``: ``<message>: <path>[=<value>][; allowed: …]``,
so a user sees one style whether the text came from KServe, Knative or Zeroserve.
The source (file and document) is added in front when the problem is reported.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True, order=True)
class Source:
    """Where a document came from: a file (as the user named it) and its 1-based index."""

    path: str
    document: int = 1

    @property
    def label(self) -> str:
        """``examples/iris.yaml (document 2)``: the form used in messages."""
        return f"{self.path} (document {self.document})"

    @property
    def ref(self) -> str:
        """``examples/iris.yaml#2``: the short form used in verdict lines."""
        return f"{self.path}#{self.document}"


@dataclass(frozen=True, slots=True)
class Problem:
    """Why a document is refused. ``field`` is the path it names ('' for the document)."""

    field: str
    text: str

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True, slots=True)
class Notice:
    """A warning: accepted, but something has no effect (or not the one expected)."""

    field: str
    text: str

    def __str__(self) -> str:
        return self.text


class ResourceError(ValueError):
    """Base of the resource part's errors."""


class MissingPathError(ResourceError):
    """A file or folder named on the command line does not exist."""

    def __init__(self, path: str) -> None:
        self.path = path
        super().__init__(f"no such file or directory: {path}")


class ConfigFileError(ResourceError):
    """The ``config-autoscaler`` file could not be read or was refused."""


class RefusedError(ResourceError):
    """Raised by callers that want an exception: every problem, with its source."""

    def __init__(self, source: str, problems: Iterable[Problem]) -> None:
        self.source = source
        self.problems = tuple(problems)
        super().__init__("\n".join(f"{source}: {p.text}" for p in self.problems))


_MISSING = object()


def problem(
    message: str, path: str, *, value: object = _MISSING, allowed: str | None = None
) -> Problem:
    """``<message>: <path>[=<value>][; allowed: <allowed>]``."""
    text = f"{message}: {path}"
    if value is not _MISSING:
        text += f"={show_raw(value)}"
    if allowed:
        text += f"; allowed: {allowed}"
    return Problem(field=path, text=text)


def invalid(path: str, value: object, allowed: str) -> Problem:
    """Knative's ``ErrInvalidValue`` with Zeroserve's ``allowed`` suffix."""
    return problem(f"invalid value: {show(value)}", path, allowed=allowed)


def out_of_bounds(path: str, value: int, low: int, high: int) -> Problem:
    """Knative's ``ErrOutOfBoundsValue``."""
    return problem(f"expected {low} <= {value} <= {high}", path)


def missing(*paths: str, allowed: str | None = None) -> Problem:
    """Knative's ``ErrMissingField``."""
    text = f"missing field(s): {', '.join(paths)}"
    if allowed:
        text += f"; allowed: {allowed}"
    return Problem(field=paths[0], text=text)


def unsupported(message: str, path: str, allowed: str | None = None) -> Problem:
    """A field beyond Zeroserve's subset: what it is, and where."""
    return problem(message, path, allowed=allowed)


def show(value: object, limit: int = 80) -> str:
    """A value as the user wrote it: strings in double quotes, null, lists and maps named."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
    elif value is None:
        text = "null"
    elif isinstance(value, bool):
        text = "true" if value else "false"
    else:
        text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def show_raw(value: object) -> str:
    """A value after ``=`` in a path (Knative style): strings unquoted."""
    return value if isinstance(value, str) else show(value)
