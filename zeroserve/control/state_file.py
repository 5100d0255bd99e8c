"""The rollout state as a JSON file under ``--state-dir``, written atomically.

A write goes to a temporary file in the same folder, is flushed to disk, then renamed over
the old file, so a crash at any moment leaves the old state or the new one, never half.
A file that cannot be read is an error naming it (with how to start over), not a silent
restart from revision 00001: revision names key the store's records and must not repeat.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from zeroserve.control.errors import StateFileError
from zeroserve.control.rollout import RevisionEntry, RolloutState, ServiceRollout
from zeroserve.resource.frozen import FrozenMap

STATE_FILE = "controller-state.json"
FORMAT = 1


def state_path(state_dir: str | Path) -> Path:
    return Path(state_dir) / STATE_FILE


def load_state(state_dir: str | Path) -> RolloutState:
    """The saved state; an empty one when there is no file yet."""
    path = state_path(state_dir)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return RolloutState()
    except OSError as error:
        raise StateFileError(f"{path}: cannot read the rollout state: {error.strerror}") from None
    try:
        return state_from_json(json.loads(text))
    except (ValueError, TypeError, KeyError) as error:
        raise StateFileError(
            f"{path}: not a rollout state file ({error}); move it away to start over "
            "(revision numbers then restart at 00001)"
        ) from None


def save_state(state_dir: str | Path, state: RolloutState) -> None:
    path = state_path(state_dir)
    text = json.dumps(state_to_json(state), indent=2, sort_keys=True) + "\n"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{STATE_FILE}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(text)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as error:
        raise StateFileError(f"{path}: cannot write the rollout state: {error.strerror}") from None


def state_to_json(state: RolloutState) -> dict[str, object]:
    return {
        "format": FORMAT,
        "services": {
            key: {
                "counter": entry.counter,
                "revisions": [{"name": r.name, "identity": r.identity} for r in entry.revisions],
                "latestRolledoutRevision": entry.latest_rolled_out,
                "previousRolledoutRevision": entry.previous_rolled_out,
            }
            for key, entry in state.services.items()
        },
    }


def state_from_json(data: object) -> RolloutState:
    """Raises ``ValueError`` (or ``TypeError``/``KeyError``) for anything else."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"expected a mapping with format {FORMAT}")
    services = data["services"]
    if not isinstance(services, dict):
        raise ValueError("services: expected a mapping")
    out: dict[str, ServiceRollout] = {}
    for key, entry in services.items():
        counter = entry["counter"]
        if not isinstance(counter, int) or isinstance(counter, bool) or counter < 0:
            raise ValueError(f"{key}: counter: expected an integer >= 0")
        revisions = tuple(
            RevisionEntry(_text(r["name"], key), _text(r["identity"], key))
            for r in entry["revisions"]
        )
        out[str(key)] = ServiceRollout(
            counter=counter,
            revisions=revisions,
            latest_rolled_out=_optional_text(entry.get("latestRolledoutRevision"), key),
            previous_rolled_out=_optional_text(entry.get("previousRolledoutRevision"), key),
        )
    return RolloutState(FrozenMap(out))


def _text(value: object, key: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{key}: expected a non-empty string, got {value!r}")
    return value


def _optional_text(value: object, key: str) -> str | None:
    return None if value is None else _text(value, key)
