"""The seams the wiring fills: where snapshots come from, and (later) where manifests go.

The admin imports none of the parts it reports on; the lead's wiring implements these
Protocols over the controller, autoscaler, data path and store.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from zeroserve.admin.model import ServerSnapshot

__all__ = ["AppliedDocument", "ResourceWriter", "SnapshotSource"]


class SnapshotSource(Protocol):
    """Called once per admin request (and per ``/metrics`` scrape), on the event loop: it
    must be quick and must not block (read in-memory state, build the frozen snapshot)."""

    def snapshot(self) -> ServerSnapshot: ...


@dataclass(frozen=True, slots=True)
class AppliedDocument:
    """What applying one document did: ``outcome`` is ``created``, ``configured``,
    ``unchanged``, ``refused`` or ``skipped``; ``reasons`` say why when refused."""

    namespace: str
    name: str
    outcome: str
    reasons: tuple[str, ...] = ()


class ResourceWriter(Protocol):
    """For ``zeroserve apply -f`` and ``delete`` (a later issue; no route uses it yet).

    ``documents`` are parsed YAML documents as a client sent them; ``delete`` answers
    whether the service existed."""

    async def apply(
        self, documents: Sequence[Mapping[str, object]]
    ) -> Sequence[AppliedDocument]: ...

    async def delete(self, name: str, namespace: str) -> bool: ...
