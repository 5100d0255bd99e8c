"""Zeroserve's scikit-learn runtime, like KServe's ``kserve-sklearnserver``.

    python -m zeroserve.predictors.sklearn_server --port 8081 --model-name iris \\
        --model-dir ~/.cache/zeroserve/models/iris/current [--protocol v1|v2]

Loads ``model.joblib`` from the model dir (KServe's convention) and serves it over KServe
V1 and the Open Inference Protocol V2 at once; ``--protocol`` only names the readiness
path the runtime is meant to probe. It refuses to start (a message on stderr, exit 1) when
the file is missing or cannot be loaded, or when ``model.json`` beside it (written by
``examples/iris/train.py``) names another scikit-learn version or a feature count the
model disagrees with: a pickle from another version may load and then predict wrongly.
Without ``model.json`` (a model made elsewhere) scikit-learn's own
``InconsistentVersionWarning`` is the check. The version is compared from package
metadata before scikit-learn is imported (that import is most of the start), so a
refusal is fast. Once listening it prints ``sklearn ready port=<p>
monotonic=<time.monotonic()>`` to stderr, which a cold-start measurement pairs with the
moment it spawned the process. Imports nothing of Zeroserve's.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import json
import math
import os
import signal
import sys
import time
import uuid
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from aiohttp import web

MODEL_FILE = "model.joblib"
INFO_FILE = "model.json"
SKLEARN_DIST = "scikit-learn"
READINESS = {"v1": "/v1/models/{name}", "v2": "/v2/health/ready"}
MAX_BODY = 128 * 1024 * 1024  # above the gateway's 100 MiB limit, so the gateway's applies
THREAD_ROWS = 2048  # batches above this many rows predict in a thread, not on the loop
INPUT_TYPES = frozenset(
    {"FP16", "FP32", "FP64", "INT8", "INT16", "INT32", "INT64"}
    | {"UINT8", "UINT16", "UINT32", "UINT64"}
)
OUTPUT_NAME = "predict"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class SklearnServerError(Exception):
    """Every error of this server."""


class ModelDirError(SklearnServerError):
    """The model dir cannot be served: the server refuses to start."""


class RequestError(SklearnServerError):
    """A request answered with ``status`` and KServe's ``{"error": <message>}``."""

    status = 500


class BadInput(RequestError):
    """A request the model cannot take."""

    status = 400


class UnknownModel(RequestError):
    status = 404

    def __init__(self, name: str) -> None:
        super().__init__(f"Model with name {name} does not exist.")


class InferenceFailed(RequestError):
    """The model itself failed (KServe's ``InferenceError``)."""


class Estimator(Protocol):
    def predict(self, x: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]: ...


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """``model.json``; both None when there is none (a model not trained by train.py)."""

    sklearn_version: str | None = None
    n_features: int | None = None


@dataclass(frozen=True, slots=True)
class LoadedModel:
    estimator: Estimator
    kind: str  # the estimator's class name
    n_features: int | None  # None: unknown, scikit-learn checks each request
    output_datatype: str  # V2 datatype of the predictions, for the metadata


# -- the model dir ----------------------------------------------------------------------


def read_model_info(model_dir: Path) -> ModelInfo:
    """Refuses a missing dir or model file, and a malformed ``model.json``."""
    if not model_dir.is_dir():
        raise ModelDirError(f"model dir {model_dir} does not exist or is not a folder")
    if not (model_dir / MODEL_FILE).is_file():
        raise ModelDirError(
            f"no {MODEL_FILE} in {model_dir} (KServe's sklearn convention; "
            "examples/iris/train.py writes one)"
        )
    path = model_dir / INFO_FILE
    if not path.exists():
        return ModelInfo()
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ModelDirError(f"{path}: cannot read it: {e}") from None
    version = info.get("sklearn_version") if isinstance(info, dict) else None
    n_features = info.get("n_features") if isinstance(info, dict) else None
    if not isinstance(version, str) or type(n_features) is not int or n_features < 1:
        raise ModelDirError(
            f'{path}: expected {{"sklearn_version": "<version>", "n_features": <count>}}'
        )
    return ModelInfo(version, n_features)


def installed_sklearn() -> str:
    """The installed scikit-learn's version, from package metadata (no import)."""
    try:
        return importlib.metadata.version(SKLEARN_DIST)
    except importlib.metadata.PackageNotFoundError:
        raise ModelDirError("scikit-learn is not installed (pip install scikit-learn)") from None


