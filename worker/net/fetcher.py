"""The network's one door: every request news-worker sends goes through :class:`Fetcher`.

Requests wait in the frontier's per-host queues (:mod:`.frontier`: a host's concurrency and the
gap between its starts, shared across processes through the state; the global limit counts
requests on the wire); robots.txt is obeyed (:mod:`.robots`); the address guard sits in the
connector's resolver, on every redirect hop (:mod:`.guard`); proxies are chosen per request
(:mod:`.proxies`); redirects are followed by hand (at most five, loops detected); a total
deadline bounds each request; the body cap holds while streaming and after decompression
(:mod:`.decoding`: we decompress ourselves, with a bound, so a gzip bomb never expands in
memory); tenacity retries transient failures only, honouring Retry-After up to a cap, and a
request that ran past its deadline is not retried in the same run (it would cost the deadline
again). The transport (:mod:`.transport`) translates the HTTP library's errors into
:mod:`worker.errors`.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from urllib.parse import urljoin, urlsplit

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception

from worker.config import HttpSettings, RetrySettings
from worker.errors import FetchError, PermanentFetchError, TransientFetchError
from worker.net.exchange import REDIRECT_STATUSES, Capture, Response, classify, read_body
from worker.net.frontier import Frontier
from worker.net.guard import AddressPolicy, GuardedResolver, Resolver
from worker.net.hooks import KINDS, HostBook, OnRequest
from worker.net.proxies import Proxies
from worker.net.robots import Robots, RobotsStore
from worker.net.transport import AiohttpTransport, BeforeSend, Transport, drain
from worker.parse.urls import MAX_URL_LENGTH

log = logging.getLogger(__name__)

MAX_REDIRECTS = 5


class Fetcher:
    """The shared HTTP client with politeness, safety limits and retries. Use ``async with``."""

    def __init__(
        self,
        http: HttpSettings,
        retry: RetrySettings,
        *,
        transport: Transport | None = None,
        resolver: Resolver | None = None,
        on_request: OnRequest | None = None,
        robots_store: RobotsStore | None = None,
        host_book: HostBook | None = None,
        capture: bool = False,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.http = http
        self.capture = capture
        self.retry = retry
        self._headers = {
            "User-Agent": http.user_agent,
            "Accept-Encoding": "gzip, deflate",
            "Accept": "*/*",
        }
        self._proxies = Proxies(http)
        self._resolver = GuardedResolver(
            AddressPolicy(
                allow_private=http.allow_private_addresses,
                allow_networks=http.allow_networks,
                exempt=self._proxies.hosts,
            ),
            resolver,
        )
        self._transport = transport
        self._frontier = Frontier(
            max_active=http.max_connections,
            per_host=http.per_host_concurrency,
            gap=http.per_host_delay,
        )
        self._host_book = host_book if http.per_host_delay > 0 else None
        self._robots = Robots(
            self._robots_body, failure_pause=http.robots_failure_pause, store=robots_store
        )
        self._on_request = on_request
        self._sleep = sleep

    async def __aenter__(self) -> Fetcher:
        if self._transport is None:
            self._transport = AiohttpTransport(self.http, self._resolver)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._transport is not None:
            await self._transport.close()
        await self._resolver.close()

    def pause(self) -> None:
        """Start no further request until :meth:`resume` (those on the wire go on): the caller
        has as many fetched pages in hand as it keeps."""
        self._frontier.pause()

    def resume(self) -> None:
        self._frontier.resume()

    async def get(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        robots: bool = True,
        proxy: str | None = None,
        max_bytes: int | None = None,
        kind: str = "page",
    ) -> Response:
        """GET with retries on transient failures. Raises :class:`FetchError` subclasses.
        ``proxy``: the source's own proxy, if it has one; ``max_bytes`` replaces
        ``http.max_body_bytes`` as the body cap (sitemaps have their own); ``kind``: what it is,
        for ``on_request``."""
        body_cap = max_bytes or self.http.max_body_bytes
        sent = dict(headers or {})
        # The first attempt outside tenacity: its machinery costs more than the rest of a
        # request's bookkeeping, and most requests need no second attempt.
        try:
            return await self._get_once(url, sent, robots, proxy, kind, body_cap)
        except Exception as exc:
            if not _worth_retrying(exc) or self._last_attempt(1, exc):
                raise
            await self._sleep(self._delay(1, exc))
        # Tenacity counts from the second attempt.
        async for attempt in AsyncRetrying(
            retry=retry_if_exception(_worth_retrying),
            stop=lambda state: self._last_attempt(state.attempt_number + 1, _failure(state)),
            wait=lambda state: self._delay(state.attempt_number + 1, _failure(state)),
            sleep=self._sleep,
            reraise=True,
        ):
            with attempt:
                return await self._get_once(url, sent, robots, proxy, kind, body_cap)
        raise AssertionError("unreachable")  # pragma: no cover

    def _last_attempt(self, number: int, exc: BaseException | None) -> bool:
        """Whether attempt ``number``, which failed with ``exc``, is the last one: the attempts
        are used up, or the server asks for a longer wait than ``retry_after_cap``."""
        if number >= self.retry.attempts:
            return True
        cap = self.retry.retry_after_cap
        return isinstance(exc, TransientFetchError) and (exc.retry_after or 0) > cap

    def _delay(self, number: int, exc: BaseException | None) -> float:
        """The wait after failed attempt ``number``: exponential from ``backoff`` up to
        ``max_backoff``, plus up to one ``backoff`` of jitter; or the server's Retry-After."""
        if isinstance(exc, TransientFetchError) and exc.retry_after is not None:
            return float(max(min(exc.retry_after, self.retry.retry_after_cap), 0.0))
        exponent = min(number - 1, 30)
        delay = min(self.retry.max_backoff, self.retry.backoff * 2**exponent)
        return float(delay + random.uniform(0, self.retry.backoff))

    async def _get_once(
        self,
        url: str,
        headers: dict[str, str],
        robots: bool,
        proxy: str | None,
        kind: str,
        body_cap: int | None = None,
    ) -> Response:
        seen = {url}
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            if robots and self.http.respect_robots:
                await self._robots.check(current, proxy)
            response = await self._request(current, headers, proxy, kind, body_cap)
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

    async def _robots_body(self, url: str, proxy: str | None) -> bytes:
        return (await self._get_once(url, {}, False, proxy, "robots")).body

    async def _request(
        self,
        url: str,
        headers: dict[str, str],
        proxy: str | None,
        kind: str,
        body_cap: int | None = None,
    ) -> Response:
        chosen = self._proxies.for_url(url, proxy)
        await self._resolver.check_url(url, resolve=chosen is not None)
        host = urlsplit(url).netloc.lower()
        status: int | None = None
        reason: str | None = None
        started = time.monotonic()
        try:
            async with self._frontier.slot(host) as turn:
                started = time.monotonic()
                async with asyncio.timeout(self.http.request_deadline) as deadline:

                    async def before_send() -> None:
                        # The connection is ours and the request is written next: the host's
                        # gap counts from now, here and in every process booking this state.
                        if self._host_book is not None:
                            wait = await self._host_book.reserve_host(host, self._frontier.gap)
                            if wait > 0:  # another process started on this host lately
                                turn.on_wire(wait)
                                await asyncio.sleep(wait)
                                loop = asyncio.get_running_loop()
                                deadline.reschedule(loop.time() + self.http.request_deadline)
                        turn.on_wire()

                    response = await self._exchange(url, headers, chosen, body_cap, before_send)
                    status = response.status
        except TimeoutError as exc:
            reason = "deadline"
            raise TransientFetchError(
                f"{url}: no complete answer within {self.http.request_deadline:g}s",
                reason="deadline",
            ) from exc
        except FetchError as exc:
            reason, status = exc.reason, exc.status
            raise
        finally:
            if self._on_request is not None and (status is not None or reason is not None):
                self._on_request(host, status, time.monotonic() - started, kind, reason)
        return classify(response)

    async def _exchange(
        self,
        url: str,
        headers: dict[str, str],
        proxy: str | None,
        body_cap: int | None,
        before_send: BeforeSend,
    ) -> Response:
        assert self._transport is not None, "use the fetcher with async with"
        started, started_at = time.monotonic(), time.time()
        sent = {**self._headers, **headers}
        async with self._transport.open(url, sent, proxy=proxy, before_send=before_send) as raw:
            if raw.status in REDIRECT_STATUSES or raw.status == 304:
                await drain(raw)  # so the connection serves the next request
                return Response(url, raw.status, raw.headers, b"", 0.0, raw.peer)
            received: list[bytes] | None = [] if self.capture else None
            body = await read_body(url, raw, received, body_cap or self.http.max_body_bytes)
            capture = None
            if received is not None:
                capture = Capture(
                    "GET",
                    url,
                    raw.sent_headers,
                    raw.version,
                    raw.status,
                    raw.reason,
                    raw.raw_headers,
                    b"".join(received),
                    raw.peer,
                    started_at,
                )
            elapsed = time.monotonic() - started
            return Response(url, raw.status, raw.headers, body, elapsed, raw.peer, capture)


def _failure(state: RetryCallState) -> BaseException | None:
    return state.outcome.exception() if state.outcome else None


def _worth_retrying(exc: BaseException) -> bool:
    """Transient failures, except a request that ran past its deadline: trying it again now
    would cost the deadline once more; it is requeued with backoff instead."""
    return isinstance(exc, TransientFetchError) and exc.reason != "deadline"


__all__ = ["KINDS", "Capture", "FetchError", "Fetcher", "HostBook", "OnRequest", "Response"]
