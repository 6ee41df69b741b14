"""The transport under the fetcher: aiohttp's connector (HTTP/1.1 keep-alive pools, TLS,
proxies with CONNECT for https) behind a small interface of our own, so the fetcher never sees
aiohttp's types and tests can hand it a scripted transport.

What we set on aiohttp, and why: bodies are read raw (the fetcher inflates them itself, with a
bound); no redirects (followed by hand, each hop checked); no cookies, no environment lookups per
request (proxies are chosen once, :mod:`.proxies`); no connection limit (the frontier counts
requests on the wire); the resolver is the address guard (:mod:`.guard`). A connection is kept
for ``KEEPALIVE`` seconds at most, less when the server's ``Keep-Alive: timeout`` says so, and
reused after a redirect or a 304 once their (small) bodies are drained. A request's
``before_send`` is awaited once its connection is ours (new or from the pool) and just before the
request is written, through aiohttp's connection trace signals: the frontier's gaps count from
there. aiohttp's exceptions are
translated here, once, into :mod:`worker.errors` with a reason naming what failed (``dns_error``,
``connect_error``, ``tls_error``, ``proxy_error``, ``timeout``, ``network``, ``bad_response``).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Protocol

import aiohttp

from worker.config import HttpSettings
from worker.errors import FetchError, PermanentFetchError, TransientFetchError
from worker.net import tls
from worker.net.guard import GuardedResolver, PrivateAddressRefused

KEEPALIVE = 4.0  # below the 5 s of common servers (Apache, Node), so they rarely close first
READ_SIZE = 65536
DRAIN_BYTES = 65536  # a redirect's or error page's body read to keep its connection
_KEEP_ALIVE_TIMEOUT = re.compile(r"(?:^|[,\s])timeout\s*=\s*(\d{1,6})", re.IGNORECASE)


@dataclass
class Exchange:
    """A response whose body is still to be read: status, lower-cased headers (repeated ones
    joined by ", "), the peer's address; and, for archiving the exchange as it went over the
    wire, the request's headers as sent and the response's status line and headers as received."""

    status: int
    headers: Mapping[str, str]
    peer: str | None
    body: AsyncIterator[bytes]
    reason: str = ""
    version: str = "HTTP/1.1"
    raw_headers: tuple[tuple[str, str], ...] = ()
    sent_headers: tuple[tuple[str, str], ...] = ()


BeforeSend = Callable[[], Awaitable[None]]


class Transport(Protocol):
    def open(
        self,
        url: str,
        headers: Mapping[str, str],
        *,
        proxy: str | None,
        before_send: BeforeSend | None = None,
    ) -> Any:  # an async context manager of Exchange
        """``before_send`` is awaited when the request is about to be written."""
        ...

    async def close(self) -> None: ...


class _Response(aiohttp.ClientResponse):
    """Notes the peer's address before the body is read (for an empty body, ``start`` hands the
    connection back to the pool before it returns), and keeps no connection past the server's
    own ``Keep-Alive: timeout``."""

    peer: str | None = None

    async def start(self, connection: aiohttp.connector.Connection) -> aiohttp.ClientResponse:
        transport, protocol = connection.transport, connection.protocol
        name = transport.get_extra_info("peername") if transport is not None else None
        self.peer = str(name[0]) if name else None
        await super().start(connection)
        match = _KEEP_ALIVE_TIMEOUT.search(self.headers.get("Keep-Alive", ""))
        if match and int(match.group(1)) - 1 < KEEPALIVE and protocol is not None:
            # No await since super().start(): nobody can have taken it from the pool yet.
            if self._connection is not None:
                protocol.force_close()  # closed instead of pooled when the body ends
            else:
                protocol.close()  # already back in the pool (empty body)
        return self


def _headers(raw: Any) -> dict[str, str]:
    found: dict[str, str] = {}
    for name, value in raw.items():
        key = name.lower()
        found[key] = f"{found[key]}, {value}" if key in found else value
    return found


def translate(exc: BaseException, url: str) -> FetchError:
    """One of our errors for an aiohttp (or socket) failure."""
    if isinstance(exc, PrivateAddressRefused):
        return PermanentFetchError(f"{url}: {exc}", reason="private_address")
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return TransientFetchError(f"{url}: cannot resolve: {exc.os_error}", reason="dns_error")
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        why = exc.certificate_error
        return PermanentFetchError(f"{url}: TLS certificate refused: {why}", reason="tls_error")
    if isinstance(exc, aiohttp.ClientSSLError):
        return PermanentFetchError(f"{url}: TLS failed: {exc}", reason="tls_error")
    if isinstance(exc, aiohttp.ClientProxyConnectionError | aiohttp.ClientHttpProxyError):
        return TransientFetchError(f"{url}: proxy failed: {exc}", reason="proxy_error")
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return TransientFetchError(f"{url}: timed out connecting", reason="timeout")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return TransientFetchError(f"{url}: cannot connect: {exc.os_error}", reason="connect_error")
    if isinstance(exc, aiohttp.ServerTimeoutError | asyncio.TimeoutError):
        return TransientFetchError(f"{url}: timed out waiting for the server", reason="timeout")
    if isinstance(exc, aiohttp.InvalidURL):
        return PermanentFetchError(f"{url}: not a usable URL ({exc})", reason="bad_url")
    if isinstance(exc, aiohttp.ClientResponseError):
        return TransientFetchError(
            f"{url}: not a valid HTTP answer: {exc.message}", reason="bad_response"
        )
    return TransientFetchError(
        f"{url}: {type(exc).__name__}: {exc or 'connection failed'}", reason="network"
    )


async def _connection_ready(
    session: aiohttp.ClientSession, context: SimpleNamespace, params: object
) -> None:
    request_ctx = context.trace_request_ctx
    if isinstance(request_ctx, dict):
        before_send = request_ctx.get("before_send")
        if before_send is not None:
            await before_send()


def _trace() -> aiohttp.TraceConfig:
    trace = aiohttp.TraceConfig()
    trace.on_connection_create_end.append(_connection_ready)
    trace.on_connection_reuseconn.append(_connection_ready)
    return trace


class AiohttpTransport:
    """HTTP over one aiohttp session; create it inside the event loop that uses it."""

    def __init__(self, http: HttpSettings, resolver: GuardedResolver) -> None:
        connector = aiohttp.TCPConnector(
            limit=0,
            resolver=resolver,
            ssl=tls.context(http.ca_bundle),
            keepalive_timeout=KEEPALIVE,
            ttl_dns_cache=10,
            happy_eyeballs_delay=0.25,
        )
        self._timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=http.timeout, sock_read=http.timeout
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            auto_decompress=False,
            trust_env=False,
            response_class=_Response,
            cookie_jar=aiohttp.DummyCookieJar(),
            skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding"),
            max_line_size=16384,
            max_field_size=65536,
            timeout=self._timeout,
            trace_configs=[_trace()],
        )

    @asynccontextmanager
    async def open(
        self,
        url: str,
        headers: Mapping[str, str],
        *,
        proxy: str | None,
        before_send: BeforeSend | None = None,
    ) -> AsyncIterator[Exchange]:
        try:
            response = await self._session.get(
                url,
                headers=dict(headers),
                allow_redirects=False,
                proxy=proxy,
                trace_request_ctx={"before_send": before_send} if before_send else None,
            )
        except (TimeoutError, aiohttp.ClientError, OSError, PrivateAddressRefused) as exc:
            raise translate(exc, url) from exc
        except ValueError as exc:  # yarl on a URL it cannot encode
            raise PermanentFetchError(f"{url}: not a usable URL ({exc})", reason="bad_url") from exc
        try:
            peer = response.peer if isinstance(response, _Response) else None
            yield Exchange(
                response.status,
                _headers(response.headers),
                peer,
                _body(response, url),
                reason=response.reason or "",
                version=f"HTTP/{response.version.major}.{response.version.minor}"
                if response.version
                else "HTTP/1.1",
                raw_headers=tuple(
                    (k.decode("latin-1"), v.decode("latin-1")) for k, v in response.raw_headers
                ),
                sent_headers=tuple(response.request_info.headers.items()),
            )
        finally:
            response.release()

    async def close(self) -> None:
        await self._session.close()


async def _body(response: aiohttp.ClientResponse, url: str) -> AsyncIterator[bytes]:
    try:
        async for chunk in response.content.iter_chunked(READ_SIZE):
            yield chunk
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        response.close()
        raise translate(exc, url) from exc


async def drain(exchange: Exchange) -> None:
    """Read a small body to its end, so its connection can serve the next request."""
    read = 0
    async for chunk in exchange.body:
        read += len(chunk)
        if read > DRAIN_BYTES:
            break
