"""Missing data is never zero: a missing reporter, a stats gap or an unreachable store
hold every revision's scale; nothing scales to zero blind; decisions resume after."""

from __future__ import annotations

from collections.abc import Mapping

from autoscaler.bounds import Reason
from tests.autoscaler_loop import REV, START, Rig, pods_for, scaling
from zeroserve.config.scaling import RouteMode
from zeroserve.store import (
    MemoryStore,
    Published,
    ScaleRecord,
    StatsBatch,
    StatsCursor,
    StoreUnavailable,
)


class BrokenLink(MemoryStore):
    """A MemoryStore the autoscaler cannot reach while ``down`` (reporters still can)."""

    down = False

    def _check_link(self) -> None:
        if self.down:
            raise StoreUnavailable("connection refused")

    async def read_stats(self, since: StatsCursor | None = None) -> tuple[StatsBatch, StatsCursor]:
        self._check_link()
        return await super().read_stats(since)

    async def write_scale(
        self, revision: str, desired: int, mode: RouteMode, token: int, now: float
    ) -> Published:
        self._check_link()
        return await super().write_scale(revision, desired, mode, token, now)

    async def read_scales(self) -> Mapping[str, ScaleRecord]:
        self._check_link()
        return await super().read_scales()


LOAD = 150.0


async def test_a_missing_reporter_holds_the_scale_then_decisions_resume() -> None:
    spec = scaling()
    async with Rig({REV: spec}, reporters=("gw-1", "gw-2")) as rig:
        await rig.seconds(70, {REV: LOAD})
        held = pods_for(LOAD, spec)
        assert rig.desired() == held
        # gw-2 stops (crashed: no leaving report); gw-1 sees no traffic at all for longer
        # than a stable window plus the grace period: with gw-2 live that is a scale to 0.
        for _ in range(100):
            await rig.second(reporters=["gw-1"])
            assert rig.desired() == held
        status = rig.loop.status()
        assert not status.sight.valid and "gw-2" in (status.sight.reason or "")
        assert rig.status().want == -1 and rig.status().reason == Reason.UNKNOWN_DECISION
        # gw-2 is back; traffic is now far higher: decisions resume within a few ticks.
        surge = 700.0
        await rig.seconds(6, {REV: surge})
        assert rig.loop.status().sight.valid
        assert rig.desired() == pods_for(surge, spec)


async def test_a_reporter_that_leaves_cleanly_is_not_missing() -> None:
    """The counterpart: the same silence from a reporter that said goodbye is zero."""
    async with Rig(reporters=("gw-1", "gw-2")) as rig:
        await rig.seconds(70, {REV: LOAD})
        await rig.store.report("gw-2", rig.clock.now(), 1, {}, leaving=True)
        for _ in range(100):
            await rig.second(reporters=["gw-1"])
        assert rig.loop.status().sight.valid
        assert rig.desired() == 0


async def test_a_reporter_missing_between_two_reads_restarts_the_windows() -> None:
    async with Rig(reporters=("gw-1", "gw-2"), tick=4.0) as rig:
        await rig.seconds(70, {REV: LOAD})
        while (rig.clock.now() - START) % 4 != 3:  # the second before a tick
            await rig.second({REV: LOAD})
        await rig.second({REV: LOAD})  # the tick reads gw-2's beat of a second ago
        assert rig.loop.status().sight.valid
        # gw-2 misses 2 s between two ticks: no tick sees it missing, but its
        # heartbeats show a 3 s hole, so the seconds in it are unknown: the windows
        # restart at once (that tick still blind), and the next tick decides.
        await rig.seconds(2, {REV: LOAD / 2}, reporters=["gw-1"])
        await rig.seconds(2, {REV: LOAD})
        sight = rig.loop.status().sight
        assert not sight.valid and sight.recovered
        assert "missing between two reads: gw-2" in (sight.reason or "")
        await rig.seconds(4, {REV: LOAD})
        assert rig.loop.status().sight.valid
        # Restarted windows hold only known seconds (all at full load).
        assert rig.status().stable_average == LOAD


