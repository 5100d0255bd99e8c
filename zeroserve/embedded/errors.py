"""The one error hierarchy of the all-in-one process."""

from __future__ import annotations

__all__ = ["EmbeddedError", "NotRunning", "StartFailed"]


class EmbeddedError(Exception):
    """Something the all-in-one server refuses or cannot do."""


class StartFailed(EmbeddedError):
    """The server could not start (a folder that does not exist, a refused config, a port
    in use); the text says which, and everything started so far was stopped again."""


class NotRunning(EmbeddedError):
    """A part was asked for before ``start`` (or after ``close``)."""
