"""The network's one door: every request news-worker sends goes through :class:`Fetcher`.

One shared ``httpx.AsyncClient``; per-host concurrency and a minimum gap between request starts;
robots.txt; a guard against loopback/private/reserved targets (on every redirect hop); redirects
followed by hand (at most five, loops detected); a total deadline per request; the body cap
enforced while streaming and after decompression (we decompress ourselves, with a bound, so a
gzip bomb never expands in memory); tenacity retries on transient failures only, honouring
Retry-After up to a cap. httpx exceptions are translated here into :mod:`worker.errors`.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import random
import socket
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urljoin, urlsplit

import httpx
from protego import Protego
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type

from worker.config import HttpSettings, RetrySettings
from worker.errors import FetchError, GoneError, PermanentFetchError, TransientFetchError
from worker.net.headers import now_utc, retry_delay
from worker.net.transport import pooled_transport

log = logging.getLogger(__name__)

MAX_REDIRECTS = 5
ROBOTS_TTL = 24 * 3600.0
ROBOTS_MAX_BYTES = 512_000
REDIRECT_STATUSES = {301, 302, 303, 307, 308}
TRANSIENT_STATUSES = {408, 425, 429, 500, 502, 503, 504, 507, 509, 520, 521, 522, 523, 524}


@dataclass(frozen=True)
class Response:
    """What a fetch produced: final URL, status, lower-cased headers and the decoded body."""

    url: str
    status: int
    headers: Mapping[str, str]
    body: bytes
    elapsed: float

    @property
    def not_modified(self) -> bool:
        return self.status == 304


def is_public_address(address: str) -> bool:
    """False for loopback, private, link-local, multicast, reserved and unspecified addresses."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        elif ip.sixtofour is not None:
            ip = ip.sixtofour
    blocked = (
        not ip.is_global  # also catches shared (100.64/10) and documentation ranges
        or ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )
    if isinstance(ip, ipaddress.IPv6Address):
        blocked = blocked or ip.is_site_local
    return not blocked


class RobotsStore(Protocol):
    """Keeps robots.txt across runs, so a one-off run does not refetch it every time."""

    def robots_get(self, origin: str) -> tuple[str | None, float] | None: ...

    def robots_put(self, origin: str, text: str | None, fetched_at: float) -> None: ...


class _HostGate:
    """At most ``concurrency`` requests in flight to one host, starts at least ``delay`` apart."""

    def __init__(self, concurrency: int, delay: float) -> None:
        self._slots = asyncio.Semaphore(concurrency)
        self._order = asyncio.Lock()
        self._delay = delay
        self._next_start = 0.0

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        async with self._slots:
            if self._delay > 0:
                async with self._order:
                    loop = asyncio.get_running_loop()
                    wait = self._next_start - loop.time()
                    if wait > 0:
                        await asyncio.sleep(wait)
                    self._next_start = loop.time() + self._delay
            yield


class _Decoder:
    """Bounded Content-Encoding decoder: never inflates more than the remaining budget."""

    def __init__(self, encoding: str) -> None:
        encoding = encoding.strip().lower()
        if encoding in ("", "identity"):
            self._inflater = None
        elif encoding in ("gzip", "x-gzip"):
            self._inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._inflater = zlib.decompressobj()
        else:
            raise PermanentFetchError(
                f"unsupported Content-Encoding {encoding!r}", reason="bad_encoding"
            )

    def feed(self, chunk: bytes, budget: int) -> bytes:
        if self._inflater is None:
            return chunk
        try:
            out = self._inflater.decompress(chunk, budget + 1)
            if self._inflater.unconsumed_tail:
                # More output is waiting than the budget allows: the body is over the cap.
                return out + b"\0" * (budget + 1 - len(out))
        except zlib.error as exc:
            raise TransientFetchError(f"corrupt compressed body: {exc}", reason="bad_body") from exc
        return out


