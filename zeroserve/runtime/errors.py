"""The one error hierarchy of the runtime part.

Named ``ReplicaRuntimeError`` so it never shadows the builtin ``RuntimeError``.
"""

from __future__ import annotations


class ReplicaRuntimeError(Exception):
    """Something the runtime refuses or cannot do."""


class InvalidTemplate(ReplicaRuntimeError, ValueError):
    """A revision template or a request (a negative scale) that cannot be run."""


class UnknownRevision(ReplicaRuntimeError, KeyError):
    """No such revision in this runtime (never ensured, or removed)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "unknown revision"


class TemplateConflict(ReplicaRuntimeError):
    """``ensure`` of an existing revision with another template: revisions are immutable,
    so a changed command makes a new revision instead."""


class RuntimeClosed(ReplicaRuntimeError):
    """The runtime was closed; it starts nothing any more."""


class SpawnFailed(ReplicaRuntimeError):
    """The predictor could not be started at all (no such program, bad cwd); counted
    like a crash at start, with this text as its last stderr line."""
