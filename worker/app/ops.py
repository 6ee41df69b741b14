"""The operations endpoint: ``/healthz``, ``/readyz`` and ``/metrics`` on one small HTTP server.

A deliberately tiny HTTP/1.0 responder on asyncio streams: it answers GET for three paths and
closes the connection. Requests are bounded in size and time, so a stray client cannot hold it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import orjson

from worker.errors import ConfigError

log = logging.getLogger(__name__)
MAX_REQUEST = 8192

Check = Callable[[], Awaitable[dict[str, str | None]]]


class OpsServer:
    """Serves health, readiness (``ready()`` returns failed checks by name) and metrics."""

    def __init__(
        self, host: str, port: int, *, ready: Check, metrics: Callable[[], Awaitable[bytes]]
    ) -> None:
        self.host = host
        self.port = port
        self._ready = ready
        self._metrics = metrics
        self._server: asyncio.Server | None = None

    async def start(self) -> int:
        try:
            self._server = await asyncio.start_server(self._handle, self.host, self.port)
        except OSError as exc:
            raise ConfigError(
                f"service.host/service.port: cannot listen on {self.host}:{self.port}: "
                f"{exc.strerror or exc}"
            ) from exc
        port: int = self._server.sockets[0].getsockname()[1]
        self.port = port
        log.info("ops_listening", extra={"host": self.host, "port": port})
        return port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(5):
                head = await reader.readuntil(b"\r\n\r\n")
            if len(head) > MAX_REQUEST:
                raise ValueError("request too large")
            method, path, *_ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
            status, content_type, body = await self._route(method, path.split("?", 1)[0])
        except (TimeoutError, ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            status, content_type, body = 400, "text/plain", b"bad request\n"
        reason = {
            200: "OK",
            400: "Bad Request",
            404: "Not Found",
            405: "Method Not Allowed",
            503: "Service Unavailable",
        }[status]
        writer.write(
            f"HTTP/1.0 {status} {reason}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body
        )
        try:
            await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def _route(self, method: str, path: str) -> tuple[int, str, bytes]:
        if method != "GET":
            return 405, "text/plain", b"GET only\n"
        if path == "/healthz":
            return 200, "text/plain", b"ok\n"
        if path == "/readyz":
            failed = {k: v for k, v in (await self._ready()).items() if v}
            body = orjson.dumps({"ready": not failed, "failed": failed}) + b"\n"
            return (503 if failed else 200), "application/json", body
        if path == "/metrics":
            return 200, "text/plain; version=0.0.4; charset=utf-8", await self._metrics()
        return 404, "text/plain", b"not found\n"
