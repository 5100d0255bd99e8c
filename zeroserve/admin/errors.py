"""The admin part's errors: one hierarchy, so callers catch ``AdminError`` and no more."""

from __future__ import annotations

__all__ = ["AdminError", "AdminUnreachable", "BadAdminAnswer", "InvalidSnapshot"]


class AdminError(Exception):
    """Anything the admin API, its client or its snapshots refuse."""


class InvalidSnapshot(AdminError, ValueError):
    """A snapshot value that cannot be true (a negative count, a histogram of the wrong
    length): a bug in whoever filled it, reported where it was built."""


class AdminUnreachable(AdminError):
    """Nothing answered at the admin URL (refused, timed out, unknown host)."""


class BadAdminAnswer(AdminError):
    """The admin API answered, but with an error status or a body we cannot read."""
