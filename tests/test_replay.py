"""A web archivist's replay tool serves the captures: pywb, run from its own virtual environment
(it is not importable beside our warnings-as-errors test run), over a collection made of the
archive's WARC files and of the CDXJ indexes written beside them (not pywb's own indexing),
returns every archived page byte for byte in its ``id_`` (original content) mode."""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_warc import GZIPPED, serve_gzipped, with_warc
from warcs import all_records, warc_files

from conftest import Cli, records
from service_helpers import free_port
from sitesrv import Site

PYWB = "pywb==2.10.0"
# Built once per clone (CI's clean clone builds it in this test); NEWS_WORKER_PYWB_VENV may name
# another one.
VENV = Path(os.environ.get("NEWS_WORKER_PYWB_VENV", Path(__file__).parents[1] / ".pywb-venv"))


def _usable(venv: Path) -> bool:
    python = venv / "bin" / "python"
    if not (venv / "bin" / "wayback").exists() or not python.exists():
        return False
    probe = [
        str(python),
        "-W",
        "ignore",
        "-c",
        "import pywb, sys; sys.exit(pywb.__version__ != '2.10.0')",
    ]
    return subprocess.run(probe, capture_output=True, timeout=60).returncode == 0


@pytest.fixture(scope="session")
def pywb_bin() -> Path:
    if not _usable(VENV):
        shutil.rmtree(VENV, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True, timeout=120)
        pip = [str(VENV / "bin" / "python"), "-m", "pip", "install", "--quiet"]
        subprocess.run([*pip, "--upgrade", "pip"], check=True, timeout=300)
        subprocess.run([*pip, PYWB], check=True, timeout=900)
    assert _usable(VENV)
    return VENV / "bin"


@pytest.fixture
def wayback(pywb_bin: Path, tmp_path: Path) -> Iterator[tuple[Path, int]]:
    """A pywb collection ``news`` (files to be put in its folders) and the port pywb serves
    it on once :func:`start` is called."""
    root = tmp_path / "pywb"
    root.mkdir()
    subprocess.run(
        [str(pywb_bin / "wb-manager"), "init", "news"],
        cwd=root,
        check=True,
        capture_output=True,
        timeout=120,
    )
    port = free_port()
    yield root / "collections" / "news", port


def start(pywb_bin: Path, collection: Path, port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [str(pywb_bin / "wayback"), "-b", "127.0.0.1", "--port", str(port)],
        cwd=collection.parents[1],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if http_get(port, "/news/")[0] == 200:
                return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise AssertionError("pywb did not start")


def http_get(port: int, path: str, encoding: str = "identity") -> tuple[int, str | None, bytes]:
    """(status, Content-Encoding, body as it came, not decoded)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path, headers={"Accept-Encoding": encoding})
        response = connection.getresponse()
        return response.status, response.getheader("Content-Encoding"), response.read()
    finally:
        connection.close()


@pytest.mark.timeout(900)  # a clean clone installs pywb first
def test_pywb_replays_every_archived_page_byte_for_byte(
    cli: Cli,
    config: Path,
    site: Site,
    archive_dir: Path,
    pywb_bin: Path,
    wayback: tuple[Path, int],
) -> None:
    sent = {GZIPPED: serve_gzipped(site)}
    assert cli("fetch", "--config", str(with_warc(config)))[0] == 0
    collection, port = wayback
    for path in warc_files(archive_dir):
        shutil.copy(path, collection / "archive" / path.name)
        index = path.with_name(path.name.removesuffix(".warc.gz") + ".cdxj")
        shutil.copy(index, collection / "indexes" / index.name)
    responses = {
        r.headers["WARC-Record-ID"]: r for r in all_records(archive_dir) if r.type == "response"
    }
    process = start(pywb_bin, collection, port)
    try:
        found = records(archive_dir)
        assert len(found) == 10
        for record in found.values():
            ref = record["fetch"]["warc"]
            url = record["fetch"]["final_url"]
            stamp = "".join(c for c in ref["date"] if c.isdigit())[:14]
            page = url.removeprefix(site.base)
            as_sent = sent.get(page, site.body_of(page))
            # What the site sent, byte for byte (gzip-encoded where it sent it so) ...
            status, encoding, body = http_get(port, f"/news/{stamp}id_/{url}", "gzip")
            assert status == 200
            assert body == as_sent == responses[ref["record_id"]].payload
            assert encoding == ("gzip" if page == GZIPPED else None)
            # ... and decoded for a client that takes no encoding: the page that was extracted.
            status, encoding, body = http_get(port, f"/news/{stamp}id_/{url}")
            assert status == 200 and encoding is None
            assert hashlib.sha256(body).hexdigest() == record["fetch"]["raw_sha256"]
    finally:
        process.terminate()
        process.wait(30)
