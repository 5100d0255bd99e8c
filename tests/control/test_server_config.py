"""ZeroserveConfig: defaults, every field, refusals with their texts, storageUriMap rules."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from zeroserve.config import AutoscalerConfig
from zeroserve.config.server_config import (
    DEFAULT_RUNTIMES,
    SKLEARN_RUNTIME,
    ModelRuntime,
    ServerConfig,
    ServerConfigError,
    StorageMapping,
    parse_server_config,
)
from zeroserve.control.loader import load_server_config

HEAD = {"apiVersion": "serving.zeroserve.io/v1alpha1", "kind": "ZeroserveConfig"}
ENV = {"HOME": "/home/ada", "CACHE": "/var/cache"}
QUOTE_8080 = 'a string (quote it: "8080")'
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "zeroserve.yaml"


def parse(**fields: Any) -> ServerConfig:
    config, _ = parse_server_config({**HEAD, **fields}, source="z.yaml", environ=ENV)
    return config


def refusal(body: object) -> list[str]:
    with pytest.raises(ServerConfigError) as info:
        parse_server_config(body, source="z.yaml", environ=ENV)
    assert info.value.text.splitlines() == [f"z.yaml: {p}" for p in info.value.problems]
    return list(info.value.problems)


def test_an_empty_config_means_the_defaults() -> None:
    config, warnings = parse_server_config(HEAD, source="z.yaml", environ=ENV)
    assert warnings == ()
    assert config == ServerConfig(source="z.yaml")
    assert config.domain == "example.com"
    assert config.autoscaler == AutoscalerConfig()
    assert config.revision_history_limit == 1
    assert config.runtimes == DEFAULT_RUNTIMES
    assert SKLEARN_RUNTIME.command == (
        sys.executable,
        "-m",
        "zeroserve.predictors.sklearn_server",
        "--port",
        "{port}",
        "--model-name",
        "{model_name}",
        "--model-dir",
        "{model_dir}",
        "--protocol",
        "{protocol}",
    )
    assert SKLEARN_RUNTIME.protocols == ("v1", "v2")


def test_every_field() -> None:
    config = parse(
        metadata={"name": "laptop"},
        domain="models.internal",
        autoscaler={"stable-window": "30s", "container-concurrency-target-default": 10},
        runtimes={
            "XGBoost": {"command": ["python", "-m", "xgb", "--dir", "{model_dir}"]},
            "triton": {"command": ["tritonserver"], "protocols": ["v2"], "image": "nvcr.io/t"},
        },
        storageUriMap={"s3://bucket/models/": "$CACHE/models"},
        revisionHistoryLimit=0,
    )
    assert config.domain == "models.internal"
    assert config.autoscaler.stable_window == 30.0
    assert config.autoscaler.container_concurrency_target_default == 10.0
    assert config.runtime_formats == ("sklearn", "triton", "xgboost")
    assert config.runtime("xgboost") == ModelRuntime(
        "xgboost", ("python", "-m", "xgb", "--dir", "{model_dir}"), ("v1",), None
    )
    assert config.runtime("XGBOOST") == config.runtime("xgboost")
    assert config.runtime("Triton") == ModelRuntime(
        "triton", ("tritonserver",), ("v2",), "nvcr.io/t"
    )
    assert config.runtime("sklearn") == SKLEARN_RUNTIME  # built-in, kept
    assert config.storage_uri_map == (StorageMapping("s3://bucket/models", "/var/cache/models"),)
    assert config.revision_history_limit == 0


def test_a_runtime_of_the_same_format_replaces_the_built_in_one() -> None:
    config = parse(runtimes={"sklearn": {"command": ["my-sklearn", "{port}"]}})
    assert config.runtimes == (ModelRuntime("sklearn", ("my-sklearn", "{port}")),)


def test_autoscaler_warnings_are_kept_with_their_path() -> None:
    _, warnings = parse_server_config(
        {**HEAD, "autoscaler": {"stable-windw": "30s"}}, source="z.yaml", environ=ENV
    )
    (warning,) = warnings
    assert warning.field == "autoscaler.stable-windw"
    assert warning.message.startswith(
        'z.yaml: autoscaler.stable-windw: unknown key "stable-windw" is ignored '
        '(did you mean "stable-window"?)'
    )


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {**HEAD, "domian": "x.com"},
            [
                'unknown field "domian": domian; allowed: apiVersion, kind, metadata, domain, '
                "autoscaler, runtimes, storageUriMap, revisionHistoryLimit"
            ],
        ),
        (
            {"kind": "ZeroserveConfig"},
            ["missing field(s): apiVersion; allowed: serving.zeroserve.io/v1alpha1"],
        ),
        (
            {**HEAD, "apiVersion": "v1"},
            ['invalid value: "v1": apiVersion; allowed: serving.zeroserve.io/v1alpha1'],
        ),
        (
            {**HEAD, "metadata": {"name": "x", "namespace": "y"}},
            ['unknown field "namespace": metadata.namespace; allowed: name'],
        ),
        (
            {**HEAD, "domain": "Example.COM"},
            [
                'invalid value: "Example.COM": domain; '
                "allowed: a lower-case DNS name such as example.com"
            ],
        ),
        (
            {**HEAD, "runtimes": {"sklearn": {"comand": ["x"]}}},
            [
                'unknown field "comand": runtimes.sklearn.comand; '
                "allowed: command, protocols, image",
                "missing field(s): runtimes.sklearn.command; allowed: a non-empty list of strings",
            ],
        ),
        (
            {**HEAD, "runtimes": {"sklearn": {"command": ["s", "--dir", "{modeldir}"]}}},
            [
                'unknown placeholder "{modeldir}": runtimes.sklearn.command[2]={modeldir}; '
                "allowed: {port}, {grpc_port}, {model_name}, {model_dir}, {protocol}"
            ],
        ),
        (
            {**HEAD, "runtimes": {"sklearn": {"command": ["s", "--port", 8080]}}},
            [f"invalid value: 8080: runtimes.sklearn.command[2]; allowed: {QUOTE_8080}"],
        ),
        (
            {**HEAD, "runtimes": {"sklearn": {"command": ["s"], "protocols": ["v3"]}}},
            ['invalid value: "v3": runtimes.sklearn.protocols[0]; allowed: v1, v2'],
        ),
        (
            {**HEAD, "runtimes": {"sklearn": {"command": ["s"]}, "SKLearn": {"command": ["t"]}}},
            [
                'model format "SKLearn" is also written as "sklearn": runtimes.SKLearn; '
                "allowed: each format once (formats match case-insensitively)"
            ],
        ),
        (
            {**HEAD, "storageUriMap": {"bucket/models": "/m"}},
            [
                'invalid key: "bucket/models": storageUriMap; '
                "allowed: a storage URI prefix such as gs://bucket/models"
            ],
        ),
        (
            {**HEAD, "storageUriMap": {"gs://b/m": "$NOPE/m"}},
            [
                'environment variable "NOPE" is not set: storageUriMap["gs://b/m"]=$NOPE/m; '
                "allowed: set variables, or ${NAME:-default}"
            ],
        ),
        (
            {**HEAD, "storageUriMap": {"gs://b/m": "/x", "gs://b/m/": "/y"}},
            [
                "the same prefix is mapped twice (trailing slashes do not count): "
                'storageUriMap["gs://b/m/"]; allowed: each prefix once'
            ],
        ),
        (
            {**HEAD, "revisionHistoryLimit": -1},
            [
                "invalid value: -1: revisionHistoryLimit; "
                "allowed: an integer in [0, 1000] (old revisions kept per service)"
            ],
        ),
        (
            {**HEAD, "autoscaler": {"stable-window": "1s"}},
            ["stable-window = 1s, must be in [6s; 1h0m0s] range: autoscaler.stable-window=1s"],
        ),
        (["a", "list"], ["a ZeroserveConfig must be a mapping, got a list"]),
    ],
    ids=[
        "unknown-top",
        "no-api-version",
        "wrong-api-version",
        "unknown-metadata",
        "domain",
        "unknown-runtime-field",
        "placeholder",
        "non-string-arg",
        "protocol",
        "format-twice",
        "storage-key",
        "unset-variable",
        "prefix-twice",
        "history",
        "autoscaler",
        "not-a-mapping",
    ],
)
def test_refusals_name_the_field_the_value_and_what_is_allowed(
    body: object, expected: list[str]
) -> None:
    assert refusal(body) == expected


def test_every_problem_is_reported_at_once() -> None:
    problems = refusal({**HEAD, "domain": "_", "revisionHistoryLimit": "2", "extra": 1})
    assert [p.split("; allowed")[0] for p in problems] == [
        'unknown field "extra": extra',
        'invalid value: "_": domain',
        'invalid value: "2": revisionHistoryLimit',
    ]


@pytest.mark.parametrize(
    ("folder", "expected"),
    [
        ("~/models", "/home/ada/models"),
        ("~", "/home/ada"),
        ("${CACHE}/m", "/var/cache/m"),
        ("${XDG_CACHE_HOME:-~/.cache}/m", "/home/ada/.cache/m"),
        ("$CACHE/./m/../n", "/var/cache/n"),
        ("relative/m", "/etc/zeroserve/relative/m"),
        ("/abs/m", "/abs/m"),
    ],
)
def test_storage_folders_are_expanded(folder: str, expected: str) -> None:
    config, _ = parse_server_config(
        {**HEAD, "storageUriMap": {"gs://b": folder}},
        source="z.yaml",
        environ=ENV,
        base_dir="/etc/zeroserve",
    )
    assert config.storage_uri_map == (StorageMapping("gs://b", expected),)


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("gs://b/models/iris", "/iris"),  # the longest prefix wins
        ("gs://b/models/iris/v1", "/iris/v1"),
        ("gs://b/models/other", "/models/other"),
        ("gs://b/models", "/models"),
        ("gs://b/modelsx", "/all/b/modelsx"),  # a prefix matches whole path segments
        ("gs://c/x", "/all/c/x"),
        ("s3://b/models/iris", None),
    ],
)
def test_longest_prefix_wins(uri: str, expected: str | None) -> None:
    config = parse(
        storageUriMap={"gs://": "/all", "gs://b/models": "/models", "gs://b/models/iris/": "/iris"}
    )
    assert config.local_folder(uri) == expected


def test_the_example_config_maps_the_iris_uri(tmp_path: Path) -> None:
    config, warnings = load_server_config(EXAMPLE, environ={"HOME": "/home/ada"})
    assert warnings == ()
    assert config.local_folder("gs://kfserving-examples/models/sklearn/1.0/model") == (
        "/home/ada/.cache/zeroserve/models/iris/current"
    )
    runtime = config.runtime("sklearn")
    assert runtime is not None and runtime.command[0] == "python"
    assert runtime.command[1:] == SKLEARN_RUNTIME.command[1:]
    with_xdg, _ = load_server_config(EXAMPLE, environ={"XDG_CACHE_HOME": str(tmp_path)})
    assert with_xdg.local_folder("gs://kfserving-examples/models/sklearn/1.0/model") == str(
        tmp_path / "zeroserve/models/iris/current"
    )


def test_a_config_file_that_is_not_one_document_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "z.yaml"
    path.write_text(yaml.safe_dump(HEAD) + "---\n" + yaml.safe_dump(HEAD))
    with pytest.raises(ServerConfigError) as info:
        load_server_config(path)
    assert info.value.text == f"{path}: expected one ZeroserveConfig document, found 2"
    path.write_text("domain: [unclosed\n")
    with pytest.raises(ServerConfigError) as info:
        load_server_config(path)
    assert info.value.text.startswith(f"{path}: malformed YAML at line 2, column 1")
