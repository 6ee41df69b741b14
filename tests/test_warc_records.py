"""The WARC writer on its own: header rules (table-tested), file names, rotation by size and by
UTC day, a write that fails, and a chunked response from a real server stored as WARC expects."""

from __future__ import annotations

import asyncio
import gzip
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from test_transport import read_request, serve, settings
from warcs import cdxj, check, read, warc_files

from worker.config import RetrySettings
from worker.errors import ArchiveError
from worker.ingest.captures import exchange_of
from worker.net.fetcher import Fetcher
from worker.store import layout
from worker.store.captures import Captures
from worker.store.warc import Exchange, request_headers, stored_headers, warc_date
from worker.store.warcfiles import OPEN, FolderSink


@pytest.mark.parametrize(
    ("received", "stored"),
    [
        # As received: nothing was undone (a gzip payload keeps its Content-Encoding).
        (
            [("Content-Type", "text/html"), ("Content-Encoding", "gzip"), ("Content-Length", "9")],
            [("Content-Type", "text/html"), ("Content-Encoding", "gzip"), ("Content-Length", "9")],
        ),
        # The chunking was undone by the HTTP library: renamed, and the stored length stated.
        (
            [("Content-Type", "text/html"), ("Transfer-Encoding", "chunked")],
            [
                ("Content-Type", "text/html"),
                ("X-Crawler-Transfer-Encoding", "chunked"),
                ("Content-Length", "42"),
            ],
        ),
        (
            [("transfer-encoding", "chunked"), ("Content-Length", "7")],
            [
                ("X-Crawler-transfer-encoding", "chunked"),
                ("X-Crawler-Content-Length", "7"),
                ("Content-Length", "42"),
            ],
        ),
    ],
)
def test_stored_headers(received: list[tuple[str, str]], stored: list[tuple[str, str]]) -> None:
    assert stored_headers(received, 42) == stored


def test_request_headers_keep_what_was_sent_and_name_the_host() -> None:
    sent = [("User-Agent", "ua"), ("Accept", "*/*")]
    assert request_headers("http://news.test:8080/a?b", sent) == [("Host", "news.test:8080"), *sent]
    assert request_headers("http://x/", [("Host", "x"), *sent]) == [("Host", "x"), *sent]


def test_dates_and_names() -> None:
    assert warc_date(1735290000.5) == "2024-12-27T09:00:00.500000Z"
    name = "newsworker-20241227090000123-00007-host.example~12~ab12.warc.gz"
    assert layout.warc_key(name) == f"_warc/2024/12/27/{name}"
    assert layout.cdxj_key(layout.warc_key(name)).endswith("-host.example~12~ab12.cdxj")
    for bad in ("../x.warc.gz", "newsworker-2024-00000-h.warc.gz", "a/b.warc.gz"):
        with pytest.raises(ArchiveError):
            layout.warc_key(bad)


