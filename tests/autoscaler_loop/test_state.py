"""The state seam: ``export_state()`` is plain data, and a loop built from it decides
exactly as the loop it came from, tick after tick."""

from __future__ import annotations

import json
from typing import Any

import pytest

from autoscaler.loop import ScalingLoop
from autoscaler.model import AutoscalerStateError, LoopData
from tests.autoscaler_loop import REV, REV2, START, Rig, scaling, table
from zeroserve.clock import FakeClock
from zeroserve.store import LocalElector, MemoryStore, RouteTable, StaleToken

SPECS = {
    REV: scaling({"scale-down-delay": "20s"}),
    REV2: scaling({"metric-aggregation-algorithm": "weighted-exponential"}, scale_metric="rps"),
}
TRAFFIC = {REV: 60, REV2: 40}


def load(t: float) -> dict[str, float | tuple[float, float]]:
    """Steady, a burst, a lull: panic, the delay window and decay all have state."""
    s = int(t - START)
    level = 600.0 if 40 <= s < 46 else (0.0 if 120 <= s < 150 else 80.0 + s % 7)
    return {REV: level, REV2: (level / 10, level * 2)}


async def drive(rig: Rig, loops: list[ScalingLoop], seconds: int) -> None:
    """Seconds of reports, every loop ticked by hand every 2 s, statuses compared."""
    for _ in range(seconds):
        await rig.report(load(rig.clock.now()))
        await rig.clock.advance(1.0)
        if (rig.clock.now() - START) % 2 == 0:
            for loop in loops:
                await loop.tick()
            first, state = loops[0].revision_statuses(), loops[0].export_state()
            for other in loops[1:]:
                assert other.revision_statuses() == first, rig.clock.now() - START
                assert other.export_state() == state, rig.clock.now() - START
        rig.collect()
        await rig.make_ready()


@pytest.mark.parametrize("export_at", [30, 44, 100, 136])
async def test_an_imported_loop_decides_as_the_uninterrupted_one(export_at: int) -> None:
    async with Rig(SPECS, reporters=("gw-1", "gw-2"), start_loop=False) as rig:
        await rig.store.publish_routes(_table(rig))
        await drive(rig, [rig.loop], export_at)
        exported = rig.loop.export_state()
        plain: LoopData = json.loads(json.dumps(exported))
        assert plain == exported  # plain data: JSON gives back exactly the same
        follower = LocalElector()
        await follower.resign()
        restored = ScalingLoop(rig.store, rig.clock, follower, restore=plain)
        await drive(rig, [rig.loop, restored], 100)
        ours = rig.loop.export_state()
        theirs = restored.export_state()
        assert ours == theirs


def _table(rig: Rig) -> RouteTable:
    rig.routes_version += 1
    return table(rig.routes_version, SPECS, traffic=TRAFFIC)


async def test_an_import_before_its_routes_waits_for_them() -> None:
    async with Rig(SPECS, start_loop=False) as rig:
        await rig.store.publish_routes(_table(rig))
        await drive(rig, [rig.loop], 30)
        exported = rig.loop.export_state()
        store = MemoryStore()
        restored = ScalingLoop(store, FakeClock(rig.clock.now()), LocalElector(), restore=exported)
        assert restored.revision_statuses() == {}  # nothing until the route table says so
        await store.publish_routes(_table(rig))
        await restored.tick()
        assert set(restored.revision_statuses()) == set(SPECS)
        # The cursor belonged to the other store: read again from the start, blind once.
        assert not restored.status().sight.valid
        await store.close()


@pytest.mark.parametrize(
    "damage",
    [
        lambda d: d.update(format=99),
        lambda d: d.pop("revisions"),
        lambda d: d["revisions"][REV]["decider"].update(max_panic_pods="many"),
        lambda d: d["revisions"][REV]["bounds"].update(phase="Sleeping"),
        lambda d: d["revisions"][REV].update(scale=-1),
        lambda d: d["revisions"][REV].update(samples=[[1.0, 2.0]]),
        lambda d: d["collector"].update(heartbeats=[["gw-1"]]),
    ],
)
async def test_damaged_state_is_refused(damage: Any) -> None:
    async with Rig(SPECS, start_loop=False) as rig:
        await drive(rig, [rig.loop], 6)
        data: Any = json.loads(json.dumps(rig.loop.export_state()))
        damage(data)
        with pytest.raises(AutoscalerStateError):
            ScalingLoop(rig.store, rig.clock, LocalElector(), restore=data)


