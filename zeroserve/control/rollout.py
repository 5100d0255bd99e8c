"""Rollout state, and what applying a set of services changes in it (pure).

The rollout state is what must survive a restart (DESIGN.md, "Where state lives"): per
service, the revision counter (so a name is never given twice: revision names key the
store's records), the revisions kept with their identities (so an unchanged service
keeps its revision across a restart: 00002 stays 00002), and KServe's
``latestRolledoutRevision``/``previousRolledoutRevision``. Set semantics: a service
missing from an apply is removed (its counter is kept, its revisions go).

Traffic goes 100% to the latest created revision for now, so each new revision is
rolled out as soon as it is created; a canary will change ``_roll_out`` and the traffic
function in ``routes``, not the shape of this state.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from zeroserve.control.revisions import RevisionSpec, revision_name
from zeroserve.resource.frozen import FrozenMap
from zeroserve.resource.model import InferenceService

ServiceKey = tuple[str, str]  # (namespace, name), as InferenceService.key


def key_text(key: ServiceKey) -> str:
    """``namespace/name``: how a service is named in the state file and in messages."""
    return f"{key[0]}/{key[1]}"


@dataclass(frozen=True, slots=True)
class RevisionEntry:
    """A revision as the state file remembers it: its name and what it runs (a hash)."""

    name: str
    identity: str


@dataclass(frozen=True, slots=True)
class ServiceRollout:
    """One service's rollout bookkeeping. ``revisions`` are oldest first; the last one is
    the latest created."""

    counter: int = 0
    revisions: tuple[RevisionEntry, ...] = ()
    latest_rolled_out: str | None = None
    previous_rolled_out: str | None = None

    @property
    def latest_created(self) -> RevisionEntry | None:
        return self.revisions[-1] if self.revisions else None


NO_ROLLOUT = ServiceRollout()
NO_SERVICES: FrozenMap[str, ServiceRollout] = FrozenMap()


@dataclass(frozen=True, slots=True)
class RolloutState:
    """Every service's rollout, by ``namespace/name``."""

    services: FrozenMap[str, ServiceRollout] = NO_SERVICES

    def of(self, key: ServiceKey) -> ServiceRollout:
        return self.services.get(key_text(key), NO_ROLLOUT)


@dataclass(frozen=True, slots=True)
class KnownRevision:
    """A revision the controller holds: its name and what it runs (or why it cannot)."""

    name: str
    spec: RevisionSpec


@dataclass(frozen=True, slots=True)
class ServiceView:
    """An applied service and its revisions, oldest first; the last is the latest created."""

    service: InferenceService
    revisions: tuple[KnownRevision, ...]

    @property
    def key(self) -> ServiceKey:
        return self.service.key

    @property
    def latest(self) -> KnownRevision:
        return self.revisions[-1]


@dataclass(frozen=True, slots=True)
class ApplyPlan:
    """What an apply does. ``views`` replace the controller's; ``ensure`` are runnable
    revisions the runtime must have (new ones, and failed ones that became runnable);
    ``failed`` are new or changed failures to publish; ``remove`` are revisions to
    drain and forget (runtime and store); ``created`` names the new revisions."""

    views: tuple[ServiceView, ...]
    rollout: RolloutState
    ensure: tuple[KnownRevision, ...] = ()
    failed: tuple[KnownRevision, ...] = ()
    remove: tuple[str, ...] = ()
    created: tuple[str, ...] = ()


def plan_apply(
    services: Sequence[InferenceService],
    specs: Mapping[ServiceKey, RevisionSpec],
    views: Mapping[ServiceKey, ServiceView],
    rollout: RolloutState,
    history_limit: int,
) -> ApplyPlan:
    """The new views and rollout state for exactly ``services`` (one per key: the caller
    dedupes), given what runs for each (``specs``) and what the controller holds."""
    out_views: list[ServiceView] = []
    entries: dict[str, ServiceRollout] = dict(rollout.services)
    ensure: list[KnownRevision] = []
    failed: list[KnownRevision] = []
    remove: list[str] = []
    created: list[str] = []

    def adopt(revision: KnownRevision) -> None:
        (ensure if revision.spec.runnable else failed).append(revision)

    for service in sorted(services, key=lambda s: s.key):
        key = service.key
        spec = specs[key]
        entry = rollout.of(key)
        old = views.get(key)
        counter = entry.counter
        if old is not None and old.latest.spec.identity == spec.identity:
            latest = old.latest
            if not latest.spec.runnable and (spec.runnable or spec.failed != latest.spec.failed):
                latest = KnownRevision(latest.name, spec)  # a failure fixed, or a new reason
                adopt(latest)
            revisions = (*old.revisions[:-1], latest)
        elif old is None and _same(entry.latest_created, spec):
            assert entry.latest_created is not None
            latest = KnownRevision(entry.latest_created.name, spec)  # after a restart
            adopt(latest)
            remove.extend(r.name for r in entry.revisions[:-1])  # gone with the old process
            revisions = (latest,)
        else:
            counter += 1
            latest = KnownRevision(revision_name(service.name, counter), spec)
            adopt(latest)
            created.append(latest.name)
            if old is None:
                remove.extend(r.name for r in entry.revisions)
                revisions = (latest,)
            else:
                revisions = (*old.revisions, latest)
        kept = revisions[-(history_limit + 1) :]
        remove.extend(r.name for r in revisions[: len(revisions) - len(kept)])
        out_views.append(ServiceView(service, kept))
        entries[key_text(key)] = _roll_out(
            replace(
                entry,
                counter=counter,
                revisions=tuple(RevisionEntry(r.name, r.spec.identity) for r in kept),
            ),
            kept[-1].name,
        )

    wanted = {s.key for s in services}
    wanted_texts = {key_text(k) for k in wanted}
    for key, view in views.items():
        if key not in wanted:
            remove.extend(r.name for r in view.revisions)
    for text, entry in rollout.services.items():
        if text not in wanted_texts and entry.revisions:
            leftover = {r.name for r in entry.revisions} - set(remove)
            remove.extend(sorted(leftover))
            entries[text] = ServiceRollout(counter=entry.counter)

    return ApplyPlan(
        views=tuple(out_views),
        rollout=RolloutState(FrozenMap(dict(sorted(entries.items())))),
        ensure=tuple(ensure),
        failed=tuple(failed),
        remove=tuple(_unique(remove)),
        created=tuple(created),
    )


def _same(entry: RevisionEntry | None, spec: RevisionSpec) -> bool:
    return entry is not None and entry.identity == spec.identity


def _roll_out(entry: ServiceRollout, routed: str) -> ServiceRollout:
    """KServe's promotion: the revision given 100% becomes the latest rolled out, and
    the one before it the previous."""
    if entry.latest_rolled_out == routed:
        return entry
    return replace(entry, latest_rolled_out=routed, previous_rolled_out=entry.latest_rolled_out)


def _unique(names: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(names))
