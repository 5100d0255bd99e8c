"""An immutable, hashable mapping, and deep-frozen JSON.

Parsed InferenceServices are frozen dataclasses that the controller compares (and may
hash) to decide whether what runs changed; a plain ``dict`` field would make them
unhashable and mutable, so maps are ``FrozenMap`` and raw Kubernetes-only values are
deep-frozen (``freeze``) and turned back into plain JSON with ``thaw``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")

Json = object
"""A YAML/JSON value: after ``freeze``, dicts are ``FrozenMap`` and lists are tuples."""


class FrozenMap(Mapping[K, V]):
    """A read-only mapping with a hash; keeps insertion order like ``dict``."""

    __slots__ = ("_data", "_hash")

    def __init__(self, data: Mapping[K, V] | None = None) -> None:
        self._data: dict[K, V] = dict(data) if data else {}
        self._hash: int | None = None

    def __getitem__(self, key: K) -> V:
        return self._data[key]

    def __iter__(self) -> Iterator[K]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(frozenset(self._data.items()))
        return self._hash

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FrozenMap):
            return self._data == other._data
        if isinstance(other, Mapping):
            return self._data == dict(other)
        return NotImplemented

    def __repr__(self) -> str:
        return f"FrozenMap({self._data!r})"


EMPTY: FrozenMap[str, str] = FrozenMap()


def freeze(value: object) -> Json:
    """Dicts to ``FrozenMap``, lists to tuples, recursively; scalars unchanged."""
    if isinstance(value, Mapping):
        return FrozenMap({str(k): freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    return value


def thaw(value: Json) -> object:
    """The inverse of ``freeze``: plain dicts and lists, ready for JSON or a Kubernetes client."""
    if isinstance(value, FrozenMap):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [thaw(v) for v in value]
    return value