def check_version(info: ModelInfo, installed: str, model_dir: Path) -> None:
    if info.sklearn_version is not None and info.sklearn_version != installed:
        raise ModelDirError(
            f"{model_dir / MODEL_FILE} was written by scikit-learn {info.sklearn_version}, "
            f"but scikit-learn {installed} is installed: retrain it with this version "
            f"(python examples/iris/train.py --force) or install "
            f"scikit-learn=={info.sklearn_version}"
        )


def load_model(model_dir: Path, info: ModelInfo) -> LoadedModel:
    """Unpickles the estimator (importing the parts of scikit-learn it is made of)."""
    import joblib  # type: ignore[import-untyped]

    path = model_dir / MODEL_FILE
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            estimator = joblib.load(path)
        except Exception as e:
            raise ModelDirError(f"cannot load {path}: {type(e).__name__}: {e}") from None
    # Imported after the load, which imported scikit-learn already (a corrupt file
    # is refused without paying for that import).
    from sklearn.exceptions import InconsistentVersionWarning  # type: ignore[import-untyped]

    for warning in caught:
        if issubclass(warning.category, InconsistentVersionWarning):
            raise ModelDirError(f"{path}: {warning.message}")
        print(f"sklearn: loading {path}: {warning.message}", file=sys.stderr)
    if not callable(getattr(estimator, "predict", None)):
        raise ModelDirError(f"{path} holds a {type(estimator).__name__}, which cannot predict")
    written = getattr(estimator, "n_features_in_", None)
    written = int(written) if written is not None else None
    if info.n_features is not None and written is not None and written != info.n_features:
        raise ModelDirError(
            f"{model_dir / INFO_FILE} says {info.n_features} features, but the model in "
            f"{MODEL_FILE} takes {written}"
        )
    classes = getattr(estimator, "classes_", None)
    dtype = classes.dtype if isinstance(classes, np.ndarray) else np.dtype(np.float64)
    return LoadedModel(
        estimator=estimator,
        kind=type(estimator).__name__,
        n_features=info.n_features or written,
        output_datatype=datatype_of(dtype),
    )


# -- requests → arrays, arrays → responses (pure) --------------------------------------


def datatype_of(dtype: np.dtype[Any]) -> str:
    """The Open Inference Protocol datatype for a numpy dtype."""
    bits = dtype.itemsize * 8
    if dtype.kind == "f":
        return f"FP{bits}"
    if dtype.kind == "i":
        return f"INT{bits}"
    if dtype.kind == "u":
        return f"UINT{bits}"
    if dtype.kind == "b":
        return "BOOL"
    return "BYTES"


def v1_matrix(body: object, n_features: int | None) -> np.ndarray[Any, Any]:
    """``{"instances": [[...], ...]}`` (or ``"inputs"``) → a float64 matrix."""
    if isinstance(body, dict) and "instances" in body:
        return rows_matrix(body["instances"], n_features, "instances")
    if isinstance(body, dict) and "inputs" in body:
        return rows_matrix(body["inputs"], n_features, "inputs")
    raise BadInput('Expected "instances" or "inputs" in the request body')


def rows_matrix(rows: object, n_features: int | None, where: str) -> np.ndarray[Any, Any]:
    if not isinstance(rows, list) or not rows:
        raise BadInput(f'"{where}" must be a non-empty list of rows (lists of numbers)')
    width = n_features
    for i, row in enumerate(rows):
        if not isinstance(row, list):
            raise BadInput(f"{where}[{i}] must be a list of numbers, got {shown(row)}")
        if width is None:
            width = len(row)
        if len(row) != width:
            expects = "the model expects" if n_features is not None else f"{where}[0] has"
            raise BadInput(f"{where}[{i}] has {len(row)} features, but {expects} {width}")
        for value in row:
            if type(value) not in (int, float) or not math.isfinite(value):
                raise BadInput(f"{where}[{i}] holds {shown(value)}: features are numbers")
    return np.array(rows, dtype=np.float64)


