"""Client CPU per response of the HTTP stacks the fetcher could stand on, side by side in one run.

A separate process serves one fixed response (120 KB by default, keep-alive, Content-Length) on
127.0.0.1. Each client runs in a process of its own (so imports and start-up are not counted),
makes a warm-up round, then ``--requests`` GETs with ``--in-flight`` at a time, and reports the
CPU time of its process (user + system) per response. The clients:

- ``news-worker fetcher``: ``worker.net.fetcher.Fetcher.get``, the whole door (frontier, retry,
  body cap, classification) on aiohttp's connector;
- ``news-worker transport``: ``worker.net.transport.AiohttpTransport`` alone;
- ``aiohttp``: a plain ``aiohttp.ClientSession``;
- ``httpx (httpcore)``: ``httpx.AsyncClient`` with its default transport;
- ``httpx (httpx-aiohttp)``: httpx on the ``httpx-aiohttp`` transport, when that is installed.

    python bench/http_clients.py [--requests 3000] [--in-flight 16] [--size 120000] [--rounds 3]

Each client runs ``--rounds`` times, interleaved with the others; the table shows the median and
the range.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CLIENTS = (
    "news-worker fetcher",
    "news-worker transport",
    "aiohttp",
    "httpx (httpcore)",
    "httpx (httpx-aiohttp)",
)


async def _serve(size: int) -> None:
    body = b"x" * size
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
        b"Content-Length: " + str(size).encode() + b"\r\nConnection: keep-alive\r\n\r\n"
    )

    class Answer(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport
            self.buffer = b""

        def data_received(self, data: bytes) -> None:
            self.buffer += data
            while b"\r\n\r\n" in self.buffer:
                _, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
                self.transport.write(head + body)  # type: ignore[attr-defined]

    loop = asyncio.get_running_loop()
    server = await loop.create_server(Answer, "127.0.0.1", 0, backlog=128)
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until told to stop


async def _run(name: str, url: str, requests: int, in_flight: int) -> dict[str, float] | None:
    get = await _client(name)
    if get is None:
        return None
    fetch, close = get
    try:

        async def many(count: int) -> None:
            queue = iter(range(count))

            async def lane() -> None:
                for _ in queue:
                    await fetch(url)

            await asyncio.gather(*(lane() for _ in range(in_flight)))

        await many(in_flight * 8)  # warm-up: connections open, code paths warm
        cpu, wall = time.process_time(), time.perf_counter()
        await many(requests)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    finally:
        await close()
    return {"cpu_ms": cpu / requests * 1000, "wall_s": wall}


async def _client(name: str):  # type: ignore[no-untyped-def]
    """(fetch(url), close()) for the named client, or None where it is not installed."""
    if name == "news-worker fetcher":
        from worker.config import HttpSettings, RetrySettings
        from worker.net.fetcher import Fetcher

        http = HttpSettings(
            per_host_delay=0,
            per_host_concurrency=64,
            max_connections=64,
            respect_robots=False,
            allow_private_addresses=True,
        )
        fetcher = Fetcher(http, RetrySettings())
        await fetcher.__aenter__()

        async def fetch(url: str) -> None:
            response = await fetcher.get(url, robots=False)
            assert len(response.body) > 0

        async def close() -> None:
            await fetcher.__aexit__(None, None, None)

        return fetch, close
    if name == "news-worker transport":
        from worker.config import HttpSettings
        from worker.net.guard import AddressPolicy, GuardedResolver
        from worker.net.transport import AiohttpTransport

        transport = AiohttpTransport(
            HttpSettings(), GuardedResolver(AddressPolicy(allow_private=True))
        )

        async def fetch(url: str) -> None:
            async with transport.open(url, {}, proxy=None) as exchange:
                read = 0
                async for chunk in exchange.body:
                    read += len(chunk)
                assert read > 0

        return fetch, transport.close
    if name == "aiohttp":
        import aiohttp

        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))

        async def fetch(url: str) -> None:
            async with session.get(url) as response:
                assert len(await response.read()) > 0

        return fetch, session.close
    import httpx

    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    if name == "httpx (httpcore)":
        client = httpx.AsyncClient(limits=limits)
    else:
        try:
            from httpx_aiohttp import AiohttpTransport as HttpxAiohttp
        except ImportError:
            return None
        client = httpx.AsyncClient(transport=HttpxAiohttp())

    async def fetch(url: str) -> None:
        response = await client.get(url)
        assert len(response.content) > 0

    return fetch, client.aclose


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--in-flight", type=int, default=16)
    parser.add_argument("--size", type=int, default=120_000, help="response body bytes")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--client", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(_serve(args.serve))
        return 0
    if args.client:
        result = asyncio.run(_run(args.client, args.url, args.requests, args.in_flight))
        print(json.dumps(result))
        return 0

    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(args.size)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None and server.stdin is not None
    url = f"http://127.0.0.1:{server.stdout.readline().strip()}/page"
    results: dict[str, list[dict[str, float]]] = {name: [] for name in CLIENTS}
    try:
        for _ in range(args.rounds):
            for name in CLIENTS:
                done = subprocess.run(
                    [
                        *(sys.executable, __file__, "--client", name, "--url", url),
                        *("--requests", str(args.requests), "--in-flight", str(args.in_flight)),
                    ],
                    capture_output=True,
                    text=True,
                    timeout=600,
                    check=True,
                )
                result = json.loads(done.stdout.strip().splitlines()[-1])
                if result is not None:
                    results[name].append(result)
    finally:
        server.stdin.close()
        server.wait(timeout=10)
    print(
        f"{args.requests} GETs of {args.size:,} bytes, {args.in_flight} in flight, "
        f"{args.rounds} rounds; client CPU (user + system) per response"
    )
    print("| client | CPU ms/response (median) | range | wall s (median) |\n|---|---|---|---|")
    for name, runs in results.items():
        if not runs:
            print(f"| {name} | not installed | | |")
            continue
        cpu = [r["cpu_ms"] for r in runs]
        wall = statistics.median(r["wall_s"] for r in runs)
        print(
            f"| {name} | {statistics.median(cpu):.2f} | {min(cpu):.2f}-{max(cpu):.2f} | "
            f"{wall:.2f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
