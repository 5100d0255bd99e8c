"""Which replicas start, come back, stop or drain for a desired count (pure)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from zeroserve.runtime.base import Phase
from zeroserve.runtime.plan import ReplicaView, ScalePlan, plan_scale

EXAMPLES = settings(max_examples=300, derandomize=True, deadline=None)
PHASES: tuple[Phase, ...] = ("starting", "ready", "draining", "stopping")


def views(*phases: Phase) -> list[ReplicaView]:
    return [ReplicaView(f"r-{i}", i, phase) for i, phase in enumerate(phases, start=1)]


def test_from_zero_spawns_the_difference() -> None:
    assert plan_scale(2, []) == ScalePlan(spawn=2)
    assert plan_scale(3, views("ready", "starting")) == ScalePlan(spawn=1)
    assert plan_scale(0, []) == ScalePlan()
    assert plan_scale(-1, views("ready")) == ScalePlan(drain=("r-1",))


def test_scale_down_stops_the_not_ready_first_then_drains_the_newest_ready() -> None:
    replicas = views("ready", "starting", "ready", "starting", "ready")
    assert plan_scale(4, replicas) == ScalePlan(stop=("r-4",))
    assert plan_scale(2, replicas) == ScalePlan(stop=("r-4", "r-2"), drain=("r-5",))
    assert plan_scale(0, replicas) == ScalePlan(stop=("r-4", "r-2"), drain=("r-5", "r-3", "r-1"))


def test_scale_up_takes_back_draining_replicas_before_spawning() -> None:
    replicas = views("ready", "draining", "stopping", "draining")
    assert plan_scale(2, replicas) == ScalePlan(undrain=("r-4",))
    assert plan_scale(4, replicas) == ScalePlan(spawn=1, undrain=("r-4", "r-2"))


def test_draining_and_stopping_do_not_count() -> None:
    assert plan_scale(1, views("draining", "stopping", "ready")) == ScalePlan()


@EXAMPLES
@given(st.lists(st.sampled_from(PHASES), max_size=12), st.integers(0, 15))
def test_after_the_plan_exactly_desired_replicas_count(phases: list[Phase], desired: int) -> None:
    replicas = views(*phases)
    plan = plan_scale(desired, replicas)
    by_name = {r.name: r.phase for r in replicas}
    counting = [n for n, p in by_name.items() if p in ("starting", "ready")]
    after = len(counting) - len(plan.stop) - len(plan.drain) + len(plan.undrain) + plan.spawn
    assert after == desired
    assert all(by_name[n] == "starting" for n in plan.stop)
    assert all(by_name[n] == "ready" for n in plan.drain)
    assert all(by_name[n] == "draining" for n in plan.undrain)
    assert plan.spawn >= 0
    assert not (plan.spawn or plan.undrain) or not (plan.stop or plan.drain)
    if plan.drain:  # nothing not-ready is kept while a ready one goes
        assert not [n for n in counting if by_name[n] == "starting" and n not in plan.stop]
