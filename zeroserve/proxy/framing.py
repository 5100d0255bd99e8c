"""Pure header and framing rules over bytes: what is forwarded, dropped, set, re-framed.

Headers travel as flat lists ``[name, b": ", value, b"\\r\\n", ...]`` so a head is one
``b"".join``; only the few names the engine acts on are looked up, by code, in a dict.
"""

from __future__ import annotations

from collections.abc import Iterable

# What the client-side parser does with a request header (absent = forwarded unchanged).
REQ_HOST = 1
REQ_CONTENT_LENGTH = 2
REQ_TRANSFER_ENCODING = 3
REQ_CONNECTION = 4
REQ_DROP = 5  # hop-by-hop, or set by us (X-Forwarded-Proto/-Host)
REQ_UPGRADE = 6
REQ_EXPECT = 7
REQ_FORWARDED_FOR = 8

REQUEST_HEADERS: dict[bytes, int] = {
    b"host": REQ_HOST,
    b"content-length": REQ_CONTENT_LENGTH,
    b"transfer-encoding": REQ_TRANSFER_ENCODING,
    b"connection": REQ_CONNECTION,
    b"keep-alive": REQ_DROP,
    b"proxy-connection": REQ_DROP,
    b"proxy-authorization": REQ_DROP,
    b"te": REQ_DROP,
    b"upgrade": REQ_UPGRADE,
    b"expect": REQ_EXPECT,
    b"x-forwarded-for": REQ_FORWARDED_FOR,
    b"x-forwarded-proto": REQ_DROP,
    b"x-forwarded-host": REQ_DROP,
}

# What the upstream-side parser does with a response header.
RESP_CONTENT_LENGTH = 1
RESP_TRANSFER_ENCODING = 2
RESP_CONNECTION = 3
RESP_KEEP_ALIVE = 4
RESP_UPGRADE = 5
RESP_DROP = 6

RESPONSE_HEADERS: dict[bytes, int] = {
    b"content-length": RESP_CONTENT_LENGTH,
    b"transfer-encoding": RESP_TRANSFER_ENCODING,
    b"connection": RESP_CONNECTION,
    b"keep-alive": RESP_KEEP_ALIVE,
    b"upgrade": RESP_UPGRADE,
    b"proxy-connection": RESP_DROP,
    b"proxy-authenticate": RESP_DROP,
    b"te": RESP_DROP,
}

# Connection tokens that name no end-to-end header worth a second pass.
PLAIN_CONNECTION_TOKENS = frozenset({b"close", b"keep-alive", b"upgrade", b"te"})

# Never accepted in trailers: they would change framing, routing or auth after the fact.
FORBIDDEN_TRAILERS = frozenset(
    {
        b"content-length",
        b"transfer-encoding",
        b"host",
        b"connection",
        b"keep-alive",
        b"te",
        b"trailer",
        b"upgrade",
        b"proxy-connection",
        b"authorization",
        b"content-type",
        b"content-encoding",
        b"content-range",
        b"cache-control",
        b"expect",
        b"set-cookie",
        b"cookie",
    }
)

IDEMPOTENT_METHODS = frozenset({b"GET", b"HEAD", b"OPTIONS", b"PUT", b"DELETE"})


def strip_ows(value: bytes) -> bytes:
    """llhttp drops leading whitespace of a value but keeps trailing; h11 drops both."""
    if value and value[-1] in (32, 9):
        return value.rstrip(b" \t")
    return value


def connection_tokens(value: bytes) -> list[bytes]:
    return [t for t in (p.strip().lower() for p in value.split(b",")) if t]


def is_chunked(value: bytes) -> bool:
    """Only a lone ``chunked`` is accepted: any other coding is refused, never relayed."""
    return value.strip().lower() == b"chunked"


def host_key(host: bytes) -> bytes:
    """The routing key: lower-case, port stripped (IPv6 literals keep their brackets)."""
    host = host.strip().lower()
    if host[:1] == b"[":
        end = host.find(b"]")
        return host[: end + 1] if end > 0 else host
    colon = host.find(b":")
    return host if colon < 0 else host[:colon]


def split_absolute(target: bytes) -> tuple[bytes, bytes] | None:
    """``http://authority/path?q`` → (authority, ``/path?q``); None for other forms."""
    lower = target[:8].lower()
    if lower.startswith(b"http://"):
        rest = target[7:]
    elif lower.startswith(b"https://"):
        rest = target[8:]
    else:
        return None
    cut = len(rest)
    for sep in (b"/", b"?", b"#"):
        at = rest.find(sep)
        if 0 <= at < cut:
            cut = at
    authority, path = rest[:cut], rest[cut:]
    at = authority.rfind(b"@")
    if at >= 0:
        authority = authority[at + 1 :]
    hash_at = path.find(b"#")
    if hash_at >= 0:
        path = path[:hash_at]
    if not path.startswith(b"/"):
        path = b"/" + path
    return authority, path


def keep_alive_timeout(value: bytes) -> float | None:
    """The ``timeout=N`` of a ``Keep-Alive`` header, if any."""
    for part in value.split(b","):
        name, _, number = part.strip().partition(b"=")
        if name.strip().lower() == b"timeout":
            try:
                return float(number.strip())
            except ValueError:
                return None
    return None


def pool_idle_for(keep_alive: bytes | None, default: float) -> float:
    """How long an idle upstream connection may be reused: ours, or a second under the
    upstream's own ``Keep-Alive: timeout`` so we never race its close (0: do not pool)."""
    if keep_alive is None:
        return default
    timeout = keep_alive_timeout(keep_alive)
    if timeout is None:
        return default
    return max(0.0, min(default, timeout - 1.0))


def drop_named(parts: list[bytes], names: Iterable[bytes]) -> list[bytes]:
    """Remove headers named in ``Connection`` from a flat header list."""
    banned = set(names) - PLAIN_CONNECTION_TOKENS
    if not banned:
        return parts
    kept: list[bytes] = []
    for i in range(0, len(parts), 4):
        if parts[i].lower() not in banned:
            kept += parts[i : i + 4]
    return kept


def trailer_lines(trailers: list[bytes]) -> bytes:
    """Trailer fields worth forwarding, as header lines (from a flat name/value list)."""
    out: list[bytes] = []
    for i in range(0, len(trailers), 2):
        name = trailers[i]
        if name.lower() not in FORBIDDEN_TRAILERS:
            out += (name, b": ", trailers[i + 1], b"\r\n")
    return b"".join(out)


def last_chunk(trailers: list[bytes] | None) -> bytes:
    if not trailers:
        return b"0\r\n\r\n"
    return b"0\r\n" + trailer_lines(trailers) + b"\r\n"
