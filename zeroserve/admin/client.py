"""The admin API seen from the command line: one blocking GET, JSON back.

The standard library's ``urllib`` is enough for one request and costs the CLI no start-up
time. Proxies from the environment are ignored: the admin API is local, and an
``http_proxy`` meant for the internet must not swallow ``127.0.0.1``.
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.parse
import urllib.request

from zeroserve.admin.codec import decode_status
from zeroserve.admin.errors import AdminError, AdminUnreachable, BadAdminAnswer
from zeroserve.admin.model import ServerSnapshot

__all__ = ["fetch_json", "fetch_status"]

STATUS_PATH = "/api/v1/status"


def _error_text(body: bytes) -> str:
    """The ``error`` of a JSON error answer, else the start of the body."""
    try:
        answer = json.loads(body)
    except ValueError:
        return body[:200].decode("utf-8", "replace").strip() or "(no body)"
    if isinstance(answer, dict) and isinstance(answer.get("error"), str):
        return str(answer["error"])
    return body[:200].decode("utf-8", "replace")


def fetch_json(admin_url: str, path: str, *, timeout: float = 5.0) -> object:
    """``GET admin_url + path``, decoded. Raises ``AdminUnreachable`` when nothing answers,
    ``BadAdminAnswer`` for an error status or a body that is not JSON."""
    scheme = urllib.parse.urlsplit(admin_url).scheme
    if scheme not in ("http", "https"):
        raise AdminError(f"the admin URL must start with http:// or https://, got {admin_url!r}")
    url = admin_url.rstrip("/") + path
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=timeout) as response:
            body: bytes = response.read()
    except urllib.error.HTTPError as error:
        raise BadAdminAnswer(
            f"the Zeroserve admin API at {admin_url} answered {error.code}: "
            f"{_error_text(error.read())}"
        ) from error
    except TimeoutError as error:
        raise AdminUnreachable(
            f"the Zeroserve admin API at {admin_url} did not answer within {timeout:g} s"
        ) from error
    except (OSError, http.client.HTTPException) as error:
        # urllib wraps a socket timeout in a URLError; say so rather than "not running".
        if isinstance(getattr(error, "reason", None), TimeoutError):
            raise AdminUnreachable(
                f"the Zeroserve admin API at {admin_url} did not answer within {timeout:g} s"
            ) from error
        if isinstance(error, http.client.HTTPException):
            raise BadAdminAnswer(f"{admin_url} does not answer like an HTTP server") from error
        raise AdminUnreachable(
            f"cannot reach the Zeroserve admin API at {admin_url}: is `zeroserve serve` running?"
        ) from error
    try:
        return json.loads(body)
    except ValueError as error:
        raise BadAdminAnswer(
            f"the Zeroserve admin API at {admin_url} answered {path} with something "
            "that is not JSON"
        ) from error


def fetch_status(admin_url: str, *, timeout: float = 5.0) -> tuple[object, ServerSnapshot]:
    """The server's status: the JSON as it came, and the snapshot it describes."""
    answer = fetch_json(admin_url, STATUS_PATH, timeout=timeout)
    return answer, decode_status(answer)
