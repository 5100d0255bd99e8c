"""Which ``{…}`` tokens a local command keeps as written, so a typo can be warned about."""

from __future__ import annotations

import pytest

from zeroserve.resource.placeholders import PLACEHOLDERS, unknown_placeholders


def test_the_placeholders_the_local_runtime_replaces() -> None:
    assert PLACEHOLDERS == ("{port}", "{grpc_port}")


@pytest.mark.parametrize(
    ("text", "unknown"),
    [
        ("--port={port}", []),
        ("{port}:{grpc_port}", []),
        ('{"a": {"b": 1}}', []),  # JSON passes as written
        ("{ port }", []),
        ("{prot}", ["{prot}"]),
        ("--model={model} --x={port}", ["{model}"]),
        ("{grpc-port}{PORT}", ["{grpc-port}", "{PORT}"]),
    ],
)
def test_unknown_placeholders(text: str, unknown: list[str]) -> None:
    assert unknown_placeholders(text) == unknown
