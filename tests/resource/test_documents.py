"""Files and folders → documents: numbering, malformed YAML, one bad document among good ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from zeroserve.config import AutoscalerConfig
from zeroserve.resource import MissingPathError, Outcome, Source, parse_paths, parse_text
from zeroserve.resource.documents import manifest_files, split_documents

CONFIG = AutoscalerConfig()


def isvc(name: str, namespace: str | None = None) -> str:
    ns = f"\n  namespace: {namespace}" if namespace else ""
    return (
        "apiVersion: serving.kserve.io/v1beta1\n"
        "kind: InferenceService\n"
        f"metadata:\n  name: {name}{ns}\n"
        "spec:\n  predictor:\n    sklearn:\n      storageUri: gs://bucket/model\n"
    )


GRAPH = "apiVersion: serving.kserve.io/v1alpha1\nkind: InferenceGraph\nmetadata:\n  name: g\n"


def test_several_documents_per_file_numbered_from_one() -> None:
    parts = ["# leading comment\n", isvc("a"), GRAPH, "# only a comment\n", isvc("b"), ""]
    text = "---\n".join(parts)
    verdicts = parse_text(text, CONFIG, path="many.yaml")
    assert [(v.source.ref, v.outcome, v.name) for v in verdicts] == [
        ("many.yaml#1", Outcome.OK, "a"),
        ("many.yaml#2", Outcome.SKIPPED, "g"),
        ("many.yaml#3", Outcome.OK, "b"),
    ]
    assert verdicts[1].skip_reason == "kind InferenceGraph: not an InferenceService, skipped"
    assert verdicts[2].service is not None
    assert verdicts[2].service.source == "many.yaml (document 3)"


def test_a_malformed_document_does_not_hide_the_next_one() -> None:
    bad = (
        "apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\nmetadata:\n  name: x\n"
        "spec:\n  predictor:\n    containers:\n    - image: {username}/torchserve:latest\n"
        "      name: torchserve-container\n"
    )
    text = f"{isvc('a')}---\n{bad}---\n{isvc('c')}"
    verdicts = parse_text(text, CONFIG, path="mixed.yaml")
    assert [v.outcome for v in verdicts] == [Outcome.OK, Outcome.REFUSED, Outcome.OK]
    (problem,) = verdicts[1].problems
    assert problem.field == ""
    # Line numbers are the file's: the bad document starts on line 10.
    assert problem.text == (
        "malformed YAML at line 17, column 24: expected <block end>, but found '<scalar>' "
        "(while parsing a block mapping at line 17, column 7); a value that starts with "
        '"{" is a YAML flow mapping: quote it if it is a string'
    )
    assert verdicts[1].messages == (f"mixed.yaml (document 2): {problem.text}",)
    assert verdicts[2].source == Source("mixed.yaml", 3)


def test_duplicate_keys_are_refused() -> None:
    text = isvc("a") + "    minReplicas: 0\n    minReplicas: 1\n"
    (verdict,) = parse_text(text, CONFIG, path="dup.yaml")
    assert [p.text for p in verdict.problems] == [
        'malformed YAML at line 10, column 5: duplicate key "minReplicas" (first at line 9)'
    ]


def test_timestamps_stay_strings_as_kubernetes_reads_them() -> None:
    text = isvc("a").replace("  name: a\n", "  name: a\n  annotations:\n    released: 2024-01-31\n")
    (verdict,) = parse_text(text, CONFIG)
    assert verdict.service is not None
    assert verdict.service.annotations["released"] == "2024-01-31"


def test_a_yaml_directive_belongs_to_its_document() -> None:
    (document,) = split_documents("%YAML 1.1\n---\na: 1\n", "d.yaml")
    assert document.body == {"a": 1}
    assert document.source == Source("d.yaml", 1)


def test_a_folder_reads_yaml_files_sorted_and_a_malformed_file_spoils_only_itself(
    tmp_path: Path,
) -> None:
    (tmp_path / "c.yaml").write_text(isvc("c"))
    (tmp_path / "a.yml").write_text(isvc("a") + "---\n" + isvc("a2"))
    (tmp_path / "b.yaml").write_text("apiVersion: [unclosed\n")
    (tmp_path / "notes.txt").write_text(isvc("ignored"))
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "d.yaml").write_text(isvc("not-recursive"))
    verdicts = parse_paths([tmp_path], CONFIG)
    rows = [(Path(v.source.path).name, v.source.document, v.outcome, v.name) for v in verdicts]
    assert rows == [
        ("a.yml", 1, Outcome.OK, "a"),
        ("a.yml", 2, Outcome.OK, "a2"),
        ("b.yaml", 1, Outcome.REFUSED, None),
        ("c.yaml", 1, Outcome.OK, "c"),
    ]
    assert verdicts[2].problems[0].text.startswith("malformed YAML at line 2, column 1: ")


def test_files_named_twice_are_read_once_and_missing_paths_raise(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(isvc("a"))
    assert manifest_files([tmp_path, tmp_path / "a.yaml"]) == (tmp_path / "a.yaml",)
    with pytest.raises(MissingPathError) as raised:
        parse_paths([tmp_path / "a.yaml", tmp_path / "nope.yaml"], CONFIG)
    assert str(raised.value) == f"no such file or directory: {tmp_path / 'nope.yaml'}"


def test_unreadable_text(tmp_path: Path) -> None:
    (tmp_path / "latin1.yaml").write_bytes(b"name: caf\xe9\n")
    (verdict,) = parse_paths([tmp_path / "latin1.yaml"], CONFIG)
    assert [p.text for p in verdict.problems] == [
        "the file is not UTF-8 text (byte 0xe9 at offset 9)"
    ]


def test_duplicate_services_are_warned_about() -> None:
    text = f"{isvc('a')}---\n{isvc('a', 'other')}---\n{isvc('a')}"
    verdicts = parse_text(text, CONFIG, path="x.yaml")
    assert [[n.text for n in v.notices] for v in verdicts] == [
        [],
        [],
        ["a (default) is also defined in x.yaml#1; applied together, the last definition wins"],
    ]