async def untick(rig: Rig, seconds: int) -> None:
    """Seconds of reports with no loop ticked."""
    for _ in range(seconds):
        await rig.report(load(rig.clock.now()))
        await rig.clock.advance(1.0)
        rig.collect()
        await rig.make_ready()


async def _follower() -> LocalElector:
    """An elector that never leads: a twin that decides but never writes."""
    elector = LocalElector()
    await elector.resign()
    return elector


@pytest.mark.parametrize("stop_at", [44, 100, 136])
async def test_a_restarted_loop_decides_as_the_uninterrupted_one(stop_at: int) -> None:
    """The leader saves its state each tick; a loop started later on the same store loads
    it, rebuilds its windows from the retained stats, and decides as a twin that never
    stopped (44: panicking, and it leaves the panic when the twin does; 136: the stats of
    the first seconds trimmed already)."""
    async with Rig(SPECS, reporters=("gw-1", "gw-2"), start_loop=False) as rig:
        await rig.store.publish_routes(_table(rig))
        twin = ScalingLoop(rig.store, rig.clock, await _follower())
        await drive(rig, [rig.loop, twin], stop_at)
        saved = await rig.store.load_scaling_state()
        assert saved == json.loads(json.dumps(rig.loop.export_state(windows=False)))
        assert all(
            not r["samples"] for r in rig.loop.export_state(windows=False)["revisions"].values()
        )
        if stop_at == 44:
            assert rig.loop.revision_statuses()[REV].panic
        await rig.loop.close()
        # The leader is gone for one second of reports; a new one starts at the next tick.
        await untick(rig, 2)
        restarted = ScalingLoop(rig.store, rig.clock, rig.elector)
        rig.loop = restarted  # the rig closes it
        await restarted.start()
        await rig.clock.settle()
        assert restarted.status().ticks == 1
        await twin.tick()
        assert restarted.revision_statuses() == twin.revision_statuses()
        assert restarted.export_state() == twin.export_state()
        for _ in range(70):  # and on, its own ticker against the twin ticked by hand
            await rig.report(load(rig.clock.now()))
            await rig.clock.advance(1.0)
            if (rig.clock.now() - START) % 2 == 0:
                await twin.tick()
                assert restarted.revision_statuses() == twin.revision_statuses()
            rig.collect()
            await rig.make_ready()
        assert restarted.status().ticks == 36


async def test_a_fresh_loop_differs_from_the_twin() -> None:
    """The control for the test above: a loop that starts with nothing saved takes
    Knative's start posture (panic from now), so it leaves the panic later than the twin
    (and the restored loop) does."""
    async with Rig(SPECS, reporters=("gw-1", "gw-2"), start_loop=False) as rig:
        await rig.store.publish_routes(_table(rig))
        twin = ScalingLoop(rig.store, rig.clock, await _follower())
        await drive(rig, [rig.loop, twin], 54)
        fresh = ScalingLoop(rig.store, rig.clock, await _follower())
        for _ in range(28):
            await untick(rig, 2)
            await fresh.tick()
            await twin.tick()
        assert not twin.revision_statuses()[REV].panic
        assert fresh.revision_statuses()[REV].panic


async def test_a_state_saved_under_an_old_token_is_refused() -> None:
    async with Rig(SPECS, start_loop=False) as rig:
        await rig.store.publish_routes(_table(rig))
        await drive(rig, [rig.loop], 10)
        old_token = rig.elector.token
        assert old_token is not None
        newer = LocalElector()
        await newer.resign()
        await newer.campaign()  # token 2: another autoscaler leads now
        leader = ScalingLoop(rig.store, rig.clock, newer)
        await leader.tick()
        saved = await rig.store.load_scaling_state()
        assert saved == json.loads(json.dumps(leader.export_state(windows=False)))
        # Steady traffic: the deposed loop has no scale to write, only its state to save.
        await untick(rig, 2)
        timing = await rig.loop.tick()
        assert timing.writes == 0
        assert rig.loop.status().fenced_token == old_token
        assert await rig.store.load_scaling_state() == saved
        with pytest.raises(StaleToken):
            await rig.store.save_scaling_state(old_token, rig.loop.export_state(windows=False))
        await leader.close()
