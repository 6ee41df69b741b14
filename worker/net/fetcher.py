"""The network's one door: every request news-worker sends goes through :class:`Fetcher`.

One shared ``httpx.AsyncClient``; per-host concurrency and a minimum gap between request starts
(:mod:`.politeness`); robots.txt (:mod:`.robots`); a guard against loopback/private/reserved
targets on every redirect hop (:mod:`.guard`); redirects followed by hand (at most five, loops detected); a total deadline per request; the body cap
enforced while streaming and after decompression (:mod:`.decoding`: we decompress ourselves,
with a bound, so a gzip bomb never expands in memory); tenacity retries on transient failures only, honouring
Retry-After up to a cap. httpx exceptions are translated here into :mod:`worker.errors`.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type

from worker.config import HttpSettings, RetrySettings
from worker.errors import GoneError, PermanentFetchError, TransientFetchError
from worker.net.decoding import BodyDecoder
from worker.net.guard import AddressGuard, Resolver
from worker.net.headers import now_utc, retry_delay
from worker.net.politeness import HostGate
from worker.net.robots import Robots, RobotsStore
from worker.net.transport import pooled_transport
from worker.parse.urls import MAX_URL_LENGTH

log = logging.getLogger(__name__)

MAX_REDIRECTS = 5
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


class Fetcher:
    """The shared HTTP client with politeness, safety limits and retries. Use ``async with``."""

    def __init__(
        self,
        http: HttpSettings,
        retry: RetrySettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        resolver: Resolver | None = None,
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
        self._gates: dict[str, HostGate] = {}
        self._guard = AddressGuard(allow_private=http.allow_private_addresses, resolver=resolver)
        self._robots = Robots(
            self._robots_body, failure_pause=http.robots_failure_pause, store=robots_store
        )
        self._on_request = on_request
        self._sleep = sleep

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._client.aclose()

    async def get(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        robots: bool = True,
        max_bytes: int | None = None,
    ) -> Response:
        """GET with retries on transient failures. Raises :class:`FetchError` subclasses.

        ``max_bytes`` replaces ``http.max_body_bytes`` as the body cap (sitemaps have their own)."""
        cap_bytes = max_bytes or self.http.max_body_bytes
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
                return await self._get_once(url, dict(headers or {}), robots, cap_bytes)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _get_once(
        self, url: str, headers: dict[str, str], robots: bool, cap: int | None = None
    ) -> Response:
        seen = {url}
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            if robots and self.http.respect_robots:
                await self._robots.check(current)
            response = await self._request(current, headers, cap or self.http.max_body_bytes)
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
            if len(target) > MAX_URL_LENGTH:
                raise PermanentFetchError(
                    f"{current}: redirect to a URL of {len(target)} characters",
                    reason="bad_redirect",
                )
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

    async def _robots_body(self, url: str) -> bytes:
        return (await self._get_once(url, {}, robots=False)).body

    def _gate(self, host: str) -> HostGate:
        gate = self._gates.get(host)
        if gate is None:
            gate = self._gates[host] = HostGate(
                self.http.per_host_concurrency, self.http.per_host_delay
            )
        return gate

    async def _request(self, url: str, headers: dict[str, str], cap: int) -> Response:
        await self._guard.check(url)
        host = urlsplit(url).netloc.lower()
        status: int | None = None
        started = time.monotonic()
        try:
            async with self._global, self._gate(host).slot():
                started = time.monotonic()
                async with asyncio.timeout(self.http.request_deadline):
                    response = await self._stream(url, headers, cap)
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

    async def _stream(self, url: str, headers: dict[str, str], cap: int) -> Response:
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
                decoder = BodyDecoder(resp_headers.get("content-encoding", ""))
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