def v2_matrix(body: object, n_features: int | None) -> tuple[np.ndarray[Any, Any], str]:
    """An inference request's one input tensor → (a float64 matrix, the request id)."""
    if not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
        raise BadInput('Expected "inputs" (a list of tensors) in the request body')
    request_id = body.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise BadInput('"id" must be a string')
    inputs = body["inputs"]
    if len(inputs) != 1 or not isinstance(inputs[0], dict):
        raise BadInput(f"Expected exactly one input tensor, got {len(inputs)}")
    tensor = inputs[0]
    name = tensor.get("name", "input-0")
    datatype, shape, data = tensor.get("datatype"), tensor.get("shape"), tensor.get("data")
    if datatype not in INPUT_TYPES:
        raise BadInput(
            f"input {name}: unsupported datatype {shown(datatype)}; "
            f"allowed: {', '.join(sorted(INPUT_TYPES))}"
        )
    if (
        not isinstance(shape, list)
        or len(shape) != 2
        or not all(type(d) is int and d >= 0 for d in shape)
    ):
        raise BadInput(f"input {name}: shape must be [rows, features], got {shown(shape)}")
    if n_features is not None and shape[1] != n_features:
        raise BadInput(
            f"input {name}: shape {shape} has {shape[1]} features, "
            f"but the model expects {n_features}"
        )
    if shape[0] == 0:
        raise BadInput(f"input {name}: shape {shape} has no rows")
    flat = flatten(data, name)
    if len(flat) != shape[0] * shape[1]:
        raise BadInput(f"input {name}: {len(flat)} values do not fill shape {shape}")
    return np.array(flat, dtype=np.float64).reshape(shape), request_id or str(uuid.uuid4())


def flatten(data: object, name: str) -> list[float]:
    """Row-major values, given flat or nested (the protocol allows both)."""
    if not isinstance(data, list):
        raise BadInput(f"input {name}: data must be a list, got {shown(data)}")
    flat: list[float] = []
    stack = [iter(data)]  # an explicit stack: deep nesting cannot exhaust recursion
    while stack:
        for item in stack[-1]:
            if isinstance(item, list):
                stack.append(iter(item))
                break
            if type(item) not in (int, float) or not math.isfinite(item):
                raise BadInput(f"input {name}: data holds {shown(item)}: values are numbers")
            flat.append(item)
        else:
            stack.pop()
    return flat


