"""The lifeline supervisor: exits relayed, process groups killed, nothing outlives the
server, even a SIGKILLed one."""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.runtime import fds_of, live, pid_alive, until, wait_gone
from tests.support.processes import start, stop
from zeroserve.runtime.errors import SpawnFailed
from zeroserve.runtime.process import ReplicaProcess, SupervisorPool

LIFELINE_CHILD = str(Path(__file__).with_name("lifeline_child.py"))
HAS_PROC = Path("/proc/self/fd").is_dir()
LINUX_PROC = pytest.mark.skipif(not HAS_PROC, reason="needs /proc")


@pytest.fixture
async def pool() -> AsyncIterator[SupervisorPool]:
    pool = SupervisorPool()
    pool.warm()
    try:
        yield pool
    finally:
        await pool.close()


async def sh(pool: SupervisorPool, script: str, grace: float = 5.0) -> ReplicaProcess:
    return await pool.spawn("t-1", ["/bin/sh", "-c", script], dict(os.environ), None, grace)


async def child_pid(process: ReplicaProcess) -> int:
    """The pid a script printed to stderr as ``child=<pid>``."""

    def found() -> bool:
        return any(line.startswith("child=") for line in process.stderr_tail)

    await until(found, "printing its child's pid")
    line = next(line for line in process.stderr_tail if line.startswith("child="))
    return int(line.removeprefix("child="))


async def test_exit_code_and_stderr_are_relayed(pool: SupervisorPool) -> None:
    process = await sh(pool, "echo first >&2; echo last words >&2; exit 7")
    ended = await process.finished()
    assert (ended.code, ended.signal) == (7, None)
    assert ended.describe() == "exit code 7"
    assert list(process.stderr_tail) == ["first", "last words"]
    assert not pid_alive(process.supervisor_pid)


async def test_death_by_signal_is_relayed(pool: SupervisorPool) -> None:
    process = await sh(pool, "kill -KILL $$")
    ended = await process.finished()
    assert (ended.code, ended.signal) == (None, signal.SIGKILL)
    assert ended.describe() == "signal 9 (SIGKILL)"


async def test_predictor_has_its_own_group_and_dev_null_stdin(pool: SupervisorPool) -> None:
    process = await sh(pool, "echo child=$$ >&2; exec sleep 1000")
    await child_pid(process)
    try:
        assert os.getpgid(process.pid) == process.pid
        assert os.getpgid(process.supervisor_pid) == process.supervisor_pid
        assert os.getsid(process.pid) == process.supervisor_pid  # out of our terminal
        if HAS_PROC:
            fds = fds_of(process.pid)
            assert fds[0] == "0:/dev/null", fds
            assert not [fd for fd in fds if "socket:" in fd], fds  # no lifeline copy
    finally:
        process.signal(signal.SIGKILL)
        await process.finished()


async def test_leftovers_die_with_the_predictor(pool: SupervisorPool) -> None:
    process = await sh(pool, "sleep 1000 & echo child=$! >&2; exit 0")
    grandchild = await child_pid(process)
    ended = await process.finished()
    assert ended.code == 0
    await wait_gone([grandchild], [process.pid], timeout=5)


async def test_cut_lifeline_terms_the_whole_group(pool: SupervisorPool) -> None:
    process = await sh(pool, "sleep 1000 & echo child=$! >&2; wait")
    grandchild = await child_pid(process)
    process.cut()
    ended = await process.finished()
    assert ended.signal == signal.SIGTERM
    await wait_gone([grandchild, process.supervisor_pid], [process.pid], timeout=5)


async def test_cut_lifeline_kills_what_ignores_sigterm_after_grace(pool: SupervisorPool) -> None:
    script = "trap '' TERM; echo child=$$ >&2; while :; do sleep 0.05; done"
    process = await sh(pool, script, grace=0.3)
    await child_pid(process)
    process.cut()
    ended = await process.finished()
    assert ended.signal == signal.SIGKILL
    await wait_gone([process.supervisor_pid], [process.pid], timeout=5)


async def test_sigterm_to_the_supervisor_is_forwarded(pool: SupervisorPool) -> None:
    process = await sh(pool, "echo child=$$ >&2; sleep 1000 & wait")
    await child_pid(process)
    os.kill(process.supervisor_pid, signal.SIGTERM)
    ended = await process.finished()
    assert ended.signal == signal.SIGTERM
    await wait_gone([process.supervisor_pid], [process.pid], timeout=5)


async def test_a_program_that_cannot_start_is_a_spawn_failure(pool: SupervisorPool) -> None:
    with pytest.raises(SpawnFailed, match=r"cannot start '/nonexistent/x': No such file"):
        await pool.spawn("t-1", ["/nonexistent/x"], dict(os.environ), None, 1.0)


@LINUX_PROC
async def test_only_the_runtime_holds_a_lifeline(pool: SupervisorPool) -> None:
    """Each supervisor holds one socket (its own lifeline, as stdin); no supervisor or
    predictor holds another's, so one replica's life never hangs on another's."""
    a = await sh(pool, "echo child=$$ >&2; exec sleep 1000")
    b = await sh(pool, "echo child=$$ >&2; exec sleep 1000")
    try:
        await child_pid(a)
        await child_pid(b)
        for supervisor in (a.supervisor_pid, b.supervisor_pid):
            sockets = [fd for fd in fds_of(supervisor) if "socket:" in fd]
            assert len(sockets) == 1 and sockets[0].startswith("0:"), fds_of(supervisor)
        for predictor in (a.pid, b.pid):
            assert not [fd for fd in fds_of(predictor) if "socket:" in fd]
    finally:
        for process in (a, b):
            process.signal(signal.SIGKILL)
            await process.finished()


async def test_no_replica_process_outlives_a_sigkilled_server() -> None:
    server = start([sys.executable, LIFELINE_CHILD])
    try:
        match = await server.async_wait_for_line(r'^\{"replicas".*\}$', timeout=30)
        replicas = json.loads(match.group(0))["replicas"]
        assert len(replicas) == 2
        groups = [r["pid"] for r in replicas]
        supervisors = [r["supervisor_pid"] for r in replicas]
        members = live(pgids=groups)
        assert len(members) >= 4, members  # each group: echo and its sleeping sibling
        os.kill(server.pid, signal.SIGKILL)
        await server.async_wait_exit(timeout=5)
        await wait_gone(supervisors, groups, timeout=10)
    finally:
        stop(server, grace=1.0)
