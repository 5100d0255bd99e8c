"""Only the leader writes, with its token; a stale token stops the writes for good."""

from __future__ import annotations

from autoscaler.loop import ScalingLoop
from tests.autoscaler_loop import REV, Rig, pods_for, scaling
from zeroserve.config.scaling import RouteMode
from zeroserve.store import LocalElector


async def test_a_follower_decides_but_never_writes_until_it_leads() -> None:
    elector = LocalElector()
    await elector.resign()
    async with Rig(elector=elector) as rig:
        await rig.seconds(20, {REV: 150.0})
        assert rig.writes == []
        assert await rig.store.read_scales() == {}
        assert rig.status().scale == pods_for(150.0, scaling())  # warm, ready to lead
        token = await elector.campaign()
        await rig.seconds(2, {REV: 150.0})
        assert [(w.desired, w.token) for w in rig.writes] == [(rig.status().scale, token)]


async def test_two_loops_only_the_leader_writes() -> None:
    follower = LocalElector()
    await follower.resign()
    async with Rig() as rig, ScalingLoop(rig.store, rig.clock, follower) as other:
        await rig.seconds(20, {REV: 150.0})
        assert other.revision_status(REV) == rig.status()  # same data, same decisions
        assert rig.writes and all(w.token == rig.elector.token for w in rig.writes)
        assert other.status().leader is False and other.status().ticks > 0
        assert rig.loop.status().ticks == other.status().ticks


async def test_a_stale_token_stops_the_writes() -> None:
    async with Rig() as rig:
        await rig.seconds(10, {REV: 150.0})
        assert rig.desired() == 3
        # Another autoscaler took over (a higher token wrote); ours has not noticed.
        await rig.store.write_scale(REV, 3, RouteMode.SERVE, 2, rig.clock.now())
        rig.collect()
        rig.writes.clear()
        await rig.seconds(10, {REV: 700.0})  # our decision changes: the write is refused
        assert rig.loop.status().fenced_token == 1
        assert rig.elector.is_leader  # the elector still thinks so
        assert rig.status().scale == pods_for(700.0, scaling())  # it keeps deciding
        await rig.seconds(40, {REV: 20.0})  # ... and changes again, past a resync
        assert rig.writes == []  # not one write with the stale token
        record = (await rig.store.read_scales())[REV]
        assert (record.desired, record.token) == (3, 2)


async def test_a_new_leadership_rewrites_every_decision() -> None:
    elector = LocalElector()
    async with Rig(elector=elector) as rig:
        await rig.seconds(10, {REV: 150.0})
        await elector.resign()
        await rig.seconds(4, {REV: 150.0})
        rig.collect()
        rig.writes.clear()
        token = await elector.campaign()
        await rig.seconds(2, {REV: 150.0})
        assert [(w.revision, w.token) for w in rig.writes] == [(REV, token)]
