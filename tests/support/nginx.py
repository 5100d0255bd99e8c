"""nginx as a reference reverse proxy, started as a child process with its own config.

The engine's hardening matrix is checked against nginx in the same test run, and the
benchmark compares the engine with nginx on the same box, so both need an nginx that is
configured the way a careful operator would put it in front of a predictor: keep-alive
upstream pool, HTTP/1.1 upstream, ``Connection`` cleared, ``Host`` passed, no access log.
Everything nginx writes (config, pid, logs, temp files) lives in one temp directory.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.ports import free_port

_CANDIDATES = ("/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx")


class NginxError(Exception):
    """nginx could not be started (the message carries its error log)."""


def find_nginx() -> str | None:
    """The nginx binary, or None if it is not installed."""
    found = shutil.which("nginx")
    if found:
        return found
    return next((c for c in _CANDIDATES if os.access(c, os.X_OK)), None)


def require_nginx() -> str:
    """The nginx binary for a test: skip without it, but fail under ``CI=true`` (where
    ``.ci/run`` installs it, so its absence is a broken CI, not an optional tool)."""
    import pytest

    found = find_nginx()
    if found is None:
        message = "nginx is not installed (apt-get install -y nginx)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return found


@dataclass(frozen=True, slots=True)
class NginxConfig:
    """What differs between uses. ``routes`` maps a Host to an upstream port; the first
    route is also the default server; ``read_timeouts`` overrides
    ``read_timeout_s`` (nginx's 504) per Host. ``tuned`` adds proxy-ceiling.md §2's settings for
    benchmarks (large keepalive_requests both sides, ``reuseport``)."""

    routes: Mapping[str, int]
    workers: int = 1
    master_process: bool = False
    keepalive: int = 64
    client_max_body_size: str = "100m"
    tuned: bool = False
    extra_server: str = ""
    extra_http: str = ""
    read_timeout_s: float = 10.0
    read_timeouts: Mapping[str, float] = field(default_factory=dict)


def render_config(config: NginxConfig, workdir: Path, port: int) -> str:
    """The nginx.conf text for ``config`` listening on ``127.0.0.1:port``."""
    user = "user root;\n" if os.geteuid() == 0 else ""
    temp = {name: workdir / name for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")}
    upstreams = []
    servers = []
    reuseport = " reuseport" if config.tuned else ""
    requests = "keepalive_requests 1000000;" if config.tuned else ""
    for i, (host, upstream_port) in enumerate(config.routes.items()):
        upstreams.append(
            f"  upstream up{i} {{\n"
            f"    server 127.0.0.1:{upstream_port};\n"
            f"    keepalive {config.keepalive};\n"
            f"    {requests}\n"
            "  }\n"
        )
        default = " default_server" if i == 0 else ""
        read_timeout = config.read_timeouts.get(host, config.read_timeout_s)
        listen = f"127.0.0.1:{port}{default}{reuseport if i == 0 else ''}"
        servers.append(
            "  server {\n"
            f"    listen {listen};\n"
            f"    server_name {host};\n"
            "    location / {\n"
            f"      proxy_pass http://up{i};\n"
            "      proxy_http_version 1.1;\n"
            '      proxy_set_header Connection "";\n'
            "      proxy_set_header Host $host;\n"
            f"      proxy_read_timeout {int(read_timeout * 1000)}ms;\n"
            "    }\n"
            f"    {config.extra_server}\n"
            "  }\n"
        )
    return (
        f"{user}"
        "daemon off;\n"
        f"master_process {'on' if config.master_process else 'off'};\n"
        f"worker_processes {config.workers};\n"
        f"pid {workdir / 'nginx.pid'};\n"
        f"error_log {workdir / 'error.log'} info;\n"
        "events { worker_connections 4096; }\n"
        "http {\n"
        "  access_log off;\n"
        f"  client_max_body_size {config.client_max_body_size};\n"
        f"  {requests}\n"
        f"  client_body_temp_path {temp['client_body']};\n"
        f"  proxy_temp_path {temp['proxy']};\n"
        f"  fastcgi_temp_path {temp['fastcgi']};\n"
        f"  uwsgi_temp_path {temp['uwsgi']};\n"
        f"  scgi_temp_path {temp['scgi']};\n"
        f"  {config.extra_http}\n" + "".join(upstreams) + "".join(servers) + "}\n"
    )


@dataclass(slots=True)
class NginxProcess:
    """One nginx (master or single process) started by ``start`` and stopped by pid."""

    config: NginxConfig
    binary: str | None = None
    port: int = 0
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="zs-nginx-")))
    process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None, "nginx is not running"
        return self.process.pid

    @property
    def error_log(self) -> str:
        path = self.workdir / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def start(self, timeout: float = 10.0, attempts: int = 3) -> int:
        """Start nginx on a free loopback port and return the port once it accepts."""
        binary = self.binary or find_nginx()
        if binary is None:
            raise NginxError("nginx is not installed")
        os.chmod(self.workdir, 0o755)
        last_error = ""
        for _ in range(attempts):
            self.port = free_port()
            conf = self.workdir / "nginx.conf"
            conf.write_text(render_config(self.config, self.workdir, self.port))
            log = open(self.workdir / "stderr.log", "ab")  # noqa: SIM115 - owned by Popen
            self.process = subprocess.Popen(
                [
                    binary,
                    "-p",
                    str(self.workdir),
                    "-c",
                    str(conf),
                    "-e",
                    str(self.workdir / "error.log"),
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
            log.close()
            if self._wait_ready(timeout):
                return self.port
            last_error = self.error_log[-2000:]
            self.stop()
        raise NginxError(f"nginx did not start: {last_error}")

    def _wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return True
            except OSError:
                time.sleep(0.02)
        return False

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM (nginx's fast shutdown) to the pid, SIGKILL if it lingers."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout)

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)
