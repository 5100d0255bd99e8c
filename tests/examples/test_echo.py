"""The echo predictor, run as a real process and spoken to over real HTTP."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.support.ports import free_port
from tests.support.processes import ChildExited, async_running, running, start, stop

SERVER = str(Path(__file__).resolve().parents[2] / "examples" / "echo" / "server.py")
READY = r"echo ready port=(\d+) monotonic=([0-9.]+)"


def echo_argv(*args: str) -> list[str]:
    return [sys.executable, SERVER, *args]


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """One echo process for the read-only tests; its base URL."""
    port = free_port()
    argv = echo_argv("--port", str(port), "--model-name", "iris")
    with running(argv, ready_line=READY, port=port, http_path="/v1/models/iris"):
        yield f"http://127.0.0.1:{port}"


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        yield session


async def get_json(
    http: aiohttp.ClientSession, method: str, url: str, **kw: object
) -> tuple[int, object]:
    async with http.request(method, url, **kw) as r:  # type: ignore[arg-type]
        return r.status, await r.json(content_type=None)


# -- start-up ---------------------------------------------------------------------------


async def test_ready_line_gives_port_and_start_to_ready_time() -> None:
    async with async_running(echo_argv("--port", "0"), ready_line=READY) as child:
        match = await child.async_wait_for_line(READY)
        port, ready_at = int(match[1]), float(match[2])
        start_to_ready = ready_at - child.started
        assert 0 < start_to_ready < 5, start_to_ready
        async with aiohttp.ClientSession() as http:
            status, body = await get_json(http, "GET", f"http://127.0.0.1:{port}/")
        assert (status, body) == (200, {"status": "alive"})


async def test_startup_delay_postpones_listening() -> None:
    port = free_port()
    argv = echo_argv("--port", str(port), "--startup-delay", "0.4")
    async with async_running(argv, port=port, http_path="/v2/health/ready") as child:
        match = await child.async_wait_for_line(READY)
        assert float(match[2]) - child.started >= 0.4


async def test_fail_start_exits_1_with_a_message() -> None:
    child = start(echo_argv("--fail-start"))
    try:
        assert await child.async_wait_exit() == 1
        with pytest.raises(ChildExited):
            await child.async_wait_for_line(READY, timeout=5)
        assert "--fail-start" in child.output()
    finally:
        stop(child)


async def test_port_and_model_name_from_the_environment() -> None:
    port = free_port()
    env = {"PORT": str(port), "MODEL_NAME": "bert"}
    async with (
        async_running(echo_argv(), port=port, env=env),
        aiohttp.ClientSession() as http,
    ):
        status, body = await get_json(http, "GET", f"http://127.0.0.1:{port}/v1/models/bert")
        assert (status, body) == (200, {"name": "bert", "ready": True})


async def test_sigterm_stops_it_cleanly() -> None:
    port = free_port()
    async with async_running(echo_argv("--port", str(port)), port=port) as child:
        pass
    assert child.returncode == 0


# -- V1 ---------------------------------------------------------------------------------


async def test_v1_model_ready_and_unknown_model(server: str, http: aiohttp.ClientSession) -> None:
    assert await get_json(http, "GET", f"{server}/v1/models/iris") == (
        200,
        {"name": "iris", "ready": True},
    )
    status, body = await get_json(http, "GET", f"{server}/v1/models/nope")
    assert status == 404 and body == {"error": "Model with name nope does not exist."}


async def test_v1_predict_echoes_instances(server: str, http: aiohttp.ClientSession) -> None:
    instances = [[6.8, 2.8, 4.8, 1.4], [6.0, 3.4, 4.5, 1.6]]
    status, body = await get_json(
        http, "POST", f"{server}/v1/models/iris:predict", json={"instances": instances}
    )
    assert (status, body) == (200, {"predictions": instances})


@pytest.mark.parametrize(
    ("data", "fragment"),
    [(b"{not json", "Unrecognized request format"), (b'{"x": 1}', "instances")],
)
async def test_v1_predict_rejects_bad_bodies(
    server: str, http: aiohttp.ClientSession, data: bytes, fragment: str
) -> None:
    status, body = await get_json(http, "POST", f"{server}/v1/models/iris:predict", data=data)
    assert status == 400 and isinstance(body, dict) and fragment in body["error"]


async def test_v1_predict_of_unknown_model_is_404(server: str, http: aiohttp.ClientSession) -> None:
    status, body = await get_json(
        http, "POST", f"{server}/v1/models/nope:predict", json={"instances": [1]}
    )
    assert status == 404 and isinstance(body, dict) and "nope" in body["error"]


async def test_v1_stream_sends_server_sent_events(server: str, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{server}/v1/models/iris:stream?n=5&interval_ms=10") as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/event-stream")
        text = (await r.read()).decode()
    events = [block for block in text.split("\n\n") if block]
    assert events == [f"data: token-{i}" for i in range(5)]


# -- V2 ---------------------------------------------------------------------------------


async def test_v2_health_and_metadata(server: str, http: aiohttp.ClientSession) -> None:
    assert await get_json(http, "GET", f"{server}/v2/health/ready") == (200, {"ready": True})
    assert await get_json(http, "GET", f"{server}/v2/health/live") == (200, {"live": True})
    status, meta = await get_json(http, "GET", f"{server}/v2/models/iris")
    assert status == 200 and isinstance(meta, dict) and meta["name"] == "iris"
    assert await get_json(http, "GET", f"{server}/v2/models/iris/ready") == (
        200,
        {"name": "iris", "ready": True},
    )
    status, _ = await get_json(http, "GET", f"{server}/v2/models/nope/ready")
    assert status == 404


async def test_v2_infer_echoes_inputs_and_passes_the_id(
    server: str, http: aiohttp.ClientSession
) -> None:
    inputs = [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [1.0, 2.0, 3.0, 4.0]}]
    status, body = await get_json(
        http, "POST", f"{server}/v2/models/iris/infer", json={"id": "req-42", "inputs": inputs}
    )
    assert status == 200 and isinstance(body, dict)
    assert body["id"] == "req-42" and body["outputs"] == inputs
    assert body["model_name"] == "iris"
    _, unnamed = await get_json(
        http, "POST", f"{server}/v2/models/iris/infer", json={"inputs": inputs}
    )
    assert isinstance(unnamed, dict) and unnamed["id"] and unnamed["id"] != "req-42"


async def test_v2_infer_rejects_bad_bodies(server: str, http: aiohttp.ClientSession) -> None:
    for data in (b"[", b'{"inputs": 3}'):
        status, body = await get_json(http, "POST", f"{server}/v2/models/iris/infer", data=data)
        assert status == 400 and isinstance(body, dict) and body["error"]


# -- modes ------------------------------------------------------------------------------

PREDICT: tuple[str, object] = ("/v1/models/iris:predict", {"instances": [1]})
INFER: tuple[str, object] = ("/v2/models/iris/infer", {"inputs": []})


@pytest.mark.parametrize(("path", "payload"), [PREDICT, INFER])
async def test_status_mode_fails_with_the_kserve_error_shape(
    server: str, http: aiohttp.ClientSession, path: str, payload: object
) -> None:
    for code in (500, 503, 429):
        status, body = await get_json(http, "POST", f"{server}{path}?status={code}", json=payload)
        assert status == code and body == {"error": f"echo: status {code} requested"}
    async with http.get(f"{server}/v1/models/iris:stream?status=502") as r:
        assert r.status == 502


async def test_bad_mode_values_are_400(server: str, http: aiohttp.ClientSession) -> None:
    for query in ("status=abc", "status=302", "sleep_ms=-1", "sleep_ms=x"):
        status, body = await get_json(
            http, "POST", f"{server}{PREDICT[0]}?{query}", json=PREDICT[1]
        )
        assert status == 400 and isinstance(body, dict) and body["error"], query


async def test_sleep_mode_is_slow_and_stats_see_the_concurrency(
    server: str, http: aiohttp.ClientSession
) -> None:
    status, reset = await get_json(http, "DELETE", f"{server}/stats")
    assert status == 200 and isinstance(reset, dict) and reset["max_in_flight"] == 0
    began = time.monotonic()
    slow = [
        asyncio.ensure_future(
            get_json(http, "POST", f"{server}{PREDICT[0]}?sleep_ms=300", json=PREDICT[1])
        )
        for _ in range(3)
    ]
    deadline = time.monotonic() + 5
    while True:  # poll until all three are inside the server
        _, stats = await get_json(http, "GET", f"{server}/stats")
        assert isinstance(stats, dict)
        if stats["in_flight"] == 3 or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.01)
    assert stats["in_flight"] == 3
    assert [await f for f in slow] == [(200, {"predictions": [1]})] * 3
    assert time.monotonic() - began >= 0.3
    _, after = await get_json(http, "GET", f"{server}/stats")
    assert isinstance(after, dict)
    assert (after["in_flight"], after["max_in_flight"], after["requests"]) == (0, 3, 3)


async def test_crash_mode_exits_with_code_3() -> None:
    port = free_port()
    async with (
        async_running(echo_argv("--port", str(port)), port=port) as child,
        aiohttp.ClientSession() as http,
    ):
        with pytest.raises(aiohttp.ClientError):
            await http.post(f"http://127.0.0.1:{port}{PREDICT[0]}?crash=1", json=PREDICT[1])
        assert await child.async_wait_exit() == 3
        assert "crash" in child.output()


# -- /echo and /stats -------------------------------------------------------------------


async def test_echo_describes_the_request(server: str, http: aiohttp.ClientSession) -> None:
    body = bytes(range(256)) * 4096  # 1 MiB
    async with http.put(
        f"{server}/echo/a/b?x=1&y=2",
        data=body,
        headers={"X-Test": "yes", "X-Dup": "1"},
    ) as r:
        assert r.status == 200
        seen = await r.json()
    assert seen["method"] == "PUT" and seen["path"] == "/echo/a/b"
    assert seen["query_string"] == "x=1&y=2"
    assert ["X-Test", "yes"] in seen["headers"]
    assert seen["body_length"] == len(body)
    assert seen["body_sha256"] == hashlib.sha256(body).hexdigest()


async def test_echo_counts_a_chunked_body(server: str, http: aiohttp.ClientSession) -> None:
    parts = [b"a" * 70_000, b"b" * 5, b"c" * 100_000]

    async def chunks() -> AsyncIterator[bytes]:
        for part in parts:
            yield part

    async with http.post(f"{server}/echo", data=chunks()) as r:
        seen = await r.json()
    assert ["Transfer-Encoding", "chunked"] in seen["headers"]
    assert seen["body_length"] == sum(map(len, parts))
    assert seen["body_sha256"] == hashlib.sha256(b"".join(parts)).hexdigest()


async def test_echo_answers_any_method(server: str, http: aiohttp.ClientSession) -> None:
    for method in ("GET", "DELETE", "PATCH", "OPTIONS"):
        status, seen = await get_json(http, method, f"{server}/echo")
        assert status == 200 and isinstance(seen, dict) and seen["method"] == method
        assert seen["body_length"] == 0


def test_stats_shape_is_json_with_the_pid(server: str) -> None:
    import urllib.request

    with urllib.request.urlopen(f"{server}/stats", timeout=5) as r:
        stats = json.loads(r.read())
    assert set(stats) == {"in_flight", "max_in_flight", "requests", "pid"}
    assert isinstance(stats["pid"], int) and stats["in_flight"] == 0


# -- tests/support/processes, exercised on real children -------------------------------


def test_running_stops_the_child_when_the_block_raises() -> None:
    port = free_port()
    with (
        pytest.raises(RuntimeError, match="test failed"),
        running(echo_argv("--port", str(port)), port=port) as child,
    ):
        raise RuntimeError("test failed")
    assert child.returncode == 0  # SIGTERM was enough
    with pytest.raises(ProcessLookupError):
        os.killpg(child.pid, 0)  # the whole group is gone


def test_stop_kills_a_child_that_ignores_sigterm() -> None:
    stubborn = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    stubborn += "print('up', flush=True); time.sleep(60)"
    child = start([sys.executable, "-c", stubborn])
    child.wait_for_line("^up$")
    began = time.monotonic()
    assert stop(child, grace=0.3) == -signal.SIGKILL
    assert 0.3 <= time.monotonic() - began < 5


def test_waiting_fails_fast_with_the_output_when_the_child_exits() -> None:
    port = free_port()
    began = time.monotonic()
    with (
        pytest.raises(ChildExited, match="fail-start"),
        running(echo_argv("--fail-start"), port=port, timeout=30),
    ):
        pass
    assert time.monotonic() - began < 10
