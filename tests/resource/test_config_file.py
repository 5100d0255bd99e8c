"""The ``--config`` file: Knative's ConfigMap or its keys; its failures name the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from zeroserve.config import AutoscalerConfig
from zeroserve.resource import ConfigFileError, MissingPathError, load_autoscaler_config


def test_a_knative_configmap(tmp_path: Path) -> None:
    path = tmp_path / "config-autoscaler.yaml"
    path.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config-autoscaler\n"
        "data:\n  _example: |\n    # documentation only\n"
        '  initial-scale: "1"\n  allow-zero-initial-scale: "false"\n  stable-window: 30s\n'
    )
    config, warnings = load_autoscaler_config(path)
    assert (config.initial_scale, config.allow_zero_initial_scale) == (1, False)
    assert config.stable_window == 30.0
    assert warnings == ()


def test_plain_keys_with_an_unknown_one(tmp_path: Path) -> None:
    path = tmp_path / "scaling.yaml"
    path.write_text("max-scale: 5\nmax-scale-limt: 10\n")
    config, warnings = load_autoscaler_config(path)
    assert config.max_scale == 5
    assert [w.field for w in warnings] == ["max-scale-limt"]


def test_a_refused_value_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("stable-window: 1s\n")
    with pytest.raises(ConfigFileError) as raised:
        load_autoscaler_config(path)
    assert str(raised.value) == f"{path}: stable-window = 1s, must be in [6s; 1h0m0s] range"


def test_an_empty_file_means_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("# nothing set\n")
    assert load_autoscaler_config(path) == (AutoscalerConfig(), ())
    path.write_text("a: 1\n---\nb: 2\n")
    with pytest.raises(ConfigFileError) as raised:
        load_autoscaler_config(path)
    assert str(raised.value) == f"{path}: expected one YAML document, found 2"


def test_malformed_and_missing_files(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("stable-window: [\n")
    with pytest.raises(ConfigFileError) as raised:
        load_autoscaler_config(path)
    assert str(raised.value).startswith(f"{path}: malformed YAML at line 2, column 1: ")
    with pytest.raises(MissingPathError):
        load_autoscaler_config(tmp_path / "absent.yaml")
