"""The fetcher's HTTP/1.1 transport against scripted servers on 127.0.0.1: keep-alive reuse, the
ways a server ends a message or a connection, timeouts, TLS."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
import pytest
import trustme

from worker.net.transport import Transport

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[None]]


class Server:
    def __init__(self) -> None:
        self.connections = 0
        self.port = 0


@asynccontextmanager
async def serve(handler: Handler, tls: ssl.SSLContext | None = None) -> AsyncIterator[Server]:
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
            await handler(reader, writer, server.connections)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    listener = await asyncio.start_server(on_connect, "127.0.0.1", 0, ssl=tls)
    server.port = listener.sockets[0].getsockname()[1]
    try:
        async with asyncio.timeout(30):
            yield server
    finally:
        listener.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def read_request(reader: asyncio.StreamReader) -> bytes:
    return await reader.readuntil(b"\r\n\r\n")


def answer(body: bytes, *extra: str) -> bytes:
    head = ["HTTP/1.1 200 OK", f"Content-Length: {len(body)}", *extra]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


async def keep_answering(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, number: int
) -> None:
    count = 0
    while True:
        request = await read_request(reader)
        count += 1
        path = request.split(b" ")[1]
        writer.write(answer(b"conn %d req %d %s" % (number, count, path)))
        await writer.drain()


async def get(client: httpx.AsyncClient, url: str) -> bytes:
    response = await client.get(url)
    return response.content


def client(transport: Transport, timeout: float = 5.0) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=transport, timeout=timeout)


def test_requests_reuse_one_kept_alive_connection() -> None:
    async def scenario() -> None:
        async with serve(keep_answering) as server:
            transport = Transport()
            async with client(transport) as http:
                bodies = [await get(http, f"http://127.0.0.1:{server.port}/{n}") for n in range(5)]
                assert transport.idle_connections == 1
            assert bodies == [b"conn 1 req %d /%d" % (n + 1, n) for n in range(5)]
            assert server.connections == 1

    asyncio.run(scenario())


def test_concurrent_requests_open_connections_and_keep_at_most_max_idle() -> None:
    async def scenario() -> None:
        async with serve(keep_answering) as server:
            transport = Transport(max_idle=3)
            async with client(transport) as http:
                url = f"http://127.0.0.1:{server.port}"
                bodies = await asyncio.gather(*(get(http, f"{url}/{n}") for n in range(8)))
                assert transport.idle_connections == 3
                await get(http, f"{url}/again")
            assert sorted(b.split(b" ")[-1] for b in bodies) == sorted(b"/%d" % n for n in range(8))
            assert server.connections == 8

    asyncio.run(scenario())


def test_chunked_and_close_delimited_bodies_are_read_whole() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
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
        async with serve(handler) as server:
            transport = Transport()
            async with client(transport) as http:
                url = f"http://127.0.0.1:{server.port}"
                assert await get(http, f"{url}/chunked") == b"hello world"
                assert await get(http, f"{url}/chunked-again") == b"second"
                assert await get(http, f"{url}/close") == b"until the end"
                assert transport.idle_connections == 0  # ended by closing: not kept
            assert server.connections == 2

    asyncio.run(scenario())


def test_connection_close_is_honoured() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await read_request(reader)
        writer.write(answer(b"bye %d" % n, "Connection: close"))
        await writer.drain()
        await asyncio.sleep(10)  # the client must not wait for this side to close

    async def scenario() -> None:
        async with serve(handler) as server, client(Transport()) as http:
            url = f"http://127.0.0.1:{server.port}/"
            assert [await get(http, url) for _ in range(3)] == [b"bye 1", b"bye 2", b"bye 3"]

    asyncio.run(scenario())


def test_a_kept_alive_connection_the_server_closed_is_replaced_silently() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await read_request(reader)
        writer.write(answer(b"first on %d" % n))
        await writer.drain()
        await read_request(reader)  # the second request on this connection: hang up unanswered

    async def scenario() -> None:
        async with serve(handler) as server:
            async with client(Transport()) as http:
                url = f"http://127.0.0.1:{server.port}/"
                assert await get(http, url) == b"first on 1"
                assert await get(http, url) == b"first on 2"  # sent again on a new connection
            assert server.connections == 2

    asyncio.run(scenario())


def test_a_new_connection_closed_without_an_answer_is_an_error() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await read_request(reader)

    async def scenario() -> None:
        async with serve(handler) as server:
            async with client(Transport()) as http:
                with pytest.raises(httpx.RemoteProtocolError):
                    await http.get(f"http://127.0.0.1:{server.port}/")
            assert server.connections == 1  # not retried: only reused connections are

    asyncio.run(scenario())


def test_a_body_cut_short_is_an_error_and_the_connection_is_not_reused() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await read_request(reader)
        if n == 1:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b")
        else:
            writer.write(answer(b"whole"))
        await writer.drain()

    async def scenario() -> None:
        async with serve(handler) as server:
            transport = Transport()
            async with client(transport) as http:
                url = f"http://127.0.0.1:{server.port}/"
                with pytest.raises(httpx.RemoteProtocolError, match="complete message body"):
                    await http.get(url)
                assert transport.idle_connections == 0
                assert await get(http, url) == b"whole"

    asyncio.run(scenario())


def test_a_response_left_unread_closes_its_connection() -> None:
    async def scenario() -> None:
        async with serve(keep_answering) as server:
            transport = Transport()
            async with client(transport) as http:
                url = f"http://127.0.0.1:{server.port}/"
                async with http.stream("GET", url) as response:
                    assert response.status_code == 200  # the body is never read
                assert transport.idle_connections == 0
                assert await get(http, url) == b"conn 2 req 1 /"

    asyncio.run(scenario())


def test_timeouts_and_refused_connections_are_httpx_errors() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await asyncio.sleep(30)

    async def scenario() -> None:
        async with serve(silent) as server, client(Transport(), timeout=0.3) as http:
            with pytest.raises(httpx.ReadTimeout):
                await http.get(f"http://127.0.0.1:{server.port}/")
        async with client(Transport()) as http:
            with pytest.raises(httpx.ConnectError):
                await http.get(f"http://127.0.0.1:{server.port}/")  # closed by now
            with pytest.raises(httpx.UnsupportedProtocol):
                await http.get("ftp://127.0.0.1/")

    asyncio.run(scenario())


def test_tls_is_verified_against_the_given_authorities() -> None:
    authority = trustme.CA()
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("localhost").configure_cert(server_tls)
    trusting = ssl.create_default_context()
    authority.configure_trust(trusting)

    async def scenario() -> None:
        async with serve(keep_answering, tls=server_tls) as server:
            url = f"https://localhost:{server.port}/secure"
            async with client(Transport(ssl_context=trusting)) as http:
                assert await get(http, url) == b"conn 1 req 1 /secure"
                assert await get(http, url) == b"conn 1 req 2 /secure"
            async with client(Transport()) as http:  # the public authorities only
                with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                    await http.get(url)

    asyncio.run(scenario())
