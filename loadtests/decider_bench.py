"""Decisions per second: one autoscaler tick over 10,000 revisions, pure parts only.

A tick per revision = read the stable/panic averages from its windows, ``decide``,
``bound``. Revisions get a spread of loads (idle, steady, bursting into panic), a
5-minute scale-down delay on a third of them, and a minute of recorded history, so the
tick does what a busy autoscaler does. Store I/O is measured separately (issue 5).

    python loadtests/decider_bench.py [--revisions 10000] [--ticks 10]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from dataclasses import replace

from autoscaler.bounds import BoundsInput, BoundsState, bound, initial_bounds_state
from autoscaler.decider import DeciderState, Observed, decide, initial_state
from autoscaler.windows import RevisionWindows
from zeroserve.config.autoscaler_config import AutoscalerConfig
from zeroserve.config.scaling import PredictorScaling, RevisionScaling, effective_spec


def build(n: int, now: float, seed: int) -> list[tuple[RevisionScaling, RevisionWindows]]:
    rng = random.Random(seed)
    config = AutoscalerConfig()
    out = []
    for i in range(n):
        annotations = {"autoscaling.knative.dev/scale-down-delay": "5m"} if i % 3 == 0 else {}
        scaling = effective_spec(
            config, annotations, PredictorScaling(min_replicas=0, container_concurrency=i % 5)
        )
        windows = RevisionWindows(scaling.windows)
        base = rng.choice([0.0, 0.0, 1.0, 5.0, 40.0, 300.0])
        for s in range(60):
            t = now - 60 + s
            burst = base * (4 if s > 54 and i % 7 == 0 else 1)
            windows.record(t, burst * rng.uniform(0.8, 1.2), burst * 10)
        out.append((scaling, windows))
    return out


def tick(
    revisions: list[tuple[RevisionScaling, RevisionWindows]],
    deciders: list[DeciderState],
    bounds: list[BoundsState],
    ready: list[int],
    now: float,
) -> None:
    for i, (scaling, windows) in enumerate(revisions):
        spec = scaling.decider
        averages = windows.averages(spec.scaling_metric, now)
        if averages is None:
            observed = Observed(None, None, ready[i])
        else:
            observed = Observed(averages.stable, averages.panic, ready[i])
        decision, deciders[i] = decide(spec, observed, deciders[i], now)
        desired = decision.desired if decision.valid else -1
        inp = BoundsInput(desired, decision.excess_burst_capacity, ready[i])
        outcome, bounds[i] = bound(scaling.bounds, inp, bounds[i], now)
        if outcome.replicas is not None:
            ready[i] = outcome.replicas


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--revisions", type=int, default=10_000)
    parser.add_argument("--ticks", type=int, default=10)
    args = parser.parse_args()
    now = 1_700_000_000.0
    revisions = build(args.revisions, now, seed=1)
    ready = [1 + (i % 4) for i in range(args.revisions)]
    deciders = [initial_state(s.decider, ready[i], now) for i, (s, _) in enumerate(revisions)]
    bounds = [replace(initial_bounds_state(now - 120)) for _ in revisions]

    # decide alone, on fixed observations: the decision function's own cost
    observed = [
        Observed(a.stable, a.panic, ready[i]) if (a := w.averages("concurrency", now)) else None
        for i, (_, w) in enumerate(revisions)
    ]
    decide_times = []
    for k in range(args.ticks):
        t = now + 2 * k
        start = time.perf_counter()
        for i, (scaling, _) in enumerate(revisions):
            obs = observed[i]
            if obs is not None:
                decide(scaling.decider, obs, deciders[i], t)
        decide_times.append(time.perf_counter() - start)

    tick_times = []
    for k in range(args.ticks):
        t = now + 2 * k
        start = time.perf_counter()
        tick(revisions, deciders, bounds, ready, t)
        tick_times.append(time.perf_counter() - start)

    n = args.revisions
    d_med = statistics.median(decide_times)
    t_med = statistics.median(tick_times)
    print(f"revisions: {n}, ticks: {args.ticks} (median reported)")
    print(f"decide only:        {d_med * 1e3:7.1f} ms/tick  {n / d_med:10,.0f} decisions/s")
    print(f"windows+decide+bounds: {t_med * 1e3:5.1f} ms/tick  {n / t_med:10,.0f} revisions/s")
    print(f"worst tick:         {max(tick_times) * 1e3:7.1f} ms")


if __name__ == "__main__":
    main()
