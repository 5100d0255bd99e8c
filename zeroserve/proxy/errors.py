"""The one table of what the engine answers itself, and how those answers look.

Zeroserve's own answers are KServe-shaped JSON, ``{"error": "..."}``. Every failure maps
to a status here and nowhere else: the engine's own errors (``ProxyError`` subclasses)
and the capacity provider's (``CapacityError`` subclasses).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import ClassVar

from zeroserve.capacity.lease import (
    CapacityError,
    CapacityTimeout,
    QueueFull,
    RevisionUnavailable,
    UnknownRevision,
)


class ProxyError(Exception):
    """A request the engine answers itself. ``close``: the connection cannot go on."""

    status: ClassVar[int] = 500
    close: ClassVar[bool] = True


class BadRequest(ProxyError):
    status = 400


class RequestLineTooLong(ProxyError):
    status = 414


class HeadersTooLarge(ProxyError):
    status = 431


class BodyTooLarge(ProxyError):
    status = 413


class HeaderTimeout(ProxyError):
    status = 408


class MethodNotAllowed(ProxyError):
    status = 405
    close = False


class VersionNotSupported(ProxyError):
    """A 4xx, not 505: whatever h11 refuses is refused with a 4xx (the differential)."""

    status = 400


class NoRoute(ProxyError):
    status = 404
    close = False


class BadGateway(ProxyError):
    """The replica failed before a response head; the message names the replica."""

    status = 502
    close = False


class UpstreamTimeout(ProxyError):
    """No response head within the route's timeout; the message names the revision."""

    status = 504
    close = False


STATUS_FOR: dict[type[Exception], int] = {
    UnknownRevision: 503,
    QueueFull: 503,
    CapacityTimeout: 504,
    RevisionUnavailable: 503,
    CapacityError: 503,
}

REASONS: dict[int, bytes] = {
    400: b"Bad Request",
    404: b"Not Found",
    405: b"Method Not Allowed",
    408: b"Request Timeout",
    413: b"Content Too Large",
    414: b"URI Too Long",
    431: b"Request Header Fields Too Large",
    500: b"Internal Server Error",
    502: b"Bad Gateway",
    503: b"Service Unavailable",
    504: b"Gateway Timeout",
    505: b"HTTP Version Not Supported",
}


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    message: str
    retry_after: int | None = None


def status_for(exc: Exception) -> int:
    if isinstance(exc, ProxyError):
        return exc.status
    for cls in type(exc).__mro__:
        status = STATUS_FOR.get(cls)
        if status is not None:
            return status
    return 500


def capacity_reply(exc: CapacityError, revision: str, timeout: float) -> Reply:
    """What the client hears when no lease could be had."""
    status = status_for(exc)
    if isinstance(exc, CapacityTimeout):
        return Reply(status, timeout_message(revision, timeout))
    if isinstance(exc, QueueFull):
        return Reply(status, f"revision {revision} is overloaded: {exc}", exc.retry_after)
    if isinstance(exc, RevisionUnavailable):
        return Reply(status, f"revision {revision} is unavailable: {exc}")
    if isinstance(exc, UnknownRevision):
        return Reply(status, f"revision {revision} is not known here: {exc}", 1)
    return Reply(status, f"no capacity for revision {revision}: {exc}")


def timeout_message(revision: str, timeout: float) -> str:
    return f"revision {revision} did not answer within {timeout:g}s"


def replica_message(replica: str, revision: str, why: str) -> str:
    return f"replica {replica} of revision {revision} failed: {why}"


def error_response(
    status: int,
    message: str,
    *,
    close: bool,
    head_request: bool = False,
    retry_after: int | None = None,
    extra_headers: bytes = b"",
) -> bytes:
    """A complete HTTP/1.1 response carrying ``{"error": message}``."""
    body = json.dumps({"error": message}).encode()
    lines = [
        b"HTTP/1.1 %d %s\r\n" % (status, REASONS.get(status, b"Error")),
        b"Content-Type: application/json\r\n",
        b"Content-Length: %d\r\n" % len(body),
    ]
    if retry_after is not None:
        lines.append(b"Retry-After: %d\r\n" % retry_after)
    if close:
        lines.append(b"Connection: close\r\n")
    lines.append(extra_headers)
    lines.append(b"\r\n")
    if not head_request:
        lines.append(body)
    return b"".join(lines)
