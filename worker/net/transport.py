"""The transport under the fetcher's httpx client: HTTP/1.1 keep-alive connections on asyncio
streams, with h11 reading and writing the messages.

httpx's default transport (httpcore over anyio) cost several times more CPU per page in
``bench/ingest.py``: its connection pool re-examines every connection for every queued request
each time a request enters or leaves (quadratic in the connections to a host), and each read goes
through anyio's cancel scopes. This one keeps a stack of idle connections per origin, so taking
and returning one is O(1), and reads straight from an ``asyncio.StreamReader`` (figures in
docs/PERFORMANCE.md). Limits on requests in flight are the fetcher's business (its global
and per-host gates); this transport only keeps at most ``max_idle`` idle connections.

A kept-alive connection the server closed while idle is noticed without a system call (the
stream is at EOF) and dropped. One the server closes just as the request goes out fails before
a single byte of answer: an idempotent request is then sent once more on a new connection, as
browsers do. Errors are httpx's own exception types, so callers see no difference.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

import certifi
import h11
import httpx

from worker.config import HttpSettings

READ_SIZE = 65536
MAX_HEAD_BYTES = 100 * 1024  # status line and headers; h11's own default is 16 KiB
KEEPALIVE_EXPIRY = 5.0
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})

Origin = tuple[str, str, int]


class _Stale(Exception):
    """A reused connection failed before any byte of the answer: the server had closed it."""


class _Connection:
    """One TCP (or TLS) connection and the h11 state machine that frames its messages."""

    __slots__ = ("h11", "idle_since", "origin", "reader", "received", "reused", "writer")

    def __init__(
        self, origin: Origin, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.origin = origin
        self.reader = reader
        self.writer = writer
        self.h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD_BYTES)
        self.idle_since = time.monotonic()
        self.reused = False
        self.received = 0  # bytes of the current answer

    def usable(self, now: float) -> bool:
        """Still open on both sides, not idle too long, and no stray bytes waiting."""
        return (
            now - self.idle_since < KEEPALIVE_EXPIRY
            and not self.reader.at_eof()
            and not self.writer.is_closing()
            and not getattr(self.reader, "_buffer", b"")
        )

    async def send(self, events: list[h11.Event], timeout: float | None) -> None:
        try:
            data = b"".join(self.h11.send(event) or b"" for event in events)
        except h11.LocalProtocolError as exc:
            raise httpx.LocalProtocolError(str(exc)) from exc
        try:
            self.writer.write(data)
            async with asyncio.timeout(timeout):
                await self.writer.drain()
        except TimeoutError as exc:
            raise httpx.WriteTimeout("timed out sending the request") from exc
        except OSError as exc:
            raise httpx.WriteError(str(exc) or type(exc).__name__) from exc

    async def receive(self, timeout: float | None) -> h11.Event:
        """The next event of the answer, reading from the socket as needed."""
        while True:
            try:
                event = self.h11.next_event()
            except h11.RemoteProtocolError as exc:
                raise httpx.RemoteProtocolError(str(exc)) from exc
            if event is not h11.NEED_DATA:
                return event  # type: ignore[return-value]
            try:
                async with asyncio.timeout(timeout):
                    data = await self.reader.read(READ_SIZE)
            except TimeoutError as exc:
                raise httpx.ReadTimeout("timed out waiting for the server") from exc
            except OSError as exc:
                raise httpx.ReadError(str(exc) or type(exc).__name__) from exc
            self.received += len(data)
            self.h11.receive_data(data)  # b"": the server closed its side

    def close(self) -> None:
        self.writer.close()


class _Body(httpx.AsyncByteStream):
    """A response body read from its connection; the connection goes back to the pool once the
    whole message is read, and is closed if the reader stops early or anything fails."""

    def __init__(self, transport: Transport, connection: _Connection, timeout: float | None):
        self._transport = transport
        self._connection: _Connection | None = connection
        self._timeout = timeout

    async def __aiter__(self) -> AsyncIterator[bytes]:
        connection = self._connection
        if connection is None:
            raise httpx.StreamClosed()
        try:
            while True:
                event = await connection.receive(self._timeout)
                if isinstance(event, h11.Data):
                    yield bytes(event.data)
                elif isinstance(event, h11.EndOfMessage):
                    break
                else:
                    raise httpx.RemoteProtocolError(f"unexpected {type(event).__name__} in body")
        except BaseException:
            self._connection = None
            connection.close()
            raise
        self._connection = None
        self._transport.release(connection)

    async def aclose(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


class Transport(httpx.AsyncBaseTransport):
    """HTTP/1.1 over asyncio streams with per-origin keep-alive (see the module docstring)."""

    def __init__(self, *, max_idle: int = 16, ssl_context: ssl.SSLContext | None = None) -> None:
        self._idle: dict[Origin, deque[_Connection]] = {}
        self._idle_count = 0
        self._max_idle = max_idle
        self._ssl = ssl_context
        self._swept = time.monotonic()
        self._closed = False

    @property
    def idle_connections(self) -> int:
        return self._idle_count

    def _ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = ssl.create_default_context(cafile=certifi.where())
        return self._ssl

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._closed:
            raise RuntimeError("the transport is closed")
        url = request.url
        if url.scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"unsupported URL scheme {url.scheme!r}")
        if not url.host:
            raise httpx.UnsupportedProtocol(f"no host in {url}")
        origin = (url.scheme, url.host, url.port or (443 if url.scheme == "https" else 80))
        timeouts: dict[str, Any] = request.extensions.get("timeout", {})
        connection = self._take(origin)
        if connection is not None:
            try:
                return await self._exchange(connection, request, timeouts)
            except _Stale:
                pass  # the server closed the idle connection; one try on a new one
        connection = await self._connect(origin, timeouts.get("connect"))
        return await self._exchange(connection, request, timeouts)

    async def _connect(self, origin: Origin, timeout: float | None) -> _Connection:
        scheme, host, port = origin
        tls = self._ssl_context() if scheme == "https" else None
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(
                    host,
                    port,
                    ssl=tls,
                    server_hostname=host if tls else None,
                    # Happy eyeballs, as anyio did: a host whose IPv6 address does not answer
                    # (common in containers) costs a quarter second, not the connect timeout.
                    happy_eyeballs_delay=0.25,
                )
        except TimeoutError as exc:
            raise httpx.ConnectTimeout(f"timed out connecting to {host}:{port}") from exc
        except OSError as exc:  # ssl.SSLError included
            raise httpx.ConnectError(str(exc) or type(exc).__name__) from exc
        return _Connection(origin, reader, writer)

    async def _exchange(
        self, connection: _Connection, request: httpx.Request, timeouts: dict[str, Any]
    ) -> httpx.Response:
        read_timeout = timeouts.get("read")
        connection.received = 0
        try:
            events: list[h11.Event] = [
                h11.Request(
                    method=request.method,
                    target=request.url.raw_path,
                    headers=request.headers.raw,
                )
            ]
            if isinstance(request.stream, httpx.AsyncByteStream):
                async for chunk in request.stream:
                    if chunk:
                        events.append(h11.Data(data=chunk))
            events.append(h11.EndOfMessage())
            await connection.send(events, timeouts.get("write"))
            while True:
                event = await connection.receive(read_timeout)
                if isinstance(event, h11.Response):
                    break
                if not isinstance(event, h11.InformationalResponse):
                    raise httpx.RemoteProtocolError("the server closed without answering")
        except (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError) as exc:
            connection.close()
            if connection.reused and connection.received == 0 and request.method in IDEMPOTENT:
                raise _Stale() from exc
            raise
        except BaseException:
            connection.close()
            raise
        return httpx.Response(
            event.status_code,
            headers=list(event.headers),
            stream=_Body(self, connection, read_timeout),
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": bytes(event.reason)},
        )

    def _take(self, origin: Origin) -> _Connection | None:
        """The most recently used idle connection to the origin that is still usable."""
        now = time.monotonic()
        if now - self._swept > KEEPALIVE_EXPIRY:
            self._sweep(now)
        idle = self._idle.get(origin)
        while idle:
            connection = idle.pop()
            self._idle_count -= 1
            if connection.usable(now):
                connection.reused = True
                return connection
            connection.close()
        return None

    def release(self, connection: _Connection) -> None:
        """Keep a connection whose exchange is complete for the next request, if it can be."""
        state = connection.h11
        if (
            self._closed
            or state.our_state is not h11.DONE
            or state.their_state is not h11.DONE
            or connection.reader.at_eof()
        ):
            connection.close()
            return
        state.start_next_cycle()
        connection.idle_since = time.monotonic()
        self._idle.setdefault(connection.origin, deque()).append(connection)
        self._idle_count += 1
        while self._idle_count > self._max_idle:
            self._drop_oldest()

    def _drop_oldest(self) -> None:
        oldest = min(
            (idle for idle in self._idle.values() if idle), key=lambda idle: idle[0].idle_since
        )
        oldest.popleft().close()
        self._idle_count -= 1

    def _sweep(self, now: float) -> None:
        """Close idle connections past their expiry, for origins not asked for lately."""
        self._swept = now
        for origin, idle in list(self._idle.items()):
            while idle and not idle[0].usable(now):
                idle.popleft().close()
                self._idle_count -= 1
            if not idle:
                del self._idle[origin]

    async def aclose(self) -> None:
        self._closed = True
        for idle in self._idle.values():
            for connection in idle:
                connection.close()
        self._idle.clear()
        self._idle_count = 0
        await asyncio.sleep(0)  # let the event loop finish closing the sockets


def pooled_transport(http: HttpSettings) -> httpx.AsyncBaseTransport:
    """The fetcher's transport: idle connections kept up to the connection limit."""
    return Transport(max_idle=http.max_connections)
