"""``news-worker reextract``: re-run extraction from the raw pages, new revisions only where the
record changes."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import Cli, records
from sitesrv import Site
from worker.store.record import content_hash


def test_reextract_revises_only_changed_records(
    cli: Cli, config: Path, site: Site, archive_dir: Path
) -> None:
    assert cli("fetch", "--config", str(config))[0] == 0
    mark = len(site.requests())
    # An older, buggier profile produced this record: a wrong title and no tags.
    path = archive_dir / "moscowtimes/2024/12/27/a87467.json"
    old = json.loads(path.read_text())
    old["title"] = "Ukraine Captured North Korean Soldier"
    old["tags"] = []
    old["content_hash"] = content_hash(old)
    path.write_text(json.dumps(old))
    untouched = {
        p: p.stat().st_mtime_ns
        for p in archive_dir.rglob("*.json")
        if p != path and ".state" not in p.parts
    }

    code, out, err = cli("reextract", "--config", str(config))
    assert code == 0, err
    assert "moscowtimes/2024/12/27/a87467.json: revision 2: title, tags" in out
    assert "10 checked, 1 changed, 9 unchanged" in out
    latest = json.loads(path.read_text())
    assert latest["revision"] == 2
    assert (
        latest["title"]
        == "Ukraine Captured North Korean Soldier Fighting Alongside Russia, South Korea Says"
    )
    assert json.loads((path.parent / "a87467.r1.json").read_text())["title"] == old["title"]
    assert {p: p.stat().st_mtime_ns for p in untouched} == untouched
    assert len(site.requests()) == mark  # nothing refetched
    # A second pass changes nothing.
    code, out, _ = cli("reextract", "--config", str(config), "--since", "2024-12-01")
    assert "0 changed" in out and len(records(archive_dir)) == 10


def test_reextract_since_filters_by_publication_date(cli: Cli, config: Path) -> None:
    assert cli("fetch", "--config", str(config))[0] == 0
    code, out, _ = cli("reextract", "--config", str(config), "--since", "2026-01-01")
    assert code == 0
    assert "1 checked" in out  # only the 2026 opinion piece
