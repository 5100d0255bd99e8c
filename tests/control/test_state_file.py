"""The rollout state file: round trip, atomic replacement, and errors that name the file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from zeroserve.control.errors import StateFileError
from zeroserve.control.rollout import RevisionEntry, RolloutState, ServiceRollout
from zeroserve.control.state_file import STATE_FILE, load_state, save_state
from zeroserve.resource import FrozenMap

STATE = RolloutState(
    FrozenMap(
        {
            "default/echo": ServiceRollout(
                counter=2,
                revisions=(
                    RevisionEntry("echo-predictor-00001", "aaaa"),
                    RevisionEntry("echo-predictor-00002", "bbbb"),
                ),
                latest_rolled_out="echo-predictor-00002",
                previous_rolled_out="echo-predictor-00001",
            ),
            "ml/gone": ServiceRollout(counter=7),
        }
    )
)


def test_no_file_is_an_empty_state(tmp_path: Path) -> None:
    assert load_state(tmp_path / "nowhere") == RolloutState()


def test_round_trip(tmp_path: Path) -> None:
    save_state(tmp_path / "state", STATE)
    assert load_state(tmp_path / "state") == STATE
    data = json.loads((tmp_path / "state" / STATE_FILE).read_text())
    assert data["format"] == 1
    assert data["services"]["default/echo"] == {
        "counter": 2,
        "revisions": [
            {"name": "echo-predictor-00001", "identity": "aaaa"},
            {"name": "echo-predictor-00002", "identity": "bbbb"},
        ],
        "latestRolledoutRevision": "echo-predictor-00002",
        "previousRolledoutRevision": "echo-predictor-00001",
    }


def test_a_save_replaces_the_file_whole_and_leaves_nothing_behind(tmp_path: Path) -> None:
    save_state(tmp_path, RolloutState())
    before = (tmp_path / STATE_FILE).stat().st_ino
    save_state(tmp_path, STATE)
    assert (tmp_path / STATE_FILE).stat().st_ino != before  # renamed over, not rewritten
    assert sorted(p.name for p in tmp_path.iterdir()) == [STATE_FILE]
    assert load_state(tmp_path) == STATE


@pytest.mark.parametrize(
    "text",
    ["{not json", '{"format": 2, "services": {}}', '{"format": 1, "services": {"a/b": {}}}'],
    ids=["not-json", "other-format", "missing-counter"],
)
def test_an_unreadable_state_file_is_an_error_naming_it(tmp_path: Path, text: str) -> None:
    (tmp_path / STATE_FILE).write_text(text)
    with pytest.raises(StateFileError) as info:
        load_state(tmp_path)
    message = str(info.value)
    assert message.startswith(f"{tmp_path / STATE_FILE}: not a rollout state file (")
    assert message.endswith("move it away to start over (revision numbers then restart at 00001)")


def test_a_state_dir_that_cannot_be_written_is_an_error_naming_it(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StateFileError) as info:
        save_state(blocker, STATE)
    assert str(info.value).startswith(f"{blocker / STATE_FILE}: cannot write the rollout state:")
