"""The iris example end to end: train.py into a temporary cache, then Zeroserve's sklearn
runtime as a real process, spoken to over KServe V1 and the Open Inference Protocol V2."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.support.ports import free_port
from tests.support.processes import Child, ChildExited, start, stop, wait_for_http

if importlib.util.find_spec("sklearn") is None:  # found, not imported: that takes a second
    pytest.skip("the iris example needs scikit-learn", allow_module_level=True)

ROOT = Path(__file__).resolve().parents[2]
TRAIN = ROOT / "examples" / "iris" / "train.py"
READY = r"sklearn ready port=(\d+) monotonic=([0-9.]+)"
SKLEARN = importlib.metadata.version("scikit-learn")
SAMPLE = [6.8, 2.8, 4.8, 1.4]  # KServe's iris sample: versicolor, class 1
# Rows 0, 50 and 100 of scikit-learn's iris data, one of each class (0, 1, 2).
ONE_OF_EACH = [[5.1, 3.5, 1.4, 0.2], [7.0, 3.2, 4.7, 1.4], [6.3, 3.3, 6.0, 2.5]]


def train(cache_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, str(TRAIN), "--cache-dir", str(cache_dir), *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


def server_argv(model_dir: Path | str, port: int, *extra: str) -> list[str]:
    module = "zeroserve.predictors.sklearn_server"
    names = ["--model-name", "iris", "--model-dir", str(model_dir)]
    return [sys.executable, "-m", module, "--port", str(port), *names, *extra]


def copy_model(cache: Path, to: Path, **info_changes: object) -> Path:
    """A copy of the trained model dir, with ``model.json`` fields changed."""
    shutil.copytree(cache / "current", to)
    info = json.loads((to / "model.json").read_text())
    info.update(info_changes)
    (to / "model.json").write_text(json.dumps(info))
    return to


REFUSALS = {  # the start-up refusals checked on a real process; the others in-process
    "no model.joblib": "no model.joblib in",
    "other sklearn": f"was written by scikit-learn 0.0.1, but scikit-learn {SKLEARN}",
    "other feature count": "says 3 features, but the model in model.joblib takes 4",
}


def broken_model_dir(cache: Path, model_dir: Path, case: str) -> None:
    if case == "no model.joblib":
        model_dir.mkdir()
        (model_dir / "model.json").write_text(json.dumps({"sklearn_version": SKLEARN}))
    elif case == "other sklearn":
        copy_model(cache, model_dir, sklearn_version="0.0.1")
    elif case == "other feature count":
        copy_model(cache, model_dir, n_features=3)


@dataclass(frozen=True, slots=True)
class Trained:
    cache: Path
    skipped: subprocess.CompletedProcess[str]
    model_after_skip: bytes
    forced: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    """train.py run twice on a cache holding a placeholder for this version's model: once
    plainly (it must skip, so the placeholder stays), then with --force (it must train).
    One training for both cases: importing scikit-learn is most of a run."""
    cache_dir = tmp_path_factory.mktemp("cache") / "iris"
    version_dir = cache_dir / f"sklearn-{SKLEARN}"
    version_dir.mkdir(parents=True)
    (version_dir / "model.joblib").write_bytes(b"placeholder")
    (version_dir / "model.json").write_text("{}")
    skipped = train(cache_dir)
    model_after_skip = (version_dir / "model.joblib").read_bytes()
    forced = train(cache_dir, "--force")
    assert forced.returncode == 0, forced.stderr
    return Trained(cache_dir, skipped, model_after_skip, forced)


@pytest.fixture(scope="module")
def cache(trained: Trained) -> Path:
    return trained.cache


@dataclass(frozen=True, slots=True)
class Launched:
    server: Child
    port: int
    refusals: dict[str, Child]


@pytest.fixture(scope="module")
def launched(cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Launched]:
    """The server under test (with ``--protocol v2``) and one on each broken model dir
    (see REFUSALS), all started at once: their start-ups overlap, which saves seconds."""
    children: list[Child] = []
    try:
        port = free_port()
        argv = server_argv(cache / "current", port, "--protocol", "v2")
        server = start(argv, cwd=str(ROOT))
        children.append(server)
        refusals = {}
        for case in REFUSALS:
            model_dir = tmp_path_factory.mktemp("refusal") / "model"
            broken_model_dir(cache, model_dir, case)
            refusals[case] = start(server_argv(model_dir, free_port()), cwd=str(ROOT))
            children.append(refusals[case])
        yield Launched(server, port, refusals)
    finally:
        for child in children:
            stop(child)


@pytest.fixture(scope="module")
def served(launched: Launched) -> tuple[str, str, float]:
    """The server's base URL, its output when ready and its start-to-ready time (from its
    ready line)."""
    child, port = launched.server, launched.port
    match = child.wait_for_line(READY)
    assert int(match[1]) == port
    wait_for_http(port, "/v2/health/ready", child=child)
    return f"http://127.0.0.1:{port}", child.output(), float(match[2]) - child.started


@pytest.fixture
def server(served: tuple[str, str, float]) -> str:
    return served[0]


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        yield session


async def call(http: aiohttp.ClientSession, method: str, url: str, **kw: Any) -> tuple[int, Any]:
    async with http.request(method, url, **kw) as r:
        return r.status, await r.json(content_type=None)


# -- train.py ---------------------------------------------------------------------------


def test_train_writes_a_folder_per_version_and_a_current_link(cache: Path) -> None:
    version_dir = cache / f"sklearn-{SKLEARN}"
    assert (cache / "current").is_symlink()
    assert os.readlink(cache / "current") == version_dir.name  # relative: the cache can move
    assert (version_dir / "model.joblib").is_file()
    info = json.loads((version_dir / "model.json").read_text())
    assert (info["sklearn_version"], info["n_features"]) == (SKLEARN, 4)
    assert info["training_accuracy"] > 0.9


def test_train_skips_when_the_model_exists_and_force_retrains(trained: Trained) -> None:
    assert trained.skipped.returncode == 0 and "up to date" in trained.skipped.stdout
    assert trained.model_after_skip == b"placeholder"
    model = trained.cache / f"sklearn-{SKLEARN}" / "model.joblib"
    assert "trained LogisticRegression" in trained.forced.stdout
    assert f"wrote {model}" in trained.forced.stdout
    assert model.read_bytes() != b"placeholder"


def test_train_repoints_a_stale_current_link(cache: Path, tmp_path: Path) -> None:
    copy = tmp_path / "iris"
    shutil.copytree(cache, copy, symlinks=True)
    (copy / "current").unlink()
    (copy / "current").symlink_to("sklearn-0.0.1")
    done = train(copy)
    assert done.returncode == 0, done.stderr
    assert os.readlink(copy / "current") == f"sklearn-{SKLEARN}"


def test_train_refuses_a_current_that_is_not_a_link(tmp_path: Path) -> None:
    (tmp_path / "iris" / "current").mkdir(parents=True)
    (tmp_path / "iris" / f"sklearn-{SKLEARN}").mkdir()
    for name in ("model.joblib", "model.json"):
        (tmp_path / "iris" / f"sklearn-{SKLEARN}" / name).write_text("{}")
    done = train(tmp_path / "iris")
    assert done.returncode == 2 and "is not a symlink" in done.stderr


# -- start-up ---------------------------------------------------------------------------


def test_start_reports_the_model_the_protocol_and_the_time(
    served: tuple[str, str, float],
) -> None:
    _, output, start_to_ready = served
    assert "model iris = LogisticRegression (4 features)" in output
    assert "protocol v2, readiness /v2/health/ready" in output
    assert 0 < start_to_ready < 10, start_to_ready


def test_protocol_defaults_to_v1_from_the_environment() -> None:
    from zeroserve.predictors.sklearn_server import READINESS, parse_args

    assert parse_args(["--model-dir", "m"]).protocol == "v1"
    assert READINESS["v1"] == "/v1/models/{name}" and READINESS["v2"] == "/v2/health/ready"


@pytest.mark.parametrize("case", list(REFUSALS))
def test_refuses_to_start_with_a_message(launched: Launched, case: str) -> None:
    child = launched.refusals[case]
    assert child.wait_exit() == 1
    with pytest.raises(ChildExited):
        child.wait_for_line(READY, timeout=0)
    assert "refusing to start" in child.output() and REFUSALS[case] in child.output()


def test_model_dir_checks_in_process(cache: Path, tmp_path: Path) -> None:
    from zeroserve.predictors.sklearn_server import (
        ModelDirError,
        ModelInfo,
        check_version,
        load_model,
        read_model_info,
    )

    with pytest.raises(ModelDirError, match="does not exist"):
        read_model_info(tmp_path / "nowhere")
    model_dir = copy_model(cache, tmp_path / "model")
    assert read_model_info(model_dir) == ModelInfo(SKLEARN, 4)
    for bad in ('{"sklearn_version": 1, "n_features": 4}', '{"n_features": 0}', "[]", "{"):
        (model_dir / "model.json").write_text(bad)
        with pytest.raises(ModelDirError, match=r"model\.json: "):
            read_model_info(model_dir)
    (model_dir / "model.json").unlink()
    assert read_model_info(model_dir) == ModelInfo()  # not ours: scikit-learn checks it
    check_version(ModelInfo(), SKLEARN, model_dir)
    with pytest.raises(ModelDirError, match=r"install scikit-learn==0\.0\.1"):
        check_version(ModelInfo("0.0.1", 4), SKLEARN, model_dir)
    (model_dir / "model.joblib").write_bytes(b"not a pickle")
    with pytest.raises(ModelDirError, match=r"cannot load .*model\.joblib"):
        load_model(model_dir, ModelInfo())


# -- V1 ---------------------------------------------------------------------------------


async def test_v1_predicts_the_iris_classes(server: str, http: aiohttp.ClientSession) -> None:
    url = f"{server}/v1/models/iris:predict"
    assert await call(http, "POST", url, json={"instances": [SAMPLE]}) == (
        200,
        {"predictions": [1]},
    )
    status, body = await call(http, "POST", url, json={"instances": ONE_OF_EACH})
    assert (status, body) == (200, {"predictions": [0, 1, 2]})
    status, body = await call(http, "POST", url, json={"inputs": [SAMPLE, ONE_OF_EACH[0]]})
    assert (status, body) == (200, {"predictions": [1, 0]})


async def test_v1_model_ready_and_listing(server: str, http: aiohttp.ClientSession) -> None:
    assert await call(http, "GET", f"{server}/v1/models/iris") == (
        200,
        {"name": "iris", "ready": True},
    )
    assert await call(http, "GET", f"{server}/v1/models") == (200, {"models": ["iris"]})
    assert await call(http, "GET", f"{server}/") == (200, {"status": "alive"})


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"{not json", "Unrecognized request format"),
        (b'{"x": 1}', 'Expected "instances" or "inputs"'),
        (b'{"instances": []}', "non-empty list"),
        (b'{"instances": [[6.8, 2.8, 4.8]]}', "instances[0] has 3 features, but the model"),
        (b'{"instances": [[6.8, 2.8, 4.8, 1.4], [1, 2]]}', "instances[1] has 2 features"),
        (b'{"instances": [[6.8, "2.8", 4.8, 1.4]]}', 'holds "2.8"'),
        (b'{"instances": [[6.8, NaN, 4.8, 1.4]]}', "holds NaN"),
        (b'{"instances": [6.8]}', "instances[0] must be a list"),
    ],
)
async def test_v1_bad_input_is_400(
    server: str, http: aiohttp.ClientSession, data: bytes, fragment: str
) -> None:
    status, body = await call(http, "POST", f"{server}/v1/models/iris:predict", data=data)
    assert status == 400 and set(body) == {"error"} and fragment in body["error"], body


async def test_v1_unknown_model_is_404(server: str, http: aiohttp.ClientSession) -> None:
    expected = (404, {"error": "Model with name nope does not exist."})
    assert await call(http, "GET", f"{server}/v1/models/nope") == expected
    payload = {"instances": [SAMPLE]}
    assert await call(http, "POST", f"{server}/v1/models/nope:predict", json=payload) == expected


# -- V2 ---------------------------------------------------------------------------------


def tensor(data: object, shape: list[int], datatype: str = "FP32") -> dict[str, object]:
    return {"name": "input-0", "shape": shape, "datatype": datatype, "data": data}


async def test_v2_health_and_metadata(server: str, http: aiohttp.ClientSession) -> None:
    assert await call(http, "GET", f"{server}/v2/health/live") == (200, {"live": True})
    assert await call(http, "GET", f"{server}/v2/health/ready") == (200, {"ready": True})
    assert await call(http, "GET", f"{server}/v2/models/iris/ready") == (
        200,
        {"name": "iris", "ready": True},
    )
    status, meta = await call(http, "GET", f"{server}/v2/models/iris")
    assert status == 200 and meta["name"] == "iris" and meta["platform"] == "sklearn"
    assert meta["inputs"] == [{"name": "input-0", "datatype": "FP64", "shape": [-1, 4]}]
    assert meta["outputs"] == [{"name": "predict", "datatype": "INT64", "shape": [-1]}]
    status, server_meta = await call(http, "GET", f"{server}/v2")
    assert status == 200 and server_meta["version"] == SKLEARN


@pytest.mark.parametrize(
    ("data", "datatype"),
    [
        ([*SAMPLE, *ONE_OF_EACH[0]], "FP32"),  # flat, row-major
        ([SAMPLE, ONE_OF_EACH[0]], "FP64"),  # nested to match the shape
    ],
)
async def test_v2_infer_predicts_and_passes_the_id(
    server: str, http: aiohttp.ClientSession, data: object, datatype: str
) -> None:
    request = {"id": "req-42", "inputs": [tensor(data, [2, 4], datatype)]}
    status, body = await call(http, "POST", f"{server}/v2/models/iris/infer", json=request)
    assert status == 200, body
    assert (body["id"], body["model_name"]) == ("req-42", "iris")
    assert body["outputs"] == [
        {"name": "predict", "shape": [2], "datatype": "INT64", "data": [1, 0]}
    ]


async def test_v2_infer_makes_an_id_when_none_is_sent(
    server: str, http: aiohttp.ClientSession
) -> None:
    request = {"inputs": [tensor(SAMPLE, [1, 4])]}
    ids = set()
    for _ in range(2):
        status, body = await call(http, "POST", f"{server}/v2/models/iris/infer", json=request)
        assert status == 200 and body["outputs"][0]["data"] == [1]
        ids.add(body["id"])
    assert len(ids) == 2 and all(ids)


@pytest.mark.parametrize(
    ("request_body", "fragment"),
    [
        ({"inputs": 3}, 'Expected "inputs"'),
        ({"inputs": [tensor(SAMPLE, [1, 4]), tensor(SAMPLE, [1, 4])]}, "exactly one input"),
        (
            {"inputs": [tensor(["a", "b", "c", "d"], [1, 4], "BYTES")]},
            'unsupported datatype "BYTES"',
        ),
        ({"inputs": [tensor(SAMPLE[:3], [1, 3])]}, "has 3 features, but the model expects 4"),
        ({"inputs": [tensor(SAMPLE, [4])]}, "shape must be [rows, features]"),
        ({"inputs": [tensor(SAMPLE, [2, 4])]}, "4 values do not fill shape [2, 4]"),
        ({"inputs": [tensor([6.8, None, 4.8, 1.4], [1, 4])]}, "data holds null"),
        ({"id": 7, "inputs": [tensor(SAMPLE, [1, 4])]}, '"id" must be a string'),
    ],
)
async def test_v2_bad_input_is_400(
    server: str, http: aiohttp.ClientSession, request_body: object, fragment: str
) -> None:
    status, body = await call(http, "POST", f"{server}/v2/models/iris/infer", json=request_body)
    assert status == 400 and set(body) == {"error"} and fragment in body["error"], body


async def test_v2_unknown_model_is_404(server: str, http: aiohttp.ClientSession) -> None:
    expected = (404, {"error": "Model with name nope does not exist."})
    assert await call(http, "GET", f"{server}/v2/models/nope") == expected
    assert await call(http, "GET", f"{server}/v2/models/nope/ready") == expected
    request = {"inputs": [tensor(SAMPLE, [1, 4])]}
    assert await call(http, "POST", f"{server}/v2/models/nope/infer", json=request) == expected


async def test_other_errors_keep_the_error_shape(server: str, http: aiohttp.ClientSession) -> None:
    status, body = await call(http, "POST", f"{server}/v2/models/iris/versions/1/infer", json={})
    assert status == 501 and "versions" in body["error"]
    assert await call(http, "GET", f"{server}/nowhere") == (404, {"error": "Not Found"})
    assert await call(http, "DELETE", f"{server}/v2/health/ready") == (
        405,
        {"error": "Method Not Allowed"},
    )
