"""The fetcher on its real transport (aiohttp's connector) against scripted servers on
127.0.0.1: keep-alive reuse, the ways a server ends a message or a connection, timeouts, TLS
against a given authority, IDNA hosts, the server's Keep-Alive timeout, and the address guard
where the connection is made (a name that rebinds, redirects into the private network)."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import trustme

from worker.config import HttpSettings, RetrySettings
from worker.errors import FetchError, PermanentFetchError, TransientFetchError
from worker.net.fetcher import Fetcher, Response

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[None]]
Resolve = Callable[[str, int], Awaitable[list[str]]]


class Server:
    def __init__(self) -> None:
        self.connections = 0
        self.port = 0
        self.heads: list[bytes] = []  # every request head, in order


@asynccontextmanager
async def serve(
    handler: Handler, tls: ssl.SSLContext | None = None, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[Server]:
    """A loopback server running ``handler(reader, writer, connection_number)`` per connection;
    stopped (and every connection closed) when the block ends."""
    server = Server()
    tasks: set[asyncio.Task[None]] = set()

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        server.connections += 1
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        try:
            await handler(_Recording(reader, server), writer, server.connections)  # type: ignore[arg-type]
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    listener = await asyncio.start_server(on_connect, host, port, ssl=tls)
    server.port = listener.sockets[0].getsockname()[1]
    try:
        async with asyncio.timeout(30):
            yield server
    finally:
        listener.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class _Recording:
    """The connection's reader, noting each request head the server reads."""

    def __init__(self, reader: asyncio.StreamReader, server: Server) -> None:
        self._reader = reader
        self._server = server

    async def readuntil(self, separator: bytes) -> bytes:
        data = await self._reader.readuntil(separator)
        self._server.heads.append(data)
        return data


async def read_request(reader: Any) -> bytes:
    data: bytes = await reader.readuntil(b"\r\n\r\n")
    return data


def answer(body: bytes, *extra: str, status: str = "200 OK") -> bytes:
    head = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", *extra]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


async def keep_answering(reader: Any, writer: asyncio.StreamWriter, number: int) -> None:
    count = 0
    while True:
        request = await read_request(reader)
        count += 1
        path = request.split(b" ")[1]
        writer.write(answer(b"conn %d req %d %s" % (number, count, path)))
        await writer.drain()


def settings(**http: Any) -> HttpSettings:
    base: dict[str, Any] = {
        "respect_robots": False,
        "per_host_delay": 0.0,
        "allow_private_addresses": True,
        "timeout": 5.0,
    }
    return HttpSettings(**{**base, **http})


@asynccontextmanager
async def fetcher(resolver: Resolve | None = None, **http: Any) -> AsyncIterator[Fetcher]:
    async with Fetcher(settings(**http), RetrySettings(attempts=1), resolver=resolver) as f:
        yield f


async def body(f: Fetcher, url: str) -> bytes:
    return (await f.get(url)).body


async def outcome(f: Fetcher, url: str) -> Response | FetchError:
    try:
        return await f.get(url)
    except FetchError as exc:
        return exc


def test_requests_reuse_one_kept_alive_connection() -> None:
    async def scenario() -> None:
        async with serve(keep_answering) as server, fetcher() as f:
            bodies = [await body(f, f"http://127.0.0.1:{server.port}/{n}") for n in range(5)]
        assert bodies == [b"conn 1 req %d /%d" % (n + 1, n) for n in range(5)]
        assert server.connections == 1

    asyncio.run(scenario())


def test_concurrent_requests_open_connections_that_later_requests_reuse() -> None:
    async def scenario() -> None:
        async with serve(keep_answering) as server, fetcher(per_host_concurrency=8) as f:
            url = f"http://127.0.0.1:{server.port}"
            bodies = await asyncio.gather(*(body(f, f"{url}/{n}") for n in range(8)))
            again = await body(f, f"{url}/again")
        assert sorted(b.split(b" ")[-1] for b in bodies) == sorted(b"/%d" % n for n in range(8))
        assert server.connections == 8
        assert again.endswith(b"req 2 /again")  # on a kept connection

    asyncio.run(scenario())


