"""What the gateway says about hosts it does not serve; a folder in which some manifests
are refused (the good one serves, the refusals are logged with their reasons); and what
keeps the server from starting at all."""

from __future__ import annotations

import logging
import socket
from pathlib import Path

import pytest

from tests.embedded import INFER_BODY, echo_manifest, host, infer_path, revision
from zeroserve import cli
from zeroserve.embedded.errors import NotRunning, StartFailed
from zeroserve.embedded.server import EmbeddedServer
from zeroserve.testing.harness import Harness

MALFORMED = """\
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata: {name: broken
spec: [
"""


async def test_an_unknown_host_gets_a_404_naming_it() -> None:
    async with Harness(manifests=echo_manifest()) as h:
        answer = await h.request("nobody.default.example.com", "/v1/models/x:predict", body="{}")
        assert answer.status == 404
        assert answer.json() == {"error": "no service for host nobody.default.example.com"}
        assert h.of("spawned") == [], "nothing starts for an unknown host"


async def test_refused_manifests_are_logged_and_the_good_one_serves(
    caplog: pytest.LogCaptureFixture,
) -> None:
    manifests = {
        "good.yaml": echo_manifest(),
        "malformed.yaml": MALFORMED,
        "unknown-field.yaml": echo_manifest("typo", predictor={"minReplica": 1}),
        "out-of-range.yaml": echo_manifest(
            "hot", annotations={"autoscaling.knative.dev/target-utilization-percentage": "200"}
        ),
    }
    caplog.set_level(logging.ERROR, logger="zeroserve")
    async with Harness(manifests=manifests) as h:
        folder = h.folder
        expected = [
            f"{folder}/malformed.yaml (document 1): malformed YAML at line 4, column 5: ",
            f"{folder}/out-of-range.yaml (document 1): expected 1 <= 200 <= 100: "
            "metadata.annotations.autoscaling.knative.dev/target-utilization-percentage",
            f'{folder}/unknown-field.yaml (document 1): unknown field "minReplica": '
            "spec.predictor.minReplica; allowed: affinity, ",
        ]
        refusals = h.server.loaded.refusals
        assert len(refusals) == len(expected)
        for line, start in zip(refusals, expected, strict=True):
            assert line.startswith(start), line
        logged = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        for line in refusals:
            assert f"refused: {line}" in logged
        assert [s.name for s in h.parts.controller.status()] == ["echo"]

        answer = await h.request(host(), infer_path(), body=INFER_BODY)
        assert answer.status == 200 and answer.header("Zeroserve-Revision") == revision()
        for name in ("typo", "hot", "broken"):
            refused = await h.request(host(name), infer_path(name), body=INFER_BODY)
            assert refused.status == 404, name


def test_serve_without_its_folder_exits_1_naming_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    missing = tmp_path / "nowhere"
    argv = ["serve", str(missing), "--port", "0", "--admin-port", "0"]
    code = cli.main([*argv, "--state-dir", str(tmp_path / "state")])
    assert code == 1
    assert f"cannot serve {missing}: no such file or directory: {missing}" in caplog.text


async def test_a_gateway_port_in_use_is_a_start_failure(tmp_path: Path) -> None:
    (tmp_path / "echo.yaml").write_text(echo_manifest())
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = EmbeddedServer(tmp_path, port=port, admin_port=0)
        with pytest.raises(StartFailed, match=f"cannot listen on 127.0.0.1:{port} \\(gateway\\)"):
            await server.start()
    with pytest.raises(NotRunning):
        server.largest_timeout()
    await server.close()  # harmless after a failed start
