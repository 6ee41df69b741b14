"""Many loopback hosts served by one process, for the politeness benchmark.

Host K (1-based) is ``hostK.test`` on its own loopback address (:func:`address`), all on one
port. Each serves ``/robots.txt`` (allow all), ``/rss/news`` (an RSS feed of N items) and the N
small Moscow Times-shaped article pages it lists, and records when every request arrived (the
first byte of its request line, ``time.monotonic()``, which is system-wide on Linux, so the
benchmark can compare it with its own clock). A control listener on 127.0.0.1 answers
``/log`` (every arrival so far, per host, as JSON: ``{"hostK.test": [[t, path, status], ...]}``)
and ``/reset`` (forget them).

One asyncio loop and plain protocols (no streams): the answers are built once, so 400 hosts
cost the server a few milliseconds of CPU per second of a run.

    python bench/hostsrv.py --hosts 40 --articles 15 --ready FILE [--max-seconds S]

FILE receives ``{"port": P, "control": C}`` once every address listens.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from mtsite import ORIGIN, document, feed_item, rfc2822, rss, synthetic_page  # noqa: E402

ROBOTS = b"User-agent: *\nAllow: /\n"


def address(k: int) -> str:
    """Host K's loopback address: 127.0.0.11 to 127.0.0.250, then on to 127.0.1.11 and so on
    (any 127.0.0.0/8 address is local on Linux)."""
    block, offset = divmod(k - 1, 240)
    return f"127.0.{block}.{11 + offset}"


def host_name(k: int) -> str:
    return f"host{k}.test"  # a letter-only label: the peer refuses names like h1.test


def _answer(status: int, body: bytes, content_type: str) -> bytes:
    reason = {200: "OK", 404: "Not Found"}[status]
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def host_files(k: int, articles: int, port: int) -> dict[str, bytes]:
    """Host K's answers by path, links pointing at its own name."""
    base = f"http://{host_name(k)}:{port}"
    rng = random.Random(k)
    files = {"/robots.txt": _answer(200, ROBOTS, "text/plain")}
    items = []
    for n in range(articles):
        page = synthetic_page(1_000_000 + k * 1000 + n, rng)
        html = document(page).replace(ORIGIN, base)
        files[page.path] = _answer(200, html.encode(), "text/html; charset=utf-8")
        items.append(
            feed_item(page.title, base + page.path, page.description, rfc2822(page.published))
        )
    feed = rss(f"Host {k}", base, items).replace(ORIGIN, base)
    files["/rss/news"] = _answer(200, feed.encode(), "application/rss+xml; charset=utf-8")
    return files


NOT_FOUND = _answer(404, b"<h1>Not found</h1>", "text/html")


class Log:
    def __init__(self) -> None:
        self.arrivals: dict[str, list[tuple[float, str, int]]] = {}

    def as_json(self) -> bytes:
        return json.dumps(self.arrivals).encode()


class _Http(asyncio.Protocol):
    """HTTP/1.1 with keep-alive for GET requests; answers from a table."""

    def __init__(self, name: str, files: dict[str, bytes], log: Log | None, control: Log | None):
        self.name = name
        self.files = files
        self.log = log
        self.control = control
        self.buffer = b""
        self.arrived = 0.0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if not self.buffer:
            self.arrived = time.monotonic()
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:
            head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
            self._respond(head)
            if self.buffer:
                self.arrived = time.monotonic()

    def _respond(self, head: bytes) -> None:
        assert self.transport is not None
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split()
        path = parts[1].split("?", 1)[0] if len(parts) > 1 else "/"
        if self.control is not None:
            if path == "/reset":
                self.control.arrivals.clear()
            body = self.control.as_json() if path == "/log" else b"{}"
            answer = _answer(200, body, "application/json")
        else:
            answer = self.files.get(path, NOT_FOUND)
            assert self.log is not None
            status = 200 if answer is not NOT_FOUND else 404
            self.log.arrivals.setdefault(self.name, []).append((self.arrived, path, status))
        self.transport.write(answer)
        closing = any(line.lower().replace(" ", "") == "connection:close" for line in lines[1:])
        if closing or (len(parts) > 2 and parts[2] == "HTTP/1.0"):
            self.transport.close()


async def serve(hosts: int, articles: int, ready: Path, max_seconds: float) -> None:
    loop = asyncio.get_running_loop()
    log = Log()
    tables: dict[str, dict[str, bytes]] = {host_name(k): {} for k in range(1, hosts + 1)}
    for _ in range(10):
        servers: list[asyncio.Server] = []
        port = 0
        try:
            for k in range(1, hosts + 1):

                def factory(name: str = host_name(k)) -> _Http:
                    return _Http(name, tables[name], log, None)

                server = await loop.create_server(factory, address(k), port, backlog=64)
                port = server.sockets[0].getsockname()[1]
                servers.append(server)
            break
        except OSError:  # the first host's free port is taken on another address: try again
            for server in servers:
                server.close()
    else:
        sys.exit("no port free on every host address")
    for k in range(1, hosts + 1):
        tables[host_name(k)].update(host_files(k, articles, port))
    control = await loop.create_server(lambda: _Http("control", {}, None, log), "127.0.0.1", 0)
    servers.append(control)
    ready.write_text(json.dumps({"port": port, "control": control.sockets[0].getsockname()[1]}))
    await asyncio.sleep(max_seconds)
    for server in servers:
        server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=40)
    parser.add_argument("--articles", type=int, default=15)
    parser.add_argument("--ready", type=Path, required=True)
    parser.add_argument("--max-seconds", type=float, default=3600.0)
    args = parser.parse_args()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # a listener per host, and clients
    asyncio.run(serve(args.hosts, args.articles, args.ready, args.max_seconds))


if __name__ == "__main__":
    main()
