"""A local imitation of a news site, served by a real HTTP server on 127.0.0.1.

It serves a folder of fixture files (``<path>.html`` for pages, ``rss/<name>.xml`` for feeds)
with the Moscow Times' behaviour: the origin ``https://www.themoscowtimes.com`` in the files is
rewritten to the server's own address; an article requested under any slug is redirected (301) to
its canonical URL by its ``-a<ID>``; ETag and Last-Modified are sent and conditional requests
answered with 304. Tests can script the next responses of a path (errors, delays, redirects),
change files while it runs, and read the request log. The server is bounded: it stops by itself
after ``max_seconds`` or ``max_requests``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ORIGIN = "https://www.themoscowtimes.com"
_ID = re.compile(r"-a(\d+)$")


@dataclass
class Scripted:
    """One scripted answer: status, headers, body; ``delay`` before answering; ``drip`` seconds
    between body bytes; ``truncate`` closes the connection after that many body bytes."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    delay: float = 0.0
    drip: float = 0.0
    truncate: int | None = None
    reset: bool = False  # close with a TCP reset after ``truncate`` bytes (or at once)


@dataclass
class Logged:
    path: str
    headers: dict[str, str]
    status: int
    at: float
    target: str = ""  # the request target as sent: path and query, spelled as the client did


