"""Records refuse what no store should carry; the route table is self-consistent."""

from __future__ import annotations

from dataclasses import replace

import pytest

from zeroserve.config.scaling import RouteMode
from zeroserve.endpoint import Endpoint
from zeroserve.store import (
    EndpointSet,
    InvalidRecord,
    RevisionRoute,
    RouteTable,
    ScaleRecord,
    ServiceRoute,
    TrafficTarget,
)

A = Endpoint("127.0.0.1", 9001, "r1-1")
B = Endpoint("127.0.0.1", 9002, "r1-2")
SERVE = RouteMode.SERVE


@pytest.mark.parametrize(
    "make",
    [
        lambda: EndpointSet("r1", -1),
        lambda: EndpointSet("", 1),
        lambda: EndpointSet("r1", 1, ready=(A,), removed=True),
        lambda: EndpointSet("r1", 1, failed_reason="boom", removed=True),
        lambda: EndpointSet("r1", 1, ready=(A, B), draining=(B,)),
        lambda: ScaleRecord("r1", -1, SERVE, 1, 0.0, 1),
        lambda: ScaleRecord("r1", 1, SERVE, 0, 0.0, 1),
        lambda: ScaleRecord("", 1, SERVE, 1, 0.0, 1),
        lambda: ScaleRecord("r1", 1, SERVE, 1, 0.0, -1),
    ],
)
def test_impossible_records_are_refused(make: object) -> None:
    with pytest.raises(InvalidRecord):
        make()  # type: ignore[operator]


def test_a_tombstone_is_an_empty_removed_set() -> None:
    assert EndpointSet.tombstone("r1", 4) == EndpointSet("r1", 4, removed=True)


def test_a_scale_record_orders_by_token_then_time() -> None:
    early = ScaleRecord("r1", 1, SERVE, 1, 100.0, 1)
    assert early.order < replace(early, decided_at=101.0).order < replace(early, token=2).order
    assert replace(early, token=2, decided_at=0.0).order > early.order


# -- route table --------------------------------------------------------------------------

R1 = RevisionRoute("r1", 300.0, 0, SERVE)
R2 = RevisionRoute("r2", 60.0, 4, RouteMode.PROXY)


def service(
    *targets: TrafficTarget, name: str = "iris", hosts: tuple[str, ...] = ("iris.example",)
) -> ServiceRoute:
    return ServiceRoute("default", name, hosts, targets)


def test_a_valid_table_looks_revisions_up() -> None:
    routes = RouteTable(
        3,
        (
            service(
                TrafficTarget("r1", 90, tag="prev", hosts=("prev-iris.example",)),
                TrafficTarget("r2", 10),
                TrafficTarget("r2", 0, tag="latest", hosts=("latest-iris.example",)),
            ),
            service(name="empty", hosts=("empty.example",)),  # nothing ready yet: 0 %
        ),
        (R1, R2),
    )
    assert routes.revision("r2") is R2 and routes.revision("r3") is None
    same = RouteTable(3, routes.services, (R1, R2))
    assert same == routes and hash(same) == hash(routes)
    assert "_by_name" not in repr(routes)


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (lambda: TrafficTarget("r1", 101), "[0, 100]"),
        (lambda: TrafficTarget("r1", -1), "[0, 100]"),
        (lambda: TrafficTarget("r1", 0, hosts=("x.example",)), "need a tag"),
        (lambda: service(TrafficTarget("r1", 90)), "adds up to 90%"),
        (lambda: RevisionRoute("r1", 0.0, 0, SERVE), "timeout"),
        (lambda: RevisionRoute("r1", 1.0, -1, SERVE), "container concurrency"),
        (lambda: RouteTable(-1), "version"),
        (lambda: RouteTable(1, (), (R1, R1)), "repeat"),
        (lambda: RouteTable(1, (service(TrafficTarget("r9", 100)),), (R1,)), "'r9'"),
        (
            lambda: RouteTable(
                1, (service(TrafficTarget("r1", 100)), service(TrafficTarget("r1", 100))), (R1,)
            ),
            "appears twice",
        ),
        (
            lambda: RouteTable(
                1,
                (
                    service(TrafficTarget("r1", 100)),
                    service(TrafficTarget("r2", 100), name="other"),
                ),
                (R1, R2),
            ),
            "'iris.example' routes to both default/iris and default/other",
        ),
        (
            lambda: RouteTable(
                1,
                (service(TrafficTarget("r1", 100, tag="prev", hosts=("iris.example",))),),
                (R1,),
            ),
            "'iris.example'",
        ),
    ],
)
def test_inconsistent_tables_are_refused(make: object, says: str) -> None:
    with pytest.raises(InvalidRecord) as refused:
        make()  # type: ignore[operator]
    assert says in str(refused.value)
