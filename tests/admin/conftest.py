from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.admin.snapshots import FixedSource, full_snapshot
from zeroserve.admin.app import create_app, serving


@pytest.fixture
def source() -> FixedSource:
    return FixedSource(full_snapshot())


@pytest.fixture
async def admin(source: FixedSource) -> AsyncIterator[str]:
    """The real admin app over ``source``, on a free loopback port: its base URL."""
    async with serving(create_app(source), port=0) as url:
        yield url
