"""plan_apply: revisions created, kept, fixed and removed; the rollout state it leaves."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.control import echo
from zeroserve.control.revisions import RevisionSpec
from zeroserve.control.rollout import (
    ApplyPlan,
    RevisionEntry,
    RolloutState,
    ServiceRollout,
    ServiceView,
    plan_apply,
)
from zeroserve.resource import FrozenMap, InferenceService
from zeroserve.runtime.base import RevisionTemplate

SERVICES = {name: echo(name=name) for name in ("a", "b")}
TEMPLATE = RevisionTemplate(argv=("serve",))


def spec(name: str, identity: str) -> RevisionSpec:
    """``identity`` "x" runs; "!x" is a failure with reason "x"."""
    if identity.startswith("!"):
        return RevisionSpec("default", name, identity.lstrip("!"), None, failed=identity[1:])
    return RevisionSpec("default", name, identity, TEMPLATE)


@dataclass
class World:
    """The controller's side of plan_apply, carried from step to step."""

    views: dict[tuple[str, str], ServiceView] = field(default_factory=dict)
    rollout: RolloutState = field(default_factory=RolloutState)
    limit: int = 1

    def apply(self, wanted: Mapping[str, str]) -> ApplyPlan:
        services: list[InferenceService] = [SERVICES[n] for n in wanted]
        specs = {SERVICES[n].key: spec(n, ident) for n, ident in wanted.items()}
        plan = plan_apply(services, specs, self.views, self.rollout, self.limit)
        self.views = {v.key: v for v in plan.views}
        self.rollout = plan.rollout
        return plan

    def restart(self) -> None:
        self.views = {}

    def held(self) -> dict[str, list[str]]:
        return {k[1]: [r.name for r in v.revisions] for k, v in self.views.items()}


def a(n: int) -> str:
    return f"a-predictor-{n:05d}"


def b(n: int) -> str:
    return f"b-predictor-{n:05d}"


# Each step: (services applied: name → identity, or "restart"), then what the plan does:
# created, ensured, failed, removed, and the revisions held afterwards.
Step = tuple[
    object, tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[str, ...], dict[str, list[str]]
]
SCENARIOS: dict[str, tuple[int, list[Step]]] = {
    "create-then-unchanged": (
        1,
        [
            ({"a": "x"}, (a(1),), (a(1),), (), (), {"a": [a(1)]}),
            ({"a": "x"}, (), (), (), (), {"a": [a(1)]}),
        ],
    ),
    "changes-keep-one-old-revision": (
        1,
        [
            ({"a": "x"}, (a(1),), (a(1),), (), (), {"a": [a(1)]}),
            ({"a": "y"}, (a(2),), (a(2),), (), (), {"a": [a(1), a(2)]}),
            ({"a": "z"}, (a(3),), (a(3),), (), (a(1),), {"a": [a(2), a(3)]}),
            ({"a": "x"}, (a(4),), (a(4),), (), (a(2),), {"a": [a(3), a(4)]}),  # no dedupe
        ],
    ),
    "history-zero-removes-at-once": (
        0,
        [
            ({"a": "x"}, (a(1),), (a(1),), (), (), {"a": [a(1)]}),
            ({"a": "y"}, (a(2),), (a(2),), (), (a(1),), {"a": [a(2)]}),
        ],
    ),
    "set-semantics": (
        1,
        [
            ({"a": "x", "b": "x"}, (a(1), b(1)), (a(1), b(1)), (), (), {"a": [a(1)], "b": [b(1)]}),
            ({"a": "y", "b": "x"}, (a(2),), (a(2),), (), (), {"a": [a(1), a(2)], "b": [b(1)]}),
            ({"b": "x"}, (), (), (), (a(1), a(2)), {"b": [b(1)]}),
            ({"a": "x", "b": "x"}, (a(3),), (a(3),), (), (), {"a": [a(3)], "b": [b(1)]}),
        ],
    ),
    "failures": (
        1,
        [
            ({"a": "!no runtime"}, (a(1),), (), (a(1),), (), {"a": [a(1)]}),
            ({"a": "!no runtime"}, (), (), (), (), {"a": [a(1)]}),
            ({"a": "!no folder"}, (a(2),), (), (a(2),), (), {"a": [a(1), a(2)]}),
            # the same identity, runnable now (a config fix outside what runs): same name
            ({"a": "no folder"}, (), (a(2),), (), (), {"a": [a(1), a(2)]}),
            ({"a": "no folder"}, (), (), (), (), {"a": [a(1), a(2)]}),
        ],
    ),
    "restart-keeps-the-latest": (
        1,
        [
            ({"a": "x"}, (a(1),), (a(1),), (), (), {"a": [a(1)]}),
            ({"a": "y"}, (a(2),), (a(2),), (), (), {"a": [a(1), a(2)]}),
            ("restart", (), (), (), (), {}),
            ({"a": "y"}, (), (a(2),), (), (a(1),), {"a": [a(2)]}),
            ({"a": "z"}, (a(3),), (a(3),), (), (), {"a": [a(2), a(3)]}),
        ],
    ),
    "restart-with-a-change": (
        1,
        [
            ({"a": "x", "b": "x"}, (a(1), b(1)), (a(1), b(1)), (), (), {"a": [a(1)], "b": [b(1)]}),
            ("restart", (), (), (), (), {}),
            ({"a": "y"}, (a(2),), (a(2),), (), (a(1), b(1)), {"a": [a(2)]}),
            ({"a": "y", "b": "x"}, (b(2),), (b(2),), (), (), {"a": [a(2)], "b": [b(2)]}),
        ],
    ),
}