async def test_a_single_lost_heartbeat_is_tolerated() -> None:
    async with Rig(reporters=("gw-1", "gw-2")) as rig:
        await rig.seconds(20, {REV: LOAD})
        for _ in range(10):
            await rig.second({REV: LOAD / 2}, reporters=["gw-1"])
            await rig.second({REV: LOAD})
            assert rig.loop.status().sight.valid


async def test_recovery_takes_the_restart_posture_no_scale_down_for_a_window() -> None:
    spec = scaling()
    async with Rig({REV: spec}, reporters=("gw-1", "gw-2")) as rig:
        await rig.seconds(70, {REV: LOAD})
        held = pods_for(LOAD, spec)
        await rig.seconds(10, reporters=["gw-1"])  # gw-2 missing
        recovered_at = None
        for _ in range(90):
            await rig.second({REV: 10.0})  # back, with a load that needs 1 replica
            if recovered_at is None and rig.loop.status().sight.recovered:
                recovered_at = rig.clock.now()
            if recovered_at is not None and rig.clock.now() <= recovered_at + 60:
                assert rig.desired() == held, "panic from recovery: no scale-down"
        assert recovered_at is not None
        assert rig.written() < held


async def test_an_unreachable_store_holds_then_reads_everything_it_missed() -> None:
    store = BrokenLink()
    spec = scaling()
    async with Rig({REV: spec}, store=store) as rig:
        await rig.seconds(70, {REV: LOAD})
        held = pods_for(LOAD, spec)
        store.down = True
        down_at = rig.clock.now()
        for _ in range(30):
            await rig.second()
            assert rig.status().scale == held
            if (rig.loop.status().last_tick_at or 0) > down_at:
                assert rig.status().reason == Reason.UNKNOWN_DECISION
        status = rig.loop.status()
        assert "store unreachable" in (status.sight.reason or "")
        assert status.write_failures > 0  # the periodic rewrite is retried every tick
        assert all(w.decided_at <= down_at for w in rig.writes)
        store.down = False
        await rig.seconds(2)
        # Nothing was lost (the reports waited in the store): the first read decides,
        # and the 30 s of zeros it finds are real.
        assert rig.loop.status().sight.valid
        stable = rig.status().stable_average
        assert stable is not None and stable < LOAD
        assert rig.desired() == held // 2  # Knative's max scale-down rate 2


async def test_a_stats_gap_is_blind_until_the_windows_restart() -> None:
    store = BrokenLink(stats_retention=10.0)
    spec = scaling()
    async with Rig({REV: spec}, store=store) as rig:
        await rig.seconds(70, {REV: LOAD})
        held = pods_for(LOAD, spec)
        store.down = True
        await rig.seconds(30)  # more than the retention: reports are trimmed unread
        store.down = False
        reasons = []
        for _ in range(2):
            await rig.seconds(2)
            reasons.append(rig.loop.status().sight.reason)
            if not rig.loop.status().sight.valid:
                assert rig.desired() == held
        assert reasons[0] is not None and "gap" in reasons[0] and "restarted" in reasons[0]
        assert reasons[1] is None


async def test_a_poke_while_blind_still_scales_up_from_zero() -> None:
    async with Rig(reporters=("gw-1", "gw-2")) as rig:
        await rig.seconds(40)
        assert rig.desired() == 0
        await rig.seconds(4, reporters=["gw-1"])  # gw-2 missing: blind
        assert not rig.loop.status().sight.valid
        await rig.store.poke(REV, rig.clock.now())
        record = await rig.next_write()
        assert (record.revision, record.desired) == (REV, 1)
        # ... and the next (blind) tick keeps it.
        await rig.seconds(4, reporters=["gw-1"])
        assert rig.desired() == 1


async def test_nothing_scales_down_blind_even_after_a_long_time() -> None:
    """Past the store's retention of heartbeats a crashed reporter is forgotten (a
    restarted autoscaler would not know it either); until then, nothing moves."""
    async with Rig(reporters=("gw-1", "gw-2")) as rig:
        await rig.seconds(70, {REV: LOAD})
        held = rig.desired()
        for _ in range(110):
            await rig.second(reporters=["gw-1"])
            assert rig.desired() == held