class Fetcher:
    """The shared HTTP client with politeness, safety limits and retries. Use ``async with``."""

    def __init__(
        self,
        http: HttpSettings,
        retry: RetrySettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        resolver: Callable[[str, int], Any] | None = None,
        on_request: Callable[[str, int | None, float], None] | None = None,
        robots_store: RobotsStore | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.http = http
        self.retry = retry
        self._client = httpx.AsyncClient(
            transport=transport or pooled_transport(http),
            follow_redirects=False,
            timeout=httpx.Timeout(http.timeout),
            headers={
                "User-Agent": http.user_agent,
                "Accept-Encoding": "gzip, deflate",
                "Accept": "*/*",
            },
            trust_env=False,
        )
        self._global = asyncio.Semaphore(http.max_connections)
        self._gates: dict[str, _HostGate] = {}
        self._robots: dict[str, tuple[float, Protego | None, str | None]] = {}
        self._robots_locks: dict[str, asyncio.Lock] = {}
        self._resolved: dict[str, tuple[float, bool]] = {}
        self._resolver = resolver
        self._on_request = on_request
        self._robots_store = robots_store
        self._sleep = sleep

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._client.aclose()

    async def get(
        self, url: str, *, headers: Mapping[str, str] | None = None, robots: bool = True
    ) -> Response:
        """GET with retries on transient failures. Raises :class:`FetchError` subclasses."""
        cap = self.retry.retry_after_cap

        def too_long(state: RetryCallState) -> bool:
            exc = state.outcome.exception() if state.outcome else None
            if state.attempt_number >= self.retry.attempts:
                return True
            return isinstance(exc, TransientFetchError) and (exc.retry_after or 0) > cap

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            # Exponential from ``backoff`` up to ``max_backoff``, plus up to one ``backoff`` of jitter.
            exponent = min(state.attempt_number - 1, 30)
            delay = min(self.retry.max_backoff, self.retry.backoff * 2**exponent)
            delay += random.uniform(0, self.retry.backoff)
            if isinstance(exc, TransientFetchError) and exc.retry_after is not None:
                delay = max(min(exc.retry_after, cap), 0.0)
            return float(delay)

        async for attempt in AsyncRetrying(
            retry=retry_if_exception_type(TransientFetchError),
            stop=too_long,
            wait=wait,
            sleep=self._sleep,
            reraise=True,
        ):
            with attempt:
                return await self._get_once(url, dict(headers or {}), robots)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _get_once(self, url: str, headers: dict[str, str], robots: bool) -> Response:
        seen = {url}
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            if robots and self.http.respect_robots:
                await self._check_robots(current)
            response = await self._request(current, headers)
            if response.status not in REDIRECT_STATUSES:
                return response
            location = response.headers.get("location")
            if not location:
                raise PermanentFetchError(
                    f"{current}: redirect {response.status} without Location",
                    reason="bad_redirect",
                    status=response.status,
                )
            target = urljoin(current, location.strip())
            if urlsplit(target).scheme not in ("http", "https"):
                raise PermanentFetchError(
                    f"{current}: redirect to a non-http URL", reason="bad_redirect"
                )
            if target in seen:
                raise PermanentFetchError(
                    f"{url}: redirect loop at {target}", reason="redirect_loop"
                )
            seen.add(target)
            current = target
            headers = {k: v for k, v in headers.items() if not k.lower().startswith("if-")}
        raise PermanentFetchError(
            f"{url}: more than {MAX_REDIRECTS} redirects", reason="too_many_redirects"
        )

    def _gate(self, host: str) -> _HostGate:
        gate = self._gates.get(host)
        if gate is None:
            gate = self._gates[host] = _HostGate(
                self.http.per_host_concurrency, self.http.per_host_delay
            )
        return gate

    async def _check_target(self, url: str) -> None:
        if self.http.allow_private_addresses:
            return
        parts = urlsplit(url)
        host = parts.hostname or ""
        cached = self._resolved.get(host)
        now = time.monotonic()
        if cached and cached[0] > now:
            allowed = cached[1]
        else:
            port = parts.port or (443 if parts.scheme == "https" else 80)
            try:
                addresses = await self._resolve(host, port)
            except OSError as exc:
                raise TransientFetchError(
                    f"{host}: cannot resolve: {exc}", reason="dns_error"
                ) from exc
            allowed = bool(addresses) and all(is_public_address(a) for a in addresses)
            self._resolved[host] = (now + 60.0, allowed)
        if not allowed:
            raise PermanentFetchError(
                f"{url}: refused: {host} is a loopback, private or reserved address "
                "(set http.allow_private_addresses to allow)",
                reason="private_address",
            )

    async def _resolve(self, host: str, port: int) -> list[str]:
        try:
            return [str(ipaddress.ip_address(host.strip("[]")))]
        except ValueError:
            pass
        if self._resolver is not None:
            return list(await self._resolver(host, port))
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        return [str(info[4][0]) for info in infos]

    async def _request(self, url: str, headers: dict[str, str]) -> Response:
        await self._check_target(url)
        host = urlsplit(url).netloc.lower()
        status: int | None = None
        started = time.monotonic()
        try:
            async with self._global, self._gate(host).slot():
                started = time.monotonic()
                async with asyncio.timeout(self.http.request_deadline):
                    response = await self._stream(url, headers)
                    status = response.status
        except TimeoutError as exc:
            raise TransientFetchError(
                f"{url}: no complete answer within {self.http.request_deadline:g}s",
                reason="deadline",
            ) from exc
        finally:
            if self._on_request is not None:
                self._on_request(host, status, time.monotonic() - started)
        return self._classify(response)

    async def _stream(self, url: str, headers: dict[str, str]) -> Response:
        cap = self.http.max_body_bytes
        started = time.monotonic()
        try:
            async with self._client.stream("GET", url, headers=headers) as raw:
                resp_headers = {k.lower(): v for k, v in raw.headers.items()}
                if raw.status_code in REDIRECT_STATUSES or raw.status_code == 304:
                    return Response(url, raw.status_code, resp_headers, b"", 0.0)
                length = resp_headers.get("content-length", "")
                if length.isdigit() and int(length) > cap and 200 <= raw.status_code < 300:
                    raise PermanentFetchError(
                        f"{url}: body of {length} bytes is over the cap of {cap}",
                        reason="too_large",
                        status=raw.status_code,
                    )
                decoder = _Decoder(resp_headers.get("content-encoding", ""))
                chunks: list[bytes] = []
                size = 0
                async for chunk in raw.aiter_raw():
                    out = decoder.feed(chunk, cap - size)
                    size += len(out)
                    if size > cap:
                        raise PermanentFetchError(
                            f"{url}: body over the cap of {cap} bytes",
                            reason="too_large",
                            status=raw.status_code,
                        )
                    chunks.append(out)
                return Response(
                    str(raw.url),
                    raw.status_code,
                    resp_headers,
                    b"".join(chunks),
                    time.monotonic() - started,
                )
        except httpx.TimeoutException as exc:
            raise TransientFetchError(
                f"{url}: timed out ({type(exc).__name__})", reason="timeout"
            ) from exc
        except (
            httpx.ConnectError,
            httpx.ReadError,
            httpx.WriteError,
            httpx.RemoteProtocolError,
        ) as exc:
            raise TransientFetchError(
                f"{url}: {type(exc).__name__}: {exc or 'connection failed'}", reason="network"
            ) from exc
        except (httpx.InvalidURL, httpx.UnsupportedProtocol, httpx.LocalProtocolError) as exc:
            raise PermanentFetchError(f"{url}: {exc}", reason="bad_url") from exc
        except httpx.HTTPError as exc:
            raise TransientFetchError(
                f"{url}: {type(exc).__name__}: {exc}", reason="network"
            ) from exc

    @staticmethod
    def _classify(response: Response) -> Response:
        status = response.status
        if 200 <= status < 300 or status == 304 or status in REDIRECT_STATUSES:
            return response
        where = f"{response.url}: HTTP {status}"
        if status in (404, 410):
            raise GoneError(where, reason=f"http_{status}", status=status)
        if status in TRANSIENT_STATUSES or status >= 500:
            raise TransientFetchError(
                where,
                reason=f"http_{status}",
                status=status,
                retry_after=retry_delay(response.headers, now_utc()),
            )
        raise PermanentFetchError(where, reason=f"http_{status}", status=status)

    async def _check_robots(self, url: str) -> None:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc.lower()}"
        lock = self._robots_locks.setdefault(origin, asyncio.Lock())
        async with lock:
            entry = self._robots.get(origin)
            if entry is None or entry[0] < time.monotonic():
                entry = await self._load_robots(origin)
                self._robots[origin] = entry
        _, parser, failure = entry
        if failure is not None:
            raise TransientFetchError(
                f"{origin}/robots.txt failed ({failure}): not fetching from this host until it "
                "answers",
                reason="robots_unavailable",
                retry_after=self.http.robots_failure_pause,
            )
        if parser is not None and not parser.can_fetch(url, "news-worker"):
            raise PermanentFetchError(
                f"{url}: disallowed by robots.txt", reason="robots_disallowed"
            )

    async def _load_robots(self, origin: str) -> tuple[float, Protego | None, str | None]:
        """Expiry, parser (None: allow all) and why robots.txt was unavailable (None: it was)."""
        now = time.monotonic()
        stored = self._robots_store.robots_get(origin) if self._robots_store else None
        if stored is not None and 0 <= time.time() - stored[1] < ROBOTS_TTL:
            text: str | None = stored[0]
            expiry = now + ROBOTS_TTL - (time.time() - stored[1])
        else:
            try:
                response = await self._get_once(f"{origin}/robots.txt", {}, robots=False)
                text = response.body[:ROBOTS_MAX_BYTES].decode("utf-8", "replace")
            except PermanentFetchError as exc:
                # 4xx (and other permanent answers): no robots.txt means no restrictions.
                log.info("robots_absent", extra={"origin": origin, "reason": exc.reason})
                text = None
            except FetchError as exc:
                log.warning("robots_unavailable", extra={"origin": origin, "reason": exc.reason})
                return (now + self.http.robots_failure_pause, None, str(exc))
            if self._robots_store is not None:
                self._robots_store.robots_put(origin, text, time.time())
            expiry = now + ROBOTS_TTL
        if text is None:
            return (expiry, None, None)
        try:
            return (expiry, Protego.parse(text), None)
        except Exception:  # protego raises assorted errors on garbage; treat as absent
            return (expiry, None, None)
