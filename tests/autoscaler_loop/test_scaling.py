"""The loop scales as the KPA does: steady load, bursts and panic, scale to zero after the
stable window (and the grace period), pokes from zero, live retunes, route changes."""

from __future__ import annotations

import math

import pytest

from autoscaler.bounds import Reason
from tests.autoscaler_loop import (
    REV,
    REV2,
    START,
    Rig,
    pods_for,
    scaling,
    target,
)
from zeroserve.config.scaling import RouteMode


@pytest.mark.parametrize(
    ("metric", "load"),
    [("concurrency", 30.0), ("concurrency", 150.0), ("concurrency", 1000.0), ("rps", 300.0)],
)
async def test_steady_traffic_gets_load_over_target_replicas(metric: str, load: float) -> None:
    spec = scaling(scale_metric=metric)
    expected = pods_for(load, spec)
    async with Rig({REV: spec}, reporters=("gw-1", "gw-2")) as rig:  # the halves add up
        await rig.seconds(20, {REV: load})
        assert rig.desired() == expected
        assert rig.ready[REV] == expected
        # Panic (from the first tick's 0 → many) ends a stable window later; the steady
        # decision stays put through it and after.
        seen: set[int | None] = set()
        for _ in range(90):
            await rig.second({REV: load})
            seen.add(rig.desired())
        assert seen == {expected}
        status = rig.status()
        assert status.desired == expected and status.decided and not status.panic
        assert status.stable_average == pytest.approx(load)
        assert status.metric == metric


async def test_the_first_tick_without_reporters_holds_and_writes_what_runs() -> None:
    async with Rig() as rig:
        assert rig.loop.status().sight.reason == "no reporter has reported yet"
        assert [(w.desired, w.mode) for w in rig.writes] == [(0, RouteMode.PROXY)]
        assert rig.status().want == -1 and rig.status().reason == Reason.UNKNOWN_DECISION


async def test_a_burst_panics_and_holds_a_stable_window_after_the_last_over_tick() -> None:
    spec = scaling()
    async with Rig({REV: spec}) as rig:
        await rig.seconds(70, {REV: 60.0})
        assert rig.desired() == 1 and not rig.status().panic
        await rig.seconds(4, {REV: 600.0})
        peak = rig.written()
        assert peak > 1 and rig.status().panic
        left_panic = None
        for _ in range(100):
            await rig.second({REV: 60.0})
            panic_time = rig.panic_time()
            now = rig.clock.now()
            if panic_time is not None:
                assert rig.written() >= peak, "panic never scales down"
                assert rig.status().panic
            elif left_panic is None:
                left_panic = now
        assert left_panic is not None
        assert rig.written() < peak


async def test_panic_hold_ends_exactly_a_stable_window_after_the_last_over_tick() -> None:
    spec = scaling()
    async with Rig({REV: spec}) as rig:
        await rig.seconds(70, {REV: 60.0})
        await rig.seconds(4, {REV: 600.0})
        last_over = rig.panic_time()
        assert last_over is not None
        peak = rig.written()
        while rig.clock.now() <= last_over + spec.decider.stable_window:
            await rig.second({REV: 60.0})
            if rig.clock.now() <= last_over + spec.decider.stable_window:
                assert rig.desired() == peak
        await rig.seconds(4, {REV: 60.0})
        assert rig.panic_time() is None
        assert rig.written() < peak


