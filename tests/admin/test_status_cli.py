"""``zeroserve status`` run in-process against a live admin server (on its own loop, in a
thread, since ``main`` blocks) and against a port where nothing listens."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator

import pytest

from tests.admin.snapshots import FixedSource, full_snapshot
from tests.support.ports import free_port
from zeroserve.admin.app import create_app, serving
from zeroserve.admin.codec import decode_service, decode_status
from zeroserve.admin.status_table import render_service, render_status
from zeroserve.cli import main

NOT_RUNNING = "is `zeroserve serve` running?"


class AdminThread:
    """The real admin app served from a thread with its own event loop."""

    def __init__(self, source: FixedSource) -> None:
        self.source = source
        self.url = ""
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="admin", daemon=True)

    def _run(self) -> None:
        self._loop.run_until_complete(self._serve())
        self._loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        async with serving(create_app(self.source), port=0) as url:
            self.url = url
            self._ready.set()
            await self._stop.wait()

    def __enter__(self) -> AdminThread:
        self._thread.start()
        assert self._ready.wait(5), "the admin server did not start within 5 s"
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(5)
        assert not self._thread.is_alive()


@pytest.fixture
def live() -> Iterator[AdminThread]:
    with AdminThread(FixedSource(full_snapshot())) as server:
        yield server


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["status", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_table_of_a_running_server(
    live: AdminThread, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "--admin", live.url)
    assert (code, err) == (0, "")
    assert out.splitlines() == render_status(live.source.current)
    assert "iris-predictor-00001  100%     ScaledToZero" in out


def test_one_service(live: AdminThread, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "busy", "-n", "default", "--admin", live.url)
    snapshot = live.source.current
    busy = snapshot.service("default", "busy")
    assert busy is not None
    assert code == 0
    assert out.splitlines() == render_service(snapshot, busy)
    assert "iris" not in out


def test_json_output(live: AdminThread, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--admin", live.url, "-o", "json")
    assert code == 0
    back = decode_status(json.loads(out))
    assert back.services == live.source.current.services
    code, out, _ = run(capsys, "iris", "--admin", live.url + "/", "-o", "json")
    assert code == 0
    service, revisions = decode_service(json.loads(out))
    assert service == live.source.current.service("default", "iris")
    assert [r.name for r in revisions] == ["iris-predictor-00001"]


def test_an_unknown_service(live: AdminThread, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "iris", "-n", "prod", "--admin", live.url)
    assert (code, out) == (1, "")
    assert err == f"zeroserve status: error: no InferenceService prod/iris at {live.url}\n"


def test_a_server_that_is_not_running(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    code, out, err = run(capsys, "--admin", url)
    assert (code, out) == (1, "")
    assert err == (
        f"zeroserve status: error: cannot reach the Zeroserve admin API at {url}: {NOT_RUNNING}\n"
    )


def test_something_else_answering(live: AdminThread, capsys: pytest.CaptureFixture[str]) -> None:
    # An admin URL with a wrong path prefix reaches the server but not the API.
    code, _, err = run(capsys, "--admin", f"{live.url}/wrong")
    assert code == 1
    assert err == (
        f"zeroserve status: error: the Zeroserve admin API at {live.url}/wrong answered 404: "
        "no such page: /wrong/api/v1/status\n"
    )


def test_a_url_that_is_not_http(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "--admin", "127.0.0.1:9090")
    assert code == 1
    assert "must start with http:// or https://" in err


def test_proxies_from_the_environment_are_ignored(
    live: AdminThread, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, dead)
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    code, _, err = run(capsys, "--admin", live.url)
    assert (code, err) == (0, "")