def test_chunked_and_close_delimited_bodies_are_read_whole() -> None:
    async def handler(reader: Any, writer: asyncio.StreamWriter, n: int) -> None:
        request = await read_request(reader)
        if b"/chunked" in request:
            writer.write(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
            )
            await writer.drain()
            await read_request(reader)  # the connection is kept: a second request arrives
            writer.write(answer(b"second"))
        else:
            writer.write(b"HTTP/1.1 200 OK\r\n\r\nuntil the end")
        await writer.drain()

    async def scenario() -> None:
        async with serve(handler) as server, fetcher() as f:
            url = f"http://127.0.0.1:{server.port}"
            assert await body(f, f"{url}/chunked") == b"hello world"
            assert await body(f, f"{url}/chunked-again") == b"second"
            assert await body(f, f"{url}/close") == b"until the end"
        assert server.connections == 2

    asyncio.run(scenario())


def test_connection_close_is_honoured() -> None:
    async def handler(reader: Any, writer: asyncio.StreamWriter, n: int) -> None:
        await read_request(reader)
        writer.write(answer(b"bye %d" % n, "Connection: close"))
        await writer.drain()
        await asyncio.sleep(10)  # the client must not wait for this side to close

    async def scenario() -> None:
        async with serve(handler) as server, fetcher() as f:
            url = f"http://127.0.0.1:{server.port}/"
            assert [await body(f, url) for _ in range(3)] == [b"bye 1", b"bye 2", b"bye 3"]

    asyncio.run(scenario())


def test_a_kept_alive_connection_the_server_closed_is_replaced_silently() -> None:
    async def handler(reader: Any, writer: asyncio.StreamWriter, n: int) -> None:
        await read_request(reader)
        writer.write(answer(b"first on %d" % n))
        await writer.drain()
        await read_request(reader)  # the second request on this connection: hang up unanswered

    async def scenario() -> None:
        async with serve(handler) as server, fetcher() as f:
            url = f"http://127.0.0.1:{server.port}/"
            assert await body(f, url) == b"first on 1"
            assert await body(f, url) == b"first on 2"  # sent again on a new connection
        assert server.connections == 2

    asyncio.run(scenario())


def test_a_new_connection_closed_without_an_answer_is_an_error() -> None:
    async def handler(reader: Any, writer: asyncio.StreamWriter, n: int) -> None:
        await read_request(reader)

    async def scenario() -> None:
        async with serve(handler) as server, fetcher() as f:
            result = await outcome(f, f"http://127.0.0.1:{server.port}/")
        assert isinstance(result, TransientFetchError) and result.reason == "network"
        # aiohttp sends an idempotent request once more when a connection closes without a
        # byte of answer; then it is an error (the fetcher's own retries are off here).
        assert server.connections == 2

    asyncio.run(scenario())


def test_a_body_cut_short_is_an_error_and_the_connection_is_not_reused() -> None:
    async def handler(reader: Any, writer: asyncio.StreamWriter, n: int) -> None:
        await read_request(reader)
        if n == 1:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b")
        else:
            writer.write(answer(b"whole"))
        await writer.drain()

    async def scenario() -> None:
        async with serve(handler) as server, fetcher() as f:
            url = f"http://127.0.0.1:{server.port}/"
            result = await outcome(f, url)
            assert isinstance(result, TransientFetchError) and result.reason == "network"
            assert await body(f, url) == b"whole"
        assert server.connections == 2

    asyncio.run(scenario())


def test_a_response_left_unread_closes_its_connection() -> None:
    big = b"x" * 2_000_000

    async def handler(reader: Any, writer: asyncio.StreamWriter, n: int) -> None:
        while True:
            request = await read_request(reader)
            writer.write(answer(big if b"/big" in request else b"small on %d" % n))
            await writer.drain()

    async def scenario() -> None:
        async with serve(handler) as server, fetcher() as f:
            url = f"http://127.0.0.1:{server.port}"
            transport = f._transport
            assert transport is not None
            async with transport.open(f"{url}/big", {}, proxy=None) as exchange:
                assert exchange.status == 200  # the body is never read
            assert await body(f, f"{url}/next") == b"small on 2"  # not the unread bytes

    asyncio.run(scenario())


