"""``archive.warc = true``: every article fetch is also kept as WARC 1.1 (response, request and
metadata records, one gzip member each) with a CDXJ index beside every file, on the folder and
on S3; files a writer left open when it was killed are finished by the next start."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from s3srv import BUCKET, S3Server
from stores import s3_settings
from warcs import all_records, cdxj, check, read, readable_part, warc_files

from conftest import MT_FEEDS, Cli, Spawn, records, write_config
from service_helpers import ServiceProcess, free_port, wait_for
from sitesrv import Scripted, Site, SiteServer
from worker.store.record import content_hash, schema
from worker.store.warc import digest
from worker.store.warcfiles import OPEN, OPEN_DIR, SPOOL_DIR, complete_length

GZIPPED = (
    "/2024/12/27/ukraine-captured-north-korean-soldier-fighting-alongside-russia-south-korea-"
    "says-a87467"
)


def with_warc(config: Path, **archive: str) -> Path:
    text = config.read_text()
    if "dir" in archive:
        text = re.sub(r"(?m)^dir = .*\n", "", text, count=1)
    keys = "".join(f"{k} = {json.dumps(v)}\n" for k, v in archive.items())
    config.write_text(text.replace("[archive]\n", f"[archive]\nwarc = true\n{keys}", 1))
    return config


def serve_gzipped(site: Site, path: str = GZIPPED) -> bytes:
    """The site answers ``path`` gzip-encoded from now on; returns the bytes it sends."""
    packed = gzip.compress(site.body_of(path), mtime=0)
    headers = {"Content-Type": "text/html; charset=utf-8", "Content-Encoding": "gzip"}
    site.fault(path, Scripted(200, headers, packed))
    return packed


def assert_captured(archive: Path, root: Path | None = None) -> dict[str, Any]:
    """Every record of the archive at ``archive`` has its capture in the WARC files under
    ``root`` (the same folder by default): the response at ``fetch.warc`` for the fetched URL,
    whose payload as received hashes to the WARC-Payload-Digest the record names and, decoded,
    to ``fetch.raw_sha256``; its request; a metadata record naming the record; a CDXJ line."""
    root = root or archive
    files = warc_files(root)
    assert files, "no WARC file"
    for path in files:
        check(path)  # warcio check: every digest verified
    recs = all_records(root)
    by_id = {r.headers["WARC-Record-ID"]: r for r in recs}
    indexed = {(d["url"], int(d["offset"]), d["filename"]) for p in files for _, _, d in cdxj(p)}
    responses = [r for r in recs if r.type == "response"]
    assert all((r.headers["WARC-Target-URI"], r.offset, r.file.name) in indexed for r in responses)
    found = records(archive)
    assert found
    for relative, record in found.items():
        jsonschema.validate(record, schema())
        ref = record["fetch"]["warc"]
        response = by_id[ref["record_id"]]
        assert response.type == "response" and response.status == 200
        assert response.headers["WARC-Target-URI"] == record["fetch"]["final_url"]
        assert response.headers["WARC-Date"] == ref["date"]
        assert response.headers["WARC-IP-Address"] == "127.0.0.1"
        assert digest(response.payload) == response.headers["WARC-Payload-Digest"]
        assert response.headers["WARC-Payload-Digest"] == ref["payload_digest"]
        assert hashlib.sha256(response.decoded).hexdigest() == record["fetch"]["raw_sha256"]
        assert response.file == root / ref["file"] and response.offset == ref["offset"]
        with open(response.file, "rb") as stream:  # fetch.warc's offset and length: one member
            stream.seek(ref["offset"])
            member = gzip.decompress(stream.read(ref["length"]))
        assert member.startswith(b"WARC/1.1\r\n") and ref["record_id"].encode() in member
        requests = [r for r in recs if r.headers.get("WARC-Concurrent-To") == ref["record_id"]]
        assert [r.type for r in requests] == ["request"]
        assert requests[0].statusline.startswith("GET /") and requests[0].statusline.endswith(
            "HTTP/1.1"
        )
        notes = [r for r in recs if r.headers.get("WARC-Refers-To") == ref["record_id"]]
        assert [r.type for r in notes] == ["metadata"]
        assert f"record: {relative}\r\n".encode() in notes[0].payload
    return by_id


def test_every_article_fetch_is_kept_as_warc_with_a_cdxj_index(
    cli: Cli, config: Path, site: Site, archive_dir: Path
) -> None:
    sent = serve_gzipped(site)
    code, _, err = cli("fetch", "--config", str(with_warc(config)))
    assert code == 0, err
    by_id = assert_captured(archive_dir)
    assert not list((archive_dir / OPEN_DIR).iterdir())  # finished when the run ended
    [path] = warc_files(archive_dir)
    assert path.parent.relative_to(archive_dir).as_posix() == time.strftime(
        "_warc/%Y/%m/%d", time.gmtime()
    )
    recs = read(path)
    assert recs[0].type == "warcinfo" and recs[0].headers["WARC-Filename"] == path.name
    assert all(r.headers["WARC-Record-ID"] in by_id for r in recs)
    assert len([r for r in recs if r.type == "response"]) == len(records(archive_dir)) == 10
    # The gzip-encoded page is stored as received: the bytes the site sent, with their header.
    [gzipped] = [
        r for r in recs if r.type == "response" and r.headers["WARC-Target-URI"].endswith(GZIPPED)
    ]
    assert gzipped.payload == sent and gzipped.header("Content-Encoding") == "gzip"
    assert gzipped.decoded == site.body_of(GZIPPED)


def test_a_refetch_is_a_new_capture_and_its_metadata_says_the_record_is_unchanged(
    cli: Cli, config: Path, server: SiteServer, archive_dir: Path
) -> None:
    with_warc(config)
    assert cli("fetch", "--config", str(config))[0] == 0
    first = json.loads((archive_dir / "moscowtimes/2024/12/27/a87467.json").read_text())
    assert cli("fetch", "--config", str(config), "--url", server.url(GZIPPED))[0] == 0
    assert len(warc_files(archive_dir)) == 2  # one file per run
    record = json.loads((archive_dir / "moscowtimes/2024/12/27/a87467.json").read_text())
    assert record == first  # unchanged: it still names the capture it was extracted from
    captures = [
        r
        for r in all_records(archive_dir)
        if r.type == "response" and r.headers["WARC-Target-URI"].endswith(GZIPPED)
    ]
    assert len(captures) == 2
    notes = [
        r.payload
        for r in all_records(archive_dir)
        if r.headers.get("WARC-Refers-To") == captures[1].headers["WARC-Record-ID"]
    ]
    assert len(notes) == 1 and b"outcome: unchanged\r\n" in notes[0]
    assert_captured(archive_dir)


@pytest.fixture
def s3_env(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> S3Server:
    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    return s3_server


def test_on_s3_the_files_are_spooled_and_uploaded_with_their_index(
    cli: Cli, config: Path, site: Site, tmp_path: Path, s3_env: S3Server
) -> None:
    serve_gzipped(site)
    url = s3_env.url()
    spool_root = tmp_path / "local"
    with_warc(config, url=url, dir=str(spool_root))
    code, _, err = cli("fetch", "--config", str(config))
    assert code == 0, err
    assert not [p for p in (spool_root / SPOOL_DIR).rglob("*") if p.is_file()]  # uploaded
    # rclone keeps the bucket as a folder: read what was uploaded there.
    stored = s3_env.root / BUCKET / url.rsplit("/", 1)[-1]
    assert_captured(stored)


WRITER = """
import os, signal, sys, time
from pathlib import Path
from worker.store.captures import Captures
from worker.store.warc import Exchange
from worker.config import ArchiveSettings
from worker.store import open_archive
from worker.store.warcfiles import {sink}
sink = {make}
captures = Captures(sink, max_size=10**9)
for n in range(3):
    page = b"<html><body>" + b"page %d " % n * 400 + b"</body></html>"
    exchange = Exchange("http://news.test/a%d" % n, "GET", (("Host", "news.test"),), "HTTP/1.1",
                        200, "OK", (("Content-Length", str(len(page))),), page, "10.0.0.1",
                        time.time())
    captures.keep(exchange).result()
