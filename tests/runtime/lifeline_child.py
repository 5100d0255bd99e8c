"""A server stand-in for the orphan test: a LocalRuntime with two replicas, then it waits.

Each replica is ``sh -c 'sleep 1000 & exec echo...'``, so its group holds a grandchild
too. Once both are ready it prints one JSON line, ``{"replicas": [{"name", "pid",
"supervisor_pid"}, ...]}``, and waits for the test to SIGKILL it.
"""

from __future__ import annotations

import asyncio
import json
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from zeroserve.clock import RealClock  # noqa: E402
from zeroserve.runtime.base import RevisionTemplate  # noqa: E402
from zeroserve.runtime.local import LocalRuntime  # noqa: E402

REVISION = "orphan-predictor-00001"


async def main() -> None:
    runtime = LocalRuntime(RealClock())
    echo = shlex.join([sys.executable, str(ROOT / "examples" / "echo" / "server.py")])
    command = f"sleep 1000 & exec {echo} --port {{port}}"
    template = RevisionTemplate(argv=("/bin/sh", "-c", command), termination_grace=2.0)
    await runtime.ensure(REVISION, template)
    await runtime.scale(REVISION, 2)
    async for snapshot in runtime.watch():
        if snapshot.revision == REVISION and len(snapshot.ready) == 2:
            break
    replicas = [
        {"name": r.name, "pid": r.pid, "supervisor_pid": r.supervisor_pid}
        for r in runtime.status(REVISION).replicas
    ]
    print(json.dumps({"replicas": replicas}), flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