@pytest.mark.parametrize("burst_capacity", ["0", None], ids=["serve-mode", "activator"])
async def test_traffic_stops_and_zero_comes_only_after_the_window_and_grace(
    burst_capacity: str | None,
) -> None:
    annotations = {} if burst_capacity is None else {"target-burst-capacity": burst_capacity}
    spec = scaling(annotations)
    stable = spec.decider.stable_window
    grace = spec.bounds.scale_to_zero_grace_period
    async with Rig({REV: spec}) as rig:
        await rig.seconds(70, {REV: 50.0})
        assert rig.desired() == 1
        last_traffic = rig.clock.now() - 1  # the second of the last sample
        zero_at = None
        for _ in range(140):
            await rig.second()  # heartbeats only: a live reporter's silence is zero
            if rig.desired() == 0 and zero_at is None:
                zero_at = rig.writes[-1].decided_at
            if zero_at is None:
                assert rig.desired() == 1
        assert zero_at is not None, "never scaled to zero"
        if burst_capacity == "0":
            # Serve mode until the revision deactivates: the full grace period applies.
            assert rig.status().mode is RouteMode.PROXY
            assert zero_at - last_traffic >= stable + grace
            assert zero_at - last_traffic <= stable + grace + 4
        else:
            # The activator was in the path all along (TBC 211 > 1 replica's spare room),
            # so Knative's fast path removes the last replica once the revision is
            # inactive: a stable window of zeros is still needed.
            assert zero_at - last_traffic >= stable
            assert zero_at - last_traffic <= stable + 6
        assert rig.status().reason in {Reason.SCALE_TO_ZERO, Reason.PROXY_FAST_PATH}


async def test_windows_decay_through_silence_counted_as_zero() -> None:
    async with Rig() as rig:
        await rig.seconds(60, {REV: 60.0})
        before = rig.status().stable_average
        await rig.seconds(30)
        after = rig.status().stable_average
        assert before == pytest.approx(60.0)
        # 30 of the last 60 seconds are zeros (up to the horizon and the tick alignment).
        assert after is not None and 24.0 <= after <= 36.0


async def test_a_poke_at_zero_writes_one_replica_at_once() -> None:
    async with Rig() as rig:
        await rig.seconds(40)
        assert rig.desired() == 0
        now = rig.clock.now()
        await rig.store.poke(REV, now)
        record = await rig.next_write()
        assert (record.revision, record.desired) == (REV, 1)
        assert record.decided_at == now == rig.clock.now(), "no tick was waited for"
        assert record.mode is RouteMode.PROXY  # nothing is ready yet: through the activator
        status = rig.status()
        assert status.decided and status.desired == 1


async def test_a_poke_for_a_revision_with_replicas_changes_nothing() -> None:
    async with Rig() as rig:
        await rig.seconds(10, {REV: 100.0})
        assert rig.desired() == 2
        rig.collect()
        await rig.store.poke(REV, rig.clock.now())
        await rig.clock.settle()
        assert rig.collect() == []


async def test_a_poke_for_a_new_revision_is_seen_before_the_next_tick() -> None:
    async with Rig() as rig:
        await rig.seconds(4)
        await rig.publish({REV: scaling(), REV2: scaling()}, traffic={REV: 90, REV2: 10})
        await rig.report()
        await rig.store.poke(REV2, rig.clock.now())
        record = await rig.next_write()
        assert (record.revision, record.desired) == (REV2, 1)


async def test_a_retune_keeps_the_panic_and_takes_effect() -> None:
    spec = scaling()
    async with Rig({REV: spec}) as rig:
        await rig.seconds(70, {REV: 60.0})
        await rig.seconds(4, {REV: 600.0})
        panic_time = rig.panic_time()
        peak = rig.written()
        assert panic_time is not None
        # Halve the target (scaleTarget), and shorten the stable window.
        tuned = scaling({"window": "30s"}, scale_target=50)
        assert target(tuned) < target(spec)
        await rig.publish({REV: tuned})
        await rig.seconds(2, {REV: 600.0})
        status = rig.status()
        assert status.panic, "the panic state survives the retune"
        retuned_panic_time = rig.panic_time()
        assert retuned_panic_time is not None and retuned_panic_time >= panic_time
        stable, panic = status.stable_average, status.panic_average
        assert stable is not None and panic is not None
        wanted = max(math.ceil(stable / target(tuned)), math.ceil(panic / target(tuned)))
        assert wanted > peak
        assert rig.desired() == wanted, "the new target decides at once"
        windows = rig.loop._collector.windows(REV)
        assert windows is not None and windows.spec == tuned.windows


