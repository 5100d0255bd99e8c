"""``RedisStore`` over TLS with a password, against a real ``redis-server`` whose
certificate is signed by a throwaway CA made here with the ``openssl`` command line."""

from __future__ import annotations

import os
import selectors
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from redis.exceptions import AuthenticationError
from redis.exceptions import ConnectionError as RedisConnectionError

from tests.store.contract import R1, table
from tests.store.redis_server import START_DEADLINE, _binary, _free_port, _unavailable
from zeroserve.config.scaling import RouteMode
from zeroserve.store import ScaleRecord, StoreUnavailable
from zeroserve.store.redis import RedisStore

PASSWORD = "secret"
_READY = b"Ready to accept connections"
_SERVER_EXTENSIONS = """\
subjectAltName = IP:127.0.0.1
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""


@dataclass(frozen=True, slots=True)
class TlsPki:
    ca: Path
    cert: Path
    key: Path


@dataclass(frozen=True, slots=True)
class TlsRedis:
    port: int
    ca: Path

    def url(self, password: str = PASSWORD, *, trust: bool = True) -> str:
        query = f"?ssl_ca_certs={self.ca}" if trust else ""
        return f"rediss://:{password}@127.0.0.1:{self.port}/0{query}"


def _openssl(*args: str, cwd: Path) -> None:
    done = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, check=False)
    if done.returncode != 0:
        pytest.fail(f"openssl {args[0]} failed: {done.stderr.decode(errors='replace')}")


def _make_pki(directory: Path) -> TlsPki:
    """A CA, and a server certificate for 127.0.0.1 signed by it (P-256 keys: fast)."""
    if shutil.which("openssl") is None:
        # ``cryptography`` is not a dependency here; openssl ships with Debian.
        _unavailable("neither the openssl command line nor the cryptography package is present")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl(
        "req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "1",
        "-subj", "/CN=zeroserve test CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=directory,
    )  # fmt: skip
    _openssl(
        "req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1",
        cwd=directory,
    )  # fmt: skip
    (directory / "server.ext").write_text(_SERVER_EXTENSIONS)
    _openssl(
        "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "1", "-extfile", "server.ext", "-out", "server.crt",
        cwd=directory,
    )  # fmt: skip
    return TlsPki(directory / "ca.crt", directory / "server.crt", directory / "server.key")


def _wait_until_ready(process: subprocess.Popen[bytes]) -> None:
    """Read the server's log until it says it accepts connections, within a deadline."""
    assert process.stdout is not None
    log = b""
    deadline = time.monotonic() + START_DEADLINE
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while _READY not in log:
            left = deadline - time.monotonic()
            if left <= 0:
                _unavailable(f"redis-server (TLS) was not ready within {START_DEADLINE} s")
            if not selector.select(timeout=left):
                continue
            chunk = os.read(process.stdout.fileno(), 4096)
            if not chunk:  # it exited: a build without TLS refuses --tls-port here
                process.wait()
                pytest.skip(f"redis-server refused the TLS options: {log.decode(errors='replace')}")
            log += chunk


@pytest.fixture(scope="module")
def tls_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsRedis]:
    binary = _binary()
    if binary is None:
        _unavailable("no redis-server on PATH or in /usr/bin")
        raise AssertionError("unreachable")
    directory = tmp_path_factory.mktemp("redis-tls")
    pki = _make_pki(directory)
    port = _free_port()
    process = subprocess.Popen(
        [
            binary,
            "--port", "0",
            "--tls-port", str(port),
            "--tls-cert-file", str(pki.cert),
            "--tls-key-file", str(pki.key),
            "--tls-ca-cert-file", str(pki.ca),
            "--tls-auth-clients", "no",
            "--requirepass", PASSWORD,
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(directory),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        _wait_until_ready(process)
        yield TlsRedis(port, pki.ca)
    finally:
        process.terminate()
        try:
            process.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()


async def test_routes_and_scales_round_trip_over_tls(tls_redis: TlsRedis) -> None:
    writer = await RedisStore.connect(tls_redis.url(), prefix="zeroserve-test:tls:")
    reader = await RedisStore.connect(tls_redis.url(), prefix="zeroserve-test:tls:")
    try:
        assert (await writer.publish_routes(table(1))).accepted
        assert await reader.read_routes() == table(1)
        done = await writer.write_scale(R1, 3, RouteMode.SERVE, 1, 10.0)
        assert done.accepted
        record = ScaleRecord(R1, 3, RouteMode.SERVE, 1, 10.0, version=done.version)
        assert await reader.read_scales() == {R1: record}
        assert reader.health().healthy
    finally:
        await writer.close()
        await reader.close()


async def test_a_wrong_password_is_unavailable_with_its_cause(tls_redis: TlsRedis) -> None:
    with pytest.raises(StoreUnavailable) as refused:
        await RedisStore.connect(tls_redis.url("wrong"), prefix="zeroserve-test:tls:")
    assert isinstance(refused.value.__cause__, AuthenticationError)
    assert "password" in str(refused.value)


async def test_an_untrusted_certificate_is_unavailable(tls_redis: TlsRedis) -> None:
    """Without the CA the client verifies against the system store and must refuse."""
    with pytest.raises(StoreUnavailable) as refused:
        await RedisStore.connect(tls_redis.url(trust=False), prefix="zeroserve-test:tls:")
    assert isinstance(refused.value.__cause__, (RedisConnectionError, OSError))
    assert "certificate" in str(refused.value).lower()