def shown(value: object, limit: int = 60) -> str:
    """A value as JSON, cut short for an error message."""
    text = json.dumps(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def v2_response(model_name: str, request_id: str, result: np.ndarray[Any, Any]) -> dict[str, Any]:
    output = {
        "name": OUTPUT_NAME,
        "shape": list(result.shape),
        "datatype": datatype_of(result.dtype),
        "data": result.ravel().tolist(),
    }
    return {"model_name": model_name, "id": request_id, "parameters": {}, "outputs": [output]}


# -- HTTP -------------------------------------------------------------------------------


def error(status: int, message: str) -> web.Response:
    """KServe's error shape."""
    return web.json_response({"error": message}, status=status)


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error in KServe's shape, aiohttp's own (404, 405, 413) included."""
    try:
        return await handler(request)
    except RequestError as e:
        return error(e.status, str(e))
    except web.HTTPException as e:
        if e.status < 400:
            raise
        text = e.text or ""
        return error(e.status, e.reason if text.startswith(f"{e.status}:") else text)
    except Exception as e:
        return error(500, f"{type(e).__name__} : {e}")


class SklearnServer:
    def __init__(self, name: str, model: LoadedModel, sklearn_version: str) -> None:
        self.name = name
        self.model = model
        self.sklearn_version = sklearn_version

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY, middlewares=[json_errors])
        app.add_routes(
            [
                web.get("/", self.root),
                web.get("/v1/models", self.models),
                # ":verb" routes first: "{name}" alone would also match "iris:predict".
                web.post("/v1/models/{name}:predict", self.v1_predict),
                web.get("/v1/models/{name}", self.model_ready),
                web.get("/v2", self.v2_server),
                web.get("/v2/health/live", self.v2_live),
                web.get("/v2/health/ready", self.v2_ready),
                web.get("/v2/models", self.models),
                web.get("/v2/models/{name}", self.v2_metadata),
                web.get("/v2/models/{name}/ready", self.model_ready),
                web.post("/v2/models/{name}/infer", self.v2_infer),
                web.route("*", "/v2/models/{name}/versions/{tail:.*}", self.v2_versioned),
            ]
        )
        return app

    def known(self, request: web.Request) -> None:
        name = request.match_info["name"]
        if name != self.name:
            raise UnknownModel(name)

    async def body_json(self, request: web.Request) -> Any:
        try:
            return json.loads(await request.read())
        except (ValueError, UnicodeDecodeError) as e:
            raise BadInput(f"Unrecognized request format: {e}") from None

    async def predict(self, x: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """KServe answers 500 with the reason when the model itself fails."""
        predict = self.model.estimator.predict
        try:
            if len(x) > THREAD_ROWS:  # keep probes answered during a big batch
                return await asyncio.to_thread(predict, x)
            return predict(x)
        except Exception as e:
            raise InferenceFailed(f"{type(e).__name__} : {e}") from None

    # -- health and metadata ------------------------------------------------------------

    async def root(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "alive"})

    async def models(self, request: web.Request) -> web.Response:
        return web.json_response({"models": [self.name]})

    async def model_ready(self, request: web.Request) -> web.Response:
        self.known(request)
        return web.json_response({"name": self.name, "ready": True})

    async def v2_server(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"name": "zeroserve-sklearn", "version": self.sklearn_version, "extensions": []}
        )

    async def v2_live(self, request: web.Request) -> web.Response:
        return web.json_response({"live": True})

    async def v2_ready(self, request: web.Request) -> web.Response:
        return web.json_response({"ready": True})

    async def v2_metadata(self, request: web.Request) -> web.Response:
        self.known(request)
        width = self.model.n_features or -1
        return web.json_response(
            {
                "name": self.name,
                "versions": [],
                "platform": "sklearn",
                "inputs": [{"name": "input-0", "datatype": "FP64", "shape": [-1, width]}],
                "outputs": [
                    {"name": OUTPUT_NAME, "datatype": self.model.output_datatype, "shape": [-1]}
                ],
            }
        )

    async def v2_versioned(self, request: web.Request) -> web.Response:
        self.known(request)
        return error(501, "Model versions are not supported: drop /versions/... from the path")

    # -- inference ----------------------------------------------------------------------

    async def v1_predict(self, request: web.Request) -> web.Response:
        self.known(request)
        x = v1_matrix(await self.body_json(request), self.model.n_features)
        return web.json_response({"predictions": (await self.predict(x)).tolist()})

    async def v2_infer(self, request: web.Request) -> web.Response:
        self.known(request)
        x, request_id = v2_matrix(await self.body_json(request), self.model.n_features)
        result = await self.predict(x)
        return web.json_response(v2_response(self.name, request_id, result))


# -- the process ------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    env = os.environ.get
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--host", default=env("HOST", "127.0.0.1"))
    p.add_argument(
        "--port", "--http_port", type=int, default=int(env("PORT", "8080")), help="0: any free"
    )
    p.add_argument("--model-name", "--model_name", default=env("MODEL_NAME", "model"))
    p.add_argument(
        "--model-dir",
        "--model_dir",
        default=env("MODEL_DIR"),
        required=env("MODEL_DIR") is None,
        help="the folder holding model.joblib (a file:// URI is read as its path)",
    )
    p.add_argument("--protocol", choices=sorted(READINESS), default=env("PROTOCOL", "v1"))
    p.add_argument("--shutdown-timeout", type=float, default=10.0, metavar="SECONDS")
    return p.parse_args(argv)


def model_dir_of(written: str) -> Path:
    return Path(written.removeprefix("file://")).expanduser()


async def serve(args: argparse.Namespace, server: SklearnServer) -> None:
    runner = web.AppRunner(server.app(), access_log=None, shutdown_timeout=args.shutdown_timeout)
    await runner.setup()
    site = web.TCPSite(runner, args.host, args.port, backlog=4096)
    await site.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    port = runner.addresses[0][1]
    print(f"sklearn ready port={port} monotonic={time.monotonic()}", file=sys.stderr, flush=True)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    began = time.monotonic()
    args = parse_args(argv)
    model_dir = model_dir_of(args.model_dir)
    try:
        info = read_model_info(model_dir)
        installed = installed_sklearn()
        check_version(info, installed, model_dir)
        model = load_model(model_dir, info)
    except ModelDirError as e:
        print(f"sklearn: refusing to start: {e}", file=sys.stderr, flush=True)
        sys.exit(1)
    if info.sklearn_version is None:
        print(
            f"sklearn: no {INFO_FILE} in {model_dir}: version checked by scikit-learn only",
            file=sys.stderr,
        )
    readiness = READINESS[args.protocol].format(name=args.model_name)
    print(
        f"sklearn: model {args.model_name} = {model.kind} ({model.n_features or '?'} features) "
        f"from {model_dir}, loaded in {time.monotonic() - began:.2f} s; "
        f"protocol {args.protocol}, readiness {readiness}",
        file=sys.stderr,
        flush=True,
    )
    server = SklearnServer(args.model_name, model, installed)
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve(args, server))
    else:
        uvloop.run(serve(args, server))


if __name__ == "__main__":
    main()