async def test_a_retune_of_bounds_applies_on_the_next_tick() -> None:
    async with Rig() as rig:
        await rig.seconds(10, {REV: 600.0})
        assert rig.desired() == pods_for(600.0, scaling())
        await rig.publish({REV: scaling(max_replicas=3)})
        await rig.seconds(2, {REV: 600.0})
        assert rig.desired() == 3
        assert rig.status().reason == Reason.MAX_SCALE


async def test_a_removed_revision_is_forgotten_and_its_scale_removed() -> None:
    async with Rig({REV: scaling(), REV2: scaling()}) as rig:
        await rig.seconds(4, {REV: 100.0})
        assert rig.desired(REV2) == 0
        await rig.publish({REV: scaling()})
        await rig.seconds(2, {REV: 100.0})
        assert REV2 not in await rig.store.read_scales()
        assert [w.revision for w in rig.writes if w.removed] == [REV2]
        assert rig.loop.revision_status(REV2) is None
        assert rig.desired(REV) == 2


async def test_revisions_without_a_scaling_spec_are_skipped() -> None:
    async with Rig({REV: scaling(), REV2: None}, reporters=("gw-1",)) as rig:
        await rig.seconds(6, {REV: 10.0, REV2: 10.0})
        assert rig.loop.revision_status(REV2) is None
        assert REV2 not in await rig.store.read_scales()
        assert rig.loop.status().untracked_samples > 0


async def test_an_unreachable_revision_ignores_its_min_scale() -> None:
    specs = {REV: scaling(), REV2: scaling(min_replicas=2)}
    async with Rig(specs) as rig:
        await rig.seconds(70)
        assert rig.desired(REV2) == 0  # no traffic share: min-scale does not hold it up
        await rig.publish(specs, traffic={REV: 50, REV2: 50})
        await rig.seconds(4)
        assert rig.desired(REV2) == 2


async def test_unchanged_decisions_are_rewritten_every_resync() -> None:
    async with Rig(resync=10.0) as rig:
        await rig.seconds(6, {REV: 100.0})
        rig.collect()
        rig.writes.clear()
        await rig.seconds(30, {REV: 100.0})
        times = [w.decided_at - START for w in rig.writes]
        assert len(times) == 3, times
        assert all(w.desired == 2 for w in rig.writes)
        assert times[1] - times[0] == pytest.approx(10.0, abs=2.0)


async def test_the_loop_ticks_every_tick_seconds_of_clock_time() -> None:
    async with Rig(tick=5.0) as rig:
        await rig.seconds(20)
        assert rig.loop.status().ticks == 5  # at 0, 5, 10, 15, 20
        assert rig.loop.status().last_tick_at == START + 20
        assert rig.clock.pending() >= 1
    assert rig.clock.pending() == 0, "closing the loop leaves no timer behind"


@pytest.mark.parametrize(
    ("annotations", "initial_scale", "mode"),
    [
        ({}, 0, RouteMode.PROXY),  # 0 × 100 − 211 < 0: the activator stays in the path
        ({}, 5, RouteMode.SERVE),  # 5 × 100 − 211 ≥ 0
        ({"target-burst-capacity": "0"}, 0, RouteMode.SERVE),  # TBC 0: EBC 0
        ({"target-burst-capacity": "-1"}, 5, RouteMode.PROXY),  # TBC −1: always −1
    ],
)
async def test_before_the_first_decision_the_ebc_is_knatives_initial_guess(
    annotations: dict[str, str], initial_scale: int, mode: RouteMode
) -> None:
    spec = scaling({**annotations, "initial-scale": str(initial_scale)})
    tbc = spec.decider.target_burst_capacity
    guess = int(tbc) if tbc in (-1, 0) else int(initial_scale * spec.decider.total_value - tbc)
    async with Rig({REV: spec}, start_loop=False) as rig:
        await rig.set_ready(REV, 2)  # replicas already run (e.g. an autoscaler restart)
        await rig.loop.tick()  # no reporter yet: no valid decision
        status = rig.status()
        assert status.desired == -1 and not status.decided
        assert status.excess_burst_capacity == guess
        assert status.mode is mode
        assert rig.collect()[-1].mode is mode
