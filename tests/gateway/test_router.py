"""TableRouter and RoutingState: hosts, weights, tags, headers, the atomic swap."""

from __future__ import annotations

import math
import random
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.router import SLOTS, RouterBuildError, TableRouter
from gateway.routing_state import RoutingState
from zeroserve.config.scaling import RouteMode
from zeroserve.proxy.routing import Route, Router
from zeroserve.store.routes import RevisionRoute, RouteTable, ServiceRoute, TrafficTarget

V1, V2, V3 = "iris-predictor-00001", "iris-predictor-00002", "iris-predictor-00003"
PREV = "prev-iris-predictor.default.example.com"
LATEST = "latest-iris-predictor.default.example.com"
PICKS = 10_000


def rev(name: str, timeout: float = 300.0, service: str = "iris") -> RevisionRoute:
    return RevisionRoute(name, timeout, 0, RouteMode.SERVE, service=service, namespace="default")


def canary(percent_new: int, *, version: int = 1, latest_tag: bool = True) -> RouteTable:
    """KServe's canary: newest ready revision ``percent_new``, last rolled-out the rest."""
    targets = [
        TrafficTarget(V2, percent_new, "latest", (LATEST,))
        if latest_tag
        else TrafficTarget(V2, percent_new)
    ]
    if percent_new < 100:
        targets.append(TrafficTarget(V1, 100 - percent_new, "prev", (PREV,)))
    return RouteTable(
        version,
        (ServiceRoute("default", "iris", ("iris.default.example.com",), tuple(targets)),),
        (rev(V1, 300.0), rev(V2, 60.0)),
    )


def picks(router: Router, host: bytes, n: int = PICKS) -> Counter[str]:
    counts: Counter[str] = Counter()
    for _ in range(n):
        route = router.route(host, b"/")
        assert route is not None
        counts[route.revision] += 1
    return counts


def within_binomial(count: int, n: int, percent: int, sigmas: float = 4.5) -> bool:
    p = percent / 100
    return abs(count - n * p) <= sigmas * math.sqrt(n * p * (1 - p)) + 1


@pytest.mark.parametrize("percent_new", [1, 10, 33, 50, 90, 99])
@pytest.mark.parametrize("seed", [1, 2])
def test_split_follows_the_weights(percent_new: int, seed: int) -> None:
    router = TableRouter.from_table(canary(percent_new), rng=random.Random(seed))
    counts = picks(router, b"iris.default.example.com")
    assert set(counts) == {V1, V2}
    assert within_binomial(counts[V2], PICKS, percent_new), counts
    assert router.destinations(b"iris.default.example.com") == {
        V2: percent_new,
        V1: 100 - percent_new,
    }


def test_three_way_split_and_repeated_revisions_add_up() -> None:
    table = RouteTable(
        1,
        (
            ServiceRoute(
                "default",
                "iris",
                (),
                (
                    TrafficTarget(V1, 20),
                    TrafficTarget(V2, 25),
                    TrafficTarget(V3, 50),
                    TrafficTarget(V2, 5, "latest", (LATEST,)),  # the same revision again
                ),
            ),
        ),
        (rev(V1), rev(V2), rev(V3)),
    )
    router = TableRouter.from_table(table, rng=random.Random(7))
    counts = picks(router, b"iris-predictor.default.example.com")
    for name, percent in ((V1, 20), (V2, 30), (V3, 50)):
        assert within_binomial(counts[name], PICKS, percent), counts


def test_a_fixed_seed_gives_the_same_sequence() -> None:
    a = TableRouter.from_table(canary(50), rng=random.Random(3))
    b = TableRouter.from_table(canary(50), rng=random.Random(3))
    host = b"iris.default.example.com"
    seq_a = [a.route(host, b"/") for _ in range(200)]
    seq_b = [b.route(host, b"/") for _ in range(200)]
    assert [r.revision for r in seq_a if r] == [r.revision for r in seq_b if r]


def test_tag_hosts_reach_only_their_revision() -> None:
    router = TableRouter.from_table(canary(10), rng=random.Random(1))
    assert picks(router, PREV.encode(), 500) == Counter({V1: 500})
    assert picks(router, LATEST.encode(), 500) == Counter({V2: 500})


def test_tag_host_of_a_pinned_canary_still_reaches_it() -> None:
    """canaryTrafficPercent: 0 pins traffic to prev; the latest tag keeps reaching v2."""
    router = TableRouter.from_table(canary(0), rng=random.Random(1))
    assert picks(router, b"iris.default.example.com", 500) == Counter({V1: 500})
    assert picks(router, LATEST.encode(), 100) == Counter({V2: 100})


