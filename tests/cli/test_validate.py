"""``zeroserve validate``, run in-process: the lines it prints and its exit status."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from zeroserve.cli import main

ISVC = """\
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: {name}
spec:
  predictor:
{predictor}
"""
SKLEARN = "    sklearn:\n      storageUri: gs://bucket/model"
CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "kserve-samples"


def isvc(name: str, predictor: str = SKLEARN) -> str:
    return ISVC.format(name=name, predictor=predictor)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str], str]:
    code = main(["validate", *args])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


def test_an_accepted_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "iris.yaml"
    path.write_text(isvc("sklearn-iris"))
    assert run(capsys, str(path)) == (
        0,
        [f"OK  sklearn-iris (default) {path}#1", "1 document: 1 OK, 0 refused, 0 skipped"],
        "",
    )


def test_a_model_format_without_a_local_runtime_is_accepted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "odd.yaml"
    path.write_text(isvc("odd", "    model:\n      modelFormat:\n        name: no-such-format"))
    code, lines, _ = run(capsys, str(path))
    assert code == 0
    assert lines[0] == f"OK  odd (default) {path}#1"


def test_refused_skipped_and_warnings_in_a_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    grpc = "\n".join(
        [
            "    containers:",
            "    - image: x",
            "      ports:",
            "      - name: h2c",
            "        containerPort: 8081",
        ]
    )
    graph = "apiVersion: serving.kserve.io/v1alpha1\nkind: InferenceGraph\nmetadata:\n  name: g\n"
    (tmp_path / "a.yaml").write_text(f"{isvc('a')}---\n{isvc('b', grpc)}---\n{graph}")
    pods = f"{SKLEARN}\n    serviceAccount: sa\n    minReplicas: -1\n    canaryTrafficPercent: 200"
    (tmp_path / "b.yaml").write_text(isvc("c", pods))
    (tmp_path / "c.yaml").write_text(isvc("d", f"{SKLEARN}\n    serviceAccountName: sa"))
    a, b, c = (tmp_path / name for name in ("a.yaml", "b.yaml", "c.yaml"))
    assert run(capsys, str(tmp_path)) == (
        1,
        [
            f"OK  a (default) {a}#1",
            f"REFUSED  b (default) {a}#2: gRPC/h2c is not served yet: "
            "spec.predictor.containers[0].ports[0].name=h2c; allowed: no name, or http1 (HTTP/1.1)",
            f"SKIPPED  g (default) {a}#3: kind InferenceGraph: not an InferenceService, skipped",
            f"REFUSED  c (default) {b}#1: 2 problems",
            "  - expected 0 <= 200 <= 100: spec.predictor.canaryTrafficPercent",
            "  - 'MinReplicas' cannot be less than 0: spec.predictor.minReplicas=-1; "
            "allowed: an integer >= 0 (0: scale to zero)",
            "  warning: spec.predictor.serviceAccount is ignored by the local runtime "
            "(only the Kubernetes runtime uses it)",
            f"OK  d (default) {c}#1",
            "  warning: spec.predictor.serviceAccountName is ignored by the local runtime "
            "(only the Kubernetes runtime uses it)",
            "5 documents: 2 OK, 2 refused, 1 skipped",
        ],
        "",
    )


def test_malformed_yaml(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("kind: [\n")
    code, lines, _ = run(capsys, str(path))
    assert code == 1
    assert lines[0].startswith(f"REFUSED  ? {path}#1: malformed YAML at line 2, column 1: ")


def test_the_config_file_takes_part(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = tmp_path / "m.yaml"
    manifest.write_text(isvc("m", f"{SKLEARN}\n    maxReplicas: 6"))
    config = tmp_path / "config-autoscaler.yaml"
    config.write_text("max-scale: 5\nmax-scale-limit: 5\nstable-windw: 30s\n")
    code, lines, _ = run(capsys, str(manifest))
    assert code == 0
    code, lines, _ = run(capsys, str(manifest), "--config", str(config))
    assert code == 1
    assert lines[0].startswith(f'warning: {config}: config-autoscaler: unknown key "stable-windw"')
    assert lines[1] == (
        f"REFUSED  m (default) {manifest}#1: expected 1 <= 6 <= 5: spec.predictor.maxReplicas"
    )


def test_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "missing.yaml"
    assert run(capsys, str(missing)) == (
        2,
        [],
        f"zeroserve validate: error: no such file or directory: {missing}\n",
    )
    config = tmp_path / "config.yaml"
    config.write_text("stable-window: 1s\n")
    manifest = tmp_path / "m.yaml"
    manifest.write_text(isvc("m"))
    code, lines, err = run(capsys, str(manifest), "--config", str(config))
    assert (code, lines) == (2, [])
    assert err == (
        f"zeroserve validate: error: {config}: stable-window = 1s, must be in [6s; 1h0m0s] range\n"
    )
    with pytest.raises(SystemExit) as raised:
        main(["validate"])
    assert raised.value.code == 2
    assert "the following arguments are required: FILE|DIR" in capsys.readouterr().err


def test_the_kserve_sample_corpus(capsys: pytest.CaptureFixture[str]) -> None:
    if not CORPUS.is_dir():
        reason = f"the KServe sample corpus is not at {CORPUS}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    code, lines, err = run(capsys, str(CORPUS))
    assert (code, err) == (1, "")
    assert lines[-1] == "45 documents: 29 OK, 15 refused, 1 skipped"
