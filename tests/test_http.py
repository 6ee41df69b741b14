"""The fetcher on hand-made responses (a scripted transport): retries, Retry-After, caps,
redirects, politeness and the private-address guard's literal check. The real transport, with
its guard in the resolver, proxies and TLS, is tested against loopback servers in
test_transport.py."""

from __future__ import annotations

import asyncio
import gzip
import itertools
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email.utils import formatdate

import pytest
from yarl import URL

from worker.config import HttpSettings, RetrySettings
from worker.errors import GoneError, PermanentFetchError, TransientFetchError
from worker.net.fetcher import Fetcher, Response
from worker.net.guard import is_public_address
from worker.net.transport import Exchange


@dataclass
class Request:
    url: URL
    headers: dict[str, str]
    proxy: str | None


@dataclass
class Reply:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    chunks: list[bytes] = field(default_factory=list)
    drip: float = 0.0  # seconds before each chunk


Handler = Callable[[Request], Reply]


class MockTransport:
    """Answers every request with ``handler(request)``; the body comes in its chunks."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler

    @asynccontextmanager
    async def open(
        self,
        url: str,
        headers: Mapping[str, str],
        *,
        proxy: str | None,
        before_send: Callable[[], Awaitable[None]] | None = None,
    ) -> AsyncIterator[Exchange]:
        if before_send is not None:
            await before_send()
        reply = self.handler(Request(URL(url), {k.lower(): v for k, v in headers.items()}, proxy))

        async def body() -> AsyncIterator[bytes]:
            for chunk in reply.chunks:
                if reply.drip:
                    await asyncio.sleep(reply.drip)
                yield chunk

        headers_out = {k.lower(): v for k, v in reply.headers.items()}
        yield Exchange(reply.status, headers_out, "93.184.216.34", body())

    async def close(self) -> None:
        return


def _resp(
    status: int, *, content: bytes | list[bytes] = b"", headers: dict[str, str] | None = None
) -> Reply:
    """A response whose body is a raw stream, as from a real server (not pre-read)."""
    chunks = content if isinstance(content, list) else [content]
    return Reply(status, dict(headers or {}), chunks)


def _fetch(
    handler: Handler,
    url: str = "https://news.example/a",
    *,
    http: dict[str, object] | None = None,
    retry: dict[str, object] | None = None,
    resolver: Callable[[str, int], object] | None = None,
) -> tuple[Response | Exception, list[float]]:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    async def resolve(host: str, port: int) -> list[str]:
        return ["93.184.216.34"]

    settings = HttpSettings(**{"respect_robots": False, "per_host_delay": 0.0, **(http or {})})  # type: ignore[arg-type]
    retries = RetrySettings(
        **{"backoff": 0.01, "max_backoff": 0.05, "retry_after_cap": 60.0, **(retry or {})}
    )  # type: ignore[arg-type]

    async def go() -> Response | Exception:
        async with Fetcher(
            settings,
            retries,
            transport=MockTransport(handler),
            resolver=resolver or resolve,
            sleep=sleep,
        ) as fetcher:
            try:
                return await fetcher.get(url)
            except Exception as exc:
                return exc

    return asyncio.run(go()), waits


def _sequence(*responses: Reply) -> tuple[Handler, list[Request]]:
    """A handler answering with copies of ``responses`` in turn, the last one forever."""
    seen: list[Request] = []
    queue = list(responses)

    def handler(request: Request) -> Reply:
        seen.append(request)
        model = queue.pop(0) if len(queue) > 1 else queue[0]
        return _resp(model.status, headers=dict(model.headers), content=list(model.chunks))

    return handler, seen


def test_transient_failures_are_retried_then_succeed() -> None:
    handler, seen = _sequence(_resp(503), _resp(502), _resp(200, content=b"ok"))
    result, waits = _fetch(handler)
    assert isinstance(result, Response) and result.body == b"ok"
    assert len(seen) == 3 and len(waits) == 2


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408, 429])
def test_transient_statuses_exhaust_attempts(status: int) -> None:
    handler, seen = _sequence(_resp(status))
    result, _ = _fetch(handler)
    assert isinstance(result, TransientFetchError) and result.status == status
    assert len(seen) == 3


@pytest.mark.parametrize(
    ("status", "kind"),
    [(404, GoneError), (410, GoneError), (403, PermanentFetchError), (400, PermanentFetchError)],
)
def test_permanent_statuses_are_not_retried(status: int, kind: type[Exception]) -> None:
    handler, seen = _sequence(_resp(status))
    result, waits = _fetch(handler)
    assert isinstance(result, kind)
    assert len(seen) == 1 and waits == []


@pytest.mark.parametrize("http_date", [False, True])
def test_retry_after_is_honoured_in_both_forms(http_date: bool) -> None:
    value = formatdate(time.time() + 30, usegmt=True) if http_date else "30"
    handler, seen = _sequence(_resp(429, headers={"Retry-After": value}), _resp(200))
    result, waits = _fetch(handler, retry={"retry_after_cap": 120.0})
    assert isinstance(result, Response)
    assert 25 <= waits[0] <= 30


def test_retry_after_beyond_the_cap_is_not_waited_for() -> None:
    handler, seen = _sequence(_resp(503, headers={"Retry-After": "3600"}))
    result, waits = _fetch(handler, retry={"retry_after_cap": 60.0})
    assert isinstance(result, TransientFetchError)
    assert result.retry_after == 3600
    assert len(seen) == 1 and waits == []


def test_body_cap_with_and_without_content_length() -> None:
    cap = 2048
    result, _ = _fetch(lambda r: _resp(200, content=b"x" * (cap + 1)), http={"max_body_bytes": cap})
    assert isinstance(result, PermanentFetchError) and result.reason == "too_large"

    def streamed(request: Request) -> Reply:
        return _resp(200, content=[b"x" * 1000] * 5)

    result, _ = _fetch(streamed, http={"max_body_bytes": cap})
    assert isinstance(result, PermanentFetchError) and result.reason == "too_large"


def test_gzip_bomb_is_stopped_at_the_cap() -> None:
    bomb = gzip.compress(b"\0" * 50_000_000)
    assert len(bomb) < 100_000

    def handler(request: Request) -> Reply:
        return _resp(200, content=bomb, headers={"Content-Encoding": "gzip"})

    result, _ = _fetch(handler, http={"max_body_bytes": 1_000_000})
    assert isinstance(result, PermanentFetchError) and result.reason == "too_large"


def test_gzip_and_deflate_bodies_are_decoded() -> None:
    text = b"<rss>hello</rss>" * 100
    for encoding, data in (("gzip", gzip.compress(text)), ("deflate", zlib.compress(text))):
        result, _ = _fetch(
            lambda r, d=data, e=encoding: _resp(200, content=d, headers={"Content-Encoding": e})
        )
        assert isinstance(result, Response) and result.body == text


def test_corrupt_gzip_is_a_transient_error() -> None:
    result, _ = _fetch(
        lambda r: _resp(200, content=b"not gzip", headers={"Content-Encoding": "gzip"})
    )
    assert isinstance(result, TransientFetchError) and result.reason == "bad_body"


def test_redirects_are_followed_up_to_five() -> None:
    def chain(hops: int) -> Handler:
        def handler(request: Request) -> Reply:
            n = int(request.url.path.strip("/") or 0)
            if n < hops:
                return _resp(301, headers={"Location": f"/{n + 1}"})
            return _resp(200, content=b"end")

        return handler

    result, _ = _fetch(chain(5), "https://news.example/0")
    assert isinstance(result, Response) and result.url == "https://news.example/5"
    result, _ = _fetch(chain(6), "https://news.example/0")
    assert isinstance(result, PermanentFetchError) and result.reason == "too_many_redirects"


def test_redirect_loop_is_detected() -> None:
    def handler(request: Request) -> Reply:
        target = "/b" if request.url.path == "/a" else "/a"
        return _resp(302, headers={"Location": target})

    result, _ = _fetch(handler, "https://news.example/a")
    assert isinstance(result, PermanentFetchError) and result.reason == "redirect_loop"


def test_redirect_to_a_private_address_is_refused() -> None:
    def handler(request: Request) -> Reply:
        return _resp(301, headers={"Location": "http://169.254.169.254/latest/meta-data/"})

    result, _ = _fetch(handler, "https://news.example/a")
    assert isinstance(result, PermanentFetchError) and result.reason == "private_address"


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:2800:220:1:248:1893:25c8:1946", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("224.0.0.1", False),
        ("0.0.0.0", False),
        ("240.0.0.1", False),
        ("::1", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("::ffff:127.0.0.1", False),
        ("ff02::1", False),
        ("100.64.0.1", False),
    ],
)
def test_public_address_table(address: str, public: bool) -> None:
    assert is_public_address(address) is public


def test_per_host_gap_between_request_starts() -> None:
    starts: list[float] = []

    def handler(request: Request) -> Reply:
        starts.append(time.monotonic())
        return _resp(200)

    async def go() -> None:
        async def resolve(host: str, port: int) -> list[str]:
            return ["93.184.216.34"]

        settings = HttpSettings(respect_robots=False, per_host_delay=0.2, per_host_concurrency=4)
        async with Fetcher(
            settings, RetrySettings(), transport=MockTransport(handler), resolver=resolve
        ) as fetcher:
            await asyncio.gather(*(fetcher.get(f"https://news.example/{i}") for i in range(4)))

    asyncio.run(go())
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert len(starts) == 4 and all(gap >= 0.19 for gap in gaps)


def test_identifying_user_agent_is_sent() -> None:
    handler, seen = _sequence(_resp(200))
    _fetch(handler, http={"user_agent": "news-worker-test (ops@example.org)"})
    assert seen[0].headers["user-agent"] == "news-worker-test (ops@example.org)"


def test_a_request_past_its_deadline_is_not_retried_in_the_same_run() -> None:
    # A page that drips would cost the deadline again on every try: one try, then requeued.
    seen: list[Request] = []

    def handler(request: Request) -> Reply:
        seen.append(request)
        return Reply(200, {}, [b"x"] * 20, drip=0.05)

    result, waits = _fetch(handler, http={"request_deadline": 0.2}, retry={"attempts": 3})
    assert isinstance(result, TransientFetchError) and result.reason == "deadline"
    assert len(seen) == 1 and waits == []
