"""The WARC records of one article fetch (WARC 1.1, built by warcio), each its own gzip member.

``response``: the status line and headers as received and the payload as received, before any
Content-Encoding was undone (a gzip-encoded page is stored gzip-encoded, with its
``Content-Encoding``). The one thing that was undone on the way in is the chunked
Transfer-Encoding (the HTTP library removes it): its header is renamed
``X-Crawler-Transfer-Encoding`` and ``Content-Length`` says the length stored, the convention
Common Crawl and StormCrawler follow, so replay tools do not try to de-chunk again.
``request``: the request line and headers as sent. ``metadata``: ``application/warc-fields``
naming the JSON record the fetch produced. Digests are sha256 (WARC 1.1 labels the algorithm):
``WARC-Payload-Digest`` covers the payload as received, ``WARC-Block-Digest`` the whole block.
"""

from __future__ import annotations

import base64
import hashlib
import io
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from typing import Any
from urllib.parse import urlsplit

from warcio.statusandheaders import StatusAndHeaders
from warcio.utils import Digester
from warcio.warcwriter import BufferWARCWriter

from worker.store.files import gzip_page

Headers = tuple[tuple[str, str], ...]
RENAMED = "X-Crawler-"


@dataclass(frozen=True)
class Exchange:
    """An HTTP exchange as it went over the wire (what the fetcher's capture holds)."""

    url: str
    method: str
    sent_headers: Headers
    version: str
    status: int
    reason: str
    headers: Headers
    payload: bytes
    peer: str | None
    started_at: float  # seconds since the epoch: the WARC-Date


@dataclass(frozen=True)
class CaptureRef:
    """Where a fetch's ``response`` record is: the WARC file's key in the archive, the record's
    gzip member (offset and length in the file), its ID, date and payload digest."""

    warc: str
    offset: int
    length: int
    record_id: str
    date: str
    payload_digest: str
    url: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.warc,
            "offset": self.offset,
            "length": self.length,
            "record_id": self.record_id,
            "date": self.date,
            "payload_digest": self.payload_digest,
        }


class _Writer(BufferWARCWriter):  # type: ignore[misc]
    """warcio's writer with sha256 digests, records uncompressed (gzipped per record by us)."""

    @staticmethod
    def _create_digester() -> Any:
        return Digester("sha256")


def digest(data: bytes) -> str:
    """A WARC digest: ``sha256:`` and the base32 hash."""
    return "sha256:" + base64.b32encode(hashlib.sha256(data).digest()).decode("ascii")


def warc_date(seconds: float) -> str:
    """WARC 1.1's date: UTC, microseconds."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def stored_headers(headers: Sequence[tuple[str, str]], stored_length: int) -> list[tuple[str, str]]:
    """The response headers to store with a payload of ``stored_length`` bytes: as received,
    except a Transfer-Encoding that was undone (renamed, with the stored length stated)."""
    if not any(name.lower() == "transfer-encoding" for name, _ in headers):
        return list(headers)
    kept: list[tuple[str, str]] = []
    for name, value in headers:
        if name.lower() in ("transfer-encoding", "content-length"):
            kept.append((RENAMED + name, value))
        else:
            kept.append((name, value))
    kept.append(("Content-Length", str(stored_length)))
    return kept


def request_headers(url: str, sent: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The request's headers as sent, with the Host line first if the library kept it apart."""
    headers = list(sent)
    if not any(name.lower() == "host" for name, _ in headers):
        headers.insert(0, ("Host", urlsplit(url).netloc))
    return headers


def _serialize(record: Any, writer: Any) -> bytes:
    """The record's bytes (a writer's buffer holds everything it wrote: one record each)."""
    try:
        writer.write_record(record)
        data: bytes = writer.get_contents()
    finally:
        writer.out.close()  # warcio's spooled buffer
    return data


def response_and_request(exchange: Exchange, record_id: str) -> tuple[bytes, bytes, str]:
    """The ``response`` and ``request`` records (uncompressed), and the response's payload
    digest."""
    writer = _Writer(gzip=False, warc_version="1.1")
    date = warc_date(exchange.started_at)
    status = StatusAndHeaders(
        f"{exchange.status} {exchange.reason}".rstrip(),
        stored_headers(exchange.headers, len(exchange.payload)),
        protocol=exchange.version,
    )
    fields = {"WARC-Record-ID": record_id, "WARC-Date": date}
    if exchange.peer:
        fields["WARC-IP-Address"] = exchange.peer
    response = writer.create_warc_record(
        exchange.url,
        "response",
        payload=io.BytesIO(exchange.payload),
        length=len(exchange.payload),
        http_headers=status,
        warc_headers_dict=fields,
    )
    parts = urlsplit(exchange.url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    sent = StatusAndHeaders(
        f"{exchange.method} {target} {exchange.version}",
        request_headers(exchange.url, exchange.sent_headers),
        is_http_request=True,
    )
    asked = {"WARC-Date": date, "WARC-Concurrent-To": record_id}
    if exchange.peer:
        asked["WARC-IP-Address"] = exchange.peer
    request = writer.create_warc_record(
        exchange.url, "request", http_headers=sent, warc_headers_dict=asked
    )
    payload_digest = str(response.rec_headers.get_header("WARC-Payload-Digest"))
    first = _serialize(response, writer)
    return first, _serialize(request, _Writer(gzip=False, warc_version="1.1")), payload_digest


def metadata_record(ref: CaptureRef, fields: Sequence[tuple[str, str]], date: str) -> bytes:
    """A ``metadata`` record about the response ``ref`` (uncompressed)."""
    body = "".join(f"{name}: {value}\r\n" for name, value in fields).encode("utf-8")
    writer = _Writer(gzip=False, warc_version="1.1")
    record = writer.create_warc_record(
        ref.url,
        "metadata",
        payload=io.BytesIO(body),
        length=len(body),
        warc_content_type="application/warc-fields",
        warc_headers_dict={"WARC-Date": date, "WARC-Refers-To": ref.record_id},
    )
    return _serialize(record, writer)


def warcinfo_record(filename: str) -> bytes:
    """The file's first record: what wrote it, and how."""
    writer = _Writer(gzip=False, warc_version="1.1")
    try:
        version = metadata.version("news-worker")
    except metadata.PackageNotFoundError:  # pragma: no cover - run from a source tree
        version = "unknown"
    record = writer.create_warcinfo_record(
        filename,
        {
            "software": f"news-worker/{version} (warcio)",
            "format": "WARC File Format 1.1",
            "conformsTo": "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
            "hostname": socket.gethostname(),
            "description": "article pages fetched by news-worker; metadata records name the "
            "JSON record each fetch produced",
        },
    )
    return _serialize(record, writer)


def member(record: bytes) -> bytes:
    """One record as one gzip member (a .warc.gz is a series of them)."""
    return gzip_page(record)
