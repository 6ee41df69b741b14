"""Reading the WARC files an archive holds, as an archivist's tools read them: warcio's
iterator, ``warcio check``, the CDXJ lines beside each file."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from warcio.archiveiterator import ArchiveIterator

WARCIO = Path(sys.executable).parent / "warcio"


@dataclass
class Rec:
    type: str
    headers: dict[str, str]
    offset: int
    file: Path
    status: int | None = None
    http_headers: list[tuple[str, str]] = field(default_factory=list)
    statusline: str = ""
    payload: bytes = b""  # as stored
    decoded: bytes = b""  # Content-Encoding undone (warcio's content stream)

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.http_headers if k.lower() == name.lower()), None)


def warc_files(archive: Path) -> list[Path]:
    return sorted((archive / "_warc").glob("*/*/*/*.warc.gz"))


def read(path: Path) -> list[Rec]:
    """Every record of a WARC file (raises as warcio does on one it cannot read): read twice,
    for the payload as stored and as decoded."""
    found = []
    with open(path, "rb") as stream:
        iterator = ArchiveIterator(stream)
        for record in iterator:
            payload = record.raw_stream.read()  # first: the offset is computed by reading on
            rec = Rec(record.rec_type, dict(record.rec_headers.headers), 0, path, payload=payload)
            rec.offset = iterator.get_record_offset()
            if record.http_headers is not None:
                rec.http_headers = list(record.http_headers.headers)
                rec.statusline = " ".join(  # "GET /a HTTP/1.1", "HTTP/1.1 200 OK"
                    part
                    for part in (record.http_headers.protocol, record.http_headers.statusline)
                    if part
                )
                if record.rec_type == "response":
                    rec.status = int(record.http_headers.get_statuscode())
            found.append(rec)
    with open(path, "rb") as stream:
        for rec, record in zip(found, ArchiveIterator(stream), strict=True):
            rec.decoded = record.content_stream().read()
    return found


def readable_part(path: Path) -> tuple[list[str], BaseException | None]:
    """The types of the records warcio reads before it fails (and why it failed, if so)."""
    types: list[str] = []
    try:
        with open(path, "rb") as stream:
            for record in ArchiveIterator(stream):
                record.content_stream().read()
                types.append(record.rec_type)
    except Exception as exc:
        return types, exc
    return types, None


def check(path: Path) -> str:
    """``warcio check -v``: every digest verified; fails the test otherwise."""
    done = subprocess.run(
        [str(WARCIO), "check", "-v", str(path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def cdxj(path: Path) -> list[tuple[str, str, dict[str, Any]]]:
    """The CDXJ lines beside a WARC file: (SURT key, timestamp, fields)."""
    index = path.with_name(path.name.removesuffix(".warc.gz") + ".cdxj")
    lines = []
    for line in index.read_text(encoding="utf-8").splitlines():
        key, stamp, data = line.split(" ", 2)
        lines.append((key, stamp, json.loads(data)))
    return lines


def all_records(archive: Path) -> list[Rec]:
    return [rec for path in warc_files(archive) for rec in read(path)]
