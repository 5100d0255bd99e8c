"""The orphan guard: a tiny supervisor between the runtime and one predictor.

No process of a replica may outlive the server, even a SIGKILLed one. Parent-death
signals miss grandchildren and are Linux-only; a pipe does neither. So each replica runs
under this script, which holds one end of a socket pair (its stdin) whose other end only
the runtime holds (close-on-exec, never passed on). When the runtime dies, for whatever
reason, the kernel closes its end, this script reads EOF and kills the predictor's whole
process group: SIGTERM, then SIGKILL after the grace period.

It is a standalone, stdlib-only script run as ``python -I -S lifeline.py`` (no site, no
package imports). Started on demand it would delay the predictor by ~30 ms (measured:
scale-to-spawn 31 ms); so the runtime starts one ahead of need and keeps it waiting, and
a cold start pays only a message and a ``posix_spawn`` (0.5-0.7 ms). A waiting one costs
~11 MB RSS (5 MB of it private). Forking the server itself instead was ruled out: it is
multi-threaded (executor, child watcher) and runs an event loop whose wakeup fd and
locks a forked child would share.

The control socket speaks JSON lines. In: one spawn command ``{"argv", "env", "cwd",
"grace"}``, then any number of ``{"signal": n}`` (signal the predictor's group). Out:
``{"pid": n, "spawned": monotonic}`` (or ``{"error": text}`` and exit 127), then, once
the predictor has exited, ``{"exit": code}`` or ``{"signal": n}``; then this script
exits. The predictor gets its own process group (its pid), /dev/null as stdin, and this
script's stdout and stderr. When the predictor exits, whatever it left in its group is
SIGKILLed before the predictor is reaped, so the group id cannot have been reused.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import sys
import time
from typing import Any

CONTROL = 0
FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
RESET = (*FORWARDED, signal.SIGCHLD, signal.SIGPIPE, signal.SIGXFSZ, signal.SIGQUIT)
SPAWN_FAILED = 127
_HAS_WAITID = hasattr(os, "waitid")  # not on macOS: there, reap first, then kill the group


class Channel:
    """Newline-delimited JSON over the control socket."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buffer = b""
        self.eof = False

    def read(self) -> list[dict[str, Any]]:
        """Messages from one read (blocking until something or EOF arrives)."""
        try:
            data = os.read(self.fd, 65536)
        except OSError:
            data = b""
        if not data:
            self.eof = True
            return []
        self.buffer += data
        *lines, self.buffer = self.buffer.split(b"\n")
        messages = []
        for line in lines:
            with contextlib.suppress(ValueError):  # a bad line must not cost the guard
                message = json.loads(line)
                if isinstance(message, dict):
                    messages.append(message)
        return messages

    def first(self) -> dict[str, Any] | None:
        while not self.eof:
            messages = self.read()
            if messages:
                return messages[0]
        return None

    def send(self, message: dict[str, Any]) -> None:
        with contextlib.suppress(OSError):  # the runtime is gone: nobody to tell
            os.write(self.fd, json.dumps(message).encode() + b"\n")


def killpg(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def spawn(command: dict[str, Any]) -> int:
    argv = [str(a) for a in command["argv"]]
    env = {str(k): str(v) for k, v in command["env"].items()}
    if command.get("cwd"):
        os.chdir(command["cwd"])
    return os.posix_spawnp(
        argv[0],
        argv,
        env,
        file_actions=[(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0)],
        setpgroup=0,
        setsigdef=RESET,
        setsigmask=(),
    )


def reap(pid: int) -> dict[str, Any] | None:
    """The predictor's end, once it has exited; its group's leftovers killed first."""
    if _HAS_WAITID:
        if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None:
            return None
        killpg(pid, signal.SIGKILL)  # the unreaped leader keeps the group id ours
        _, status = os.waitpid(pid, 0)
    else:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done == 0:
            return None
        killpg(pid, signal.SIGKILL)
    if os.WIFSIGNALED(status):
        return {"signal": os.WTERMSIG(status)}
    return {"exit": os.waitstatus_to_exitcode(status)}


def supervise(channel: Channel, pid: int, grace: float, received: list[int], wake: int) -> None:
    kill_at: float | None = None
    while True:
        ended = reap(pid)
        if ended is not None:
            channel.send(ended)
            return
        while received:
            killpg(pid, received.pop(0))  # our own SIGTERM goes to the predictor
        if kill_at is not None and time.monotonic() >= kill_at:
            killpg(pid, signal.SIGKILL)
            kill_at = None
        watched = [wake] if channel.eof else [wake, channel.fd]
        timeout = None if kill_at is None else max(0.0, kill_at - time.monotonic())
        readable, _, _ = select.select(watched, [], [], timeout)
        if wake in readable:
            with contextlib.suppress(BlockingIOError):
                os.read(wake, 4096)
        if channel.fd in readable:
            for message in channel.read():
                with contextlib.suppress(KeyError, TypeError, ValueError):
                    killpg(pid, int(message["signal"]))
            if channel.eof:  # the runtime is gone, or let this replica go
                killpg(pid, signal.SIGTERM)
                kill_at = time.monotonic() + grace


def main() -> int:
    channel = Channel(CONTROL)
    channel.send({"ready": True})  # booted: a spare that answered this spawns at once
    command = channel.first()  # a waiting spare; SIGTERM still kills it outright
    if command is None:
        return 0
    received: list[int] = []
    wake_r, wake_w = os.pipe()  # close-on-exec: the predictor does not get them
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    for sig in FORWARDED:
        signal.signal(sig, lambda signum, frame: received.append(signum))
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)
    spawned = time.monotonic()
    try:
        pid = spawn(command)
    except (OSError, KeyError, TypeError, ValueError) as e:
        detail = e.strerror if isinstance(e, OSError) and e.strerror else repr(e)
        argv0 = command.get("argv", ["?"])[0] if isinstance(command.get("argv"), list) else "?"
        channel.send({"error": f"cannot start {argv0!r}: {detail}"})
        return SPAWN_FAILED
    channel.send({"pid": pid, "spawned": spawned})
    supervise(channel, pid, float(command.get("grace", 5.0)), received, wake_r)
    return 0


if __name__ == "__main__":
    sys.exit(main())