def test_all_names_of_a_service_under_every_domain() -> None:
    router = TableRouter.from_table(canary(100, latest_tag=False))
    for host in (
        b"iris.default.example.com",
        b"iris-predictor.default.example.com",
        b"iris.default.localhost",
        b"iris-predictor.default.localhost",
    ):
        route = router.route(host, b"/")
        assert route is not None and route.revision == V2, host


def test_tag_hosts_have_localhost_variants() -> None:
    router = TableRouter.from_table(canary(10), rng=random.Random(1))
    for host, revision in (
        (b"prev-iris-predictor.default.localhost", V1),
        (b"latest-iris-predictor.default.localhost", V2),
    ):
        route = router.route(host, b"/")
        assert route is not None and route.revision == revision


def test_other_domain_suffixes() -> None:
    router = TableRouter.from_table(canary(100), ("models.internal",))
    assert router.route(b"iris.default.models.internal", b"/") is not None
    assert router.route(b"iris-predictor.default.models.internal", b"/") is not None
    assert router.route(b"iris.default.localhost", b"/") is None
    # the table's own hosts are answered as given
    assert router.route(b"iris.default.example.com", b"/") is not None


@pytest.mark.parametrize(
    "host",
    [
        b"unknown.default.example.com",
        b"iris.other.example.com",
        b"iris.default.example.org",
        b"",
        b"iris",
        b"prev-iris-predictor.other.example.com",
    ],
)
def test_unknown_hosts_get_none(host: bytes) -> None:
    assert TableRouter.from_table(canary(10)).route(host, b"/") is None


def test_empty_router_knows_nothing() -> None:
    assert TableRouter.empty().route(b"iris.default.example.com", b"/") is None


def test_routes_carry_precomputed_headers_and_the_revision_timeout() -> None:
    router = TableRouter.from_table(canary(10))
    prev = router.route(PREV.encode(), b"/")
    latest = router.route(LATEST.encode(), b"/")
    assert prev is not None and latest is not None
    assert prev.upstream_headers == (
        b"KServe-Isvc-Name: iris\r\nKServe-Isvc-Namespace: default\r\n"
    )
    assert prev.response_headers == b"Zeroserve-Revision: iris-predictor-00001\r\n"
    assert latest.response_headers == b"Zeroserve-Revision: iris-predictor-00002\r\n"
    assert (prev.timeout, latest.timeout) == (300.0, 60.0)
    # one Route object per revision per service: the split hands out the same objects
    seen = {id(r) for r in (router.route(b"iris.default.example.com", b"/") for _ in range(300))}
    assert seen == {id(prev), id(latest)}


def test_nothing_ready_routes_to_the_latest_revision() -> None:
    """A first deploy at zero: 0% in total, yet requests are held, not answered 404."""
    table = RouteTable(
        1,
        (ServiceRoute("default", "iris", ("iris.default.example.com",), ()),),
        (rev(V1), rev(V2)),
    )
    router = TableRouter.from_table(table)
    route = router.route(b"iris-predictor.default.localhost", b"/")
    assert route is not None and route.revision == V2


def test_nothing_ready_with_zero_percent_targets_uses_the_latest_tag() -> None:
    table = RouteTable(
        1,
        (
            ServiceRoute(
                "default",
                "iris",
                (),
                (TrafficTarget(V1, 0, "prev", (PREV,)), TrafficTarget(V2, 0, "latest", (LATEST,))),
            ),
        ),
        (rev(V1, service=""), rev(V2, service="")),  # revisions that do not name a service
    )
    router = TableRouter.from_table(table)
    route = router.route(b"iris.default.example.com", b"/")
    assert route is not None and route.revision == V2
    prev = router.route(PREV.encode(), b"/")
    assert prev is not None and prev.revision == V1


def test_services_do_not_leak_into_each_other() -> None:
    table = RouteTable(
        1,
        (
            ServiceRoute("default", "iris", (), (TrafficTarget(V1, 100),)),
            ServiceRoute("default", "wine", (), (TrafficTarget("wine-predictor-00001", 100),)),
            ServiceRoute("team", "iris", (), (TrafficTarget("iris-team-00001", 100),)),
        ),
        (
            rev(V1),
            rev("wine-predictor-00001", service="wine"),
            RevisionRoute("iris-team-00001", 30.0, 0, RouteMode.SERVE, None, "iris", "team"),
        ),
    )
    router = TableRouter.from_table(table)
    cases = {
        b"iris.default.example.com": (V1, b"default"),
        b"wine.default.example.com": ("wine-predictor-00001", b"default"),
        b"iris.team.example.com": ("iris-team-00001", b"team"),
    }
    for host, (revision, namespace) in cases.items():
        route = router.route(host, b"/")
        assert route is not None and route.revision == revision
        assert b"KServe-Isvc-Namespace: %s\r\n" % namespace in route.upstream_headers