def exchange(n: int, size: int = 2000, at: float | None = None) -> Exchange:
    page = os.urandom(size // 2).hex().encode()[:size]
    return Exchange(
        url=f"http://news.test/a{n}",
        method="GET",
        sent_headers=(("Host", "news.test"), ("User-Agent", "ua")),
        version="HTTP/1.1",
        status=200,
        reason="OK",
        headers=(("Content-Type", "text/html"), ("Content-Length", str(len(page)))),
        payload=page,
        peer="10.0.0.1",
        started_at=at or time.time(),
    )


def test_files_rotate_past_the_size_and_each_is_indexed(tmp_path: Path) -> None:
    captures = Captures(FolderSink(tmp_path), max_size=30_000)
    refs = [captures.keep(exchange(n, 8000)).result() for n in range(8)]
    captures.close()
    files = warc_files(tmp_path)
    assert len(files) >= 2 and all(p.stat().st_size <= 30_000 for p in files)
    assert [p.name.split("-")[2] for p in files] == [f"{n:05d}" for n in range(len(files))]
    for path in files:
        check(path)
        recs = read(path)
        assert recs[0].type == "warcinfo"
        assert len(cdxj(path)) == len([r for r in recs if r.type == "response"])
    assert {r.warc for r in refs} == {p.relative_to(tmp_path).as_posix() for p in files}


def test_a_new_utc_day_starts_a_new_file_in_its_day_folder(tmp_path: Path) -> None:
    now = [datetime(2026, 3, 1, 23, 59, 58, tzinfo=UTC).timestamp()]
    captures = Captures(FolderSink(tmp_path), max_size=10**9, clock=lambda: now[0])
    first = captures.keep(exchange(1, at=now[0])).result()
    now[0] += 5
    second = captures.keep(exchange(2, at=now[0])).result()
    captures.close()
    assert first.warc.startswith("_warc/2026/03/01/newsworker-20260301235958")
    assert second.warc.startswith("_warc/2026/03/02/newsworker-20260302000003")
    assert [len(read(p)) for p in warc_files(tmp_path)] == [3, 3]


def test_an_idle_file_is_finished_when_its_day_ends(tmp_path: Path) -> None:
    started = time.time()
    midnight = datetime.fromtimestamp(started, UTC).replace(
        hour=23, minute=59, second=59, microsecond=0
    )
    offset = midnight.timestamp() + 0.8 - started  # the writer's clock: midnight in 1 s

    captures = Captures(FolderSink(tmp_path), max_size=10**9, clock=lambda: time.time() + offset)
    captures.keep(exchange(1)).result()
    assert not warc_files(tmp_path)
    deadline = time.monotonic() + 10
    while not warc_files(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(warc_files(tmp_path)) == 1  # finished by the writer itself, nothing written
    captures.close()


def test_a_failed_write_is_cut_off_and_the_next_one_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    captures = Captures(FolderSink(tmp_path), max_size=10**9)
    captures.keep(exchange(1)).result()
    real_write = os.write
    calls = {"n": 0}

    def half_then_full(fd: int, data: Any) -> int:
        calls["n"] += 1
        if calls["n"] == 1:
            real_write(fd, bytes(data)[: len(data) // 2])
            raise OSError(28, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", half_then_full)
    with pytest.raises(ArchiveError, match="disk full"):
        captures.keep(exchange(2)).result()
    monkeypatch.setattr(os, "write", real_write)
    captures.keep(exchange(3)).result()
    captures.close()
    [path] = warc_files(tmp_path)
    check(path)
    assert [r.headers.get("WARC-Target-URI") for r in read(path) if r.type == "response"] == [
        "http://news.test/a1",
        "http://news.test/a3",
    ]
    assert not list((tmp_path / "_warc" / ".open").glob("*" + OPEN))


def test_a_chunked_gzip_response_is_stored_dechunked_with_its_encoding(tmp_path: Path) -> None:
    page = b"<html><body>" + b"<p>chunked text</p>" * 300 + b"</body></html>"
    packed = gzip.compress(page)

    async def handler(reader: Any, writer: asyncio.StreamWriter, n: int) -> None:
        await read_request(reader)
        head = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\n"
        chunks = [packed[i : i + 1000] for i in range(0, len(packed), 1000)]
        body = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"
        writer.write(head + b"Transfer-Encoding: chunked\r\n\r\n" + body)
        await writer.drain()

    async def scenario() -> Exchange:
        async with (
            serve(handler) as server,
            Fetcher(settings(), RetrySettings(attempts=1), capture=True) as f,
        ):
            response = await f.get(f"http://127.0.0.1:{server.port}/page")
        assert response.body == page and response.capture is not None
        return exchange_of(response.capture)

    captures = Captures(FolderSink(tmp_path), max_size=10**9)
    captures.keep(asyncio.run(scenario())).result()
    captures.close()
    [path] = warc_files(tmp_path)
    check(path)
    [response] = [r for r in read(path) if r.type == "response"]
    assert response.payload == packed and response.decoded == page
    assert response.header("Content-Encoding") == "gzip"
    assert response.header("X-Crawler-Transfer-Encoding") == "chunked"
    assert response.header("Transfer-Encoding") is None
    assert response.header("Content-Length") == str(len(packed))
