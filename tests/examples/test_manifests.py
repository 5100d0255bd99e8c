"""Every manifest under examples/ is admitted by Zeroserve's parser, scales to zero, and
(for a local command) runs from its folder as written."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.support.ports import free_port
from tests.support.processes import running
from zeroserve.config import AutoscalerConfig
from zeroserve.resource import (
    KSERVE_API_VERSION,
    ZEROSERVE_API_VERSION,
    InferenceService,
    Outcome,
    parse_paths,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
MANIFESTS = sorted(p for pattern in ("*.yaml", "*.yml") for p in EXAMPLES.rglob(pattern))
READINESS = {"v1": "/v1/models/{name}", "v2": "/v2/health/ready"}


def admitted() -> dict[str, InferenceService]:
    services = {}
    for verdict in parse_paths(MANIFESTS, AutoscalerConfig()):
        if verdict.kind == "ZeroserveConfig":
            continue  # the server config beside the manifests (zeroserve.control reads it)
        assert verdict.outcome is Outcome.OK, (verdict.source.label, verdict.messages)
        assert verdict.notices == (), [n.text for n in verdict.notices]
        assert verdict.service is not None
        services[verdict.service.name] = verdict.service
    return services


def test_every_example_manifest_is_admitted_and_scales_to_zero() -> None:
    services = admitted()
    assert {"iris", "echo", "streamer"} <= set(services), MANIFESTS
    for name, service in services.items():
        assert service.namespace == "default", name
        assert service.predictor.scaling.min_replicas == 0, name


def test_iris_is_written_as_kserve_users_write_it() -> None:
    iris = admitted()["iris"]
    assert iris.api_version == KSERVE_API_VERSION
    model = iris.predictor.model
    assert model is not None and model.format == "sklearn"
    assert model.storage_uri == "gs://kfserving-examples/models/sklearn/1.0/model"


LOCAL = [
    v.service
    for v in parse_paths(MANIFESTS, AutoscalerConfig())
    if v.service is not None and v.service.api_version == ZEROSERVE_API_VERSION
]


@pytest.mark.parametrize("service", LOCAL, ids=[s.name for s in LOCAL])
def test_local_command_runs_from_the_manifest_folder(service: InferenceService) -> None:
    """Started as the local runtime would: ``{port}`` replaced, in the resolved working
    dir; ready on its protocol's readiness path."""
    (container,) = service.predictor.containers
    assert container.working_dir is not None
    argv = [*container.command, *container.args]
    assert "{port}" in argv and argv[0] == "python", argv
    port = free_port()
    argv = [sys.executable, *(a.replace("{port}", str(port)) for a in argv[1:])]
    path = READINESS[service.predictor.protocol].format(name=service.name)
    env = {e.name: e.value for e in container.env if e.value is not None} | {"PORT": str(port)}
    with running(argv, port=port, http_path=path, cwd=container.working_dir, env=env):
        pass
