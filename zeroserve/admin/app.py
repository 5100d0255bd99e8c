"""The admin API, ``/metrics`` and the status page: an aiohttp application.

``create_app(source)`` builds it; everything it shows comes from ``source.snapshot()``,
taken once per request. The app owns no task, so the wiring runs it however it likes
(``serving()`` below, or its own ``AppRunner``) and may add ``on_startup`` or
``cleanup_ctx`` hooks to it before it starts.

Routes (all ``GET``; errors are JSON ``{"error": "..."}``, KServe's shape):

- ``/healthz``: ``ok``;
- ``/metrics``: Prometheus text (``metrics.py`` lists the names);
- ``/api/v1/status``: the whole snapshot (what ``zeroserve status`` reads);
- ``/api/v1/services``: ``{"items": [service, ...]}``;
- ``/api/v1/services/{namespace}/{name}``: one service, 404 when unknown;
- ``/api/v1/revisions``: ``{"items": [revision, ...]}``;
- ``/``: the status page.

``codec.py`` documents the service and revision objects.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from zeroserve.admin.codec import encode_revision, encode_service, encode_status
from zeroserve.admin.metrics import build_registry
from zeroserve.admin.source import SnapshotSource
from zeroserve.admin.status_page import render_page

__all__ = ["REGISTRY", "SOURCE", "create_app", "error_response", "serving"]

log = logging.getLogger(__name__)

SOURCE = web.AppKey("zeroserve.admin.source", SnapshotSource)
REGISTRY = web.AppKey("zeroserve.admin.registry", CollectorRegistry)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_dumps = functools.partial(json.dumps, indent=2, allow_nan=False)


def error_response(
    status: int, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers, dumps=_dumps)


@web.middleware
async def _json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error answers JSON, aiohttp's own 404 and 405 included."""
    try:
        return await handler(request)
    except web.HTTPNotFound:
        return error_response(404, f"no such page: {request.path}")
    except web.HTTPMethodNotAllowed as error:
        allow = ", ".join(sorted(error.allowed_methods))
        return error_response(
            405,
            f"method {request.method} is not allowed on {request.path}; allowed: {allow}",
            headers={"Allow": allow},
        )
    except web.HTTPException as error:
        if error.status < 400:
            raise
        return error_response(error.status, error.reason)
    except Exception as error:
        log.exception("admin API: %s %s failed", request.method, request.path)
        return error_response(500, f"{request.method} {request.path} failed: {error}")


async def _healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok")


async def _metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[REGISTRY])
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def _status(request: web.Request) -> web.Response:
    return web.json_response(encode_status(request.app[SOURCE].snapshot()), dumps=_dumps)


async def _services(request: web.Request) -> web.Response:
    snapshot = request.app[SOURCE].snapshot()
    items = [encode_service(snapshot, s) for s in snapshot.services]
    return web.json_response({"items": items}, dumps=_dumps)


async def _service(request: web.Request) -> web.Response:
    namespace, name = request.match_info["namespace"], request.match_info["name"]
    snapshot = request.app[SOURCE].snapshot()
    service = snapshot.service(namespace, name)
    if service is None:
        return error_response(404, f"no InferenceService {namespace}/{name}")
    return web.json_response(encode_service(snapshot, service), dumps=_dumps)


async def _revisions(request: web.Request) -> web.Response:
    snapshot = request.app[SOURCE].snapshot()
    items = [encode_revision(snapshot, r) for r in snapshot.revisions]
    return web.json_response({"items": items}, dumps=_dumps)


async def _page(request: web.Request) -> web.Response:
    page = render_page(request.app[SOURCE].snapshot())
    return web.Response(text=page, content_type="text/html", headers={"Cache-Control": "no-store"})


def create_app(
    source: SnapshotSource, *, registry: CollectorRegistry | None = None
) -> web.Application:
    """The admin application over ``source``. ``registry`` defaults to a new one holding
    the snapshot's metrics and the process' (``metrics.build_registry``)."""
    app = web.Application(middlewares=[_json_errors])
    app[SOURCE] = source
    app[REGISTRY] = build_registry(source) if registry is None else registry
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/metrics", _metrics)
    app.router.add_get("/api/v1/status", _status)
    app.router.add_get("/api/v1/services", _services)
    app.router.add_get("/api/v1/services/{namespace}/{name}", _service)
    app.router.add_get("/api/v1/revisions", _revisions)
    app.router.add_get("/", _page)
    return app


@contextlib.asynccontextmanager
async def serving(
    app: web.Application, host: str = "127.0.0.1", port: int = 9090
) -> AsyncIterator[str]:
    """Serve ``app`` on ``host:port`` (0: any free port) until the block ends; yields the
    base URL it listens on, e.g. ``http://127.0.0.1:9090``."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound_host, bound_port = runner.addresses[0][:2]
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        yield f"http://{shown}:{bound_port}"
    finally:
        await runner.cleanup()
