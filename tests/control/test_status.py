"""Service status: KServe's fields and conditions, and the honest replica state."""

from __future__ import annotations

import pytest

from tests.control import echo
from zeroserve.config import RouteMode
from zeroserve.control.revisions import RevisionSpec
from zeroserve.control.rollout import KnownRevision, ServiceRollout, ServiceView
from zeroserve.control.status import (
    Condition,
    RevisionObservation,
    ServiceStatus,
    replica_state,
    service_status,
)
from zeroserve.runtime.base import RevisionTemplate

SVC = echo()
R1, R2 = "echo-predictor-00001", "echo-predictor-00002"
RUNS = RevisionSpec("default", "echo", "x", RevisionTemplate(argv=("serve",)))
BROKEN = RevisionSpec("default", "echo", "y", None, failed="no local runtime for model format")
WAITING = 'Configuration "echo-predictor" is waiting for a Revision to become ready.'
INGRESS = "Predictor ingress not created"


def status(
    *specs: RevisionSpec,
    seen: dict[str, RevisionObservation] | None = None,
    routed: bool = True,
) -> ServiceStatus:
    names = [R1, R2][: len(specs)]
    view = ServiceView(SVC, tuple(KnownRevision(n, s) for n, s in zip(names, specs, strict=True)))
    rollout = ServiceRollout(latest_rolled_out=names[-1], previous_rolled_out=names[0])
    modes = {R1: RouteMode.SERVE}
    return service_status(view, rollout, seen or {}, modes, routed=routed, domain="example.com")


def conditions(s: ServiceStatus) -> list[tuple[str, str, str | None, str | None]]:
    return [(c.type, c.status, c.reason, c.message) for c in s.conditions]


FAILED_MESSAGE = 'Revision "echo-predictor-00001" failed with message: {}.'
CASES = {
    "at-zero": (
        RevisionObservation(),
        True,
        ("True", None, None),
        "scaled to zero",
        R1,
    ),
    "first-replica-starting": (
        RevisionObservation(desired=1, starting=1),
        True,
        ("Unknown", "RevisionMissing", WAITING),
        "starting",
        None,
    ),
    "cold-start-after-zero": (
        RevisionObservation(desired=1, starting=1, ever_ready=True),
        True,
        ("True", None, None),
        "starting",
        R1,
    ),
    "ready": (
        RevisionObservation(desired=1, ready=1, ever_ready=True),
        True,
        ("True", None, None),
        "ready",
        R1,
    ),
    "scaling-up": (
        RevisionObservation(desired=3, ready=1, starting=2, ever_ready=True),
        True,
        ("True", None, None),
        "scaling up",
        R1,
    ),
    "scaling-down": (
        RevisionObservation(desired=1, ready=2, ever_ready=True),
        True,
        ("True", None, None),
        "scaling down",
        R1,
    ),
    "draining-to-zero": (
        RevisionObservation(desired=0, draining=1, ever_ready=True),
        True,
        ("True", None, None),
        "scaling to zero",
        R1,
    ),
    "runtime-failure": (
        RevisionObservation(desired=1, failed="replica exited with exit code 1"),
        True,
        ("False", "RevisionFailed", FAILED_MESSAGE.format("replica exited with exit code 1")),
        "failed",
        None,
    ),
    "not-routed-yet": (
        RevisionObservation(),
        False,
        ("True", None, None),
        "scaled to zero",
        R1,
    ),
}


@pytest.mark.parametrize(
    ("seen", "routed", "predictor", "state", "latest_ready"), CASES.values(), ids=CASES.keys()
)
def test_conditions_and_replica_state(
    seen: RevisionObservation,
    routed: bool,
    predictor: tuple[str, str | None, str | None],
    state: str,
    latest_ready: str | None,
) -> None:
    s = status(RUNS, seen={R1: seen}, routed=routed)
    ingress = ("True", None, None) if routed else ("Unknown", INGRESS, INGRESS)
    first_bad = next(
        (c for status_ in ("False", "Unknown") for c in (ingress, predictor) if c[0] == status_),
        ("True", None, None),
    )
    assert conditions(s) == [
        ("IngressReady", *ingress),
        ("PredictorReady", *predictor),
        ("Ready", *first_bad),
    ]
    assert s.ready == (first_bad[0] == "True")
    assert [r.state for r in s.revisions] == [state]
    assert s.latest_ready_revision == latest_ready


def test_false_wins_over_unknown_in_ready() -> None:
    s = status(BROKEN, routed=False)
    assert s.condition("Ready") == Condition(
        "Ready",
        "False",
        "RevisionFailed",
        FAILED_MESSAGE.format("no local runtime for model format"),
    )


def test_a_failed_latest_revision_with_a_good_one_before_it() -> None:
    s = status(RUNS, BROKEN, seen={R1: RevisionObservation(desired=0)})
    assert (s.latest_created_revision, s.latest_ready_revision) == (R2, R1)
    assert s.condition("PredictorReady").status == "False"
    assert [(r.name, r.state, r.traffic, r.failed) for r in s.revisions] == [
        (R2, "failed", 100, "no local runtime for model format"),
        (R1, "scaled to zero", 0, None),
    ]


def test_the_status_in_kserve_s_shape() -> None:
    seen = {
        R1: RevisionObservation(desired=0, draining=1, restarts=2, last_crash="exit code 3"),
        R2: RevisionObservation(desired=1, ready=1, ever_ready=True),
    }
    assert status(RUNS, RUNS, seen=seen).as_kserve() == {
        "url": "http://echo.default.example.com",
        "components": {
            "predictor": {
                "latestCreatedRevision": R2,
                "latestReadyRevision": R2,
                "latestRolledoutRevision": R2,
                "previousRolledoutRevision": R1,
                "url": "http://echo-predictor.default.example.com",
                "traffic": [{"revisionName": R2, "percent": 100, "latestRevision": True}],
            }
        },
        "conditions": [
            {"type": "IngressReady", "status": "True"},
            {"type": "PredictorReady", "status": "True"},
            {"type": "Ready", "status": "True"},
        ],
        "zeroserve": {
            "hosts": [
                "echo.default.example.com",
                "echo-predictor.default.example.com",
                "echo.default.localhost",
                "echo-predictor.default.localhost",
            ],
            "revisions": [
                {
                    "name": R2,
                    "state": "ready",
                    "desired": 1,
                    "ready": 1,
                    "starting": 0,
                    "draining": 0,
                    "traffic": 100,
                    "mode": "Proxy",
                    "restarts": 0,
                },
                {
                    "name": R1,
                    "state": "scaling to zero",
                    "desired": 0,
                    "ready": 0,
                    "starting": 0,
                    "draining": 1,
                    "traffic": 0,
                    "mode": "Serve",
                    "restarts": 2,
                    "lastCrash": "exit code 3",
                },
            ],
        },
    }


@pytest.mark.parametrize(
    ("seen", "state"),
    [
        (RevisionObservation(), "scaled to zero"),
        (RevisionObservation(desired=0), "scaled to zero"),
        (RevisionObservation(ready=1), "ready"),  # no decision yet, but a replica
        (RevisionObservation(starting=1), "starting"),
        (RevisionObservation(desired=0, ready=1), "scaling to zero"),
        (RevisionObservation(desired=2, ready=0, starting=0), "starting"),  # held by backoff
        (RevisionObservation(desired=2, ready=2, draining=1), "ready"),
    ],
)
def test_replica_state_words(seen: RevisionObservation, state: str) -> None:
    assert replica_state(False, seen) == state
    assert replica_state(True, seen) == "failed"
