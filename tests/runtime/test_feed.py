"""The snapshot feed: current state first, then changes; the latest per revision."""

from __future__ import annotations

import asyncio

from zeroserve.endpoint import Endpoint
from zeroserve.runtime.base import EndpointsSnapshot
from zeroserve.runtime.feed import SnapshotFeed

A = Endpoint("127.0.0.1", 9001, "a-1")


async def test_watch_starts_with_the_latest_and_follows_changes() -> None:
    feed = SnapshotFeed()
    feed.publish(EndpointsSnapshot("a", 1))
    feed.publish(EndpointsSnapshot("a", 2, ready=(A,)))
    feed.publish(EndpointsSnapshot("b", 3))
    seen: list[tuple[str, int]] = []

    async def watch() -> None:
        async for snapshot in feed.watch():
            seen.append((snapshot.revision, snapshot.version))

    task = asyncio.create_task(watch())
    await asyncio.sleep(0)
    assert seen == [("a", 2), ("b", 3)]
    feed.publish(EndpointsSnapshot("b", 4, failed="boom"))
    await asyncio.sleep(0)
    assert seen[-1] == ("b", 4)
    feed.close()
    await asyncio.wait_for(task, 1)


async def test_a_slow_watcher_skips_to_the_latest_of_each_revision() -> None:
    feed = SnapshotFeed()
    watch = feed.watch()
    first = asyncio.ensure_future(anext(watch))
    await asyncio.sleep(0)
    for version in range(1, 6):
        feed.publish(EndpointsSnapshot("a", version))
    feed.publish(EndpointsSnapshot("b", 6))
    feed.publish(EndpointsSnapshot("a", 7, ready=(A,)))
    got = [await first, await anext(watch)]
    # a's versions 1 to 6 were skipped; a moved behind b, which changed before a did last.
    assert [(s.revision, s.version) for s in got] == [("b", 6), ("a", 7)]
    assert got[1].ready == (A,)
    feed.publish(EndpointsSnapshot("a", 8))
    assert (await anext(watch)).version == 8
    await watch.aclose()


async def test_removed_revisions_leave_the_latest() -> None:
    feed = SnapshotFeed()
    feed.publish(EndpointsSnapshot("a", 1))
    feed.publish(EndpointsSnapshot("a", 2, removed=True))
    assert feed.latest("a") is None
    feed.close()
    assert [s async for s in feed.watch()] == []  # closed: nothing pending, ends at once
