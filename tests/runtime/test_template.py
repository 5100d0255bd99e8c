"""Revision templates: probe defaults by protocol, placeholders, refusals."""

from __future__ import annotations

import pytest

from zeroserve.runtime.base import Probe, RevisionTemplate, render
from zeroserve.runtime.errors import InvalidTemplate, ReplicaRuntimeError


def test_readiness_defaults_follow_the_protocol() -> None:
    v2 = RevisionTemplate(argv=("x",))
    v1 = RevisionTemplate(argv=("x",), protocol="v1", model_name="iris")
    assert v2.readiness_probe().path == "/v2/health/ready"
    assert v1.readiness_probe().path == "/v1/models/iris"


def test_a_manifest_probe_wins() -> None:
    probe = Probe("/healthz", initial_delay=2.0, period=5.0, timeout=2.0, failure_threshold=4)
    template = RevisionTemplate(argv=("x",), protocol="v1", model_name="iris", readiness=probe)
    assert template.readiness_probe() == probe


def test_liveness_defaults_to_the_readiness_path_every_second() -> None:
    template = RevisionTemplate(argv=("x",), readiness=Probe("/ready"))
    assert template.liveness_probe() == Probe("/ready", period=1.0)
    own = Probe("/live", period=3.0)
    assert RevisionTemplate(argv=("x",), liveness=own).liveness_probe() == own


def test_placeholders_are_substituted_and_other_braces_kept() -> None:
    assert render("--port={port}", 8081, 9091) == "--port=8081"
    assert render("{port}:{grpc_port}", 8081, 9091) == "8081:9091"
    assert render('{"a": {port}}', 8081, 9091) == '{"a": 8081}'
    assert render("{name}", 8081, 9091) == "{name}"


@pytest.mark.parametrize(
    ("fields", "text"),
    [
        ({"argv": ()}, "needs a command"),
        ({"argv": ("x",), "protocol": "v3"}, "protocol must be"),
        ({"argv": ("x",), "protocol": "v1"}, "needs a model name"),
        ({"argv": ("x",), "timeout": 0}, "timeout and progress deadline"),
        ({"argv": ("x",), "termination_grace": -1}, "termination grace"),
        ({"argv": ("x",), "max_start_crashes": 0}, "max start crashes"),
    ],
)
def test_templates_refuse_nonsense(fields: dict[str, object], text: str) -> None:
    with pytest.raises(InvalidTemplate, match=text) as info:
        RevisionTemplate(**fields)  # type: ignore[arg-type]
    assert isinstance(info.value, ReplicaRuntimeError)


@pytest.mark.parametrize(
    ("fields", "text"),
    [
        ({"path": "healthz"}, "must start with '/'"),
        ({"path": "/", "period": 0}, "period and timeout"),
        ({"path": "/", "failure_threshold": 0}, "failure threshold"),
    ],
)
def test_probes_refuse_nonsense(fields: dict[str, object], text: str) -> None:
    with pytest.raises(InvalidTemplate, match=text):
        Probe(**fields)  # type: ignore[arg-type]
