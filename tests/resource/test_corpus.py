"""KServe's own sample manifests (``shared/kserve-samples``), one expected verdict per document.

The table is built from the corpus's INDEX.md: IN files are accepted; BEYOND and NEGATIVE
ones are refused naming the field (the exceptions are noted on their rows). The files
stay where they are, beside the repository (CI keeps a copy of ``shared/`` there too).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from zeroserve.config import AutoscalerConfig
from zeroserve.resource import InferenceService, Outcome, Verdict, parse_paths

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "kserve-samples"

OK = (Outcome.OK, ())
SKIPPED = (Outcome.SKIPPED, ())


def refused(*fields: str) -> tuple[Outcome, tuple[str, ...]]:
    return (Outcome.REFUSED, fields)


MODE = "metadata.annotations.serving.kserve.io/deploymentMode"
STRATEGY = "spec.predictor.deploymentStrategy"
KPA = "website__docs__model-serving__predictive-inference__autoscaling__kpa-autoscaler.md"
CANARY = "website__docs__model-serving__predictive-inference__rollout-strategies__canary-example.md"
FRAMEWORKS = "website__docs__model-serving__predictive-inference__frameworks"

# file → the verdict of each document, in order: (outcome, the fields its problems name).
EXPECTED: dict[str, list[tuple[Outcome, tuple[str, ...]]]] = {
    "docs__samples__v1beta1__sklearn__v1__sklearn.yaml": [OK],
    "docs__samples__v1beta1__sklearn__v2__sklearn.yaml": [OK],
    "docs__samples__v1beta1__xgboost__xgboost.yaml": [OK],
    "docs__samples__v1beta1__rollout__default.yaml": [OK],
    "docs__samples__v1beta1__rollout__canary.yaml": [OK],
    "docs__samples__v1beta1__rollout__promotion.yaml": [OK],
    "docs__samples__v1beta1__rollout__pinned.yaml": [OK],
    "docs__samples__v1beta1__tensorflow__canary.yaml": [OK],
    "docs__samples__v1beta1__torchserve__canary__canary.yaml": [OK],
    "docs__samples__autoscaling__autoscale.yaml": [OK],
    "docs__samples__autoscaling__autoscale_custom.yaml": [OK],
    "docs__samples__v1beta1__torchserve__autoscaling__autoscaling.yaml": [OK],
    "docs__samples__v1beta1__advanced__timeout.yaml": [OK],
    "docs__samples__v1beta1__advanced__cluster_local.yaml": [OK],
    "docs__samples__v1beta1__advanced__probes.yaml": [OK],
    "docs__samples__v1beta1__advanced__pod-overrides.yaml": [OK],  # serviceAccount: a warning
    "docs__samples__v1beta1__custom__simple.yaml": [OK],
    # INDEX: "IN / IN (edge)"; the second document's h2c port is gRPC, not served yet.
    "docs__samples__v1beta1__custom__custom_model__custom.yaml": [
        OK,
        refused("spec.predictor.containers[0].ports[0].name"),
    ],
    "docs__samples__v1beta1__custom__torchserve__canary.yaml": [refused("")],  # malformed YAML
    "docs__samples__v1beta1__tensorflow__tensorflow.yaml": [OK],  # KServe-only annotations warn
    "docs__samples__batcher__basic__batcher_v1beta1.yaml": [refused("spec.predictor.batcher")],
    "docs__samples__logger__basic__sklearn-logging.yaml": [refused("spec.predictor.logger")],
    "docs__samples__v1beta1__transformer__torchserve_image_transformer__transformer.yaml": [
        refused("spec.transformer")
    ],
    "docs__samples__v1beta1__transformer__collocation__collocation.yaml": [
        refused("spec.predictor.containers[1]")
    ],
    "docs__samples__multimodelserving__sklearn__inferenceservice.yaml": [
        refused("spec.predictor.sklearn.name")
    ],
    "docs__samples__explanation__alibi__income__income.yaml": [refused("spec.explainer")],
    # INDEX: BEYOND for the graph; the two services alone are IN.
    "docs__samples__graph__sequence.yaml": [OK, OK, SKIPPED],
    "docs__samples__rollout-strategy__rollout-strategy-example.yaml": [
        refused(MODE, "spec.transformer", STRATEGY),
        refused(MODE),
        refused(MODE, STRATEGY, "spec.predictor"),  # model + containers: exactly one
    ],
    "docs__samples__storage__storageSpec__sklearn_storagespec.yaml": [
        refused("spec.predictor.sklearn.storage")
    ],
    "docs__samples__gcp-iap__sklearn-iap-no-authz.yaml": [refused("apiVersion")],
    "website__docs__getting-started__predictive-first-isvc.md__block2.yaml": [OK],
    f"{KPA}__block1.yaml": [OK],
    f"{KPA}__block2.yaml": [refused("spec.predictor.scaleMetric")],  # qps
    f"{KPA}__block5.yaml": [OK],
    f"{KPA}__block6.yaml": [refused("spec.transformer")],
    f"{CANARY}__block1.yaml": [OK],
    f"{CANARY}__block3.yaml": [OK],
    f"{CANARY}__block4.yaml": [OK],
    f"{FRAMEWORKS}__sklearn__sklearn.md__block1.yaml": [OK],
    f"{FRAMEWORKS}__custom-predictor__custom-predictor.md__block1.yaml": [OK],
}
# INDEX.md says BEYOND or NEGATIVE, yet a document of the file is accepted: why.
ACCEPTED_DESPITE_INDEX = {
    "docs__samples__graph__sequence.yaml": "only the InferenceGraph is beyond"
}


@pytest.fixture(scope="module")
def corpus() -> Path:
    if not CORPUS.is_dir():
        reason = f"the KServe sample corpus is not at {CORPUS}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; CI must provide shared/ beside the repository")
        pytest.skip(reason)
    return CORPUS


@pytest.fixture(scope="module")
def verdicts(corpus: Path) -> dict[str, list[Verdict]]:
    by_file: dict[str, list[Verdict]] = {}
    for verdict in parse_paths([corpus], AutoscalerConfig()):
        by_file.setdefault(Path(verdict.source.path).name, []).append(verdict)
    return by_file


def test_the_table_covers_every_file_of_the_corpus_and_its_index(corpus: Path) -> None:
    files = {p.name for p in corpus.glob("*.yaml")}
    assert set(EXPECTED) == files
    indexed = set(re.findall(r"^\| `([^`]+\.yaml)` \|", (corpus / "INDEX.md").read_text(), re.M))
    assert indexed == files


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_document_gets_its_verdict(name: str, verdicts: dict[str, list[Verdict]]) -> None:
    got = [(v.outcome, tuple(p.field for p in v.problems)) for v in verdicts[name]]
    assert got == EXPECTED[name], [m for v in verdicts[name] for m in v.messages]


def test_the_table_agrees_with_the_index_subset_column(corpus: Path) -> None:
    index = (corpus / "INDEX.md").read_text()
    rows = re.findall(r"^\| `([^`]+\.yaml)` \|.*\| ([A-Z][A-Z ()/a-z]*?) \|[^|]*\|$", index, re.M)
    assert len(rows) == len(EXPECTED)
    for name, subset in rows:
        outcomes = [outcome for outcome, _ in EXPECTED[name]]
        if subset.startswith("IN"):
            assert outcomes[0] is Outcome.OK, name
        elif name not in ACCEPTED_DESPITE_INDEX:
            assert Outcome.OK not in outcomes, name
        else:
            assert Outcome.REFUSED not in outcomes and Outcome.SKIPPED in outcomes, name


def test_spot_checks_of_what_was_admitted(verdicts: dict[str, list[Verdict]]) -> None:
    def service(name: str, index: int = 0) -> InferenceService:
        found = verdicts[name][index].service
        assert found is not None
        return found

    quickstart = service("website__docs__getting-started__predictive-first-isvc.md__block2.yaml")
    assert (quickstart.namespace, quickstart.name) == ("kserve-test", "sklearn-iris")
    assert quickstart.predictor.model is not None
    assert quickstart.predictor.model.format == "sklearn"
    assert dict(quickstart.predictor.container.resources.limits) == {"cpu": "1", "memory": "1Gi"}
    timeout = service("docs__samples__v1beta1__advanced__timeout.yaml").predictor
    assert timeout.scaling.timeout_seconds == 600
    assert timeout.container.liveness_probe is not None
    simple = service("docs__samples__v1beta1__custom__simple.yaml").predictor
    assert [p.container_port for p in simple.container.ports] == [5000]
    assert (
        service("docs__samples__v1beta1__rollout__canary.yaml").predictor.canary_traffic_percent
        == 10
    )
    assert (
        service("docs__samples__v1beta1__rollout__pinned.yaml").predictor.canary_traffic_percent
        == 0
    )
    assert service("docs__samples__v1beta1__xgboost__xgboost.yaml").predictor.protocol == "v2"
    assert service("docs__samples__graph__sequence.yaml", 1).name == "xgboost-iris"
    assert verdicts["docs__samples__graph__sequence.yaml"][2].kind == "InferenceGraph"
    custom = service("docs__samples__v1beta1__custom__custom_model__custom.yaml")
    assert custom.predictor.container.image == "kserve/custom-model:latest"


def test_refusals_name_their_source_and_why(verdicts: dict[str, list[Verdict]]) -> None:
    (grpc,) = verdicts["docs__samples__v1beta1__custom__custom_model__custom.yaml"][1].messages
    assert grpc.endswith(
        "docs__samples__v1beta1__custom__custom_model__custom.yaml (document 2): "
        "gRPC/h2c is not served yet: spec.predictor.containers[0].ports[0].name=h2c; "
        "allowed: no name, or http1 (HTTP/1.1)"
    )
    (yaml_error,) = verdicts["docs__samples__v1beta1__custom__torchserve__canary.yaml"][0].problems
    assert yaml_error.text.startswith("malformed YAML at line 9, column 24: ")
    (old_group,) = verdicts["docs__samples__gcp-iap__sklearn-iap-no-authz.yaml"][0].problems
    assert "allowed: serving.kserve.io/v1beta1" in old_group.text