@pytest.mark.parametrize(("limit", "steps"), SCENARIOS.values(), ids=SCENARIOS.keys())
def test_plan_apply(limit: int, steps: list[Step]) -> None:
    world = World(limit=limit)
    for number, (wanted, created, ensured, failed, removed, held) in enumerate(steps, 1):
        if wanted == "restart":
            world.restart()
            continue
        assert isinstance(wanted, dict)
        plan = world.apply(wanted)
        got = (
            plan.created,
            tuple(r.name for r in plan.ensure),
            tuple(r.name for r in plan.failed),
            plan.remove,
            world.held(),
        )
        assert got == (created, ensured, failed, removed, held), f"step {number}: {wanted}"


def test_rollout_state_after_changes_and_removal() -> None:
    world = World()
    world.apply({"a": "x"})
    assert world.rollout.of(SERVICES["a"].key) == ServiceRollout(
        counter=1, revisions=(RevisionEntry(a(1), "x"),), latest_rolled_out=a(1)
    )
    world.apply({"a": "y"})
    assert world.rollout.of(SERVICES["a"].key) == ServiceRollout(
        counter=2,
        revisions=(RevisionEntry(a(1), "x"), RevisionEntry(a(2), "y")),
        latest_rolled_out=a(2),
        previous_rolled_out=a(1),
    )
    world.apply({"b": "x"})
    assert world.rollout.of(SERVICES["a"].key) == ServiceRollout(counter=2)  # the counter stays
    assert list(world.rollout.services) == ["default/a", "default/b"]


def test_a_later_failure_reason_of_the_same_revision_is_published_again() -> None:
    world = World()
    world.apply({"a": "!first"})
    views = dict(world.views)
    (key,) = views
    old = views[key].latest
    specs = {key: RevisionSpec("default", "a", "first", None, failed="second reason")}
    plan = plan_apply([SERVICES["a"]], specs, views, world.rollout, 1)
    assert [(r.name, r.spec.failed) for r in plan.failed] == [(old.name, "second reason")]
    assert plan.created == ()


def test_a_restart_forgets_services_no_longer_applied() -> None:
    world = World()
    world.apply({"a": "x", "b": "x"})
    world.restart()
    plan = world.apply({"b": "x"})
    assert plan.remove == (a(1),)
    assert world.rollout.services == FrozenMap(
        {
            "default/a": ServiceRollout(counter=1),
            "default/b": ServiceRollout(
                counter=1, revisions=(RevisionEntry(b(1), "x"),), latest_rolled_out=b(1)
            ),
        }
    )


STEPS = st.lists(
    st.one_of(
        st.just("restart"),
        st.dictionaries(st.sampled_from(["a", "b"]), st.sampled_from(["x", "y", "z", "!x", "!y"])),
    ),
    max_size=12,
)


@settings(max_examples=200, derandomize=True, deadline=None)
@given(steps=STEPS, limit=st.integers(0, 2))
def test_plan_apply_invariants(steps: list[object], limit: int) -> None:
    world = World(limit=limit)
    given_out: set[str] = set()
    highest: dict[str, int] = {}
    for step in steps:
        if step == "restart":
            world.restart()
            continue
        assert isinstance(step, dict)
        known = {n for names in world.held().values() for n in names} | {
            r.name for entry in world.rollout.services.values() for r in entry.revisions
        }
        plan = world.apply(step)
        assert not set(plan.created) & given_out, "a revision name was given twice"
        given_out |= set(plan.created)
        for created in plan.created:
            service, number = created.split("-predictor-")
            highest[service] = max(highest.get(service, 0), int(number))
        assert set(plan.remove) <= known, "removed what was never held"
        held = world.held()
        assert set(held) == set(step)  # set semantics
        assert not set(plan.remove) & {n for names in held.values() for n in names}
        for name, identity in step.items():
            view = world.views[SERVICES[name].key]
            assert view.latest.spec.identity == identity.lstrip("!")
            assert 1 <= len(view.revisions) <= limit + 1
            entry = world.rollout.of(view.key)
            assert [r.name for r in entry.revisions] == held[name]
            assert entry.latest_rolled_out == view.latest.name
            assert entry.counter == highest[name]  # the highest number ever given
