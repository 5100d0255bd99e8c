"""``zeroserve serve`` as a process: a graceful SIGTERM, no replica outliving a SIGKILLed
server (the lifeline), and the open-files limit raised at start."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp

from tests.embedded import INFER_BODY, echo_manifest, host, infer_path
from tests.runtime import wait_gone
from tests.support.ports import free_port
from tests.support.processes import Child, async_wait_for_http, async_wait_for_port, start, stop

START_TIMEOUT = 20.0


class Served:
    def __init__(self, child: Child, port: int, admin_port: int) -> None:
        self.child = child
        self.port = port
        self.admin_port = admin_port

    async def request(
        self, path: str, body: object = None, *, method: str = "POST"
    ) -> tuple[int, dict[str, str], bytes]:
        async with (
            aiohttp.ClientSession() as session,
            session.request(
                method,
                f"http://127.0.0.1:{self.port}{path}",
                data=None if body is None else json.dumps(body),
                headers={"Host": host()},
                timeout=aiohttp.ClientTimeout(total=20),
            ) as response,
        ):
            return response.status, dict(response.headers), await response.read()

    async def replica_pid(self) -> int:
        """Starts a replica from zero (if none runs) and asks it its pid."""
        status, _, body = await self.request("/stats", method="GET")
        assert status == 200, body
        pid: int = json.loads(body)["pid"]
        return pid

    async def in_flight(self) -> int:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{self.admin_port}/api/v1/status") as response,
        ):
            status = await response.json()
        (service,) = status["services"]
        return sum(r["requests"]["inFlight"] for r in service["status"]["revisions"])


@asynccontextmanager
async def served(tmp_path: Path, prefix: Sequence[str] = ()) -> AsyncIterator[Served]:
    folder = tmp_path / "manifests"
    folder.mkdir()
    (folder / "echo.yaml").write_text(echo_manifest())
    port, admin_port = free_port(), free_port()
    argv = [
        *prefix,
        sys.executable,
        "-m",
        "zeroserve.cli",
        "serve",
        str(folder),
        "--port",
        str(port),
        "--admin-port",
        str(admin_port),
        "--state-dir",
        str(tmp_path / "state"),
    ]
    child = start(argv)
    try:
        await async_wait_for_http(admin_port, "/healthz", timeout=START_TIMEOUT, child=child)
        await async_wait_for_port(port, timeout=START_TIMEOUT, child=child)
        yield Served(child, port, admin_port)
    finally:
        await asyncio.to_thread(stop, child, 5.0)


async def test_sigterm_lets_the_request_in_flight_finish_and_exits_cleanly(
    tmp_path: Path,
) -> None:
    async with served(tmp_path) as server:
        pid = await server.replica_pid()
        slow = asyncio.create_task(server.request(infer_path(query="sleep_ms=1500"), INFER_BODY))
        deadline = asyncio.get_running_loop().time() + 5
        while await server.in_flight() == 0:  # the admin API, asked until it says so
            assert asyncio.get_running_loop().time() < deadline, "the request never started"
            await asyncio.sleep(0.02)
        os.kill(server.child.pid, signal.SIGTERM)
        status, headers, body = await slow
        assert status == 200, body
        assert headers.get("Connection") == "close"
        assert headers.get("Zeroserve-Revision") == "echo-predictor-00001"
        assert await server.child.async_wait_exit(timeout=10) == 0
        await wait_gone(pgids=[pid], timeout=5)
        output = server.child.output()
        assert "SIGTERM: stopping gracefully" in output
        assert "replica echo-predictor-00001-1 stopped" in output


async def test_a_sigkilled_server_leaves_no_replica_process(tmp_path: Path) -> None:
    async with served(tmp_path) as server:
        pid = await server.replica_pid()
        os.kill(server.child.pid, signal.SIGKILL)
        assert await server.child.async_wait_exit(timeout=5) == -signal.SIGKILL
        await wait_gone(pgids=[pid], timeout=10)


def open_files_limit(pid: int) -> tuple[int, int]:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            soft, hard = line.split()[3:5]
            return int(soft), int(hard)
    raise AssertionError(f"no open-files line in /proc/{pid}/limits")


async def test_the_open_files_soft_limit_is_raised_to_the_hard_limit(tmp_path: Path) -> None:
    lowered = ["/bin/sh", "-c", 'ulimit -S -n 256 && exec "$@"', "sh"]
    async with served(tmp_path, prefix=lowered) as server:
        soft, hard = open_files_limit(server.child.pid)
        assert hard > 256
        assert soft == hard
