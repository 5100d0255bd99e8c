"""The watcher's mailbox: latest wins per key, never older, safe to cancel, closable."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest

from zeroserve.store import Subscription


@dataclass(frozen=True)
class Item:
    key: str
    version: int


def newer(candidate: Item, last: Item) -> bool:
    return candidate.version > last.version


def mailbox(**kw: object) -> Subscription[Item]:
    return Subscription(lambda i: i.key, **kw)  # type: ignore[arg-type]


async def test_latest_wins_per_key_and_keys_keep_their_place() -> None:
    sub = mailbox()
    for item in (Item("a", 1), Item("b", 1), Item("a", 2), Item("c", 1), Item("a", 3)):
        sub.offer(item)
    assert sub.pending == 3
    assert [await anext(sub) for _ in range(3)] == [Item("a", 3), Item("b", 1), Item("c", 1)]
    assert sub.pending == 0


async def test_without_a_rule_a_repeat_is_delivered_again() -> None:
    sub = mailbox()
    sub.offer(Item("a", 1))
    assert await anext(sub) == Item("a", 1)
    assert sub.offer(Item("a", 1))
    assert sub.drain() == [Item("a", 1)]


async def test_with_a_rule_nothing_older_or_equal_gets_through() -> None:
    sub = mailbox(newer=newer)
    assert sub.offer(Item("a", 2))
    assert not sub.offer(Item("a", 1))  # older than what is pending
    assert not sub.offer(Item("a", 2))  # a repeat
    assert await anext(sub) == Item("a", 2)
    assert not sub.offer(Item("a", 2))  # already delivered (a resync racing a push)
    assert sub.offer(Item("b", 1))  # another key has its own versions
    assert sub.offer(Item("a", 3))
    assert sub.drain() == [Item("b", 1), Item("a", 3)]
    assert sub.drain() == []


async def test_a_waiting_reader_wakes_on_an_offer() -> None:
    sub = mailbox()
    waiting = asyncio.ensure_future(anext(sub))
    await asyncio.sleep(0)
    assert not waiting.done()
    sub.offer(Item("a", 1))
    assert await asyncio.wait_for(waiting, 1.0) == Item("a", 1)


async def test_cancelling_a_wait_takes_nothing() -> None:
    sub = mailbox()
    waiting = asyncio.ensure_future(anext(sub))
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    sub.offer(Item("a", 1))
    assert await asyncio.wait_for(anext(sub), 1.0) == Item("a", 1)


async def test_a_drained_mailbox_waits_again() -> None:
    sub = mailbox()
    sub.offer(Item("a", 1))
    assert sub.drain() == [Item("a", 1)]
    waiting = asyncio.ensure_future(anext(sub))
    await asyncio.sleep(0)
    assert not waiting.done()  # nothing pending: it waits
    sub.offer(Item("b", 1))
    assert await asyncio.wait_for(waiting, 1.0) == Item("b", 1)


async def test_close_ends_a_waiting_reader_and_drops_what_is_pending() -> None:
    closed: list[Subscription[Item]] = []
    sub = mailbox(on_close=closed.append)
    iterate = asyncio.ensure_future(asyncio.wait_for(_all(sub), 1.0))
    await asyncio.sleep(0)
    sub.close()
    sub.close()
    assert await iterate == []
    assert closed == [sub]  # told once
    assert not sub.offer(Item("a", 1))
    assert sub.pending == 0 and sub.closed


async def test_async_with_closes() -> None:
    async with mailbox() as sub:
        sub.offer(Item("a", 1))
    assert sub.closed and await _all(sub) == []


async def _all(sub: Subscription[Item]) -> list[Item]:
    return [item async for item in sub]
