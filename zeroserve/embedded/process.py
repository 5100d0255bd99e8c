"""``zeroserve serve`` as a process: limits, logging, uvloop, and a graceful stop.

DESIGN.md's hardening matrix asks two things of the process itself:

* many clients at once: the open-files soft limit is raised to the hard limit at start
  (every client and every upstream connection is a descriptor);
* SIGTERM (and SIGINT, Ctrl-C): stop accepting, close idle keep-alives, answer in-flight
  requests with ``Connection: close``, wait up to the largest revision timeout, then
  stop the replicas and exit 0. A second signal while draining cuts the drain short.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

from zeroserve.embedded.errors import StartFailed
from zeroserve.embedded.server import EmbeddedServer
from zeroserve.proxy.server import loop_factory

__all__ = [
    "ServeOptions",
    "configure_logging",
    "default_state_dir",
    "raise_open_files_limit",
    "run",
    "serve",
]

log = logging.getLogger("zeroserve.serve")

# Where the soft limit goes when the hard one is "unlimited" (setrlimit refuses that for
# open files on Linux: the kernel's nr_open caps it, 1048576 by default).
_UNLIMITED_FALLBACK = 1 << 20
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@dataclass(frozen=True, slots=True)
class ServeOptions:
    """What ``zeroserve serve`` was asked for."""

    folder: Path
    config: Path | None = None
    host: str = "127.0.0.1"
    port: int = 8080
    admin_host: str = "127.0.0.1"
    admin_port: int = 9090
    state_dir: Path | None = None
    log_level: str = "info"


def default_state_dir() -> Path:
    """``$XDG_STATE_HOME/zeroserve``, else ``~/.local/state/zeroserve``."""
    root = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(root) / "zeroserve"


def raise_open_files_limit() -> tuple[int, int]:
    """Raise the soft RLIMIT_NOFILE to the hard limit; returns (soft, hard) after. A
    refusal (an unusual platform cap) is logged and the limit left as it was."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = _UNLIMITED_FALLBACK if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        except (ValueError, OSError) as error:
            log.warning("cannot raise the open-files limit from %d to %d: %s", soft, wanted, error)
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return soft, hard


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # aiohttp's access log is off; its server errors stay visible at warning.
    logging.getLogger("aiohttp").setLevel(max(logging.WARNING, logging.getLogger().level))


def run(options: ServeOptions) -> int:
    """Serve until SIGTERM or SIGINT; the exit status (0 after a graceful stop, 1 when
    the server could not start)."""
    configure_logging(options.log_level)
    soft, hard = raise_open_files_limit()
    log.debug("open-files limit %d (hard %d)", soft, hard)
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(serve(options))


async def serve(options: ServeOptions) -> int:
    """The body of ``run`` on a running loop (the signal handlers need one)."""
    server = EmbeddedServer(
        options.folder,
        config_path=options.config,
        host=options.host,
        port=options.port,
        admin_host=options.admin_host,
        admin_port=options.admin_port,
        state_dir=options.state_dir,
    )
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    signals: list[signal.Signals] = []

    def on_signal(sig: signal.Signals) -> None:
        signals.append(sig)
        if len(signals) == 1:
            log.info("%s: stopping gracefully (again to stop at once)", sig.name)
            stop.set()
        else:
            log.warning("%s again: cutting the drain short", sig.name)
            server.hurry()

    for sig in _STOP_SIGNALS:
        loop.add_signal_handler(sig, on_signal, sig)
    try:
        try:
            await server.start()
        except StartFailed as error:
            log.error("%s", error)
            return 1
        _announce(server)
        await stop.wait()
        await server.close()
        return 0
    finally:
        await server.close(drain_timeout=0)
        for sig in _STOP_SIGNALS:
            loop.remove_signal_handler(sig)


def _announce(server: EmbeddedServer) -> None:
    loaded = server.loaded
    log.info("gateway on %s", server.gateway_url)
    log.info(
        "admin API on %s/api/v1/status, metrics on %s/metrics, status page on %s/",
        server.admin_url,
        server.admin_url,
        server.admin_url,
    )
    if loaded.config_source is not None:
        log.info("config from %s", loaded.config_source)
    for status in server.parts.controller.status():
        log.info(
            "serving %s/%s (revision %s) at %s",
            status.namespace,
            status.name,
            status.latest_created_revision,
            status.url,
        )
    for name, reason in server.applied.failed:
        log.error("revision %s is Failed: %s", name, reason)
    if loaded.refusals:
        log.error(
            "%d line(s) of refusals above: those manifests are not served (`zeroserve "
            "validate` shows the same)",
            len(loaded.refusals),
        )