def test_timeouts_refused_connections_and_bad_urls_are_named() -> None:
    async def silent(reader: Any, writer: asyncio.StreamWriter, n: int) -> None:
        await asyncio.sleep(30)

    async def scenario() -> None:
        async with serve(silent) as server, fetcher(timeout=0.3) as f:
            result = await outcome(f, f"http://127.0.0.1:{server.port}/")
            assert isinstance(result, TransientFetchError) and result.reason == "timeout"
        async with fetcher() as f:
            result = await outcome(f, f"http://127.0.0.1:{server.port}/")  # closed by now
            assert isinstance(result, TransientFetchError) and result.reason == "connect_error"
            result = await outcome(f, "http://no-such-host.invalid/")
            assert isinstance(result, TransientFetchError) and result.reason == "dns_error"

    asyncio.run(scenario())


def test_a_redirect_and_a_304_leave_their_connection_for_the_next_request() -> None:
    async def handler(reader: Any, writer: asyncio.StreamWriter, n: int) -> None:
        while True:
            request = await read_request(reader)
            if b"GET /old " in request:
                writer.write(
                    answer(b"<a href=/new>moved</a>", "Location: /new", status="301 Moved")
                )
            elif b"GET /feed " in request:
                writer.write(b'HTTP/1.1 304 Not Modified\r\nETag: "e"\r\n\r\n')
            else:
                writer.write(answer(b"new page"))
            await writer.drain()

    async def scenario() -> None:
        async with serve(handler) as server, fetcher() as f:
            url = f"http://127.0.0.1:{server.port}"
            assert (await f.get(f"{url}/old")).body == b"new page"
            assert (await f.get(f"{url}/feed", headers={"If-None-Match": '"e"'})).not_modified
            assert await body(f, f"{url}/old") == b"new page"
        assert server.connections == 1 and len(server.heads) == 5

    asyncio.run(scenario())


def test_the_servers_keep_alive_timeout_is_respected() -> None:
    """A server that says it keeps an idle connection one second gets no request on it after
    that second (it may close it just as the request goes out)."""

    async def handler(reader: Any, writer: asyncio.StreamWriter, n: int) -> None:
        while True:
            await read_request(reader)
            writer.write(answer(b"on %d" % n, "Keep-Alive: timeout=1"))
            await writer.drain()

    async def scenario() -> None:
        async with serve(handler) as server, fetcher() as f:
            url = f"http://127.0.0.1:{server.port}/"
            assert await body(f, url) == b"on 1"
            await asyncio.sleep(1.2)
            assert await body(f, url) == b"on 2"
        assert server.connections == 2

    asyncio.run(scenario())


def _tls(tmp_path: Path, *names: str) -> tuple[ssl.SSLContext, Path]:
    authority = trustme.CA()
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert(*names).configure_cert(server_tls)
    bundle = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(bundle))
    return server_tls, bundle


def _to_loopback(names: dict[str, str] | None = None) -> tuple[Resolve, list[str]]:
    asked: list[str] = []

    async def resolve(host: str, port: int) -> list[str]:
        asked.append(host)
        return [(names or {}).get(host, "127.0.0.1")]

    return resolve, asked


def test_tls_is_verified_against_the_configured_authorities(tmp_path: Path) -> None:
    server_tls, bundle = _tls(tmp_path, "tls.test")
    resolve, _ = _to_loopback()

    async def scenario() -> None:
        async with serve(keep_answering, tls=server_tls) as server:
            url = f"https://tls.test:{server.port}/secure"
            async with fetcher(resolve, ca_bundle=bundle) as f:
                assert await body(f, url) == b"conn 1 req 1 /secure"
                assert await body(f, url) == b"conn 1 req 2 /secure"
                # The same certificate under another name: refused, even from a known authority.
                wrong = await outcome(f, f"https://other.test:{server.port}/secure")
                assert isinstance(wrong, PermanentFetchError) and wrong.reason == "tls_error"
            async with fetcher(resolve) as f:  # the public authorities only
                result = await outcome(f, url)
                assert isinstance(result, PermanentFetchError) and result.reason == "tls_error"
                assert "certificate" in str(result).lower()

    asyncio.run(scenario())


def test_an_idna_host_is_resolved_and_sent_by_its_a_label() -> None:
    resolve, asked = _to_loopback()

    async def scenario() -> None:
        async with serve(keep_answering) as server, fetcher(resolve) as f:
            assert await body(f, f"http://bücher.example:{server.port}/") == b"conn 1 req 1 /"
        assert asked == ["xn--bcher-kva.example"]
        assert b"host: xn--bcher-kva.example:%d" % server.port in server.heads[0].lower()

    asyncio.run(scenario())


