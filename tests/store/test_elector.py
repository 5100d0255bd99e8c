"""LocalElector: the only candidate, leading at once; tokens grow across leaderships."""

from __future__ import annotations

from zeroserve.store import Elector, LocalElector


async def test_local_elector_leads_with_token_one() -> None:
    elector: Elector = LocalElector()  # mypy checks the protocol here
    assert elector.is_leader and elector.token == 1
    assert await elector.campaign() == 1
    assert await elector.campaign() == 1  # campaigning while leading changes nothing


async def test_tokens_grow_across_leaderships() -> None:
    elector = LocalElector()
    tokens = [await elector.campaign()]
    for _ in range(3):
        await elector.resign()
        assert not elector.is_leader and elector.token is None
        tokens.append(await elector.campaign())
        assert elector.is_leader and elector.token == tokens[-1]
    assert tokens == [1, 2, 3, 4]
