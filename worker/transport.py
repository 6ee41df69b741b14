"""The transport under the fetcher's httpx client: httpcore's connection pool over a network
backend that remembers each connection's socket.

httpcore asks every idle keep-alive connection whether its server closed it each time a request
enters or leaves the pool; anyio answers by rebuilding its attribute table (a ``getpeername``
call) every time. The stream below keeps a poller per socket and skips connections used a moment
ago, which took a third of the fetch path's CPU off (see docs/PERFORMANCE.md).
"""

from __future__ import annotations

import select
import socket
import ssl
import time
from typing import Any

import certifi
import httpcore
import httpx

from worker.config import HttpSettings


def _poller(sock: socket.socket | None) -> select.poll | None:
    """A poller for data (or EOF) on an idle keep-alive socket: the server closed it. None if
    the socket is gone."""
    try:
        fd = sock.fileno() if sock is not None else -1
    except OSError:
        return None
    if fd < 0:
        return None
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return poller


class _SocketStream(httpcore.AsyncNetworkStream):
    """A network stream that remembers its socket.

    httpcore asks every idle keep-alive connection whether its socket is readable each time a
    request enters or leaves the pool, and anyio rebuilds its attribute table (with a
    ``getpeername`` call) on every such ask. With 16 connections to a host that was a third of
    the fetcher's CPU time; remembering the socket makes each ask one ``poll``, and a connection
    busy a moment ago is not asked at all.
    """

    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner
        self._sock: socket.socket | None = inner.get_extra_info("socket")
        self._used = time.monotonic()
        self._poller: select.poll | None = None

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        data = await self._inner.read(max_bytes, timeout)
        self._used = time.monotonic()
        return data

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, timeout)
        self._used = time.monotonic()

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return _SocketStream(await self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            # A connection used in the last half second was not closed by its server since
            # (a server closing at once says so in the response); only older ones are polled.
            if time.monotonic() - self._used <= 0.5:
                return False
            if self._poller is None:
                self._poller = _poller(self._sock)
            return self._poller is None or bool(self._poller.poll(0))
        if info == "socket":
            return self._sock
        return self._inner.get_extra_info(info)


class _Backend(httpcore.AsyncNetworkBackend):
    def __init__(self) -> None:
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._inner.connect_tcp(
            host, port, timeout=timeout, local_address=local_address, socket_options=socket_options
        )
        return _SocketStream(stream)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._inner.connect_unix_socket(
            path, timeout=timeout, socket_options=socket_options
        )
        return _SocketStream(stream)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def pooled_transport(http: HttpSettings) -> httpx.AsyncBaseTransport:
    """httpx's transport over a connection pool with our network backend (see _SocketStream)."""
    transport = httpx.AsyncHTTPTransport(trust_env=False)
    if isinstance(getattr(transport, "_pool", None), httpcore.AsyncConnectionPool):
        transport._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl.create_default_context(cafile=certifi.where()),
            max_connections=http.max_connections,
            max_keepalive_connections=http.max_connections,
            keepalive_expiry=5.0,
            network_backend=_Backend(),
        )
    return transport