def test_names_resolving_to_private_addresses_are_refused_where_the_connection_is_made() -> None:
    resolve, asked = _to_loopback({"intranet.example": "10.0.0.8"})

    async def scenario() -> None:
        async with fetcher(resolve, allow_private_addresses=False) as f:
            result = await outcome(f, "http://intranet.example/")
            assert isinstance(result, PermanentFetchError) and result.reason == "private_address"
            literal = await outcome(f, "http://127.0.0.1:9/")
            assert isinstance(literal, PermanentFetchError) and literal.reason == "private_address"
        assert asked == ["intranet.example"]

    asyncio.run(scenario())


def test_a_name_that_rebinds_is_connected_only_to_the_address_that_was_checked() -> None:
    """The first answer is allowed (127.0.0.1, as an allowed network), every later one private
    (127.0.0.2, where an "internal" server listens on the same port). A guard that checks with
    one lookup and connects with another would reach the internal server."""
    answers = iter(["127.0.0.1"])

    async def rebinding(host: str, port: int) -> list[str]:
        return [next(answers, "127.0.0.2")]

    async def scenario() -> None:
        async with serve(keep_answering) as public:
            port = public.port
            async with (
                serve(keep_answering, host="127.0.0.2", port=port) as internal,
                fetcher(
                    rebinding,
                    allow_private_addresses=False,
                    allow_networks=("127.0.0.1/32",),
                    per_host_concurrency=2,
                ) as f,
            ):
                url = f"http://rebind.test:{port}/"
                first = await body(f, url)
                assert first == b"conn 1 req 1 /"
                # Another name needs a new lookup: now private, refused.
                results = await asyncio.gather(
                    outcome(f, url + "a"), outcome(f, f"http://other.test:{port}/")
                )
            assert internal.connections == 0
        refused = [r for r in results if isinstance(r, PermanentFetchError)]
        assert refused and all(r.reason == "private_address" for r in refused)

    asyncio.run(scenario())


def test_a_redirect_into_the_private_network_is_refused_by_the_real_transport() -> None:
    async def handler(reader: Any, writer: asyncio.StreamWriter, n: int) -> None:
        await read_request(reader)
        writer.write(
            answer(b"", f"Location: http://internal.test:{port[0]}/admin", status="302 Found")
        )
        await writer.drain()

    port = [0]
    resolve, asked = _to_loopback({"internal.test": "127.0.0.2"})

    async def scenario() -> None:
        async with serve(handler) as server:
            port[0] = server.port
            async with (
                serve(keep_answering, host="127.0.0.2", port=server.port) as internal,
                fetcher(
                    resolve, allow_private_addresses=False, allow_networks=("127.0.0.1/32",)
                ) as f,
            ):
                result = await outcome(f, f"http://news.test:{server.port}/story")
            assert internal.connections == 0
        assert isinstance(result, PermanentFetchError) and result.reason == "private_address"
        assert asked == ["news.test", "internal.test"]

    asyncio.run(scenario())


def test_a_capture_keeps_the_exchange_as_it_went_over_the_wire() -> None:
    import gzip

    page = b"<html><body>" + b"<p>text</p>" * 200 + b"</body></html>"
    packed = gzip.compress(page)

    async def handler(reader: Any, writer: asyncio.StreamWriter, n: int) -> None:
        await read_request(reader)
        writer.write(answer(packed, "Content-Encoding: gzip", "X-Thing: one", "X-Thing: two"))
        await writer.drain()

    async def scenario() -> Response:
        async with (
            serve(handler) as server,
            Fetcher(settings(), RetrySettings(attempts=1), capture=True) as f,
        ):
            return await f.get(f"http://127.0.0.1:{server.port}/page")

    response = asyncio.run(scenario())
    capture = response.capture
    assert response.body == page and capture is not None
    assert capture.payload == packed  # as received: still gzip
    assert (capture.version, capture.status, capture.reason) == ("HTTP/1.1", 200, "OK")
    assert ("Content-Encoding", "gzip") in capture.headers
    assert [v for k, v in capture.headers if k == "X-Thing"] == ["one", "two"]
    assert ("User-Agent", settings().user_agent) in capture.sent_headers
    assert capture.peer == "127.0.0.1" and capture.url.endswith("/page")
