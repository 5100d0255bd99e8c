"""The one error hierarchy of the settings layer, and the warnings it returns.

Texts follow Knative's: a ``config-autoscaler`` failure is one complete sentence (Go's
``fmt.Errorf``), an annotation failure is a ``FieldError`` (``<message>: <paths>``), and
several field errors merge the way ``knative.dev/pkg/apis`` merges them, so users who
know Knative's messages recognise ours.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


class ConfigError(ValueError):
    """A refused setting: which field (key or path), its raw value, and why.

    ``message`` is the text before the paths (Knative's ``FieldError.Message``); when
    ``standalone`` it is the whole sentence and already names the field. ``allowed`` is
    Zeroserve's ``; allowed: …`` suffix, for texts of Knative's that name no range.
    """

    def __init__(
        self,
        message: str,
        *,
        field: str,
        value: object = None,
        allowed: str | None = None,
        paths: tuple[str, ...] | None = None,
        standalone: bool = False,
    ) -> None:
        self.message = message
        self.field = field
        self.value = value
        self.allowed = allowed
        self.paths: tuple[str, ...] = paths if paths is not None else (field,)
        self.standalone = standalone
        super().__init__(self.text)

    @property
    def text(self) -> str:
        """The line a user reads."""
        if self.standalone:
            return self.message
        line = f"{self.message}: {', '.join(self.paths)}"
        if self.allowed:
            line += f"; allowed: {self.allowed}"
        return line

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.text!r})"


class GoSyntaxError(ConfigError):
    """A value Go's strconv or time.ParseDuration would refuse, with Go's own text.

    Callers wrap it into the message of the setting that held the value.
    """

    def __init__(self, message: str, *, value: str) -> None:
        super().__init__(message, field="", value=value, standalone=True)


class ConfigErrors(ConfigError):
    """Several field errors reported at once, merged as Knative merges them.

    Identical messages join their paths (sorted, ``", "``); the lines are sorted by
    message and joined with newlines.
    """

    def __init__(self, errors: Iterable[ConfigError]) -> None:
        found = list(_flatten(errors))
        self.errors: tuple[ConfigError, ...] = merge_errors(found)
        fields = tuple(sorted({e.field for e in found if e.field}))
        super().__init__(
            "\n".join(e.text for e in self.errors),
            field=", ".join(fields),
            paths=fields,
            standalone=True,
        )


def merge_errors(errors: Iterable[ConfigError]) -> tuple[ConfigError, ...]:
    """Knative's merge: one line per distinct message, its paths joined and sorted."""
    merged: dict[tuple[bool, str, str], ConfigError] = {}
    for error in _flatten(errors):
        key = (error.standalone, error.message, error.allowed or "")
        seen = merged.get(key)
        if seen is None:
            merged[key] = error
            continue
        merged[key] = ConfigError(
            seen.message,
            field=seen.field,
            value=seen.value,
            allowed=seen.allowed,
            paths=seen.paths + error.paths,
            standalone=seen.standalone,
        )
    out = []
    for error in merged.values():
        if error.standalone:
            out.append(error)
            continue
        out.append(
            ConfigError(
                error.message,
                field=error.field,
                value=error.value,
                allowed=error.allowed,
                paths=tuple(sorted(error.paths)),
            )
        )
    out.sort(key=lambda e: (e.message, e.allowed or ""))
    return tuple(out)


def _flatten(errors: Iterable[ConfigError]) -> Iterable[ConfigError]:
    for error in errors:
        if isinstance(error, ConfigErrors):
            yield from error.errors
        else:
            yield error


def raise_if_any(errors: Iterable[ConfigError]) -> None:
    """Raise all of them merged into one ``ConfigErrors``; do nothing when there are none."""
    found = list(_flatten(errors))
    if found:
        raise ConfigErrors(found)


@dataclass(frozen=True, slots=True)
class ConfigWarning:
    """A setting that was accepted but has no effect (an unknown or dead key)."""

    field: str
    message: str

    def __str__(self) -> str:
        return self.message


ConfigWarnings = tuple[ConfigWarning, ...]
