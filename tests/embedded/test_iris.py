"""The issue's own example: KServe's sklearn-iris manifest, unchanged, served from zero
through the sklearn runtime with a model trained into a temporary cache."""

from __future__ import annotations

import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

import pytest

from tests.embedded import EXAMPLES
from zeroserve.testing.harness import Harness

pytestmark = pytest.mark.skipif(find_spec("sklearn") is None, reason="needs scikit-learn")

REV = "iris-predictor-00001"
CONFIG = """\
apiVersion: serving.zeroserve.io/v1alpha1
kind: ZeroserveConfig
metadata:
  name: iris-test
storageUriMap:
  gs://kfserving-examples/models/sklearn/1.0/model: {model}
"""


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cache = tmp_path_factory.mktemp("iris-cache")
    subprocess.run(
        [sys.executable, str(EXAMPLES / "iris" / "train.py"), "--cache-dir", str(cache)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cache / "current"


async def test_the_iris_curl_from_zero(model_dir: Path) -> None:
    manifests = {
        "iris.yaml": (EXAMPLES / "iris" / "iris.yaml").read_text(),
        "zeroserve.yaml": CONFIG.format(model=model_dir),
    }
    async with Harness(manifests=manifests) as h:
        assert h.server.loaded.refusals == ()
        assert h.pids(REV) == {}
        answer = await h.request(
            "iris.default.example.com",
            "/v1/models/iris:predict",
            body='{"instances": [[6.8, 2.8, 4.8, 1.4]]}',
        )
        assert answer.status == 200, answer.text
        assert answer.json() == {"predictions": [1]}
        assert answer.header("Zeroserve-Revision") == REV
        cold = answer.header("Zeroserve-Cold-Start")
        assert cold is not None and "spawn=" in cold and "ready=" in cold, cold
        assert h.parts.proxy.stats.revisions[REV].by_class[2] == 1