print(sink.open_dir, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def killed_writer(sink: str, make: str) -> Path:
    """A process writes three captures and is killed with SIGKILL: its open WARC file."""
    done = subprocess.run(
        [sys.executable, "-c", WRITER.format(sink=sink, make=make)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    [left] = Path(done.stdout.strip()).glob("*" + OPEN)
    return left


def tear(path: Path) -> int:
    """Append half of a record, as a kill in the middle of a write leaves it; returns the
    length of the file's whole members."""
    data = path.read_bytes()
    last = read(path)[-1]
    path.write_bytes(data + data[last.offset : last.offset + (len(data) - last.offset) // 2])
    return len(data)


def read_whole(path: Path, length: int) -> list[Any]:
    """The records of the first ``length`` bytes of ``path``."""
    copy = path.with_name("whole.warc.gz")
    copy.write_bytes(path.read_bytes()[:length])
    try:
        return read(copy)
    finally:
        copy.unlink()


def test_a_killed_writers_file_is_finished_at_the_next_start_and_a_torn_record_cut_off(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from worker.store.warcfiles import FolderSink, recover

    left = killed_writer("FolderSink", f"FolderSink(Path({str(tmp_path)!r}))")
    whole = tear(left)
    # Detected: the last gzip member never ends; warcio reads every record before it, then
    # fails on the torn one.
    assert complete_length(left) == whole < left.stat().st_size
    types, failure = readable_part(left)
    assert types == ["warcinfo"] + ["response", "request"] * 3 and failure is not None
    [key] = recover(FolderSink(tmp_path))
    assert "warc_torn_record" in caplog.text and not left.exists()
    finished = tmp_path / key
    assert finished.stat().st_size == whole
    check(finished)
    recs = read(finished)
    assert [r.type for r in recs] == ["warcinfo"] + ["response", "request"] * 3
    assert len(cdxj(finished)) == 3


def test_two_starts_recovering_at_once_finish_a_file_once(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from worker.store.warcfiles import FolderSink, recover

    left = killed_writer("FolderSink", f"FolderSink(Path({str(tmp_path)!r}))")
    size = left.stat().st_size
    with ThreadPoolExecutor(4) as pool:
        done = list(pool.map(lambda _: recover(FolderSink(tmp_path)), range(4)))
    assert sorted(len(keys) for keys in done) == [0, 0, 0, 1]
    [finished] = warc_files(tmp_path)
    assert finished.stat().st_size == size
    check(finished)


def test_a_killed_writers_spool_is_uploaded_at_the_next_start(
    tmp_path: Path, s3_server: S3Server
) -> None:
    from worker.store import open_archive
    from worker.store.warcfiles import ObjectSink, recover

    settings = s3_settings(s3_server, url=s3_server.url())
    fields = ", ".join(
        f"{k}={getattr(settings, k)!r}"
        for k in ("url", "aws_endpoint_url", "aws_access_key_id", "aws_secret_access_key")
    )
    spool = tmp_path / "spool"
    make = (
        f"ObjectSink(open_archive(ArchiveSettings({fields}, aws_region='us-east-1', "
        f"aws_allow_http=True)), Path({str(spool)!r}))"
    )
    left = killed_writer("ObjectSink", make)
    whole = tear(left)
    [key] = recover(ObjectSink(open_archive(settings), spool))  # type: ignore[arg-type]
    assert not list(spool.iterdir())
    stored = s3_server.root / BUCKET / settings.url.rsplit("/", 1)[-1] / key
    assert stored.stat().st_size == whole
    check(stored)
    assert len(cdxj(stored)) == 3


def _service_with_ten_archived(
    tmp_path: Path, server: SiteServer, archive_dir: Path, spawn: Spawn
) -> tuple[ServiceProcess, Path]:
    """A service keeping WARC captures (and its config), once it has archived the site's ten
    articles."""
    port = free_port()
    config = with_warc(
        write_config(
            tmp_path / "service.toml",
            feeds=[server.url(f) for f in MT_FEEDS],
            archive=archive_dir,
            service={"port": port},
        )
    )
    service = spawn(config, "service.log", port)
    wait_for(lambda: len(records(archive_dir)) == 10, 60, "ten records")
    wait_for(
        lambda: sum(e.get("event") == "article_archived" for e in service.events()) == 10,
        30,
        "ten archived",
    )
    return service, config


def test_a_service_killed_with_sigkill_leaves_a_warc_the_next_start_finishes(
    tmp_path: Path, server: SiteServer, archive_dir: Path, spawn: Spawn, cli: Cli
) -> None:
    service, config = _service_with_ten_archived(tmp_path, server, archive_dir, spawn)
    service.kill()  # SIGKILL: the open WARC file is never finished by it
    [left] = (archive_dir / OPEN_DIR).glob("*" + OPEN)
    assert not warc_files(archive_dir)
    assert len([r for r in read(left) if r.type == "response"]) == 10  # readable as it is
    whole = tear(left)  # and as if the kill had come in the middle of a write
    before = [r.type for r in read_whole(left, whole)]
    assert readable_part(left)[0][: len(before)] == before  # everything before it still reads
    code, _, err = cli("fetch", "--config", str(config))  # the next start
    assert code == 0, err
    assert "warc_torn_record" in err and not left.exists()
    [finished] = [p for p in warc_files(archive_dir) if p.name == left.name.removesuffix(OPEN)]
    assert finished.stat().st_size == whole
    assert_captured(archive_dir)  # every archived article's capture is there, checked


def test_reextract_works_from_the_warc_captures_when_no_raw_page_is_kept(
    cli: Cli, config: Path, site: Site, archive_dir: Path
) -> None:
    serve_gzipped(site)
    with_warc(config, keep_raw="false")
    config.write_text(config.read_text().replace('keep_raw = "false"', "keep_raw = false"))
    assert cli("fetch", "--config", str(config))[0] == 0
    assert not list(archive_dir.rglob("*.html.gz"))
    mark = len(site.requests())
    first = json.loads((archive_dir / "moscowtimes/2024/12/27/a87467.json").read_text())
    # An older, buggier profile produced these records: wrong titles.
    for name in ("2024/12/27/a87467.json", "2024/12/26/a87466.json"):
        path = archive_dir / "moscowtimes" / name
        old = json.loads(path.read_text())
        old["title"] = "Wrong"
        old["content_hash"] = content_hash(old)
        path.write_text(json.dumps(old))
    code, out, err = cli("reextract", "--config", str(config))
    assert code == 0, err
    assert "moscowtimes/2024/12/27/a87467.json: revision 2: title" in out  # the gzip-encoded one
    assert "moscowtimes/2024/12/26/a87466.json: revision 2: title" in out
    assert "10 checked, 2 changed, 8 unchanged, 0 without a raw page" in out
    assert "(10 read from WARC captures)" in out
    assert len(site.requests()) == mark  # nothing refetched
    latest = json.loads((archive_dir / "moscowtimes/2024/12/27/a87467.json").read_text())
    assert latest["revision"] == 2 and latest["title"].startswith("Ukraine Captured")
    assert latest["fetch"] == first["fetch"]  # the revision names the capture it came from
    assert_captured(archive_dir)


def test_a_service_stopped_with_sigterm_finishes_its_warc_file(
    tmp_path: Path, server: SiteServer, archive_dir: Path, spawn: Spawn
) -> None:
    service, _ = _service_with_ten_archived(tmp_path, server, archive_dir, spawn)
    assert service.stop() == 0
    assert not list((archive_dir / OPEN_DIR).iterdir())
    assert len(warc_files(archive_dir)) == 1
    assert_captured(archive_dir)
