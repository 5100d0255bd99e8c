"""load_folder: recursive manifests, at most one ZeroserveConfig, refusals that do not
stop the others."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.control import EXAMPLES
from zeroserve.config.server_config import ServerConfigError
from zeroserve.control.loader import load_folder, manifest_paths
from zeroserve.resource import MissingPathError

CONFIG = """
apiVersion: serving.zeroserve.io/v1alpha1
kind: ZeroserveConfig
domain: {domain}
autoscaler:
  max-scale-limit: "3"
  max-scale: "3"
"""
SERVICE = """
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: {name}
spec:
  predictor:
    maxReplicas: {max}
    model:
      modelFormat: {{name: sklearn}}
      storageUri: gs://b/{name}
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def test_the_examples_folder() -> None:
    loaded = load_folder(EXAMPLES, environ={"HOME": "/home/ada"})
    assert (loaded.refusals, loaded.warnings) == ((), ())
    assert [s.name for s in loaded.services] == ["echo", "iris", "streamer"]
    assert loaded.config_source == f"{EXAMPLES / 'zeroserve.yaml'} (document 1)"
    assert loaded.config.local_folder("gs://kfserving-examples/models/sklearn/1.0/model") == (
        "/home/ada/.cache/zeroserve/models/iris/current"
    )


def test_sub_folders_are_read_in_order_and_hidden_ones_skipped(tmp_path: Path) -> None:
    write(tmp_path / "b" / "two.yaml", SERVICE.format(name="two", max=0))
    write(tmp_path / "a" / "deep" / "three.yml", SERVICE.format(name="three", max=0))
    write(tmp_path / "one.yaml", SERVICE.format(name="one", max=0))
    write(tmp_path / ".git" / "x.yaml", SERVICE.format(name="hidden", max=0))
    write(tmp_path / "notes.txt", "not yaml")
    assert manifest_paths(tmp_path) == (
        tmp_path / "one.yaml",
        tmp_path / "a" / "deep" / "three.yml",
        tmp_path / "b" / "two.yaml",
    )
    assert [s.name for s in load_folder(tmp_path).services] == ["one", "three", "two"]
    assert manifest_paths(tmp_path / "one.yaml") == (tmp_path / "one.yaml",)
    with pytest.raises(MissingPathError):
        load_folder(tmp_path / "nowhere")


def test_the_folder_config_is_what_manifests_are_checked_against(tmp_path: Path) -> None:
    config = write(tmp_path / "z" / "zeroserve.yaml", CONFIG.format(domain="models.internal"))
    write(tmp_path / "ok.yaml", SERVICE.format(name="ok", max=3))
    bad = write(tmp_path / "bad.yaml", SERVICE.format(name="bad", max=4))
    graph = write(
        tmp_path / "graph.yaml",
        "apiVersion: serving.kserve.io/v1alpha1\nkind: InferenceGraph\nmetadata: {name: g}\n",
    )
    loaded = load_folder(tmp_path)
    assert loaded.config.domain == "models.internal"
    assert loaded.config_source == f"{config} (document 1)"
    assert [s.name for s in loaded.services] == ["ok"]
    assert loaded.refusals == (
        f"{bad} (document 1): expected 1 <= 4 <= 3: spec.predictor.maxReplicas",
    )
    assert loaded.warnings == (
        f"{graph} (document 1): kind InferenceGraph: not an InferenceService, skipped",
    )


def test_a_refused_config_leaves_the_defaults_and_the_services_serve(tmp_path: Path) -> None:
    config = write(tmp_path / "zeroserve.yaml", CONFIG.format(domain="Not_A_Domain"))
    second = write(tmp_path / "zz.yaml", CONFIG.format(domain="other.com"))
    write(tmp_path / "ok.yaml", SERVICE.format(name="ok", max=4))
    loaded = load_folder(tmp_path)
    assert loaded.config.domain == "example.com" and loaded.config_source is None
    assert [s.name for s in loaded.services] == ["ok"]  # max 4: no limit by default
    label = f"{config} (document 1)"
    assert loaded.refusals == (
        f"{second} (document 1): at most one ZeroserveConfig per folder; "
        f"{config}#1 is the one used",
        f'{label}: invalid value: "Not_A_Domain": domain; '
        "allowed: a lower-case DNS name such as example.com",
        f"{label}: refused; Zeroserve's defaults apply instead",
    )


def test_an_explicit_config_wins_over_the_folder_s(tmp_path: Path) -> None:
    inside = write(tmp_path / "m" / "zeroserve.yaml", CONFIG.format(domain="inside.com"))
    explicit = write(tmp_path / "explicit.yaml", CONFIG.format(domain="explicit.com"))
    loaded = load_folder(tmp_path / "m", config_path=explicit)
    assert loaded.config.domain == "explicit.com"
    assert loaded.config_source == str(explicit)
    assert loaded.warnings == (
        f"{inside} (document 1): ZeroserveConfig ignored: the config comes from {explicit}",
    )
    write(explicit, CONFIG.format(domain="BAD"))
    with pytest.raises(ServerConfigError):
        load_folder(tmp_path / "m", config_path=explicit)
