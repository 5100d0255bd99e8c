"""The one error hierarchy of the controller."""

from __future__ import annotations


class ControlError(Exception):
    """Something the controller refuses or cannot do."""


class StateFileError(ControlError):
    """The rollout state file cannot be read or written; the text names the file."""


class NotStarted(ControlError):
    """``apply`` before ``start`` (or after ``close``): the controller owns no tasks then."""