def test_explicit_hosts_win_over_derived_names() -> None:
    """Service ``a-predictor`` and service ``a``'s predictor name collide; the table's
    explicit host for the first keeps it."""
    table = RouteTable(
        1,
        (
            ServiceRoute("ns", "a", (), (TrafficTarget("a-1", 100),)),
            ServiceRoute(
                "ns", "a-predictor", ("a-predictor.ns.example.com",), (TrafficTarget("b-1", 100),)
            ),
        ),
        (
            RevisionRoute("a-1", 10.0, 0, RouteMode.SERVE),
            RevisionRoute("b-1", 10.0, 0, RouteMode.SERVE),
        ),
    )
    router = TableRouter.from_table(table)
    route = router.route(b"a-predictor.ns.example.com", b"/")
    assert route is not None and route.revision == "b-1"
    route = router.route(b"a.ns.example.com", b"/")
    assert route is not None and route.revision == "a-1"


def test_header_injection_is_refused() -> None:
    table = RouteTable(
        1,
        (ServiceRoute("default", "bad\r\nX-Evil: 1", (), (TrafficTarget(V1, 100),)),),
        (rev(V1),),
    )
    with pytest.raises(RouterBuildError, match="cannot go into a header"):
        TableRouter.from_table(table)


@settings(max_examples=60, derandomize=True, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=100), min_size=1, max_size=5))
def test_slots_are_the_percents_exactly(raw: list[int]) -> None:
    # scale arbitrary weights into whole percents adding up to 100
    total = sum(raw) or 1
    percents = [w * 100 // total for w in raw]
    percents[-1] += 100 - sum(percents)
    names = [f"r{i}" for i in range(len(percents))]
    table = RouteTable(
        1,
        (
            ServiceRoute(
                "ns",
                "svc",
                (),
                tuple(TrafficTarget(n, p) for n, p in zip(names, percents, strict=True)),
            ),
        ),
        tuple(RevisionRoute(n, 1.0, 0, RouteMode.SERVE) for n in names),
    )
    router = TableRouter.from_table(table)
    expected = {n: p for n, p in zip(names, percents, strict=True) if p > 0}
    assert router.destinations(b"svc.ns.example.com") == expected
    assert sum(expected.values()) == SLOTS


# -- the holder ---------------------------------------------------------------------------


def test_state_is_a_router_and_starts_empty() -> None:
    state = RoutingState(rng=random.Random(1))
    router: Router = state  # mypy checks the protocol here
    assert router.route(b"iris.default.example.com", b"/") is None
    assert state.version == -1 and state.table is None


def test_state_swaps_a_new_table_whole() -> None:
    state = RoutingState(rng=random.Random(1))
    assert state.apply(canary(100, version=1))
    old_snapshot = state.snapshot
    host = b"iris.default.example.com"
    assert picks(state, host, 200) == Counter({V2: 200})
    assert state.apply(canary(0, version=2))
    # the new table routes everything; the old snapshot is untouched (a request that
    # already looked up its Route keeps it)
    assert picks(state, host, 200) == Counter({V1: 200})
    assert picks(old_snapshot, host, 200) == Counter({V2: 200})
    assert state.version == 2 and state.snapshot is not old_snapshot


def test_state_ignores_an_older_or_equal_table() -> None:
    state = RoutingState()
    state.apply(canary(0, version=5))
    snapshot = state.snapshot
    assert not state.apply(canary(100, version=5))
    assert not state.apply(canary(100, version=4))
    assert state.snapshot is snapshot and state.version == 5


def test_state_keeps_the_current_table_when_a_new_one_cannot_be_built() -> None:
    state = RoutingState()
    state.apply(canary(100, version=1))
    bad = RouteTable(
        2, (ServiceRoute("default", "x\ny", (), (TrafficTarget(V1, 100),)),), (rev(V1),)
    )
    with pytest.raises(RouterBuildError):
        state.apply(bad)
    route = state.route(b"iris.default.example.com", b"/")
    assert route is not None and route.revision == V2 and state.version == 1


def test_route_is_a_plain_route() -> None:
    route = TableRouter.from_table(canary(100)).route(b"iris.default.example.com", b"/")
    assert isinstance(route, Route)
