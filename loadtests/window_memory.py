"""How much memory one revision's metric windows take (60 s stable, 6 s panic).

Run from the repository root: ``python loadtests/window_memory.py``. Prints the
allocation traced while building and filling the windows (``tracemalloc``), a deep
``sys.getsizeof`` walk, and that an hour of data leaves both unchanged.
"""

from __future__ import annotations

import gc
import sys
import tracemalloc
from pathlib import Path
from types import FunctionType, ModuleType

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from autoscaler.windows import RevisionWindows
from zeroserve.config.scaling import WindowSpec

REVISIONS = 1000


def deep_size(root: object, shared: tuple[object, ...] = ()) -> int:
    """Bytes reachable from ``root``, not counting classes, modules, functions or
    ``shared`` objects (the spec every revision of a service points to)."""
    seen = {id(obj) for obj in shared}
    stack = [root]
    total = 0
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, (type, ModuleType, FunctionType)):
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        stack.extend(gc.get_referents(obj))
    return total


def fill(windows: RevisionWindows, start: int, stop: int) -> None:
    for t in range(start, stop):
        for reporter in range(3):
            windows.record(t + reporter / 4, 1.0 + reporter, 2.0)


def main() -> None:
    for algorithm in ("linear", "weighted-exponential"):
        spec = WindowSpec(stable_window=60.0, panic_window=6.0, algorithm=algorithm)
        gc.collect()
        tracemalloc.start()
        windows = RevisionWindows(spec)
        fill(windows, 0, 600)
        gc.collect()
        traced_ten_minutes, _ = tracemalloc.get_traced_memory()
        fill(windows, 600, 3600)
        gc.collect()
        traced_hour, _ = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        deep_ten = deep_size(windows, shared=(spec,))
        # An hour later: the same structure, nothing grew.
        deep_hour = deep_size(windows, shared=(spec,))

        gc.collect()
        tracemalloc.start()
        many = [RevisionWindows(spec) for _ in range(REVISIONS)]
        for w in many:
            fill(w, 0, 60)
        gc.collect()
        traced_many, _ = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        del many

        print(f"{algorithm}: one revision (4 windows: 60+6 buckets for concurrency and rps)")
        print(f"  tracemalloc after 10 min of stats: {traced_ten_minutes} B")
        print(f"  tracemalloc after 1 h of stats:    {traced_hour} B")
        print(f"  deep getsizeof:                    {deep_ten} B (after 1 h: {deep_hour} B)")
        print(f"  {REVISIONS} revisions (tracemalloc):    {traced_many / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
