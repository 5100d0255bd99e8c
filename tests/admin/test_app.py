"""The admin app over real HTTP: health, the JSON API, the status page, JSON errors."""

from __future__ import annotations

import html
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.admin.snapshots import HOSTILE, FixedSource, full_snapshot
from zeroserve.admin.app import create_app, serving
from zeroserve.admin.codec import decode_service, decode_status
from zeroserve.admin.model import ServerSnapshot
from zeroserve.admin.status_page import REFRESH_SECONDS


async def get(url: str, method: str = "GET") -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as session, session.request(method, url) as response:
        return response.status, response.content_type, await response.text()


async def get_json(url: str, status: int = 200) -> Any:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == status
        assert response.content_type == "application/json"
        return await response.json()


async def test_healthz(admin: str) -> None:
    assert await get(f"{admin}/healthz") == (200, "text/plain", "ok")


async def test_services_in_kserve_shape(admin: str, source: FixedSource) -> None:
    body = await get_json(f"{admin}/api/v1/services")
    names = [item["metadata"]["name"] for item in body["items"]]
    assert names == [s.name for s in source.current.services]
    busy = body["items"][1]["status"]
    predictor = busy["components"]["predictor"]
    assert predictor["latestCreatedRevision"] == "busy-predictor-00002"
    assert predictor["latestReadyRevision"] == "busy-predictor-00002"
    assert predictor["latestRolledoutRevision"] == "busy-predictor-00001"
    assert [(t["tag"], t["revisionName"], t["percent"]) for t in predictor["traffic"]] == [
        ("latest", "busy-predictor-00002", 10),
        ("prev", "busy-predictor-00001", 90),
    ]
    assert predictor["traffic"][0]["url"] == "http://latest-busy-predictor.default.example.com"
    assert [c["type"] for c in busy["conditions"]] == [
        "IngressReady",
        "PredictorReady",
        "Ready",
        "Stopped",
    ]
    assert [r["name"] for r in busy["revisions"]] == [
        "busy-predictor-00001",
        "busy-predictor-00002",
    ]
    assert [r["replicas"]["ready"] for r in busy["revisions"]] == [2, 3]


async def test_one_service_and_an_unknown_one(admin: str, source: FixedSource) -> None:
    body = await get_json(f"{admin}/api/v1/services/default/iris")
    service, revisions = decode_service(body)
    assert service == source.current.service("default", "iris")
    assert [r.state.value for r in revisions] == ["ScaledToZero"]
    assert body["status"]["revisions"][0]["state"] == "ScaledToZero"
    missing = await get_json(f"{admin}/api/v1/services/prod/iris", status=404)
    assert missing == {"error": "no InferenceService prod/iris"}


async def test_revisions(admin: str, source: FixedSource) -> None:
    body = await get_json(f"{admin}/api/v1/revisions")
    by_name = {r["name"]: r for r in body["items"]}
    assert set(by_name) == {r.name for r in source.current.revisions}
    assert by_name["busy-predictor-00002"]["autoscaler"]["panicMode"] is True
    assert by_name["busy-predictor-00002"]["requests"]["held"] == 7
    assert by_name["broken-predictor-00002"]["failedReason"] == f"exit code 1: {HOSTILE}"
    assert by_name["iris-predictor-00001"]["coldStarts"]["total"] == 3


async def test_status_is_the_whole_snapshot(admin: str, source: FixedSource) -> None:
    back = decode_status(await get_json(f"{admin}/api/v1/status"))
    assert back.services == source.current.services
    assert {r.name: r for r in back.revisions} == {r.name: r for r in source.current.revisions}


@pytest.mark.parametrize("path", ["/nope", "/api/v1/services/default", "/api/v2/status"])
async def test_unknown_paths_answer_json_404(admin: str, path: str) -> None:
    assert await get_json(f"{admin}{path}", status=404) == {"error": f"no such page: {path}"}


async def test_wrong_method_answers_json_405(admin: str) -> None:
    status, content_type, text = await get(f"{admin}/api/v1/services", "POST")
    assert (status, content_type) == (405, "application/json")
    assert "method POST is not allowed on /api/v1/services" in text


async def test_the_status_page(admin: str, source: FixedSource) -> None:
    status, content_type, page = await get(f"{admin}/")
    assert (status, content_type) == (200, "text/html")
    assert f'<meta http-equiv="refresh" content="{REFRESH_SECONDS}">' in page
    for service in source.current.services:
        assert f"<h2>{service.namespace}/{service.name} " in page
    for revision in source.current.revisions:
        assert f"<td>{revision.name}</td>" in page
    assert "<td>90% (prev)</td>" in page  # traffic with its tag
    assert "<td>5/3</td>" in page  # desired/ready of the panicking revision
    assert "<td>yes</td>" in page  # its panic
    assert "<td>7</td>" in page  # its held requests
    assert "queued 0.4 ms, decision 1.6 ms, spawn 2.0 ms, ready 790 ms, first byte 16 ms" in page
    assert "810 ms, 2 min ago" in page
    assert "<script" not in page  # hostile reasons and messages are escaped…
    assert html.escape(HOSTILE) in page  # …and still shown
    assert "Not ready" in page


async def test_the_page_of_an_empty_server(admin: str, source: FixedSource) -> None:
    source.current = full_snapshot(services=(), revisions=())
    status, _, page = await get(f"{admin}/")
    assert status == 200
    assert "No InferenceServices." in page


class BrokenSource:
    def snapshot(self) -> ServerSnapshot:
        raise RuntimeError("the controller is gone")


@pytest.fixture
async def broken_admin() -> AsyncIterator[str]:
    async with serving(create_app(BrokenSource()), port=0) as url:
        yield url


async def test_a_failing_source_answers_json_500(broken_admin: str) -> None:
    body = await get_json(f"{broken_admin}/api/v1/status", status=500)
    assert body == {"error": "GET /api/v1/status failed: the controller is gone"}
    assert await get(f"{broken_admin}/healthz") == (200, "text/plain", "ok")
