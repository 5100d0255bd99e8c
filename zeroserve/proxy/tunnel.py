"""Bytes piped both ways after ``101 Switching Protocols`` (websockets and the like).

The tunnel keeps the request's lease until either side goes away. Flow control is the
same as for HTTP bodies: a full write buffer on one side pauses reading on the other
(the connection objects do that; the tunnel only moves bytes and closes).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from zeroserve.proxy.client import ClientConnection
    from zeroserve.proxy.exchange import Exchange
    from zeroserve.proxy.upstream import UpstreamConnection


class Tunnel:
    __slots__ = ("client", "client_eof_seen", "done", "exchange", "upstream", "upstream_eof_seen")

    def __init__(
        self, client: ClientConnection, upstream: UpstreamConnection, exchange: Exchange
    ) -> None:
        self.client = client
        self.upstream = upstream
        self.exchange = exchange
        self.client_eof_seen = False
        self.upstream_eof_seen = False
        self.done = False

    def from_client(self, data: bytes) -> None:
        if not self.upstream.closing:
            self.upstream.transport.write(data)

    def from_upstream(self, data: bytes) -> None:
        if not self.client.closed:
            self.client.transport.write(data)

    def client_eof(self) -> bool:
        """Half-close: pass the client's FIN on, keep the other direction open."""
        self.client_eof_seen = True
        up = self.upstream
        if self.upstream_eof_seen or up.closing or not up.transport.can_write_eof():
            self._close()
            return False
        up.transport.write_eof()
        return True

    def upstream_eof(self) -> bool:
        self.upstream_eof_seen = True
        client = self.client
        if self.client_eof_seen or client.closed or not client.transport.can_write_eof():
            self._close()
            return False
        client.transport.write_eof()
        return True

    def client_lost(self) -> None:
        self.upstream.close()
        self._finish()

    def upstream_lost(self) -> None:
        self.client.close()
        self._finish()

    def _close(self) -> None:
        self.upstream.close()
        self.client.close()
        self._finish()

    def _finish(self) -> None:
        if not self.done:
            self.done = True
            self.exchange.tunnel_closed()