class Site:
    """The content and behaviour of the imitated site; shared with the request handler."""

    def __init__(self, root: Path | None = None, *, static_last_modified: float = 1735290000.0):
        self.files: dict[str, bytes] = {}
        self.types: dict[str, str] = {}
        self.scripts: dict[str, list[Scripted | Callable[[], Scripted]]] = {}
        self.faults: dict[str, Callable[[], Scripted]] = {}
        self.delays: dict[str, float] = {}
        self.routes: dict[str, Callable[[str], Scripted]] = {}
        self.log: list[Logged] = []
        self.lock = threading.Lock()
        self.base = ""
        self.last_modified = static_last_modified
        self.rewrite = True
        self.bytes_sent = 0
        self._rewritten: dict[str, tuple[bytes, bytes]] = {}
        self._etags: dict[int, tuple[bytes, str]] = {}
        if root is not None:
            self.load(root)

    def load(self, root: Path) -> None:
        for path in sorted(root.rglob("*")):
            if path.is_file() and path.suffix != ".py":
                relative = "/" + path.relative_to(root).as_posix()
                if relative.endswith(".html"):
                    relative = relative[: -len(".html")]
                elif relative.startswith("/rss/") and relative.endswith(".xml"):
                    relative = relative[: -len(".xml")]
                self.put(relative, path.read_bytes())

    def put(self, path: str, body: bytes, content_type: str | None = None) -> None:
        with self.lock:
            self.files[path] = body
            if content_type is None:
                if path.startswith("/rss/"):
                    content_type = "application/rss+xml; charset=utf-8"
                elif path.endswith(".txt"):
                    content_type = "text/plain; charset=utf-8"
                elif path.endswith(".xml"):
                    content_type = "application/xml"
                else:
                    content_type = "text/html; charset=utf-8"
            self.types[path] = content_type
            self.last_modified += 60

    def remove(self, path: str) -> None:
        with self.lock:
            self.files.pop(path, None)

    def script(self, path: str, *answers: Scripted | Callable[[], Scripted]) -> None:
        with self.lock:
            self.scripts.setdefault(path, []).extend(answers)

    def stats(self) -> bytes:
        """Requests by status and body bytes sent so far, as JSON."""
        with self.lock:
            by_status: dict[str, int] = {}
            if isinstance(self.log, _CountingLog):
                by_status = {str(k): v for k, v in self.log.counts.items()}
            else:
                for entry in self.log:
                    by_status[str(entry.status)] = by_status.get(str(entry.status), 0) + 1
            return json.dumps(
                {"requests": len(self.log), "by_status": by_status, "bytes": self.bytes_sent}
            ).encode()

    def fault(self, path: str, answer: Scripted | Callable[[], Scripted]) -> None:
        """Answer every request for ``path`` this way until :meth:`clear` is called."""
        with self.lock:
            self.faults[path] = answer if callable(answer) else (lambda: answer)

    def route(self, prefix: str, answer: Callable[[str], Scripted]) -> None:
        """Answer every path under ``prefix`` by ``answer(path)`` (generated sites)."""
        with self.lock:
            self.routes[prefix] = answer

    def delay(self, path: str, seconds: float) -> None:
        """Answer ``path`` as usual, but only after ``seconds`` (0 ends it): forces an order."""
        with self.lock:
            self.delays[path] = seconds

    def clear(self) -> None:
        """End every fault, delay and scripted answer: the site behaves again."""
        with self.lock:
            self.faults.clear()
            self.scripts.clear()
            self.delays.clear()
            self.routes.clear()

    def requests(self, path: str | None = None) -> list[Logged]:
        with self.lock:
            return [r for r in self.log if path is None or r.path == path]

    def _etag(self, body: bytes) -> str:
        cached = self._etags.get(id(body))
        if cached is None or cached[0] is not body:
            cached = (body, '"' + hashlib.sha1(body).hexdigest()[:16] + '"')
            self._etags[id(body)] = cached
        return cached[1]

    def body_of(self, path: str) -> bytes:
        body = self.files[path]
        if self.rewrite and self.base:
            cached = self._rewritten.get(path)
            if cached is not None and cached[0] is body:
                return cached[1]
            rewritten = body.replace(ORIGIN.encode(), self.base.encode())
            self._rewritten[path] = (body, rewritten)
            return rewritten
        return body

    def answer(self, path: str, headers: dict[str, str]) -> Scripted:
        with self.lock:
            fault = self.faults.get(path)
            if fault is not None:
                return fault()
            for prefix, route in self.routes.items():
                if path.startswith(prefix):
                    return route(path)
            queue = self.scripts.get(path)
            if queue:
                scripted = queue.pop(0)
                return scripted() if callable(scripted) else scripted
            known = path in self.files
            if not known:
                match = _ID.search(path)
                if match:
                    for candidate in self.files:
                        found = _ID.search(candidate)
                        if found and found.group(1) == match.group(1):
                            return Scripted(301, {"Location": self.base + candidate})
                return Scripted(404, {"Content-Type": "text/html"}, b"<h1>Not found</h1>")
            body = self.body_of(path)
            content_type = self.types[path]
            delay = self.delays.get(path, 0.0)
        etag = self._etag(body)
        last_modified = formatdate(self.last_modified, usegmt=True)
        if headers.get("if-none-match") == etag or (
            "if-none-match" not in headers and headers.get("if-modified-since") == last_modified
        ):
            return Scripted(304, {"ETag": etag, "Last-Modified": last_modified}, delay=delay)
        return Scripted(
            200,
            {"Content-Type": content_type, "ETag": etag, "Last-Modified": last_modified},
            body,
            delay=delay,
        )


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        site = self.server.site
        path = self.path.split("?", 1)[0]
        headers = {k.lower(): v for k, v in self.headers.items()}
        if path == "/__stats":  # for benchmarks in other processes: counts, not logged
            answer = Scripted(200, {"Content-Type": "application/json"}, site.stats())
        else:
            answer = site.answer(path, headers)
            with site.lock:
                site.log.append(Logged(path, headers, answer.status, time.monotonic(), self.path))
                site.bytes_sent += len(answer.body)
                self.server.count += 1
        if answer.delay:
            time.sleep(answer.delay)
        try:
            self.send_response(answer.status)
            sent_length = False
            for name, value in answer.headers.items():
                self.send_header(name, value)
                sent_length = sent_length or name.lower() == "content-length"
            if not sent_length and answer.status != 304:
                self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            body = answer.body if answer.truncate is None else answer.body[: answer.truncate]
            if answer.reset:
                self.wfile.write(body)
                self.wfile.flush()
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                self.connection.close()
                self.close_connection = True
                return
            if answer.drip:
                for i in range(len(body)):
                    self.wfile.write(body[i : i + 1])
                    self.wfile.flush()
                    time.sleep(answer.drip)
            elif answer.status != 304:
                self.wfile.write(body)
            if answer.truncate is not None:
                self.close_connection = True
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default backlog is 5: with more connections arriving at once than that,
    # the kernel drops the handshake's last ACK, the client (connected, as it sees it) writes its
    # request, and the server reads it a second or more later, out of the order it was sent in.
    request_queue_size = 128

    def __init__(self, site: Site, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.site = site
        self.count = 0

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return  # clients that hang up are part of the scenarios, not server bugs
        super().handle_error(request, client_address)


class SiteServer:
    """Runs a :class:`Site` on 127.0.0.1 in a background thread; use as a context manager."""

    def __init__(
        self, site: Site, *, max_seconds: float = 300.0, max_requests: int = 20_000, port: int = 0
    ):
        self.site = site
        self._server = _Server(site, port)
        self.port = self._server.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        site.base = self.base
        self._max_seconds = max_seconds
        self._max_requests = max_requests
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        deadline = time.monotonic() + self._max_seconds
        self._server.timeout = 0.2
        while time.monotonic() < deadline and self._server.count < self._max_requests:
            if getattr(self, "_stopping", False):
                break
            self._server.handle_request()
        self._server.server_close()

    def __enter__(self) -> SiteServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stopping = True
        self._thread.join(timeout=5)

    def url(self, path: str) -> str:
        return self.base + path


class _CountingLog(list[Logged]):
    """A request log that keeps no entries, only counts (a service benchmark sends millions)."""

    def __init__(self) -> None:
        super().__init__()
        self.counts: dict[int, int] = {}

    def append(self, entry: Logged) -> None:
        self.counts[entry.status] = self.counts.get(entry.status, 0) + 1

    def __len__(self) -> int:
        return sum(self.counts.values())


def main() -> None:
    """Serve a fixture folder from a separate process (for service and benchmark runs)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("root", type=Path)
    parser.add_argument("--port-file", type=Path, required=True)
    parser.add_argument("--max-seconds", type=float, default=600.0)
    parser.add_argument(
        "--host-name",
        default="127.0.0.1",
        help="name the served links use (a name in /etc/hosts for 127.0.0.1)",
    )
    parser.add_argument("--no-log", action="store_true", help="keep counts only (long runs)")
    args = parser.parse_args()
    site = Site(args.root)
    server = SiteServer(site, max_seconds=args.max_seconds, max_requests=100_000_000)
    site.base = f"http://{args.host_name}:{server.port}"
    if args.no_log:
        site.log = _CountingLog()
    args.port_file.write_text(str(server.port))
    server._serve()


if __name__ == "__main__":
    main()
