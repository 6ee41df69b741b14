"""Archive writes (atomic, revisions, safe names, leftovers swept) and state (queue, leases)."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from worker.errors import ArchiveError, StateError
from worker.ingest.pipeline import owner_is_dead
from worker.store.folder import TMP_MARK, Archive
from worker.store.sqlite import Discovered, State

SEEN = datetime(2024, 12, 27, tzinfo=UTC)


def _record(text: str) -> dict[str, object]:
    return {"id": "a1", "content_hash": f"sha256:{hash(text)}", "text": text, "revision": 1}


def test_layout_is_by_utc_publication_day(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    assert (
        archive.relative_path("mt", "a1", "2024-12-27T01:30:00+03:00", SEEN)
        == "mt/2024/12/26/a1.json"
    )
    assert archive.relative_path("mt", "a1", None, SEEN) == "mt/2024/12/27/a1.json"


@pytest.mark.parametrize(
    ("source", "article_id"),
    [
        ("../etc", "a1"),
        ("mt", "../../x"),
        ("mt", "/abs"),
        ("mt", "a\x00b"),
        ("mt", "a" * 65),
        ("", "a1"),
        ("mt", ".hidden"),
    ],
)
def test_unsafe_names_never_leave_the_archive(tmp_path: Path, source: str, article_id: str) -> None:
    with pytest.raises(ArchiveError):
        Archive(tmp_path).relative_path(source, article_id, None, SEEN)


@pytest.mark.parametrize(
    "relative",
    ["../x.json", "mt/../../x.json", "/tmp/x.json", "mt//a1.json", "mt/./a1.json", "mt\\..\\x"],
)
def test_stored_paths_that_would_leave_the_archive_are_refused(
    tmp_path: Path, relative: str
) -> None:
    # Paths come back from the state database too: they are checked again on every use.
    archive = Archive(tmp_path / "archive")
    with pytest.raises(ArchiveError, match="escapes the archive"):
        archive.write(_record("one"), relative, b"<html></html>")
    with pytest.raises(ArchiveError, match="escapes the archive"):
        archive.read(relative)
    assert not list(tmp_path.rglob("*.json"))


def test_revisions_keep_every_earlier_version(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    rel = "mt/2024/12/27/a1.json"
    assert archive.write(_record("one"), rel, b"<html>1</html>").outcome == "new"
    assert archive.write(_record("one"), rel, b"<html>1</html>").outcome == "unchanged"
    second = archive.write(_record("two"), rel, b"<html>2</html>")
    third = archive.write(_record("three"), rel, b"<html>3</html>")
    assert (second.outcome, second.revision, third.revision) == ("updated", 2, 3)
    folder = tmp_path / "mt/2024/12/27"
    assert json.loads((folder / "a1.json").read_text())["text"] == "three"
    assert json.loads((folder / "a1.r1.json").read_text())["text"] == "one"
    assert json.loads((folder / "a1.r2.json").read_text())["text"] == "two"
    assert gzip.decompress((folder / "a1.r1.html.gz").read_bytes()) == b"<html>1</html>"
    assert gzip.decompress((folder / "a1.html.gz").read_bytes()) == b"<html>3</html>"
    assert not [p for p in folder.iterdir() if TMP_MARK in p.name]


def test_raw_page_can_be_turned_off(tmp_path: Path) -> None:
    Archive(tmp_path, keep_raw=False).write(_record("one"), "mt/2024/12/27/a1.json", b"x")
    assert not (tmp_path / "mt/2024/12/27/a1.html.gz").exists()


def test_sweep_removes_leftovers_of_dead_writers_only(tmp_path: Path) -> None:
    folder = tmp_path / "mt/2024/12/27"
    folder.mkdir(parents=True)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    stale = folder / f".a1.json{TMP_MARK}{dead.stdout.strip()}-abcd"
    live = folder / f".a2.json{TMP_MARK}{os.getppid()}-abcd"
    stale.write_text("partial")
    live.write_text("in progress")
    assert Archive(tmp_path).sweep() == 1
    assert not stale.exists() and live.exists()


def test_unwritable_archive_is_an_archive_error(tmp_path: Path) -> None:
    blocker = tmp_path / "mt"
    blocker.write_text("a file where a folder should be")
    with pytest.raises(ArchiveError, match=r"cannot (read|write)"):
        Archive(tmp_path).write(_record("x"), "mt/2024/12/27/a1.json", None)


def test_a_batch_is_written_together_and_one_failure_stays_its_own(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    archive.write(_record("old"), "mt/2024/12/27/a1.json", b"<html>old</html>")
    (tmp_path / "blocked").write_text("a file where a folder should be")
    results = archive.write_many(
        [
            (_record("new"), "mt/2024/12/27/a1.json", b"<html>new</html>"),  # a revision
            ({**_record("x"), "id": "a2"}, "blocked/2024/12/27/a2.json", b"x"),
            ({**_record("y"), "id": "a3"}, "mt/2024/12/28/a3.json", b"<html>y</html>"),
            ({**_record("z"), "id": "a4"}, "../a4.json", b"z"),
        ]
    )
    first, blocked, third, escaping = results
    assert not isinstance(first, ArchiveError) and (first.outcome, first.revision) == ("updated", 2)
    assert isinstance(blocked, ArchiveError) and "Not a directory" in str(blocked)
    assert not isinstance(third, ArchiveError) and third.outcome == "new"
    assert isinstance(escaping, ArchiveError) and "escapes" in str(escaping)
    day = tmp_path / "mt/2024/12/27"
    assert json.loads((day / "a1.json").read_text())["text"] == "new"
    assert json.loads((day / "a1.r1.json").read_text())["text"] == "old"
    assert gzip.decompress((day / "a1.r1.html.gz").read_bytes()) == b"<html>old</html>"
    assert json.loads((tmp_path / "mt/2024/12/28/a3.json").read_text())["text"] == "y"
    assert not [p for p in tmp_path.rglob("*") if TMP_MARK in p.name]


def test_a_failed_fsync_leaves_no_file_of_that_article(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import worker.store.folder

    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        if ".a2.html.gz" in os.readlink(f"/proc/self/fd/{fd}"):  # the second article's page
            raise OSError(28, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(worker.store.folder.os, "fsync", fsync)
    results = Archive(tmp_path).write_many(
        [
            ({**_record(t), "id": aid}, f"mt/2024/12/27/{aid}.json", b"<html></html>")
            for t, aid in (("one", "a1"), ("two", "a2"), ("three", "a3"))
        ]
    )
    assert [isinstance(r, ArchiveError) for r in results] == [False, True, False]
    assert "disk full" in str(results[1])
    names = sorted(p.name for p in (tmp_path / "mt/2024/12/27").iterdir())
    assert names == ["a1.html.gz", "a1.json", "a3.html.gz", "a3.json"]


def test_queue_discover_claim_fail_archive(tmp_path: Path) -> None:
    state = State(tmp_path / "s.db")
    item = Discovered("a1", "https://x/a1", "https://x/rss", None, "fp1")
    assert state.discover("mt", [item, item], 100.0) == (1, 0)
    claimed = state.claim_due("mt", 100.0, "me", 60)
    assert [c.id for c in claimed] == ["a1"]
    assert state.claim_due("mt", 100.0, "other", 60) == []  # leased
    state.failed("mt", "a1", error="http_500: boom", next_try_at=200.0, give_up=False)
    assert state.claim_due("mt", 150.0, "me", 60) == []  # not due yet
    assert [c.attempts for c in state.claim_due("mt", 200.0, "me", 60)] == [1]
    state.archived("mt", "a1", path="mt/a1.json", content_hash="h", revision=1, now=201.0)
    assert state.counts("mt") == {"queued": 0, "archived": 1, "gone": 0}
    # Same entry again: nothing; changed entry in the same feed: requeued; other feed: ignored.
    assert state.discover("mt", [item], 300.0) == (0, 0)
    other_feed = Discovered("a1", "https://x/a1", "https://x/all", None, "fp-other")
    assert state.discover("mt", [other_feed], 300.0) == (0, 0)
    changed = Discovered("a1", "https://x/a1-new-slug", "https://x/rss", None, "fp2")
    assert state.discover("mt", [changed], 300.0) == (0, 1)
    state.close()


@pytest.mark.parametrize("other_first", [True, False])
def test_a_restored_article_learns_its_entry_only_from_its_own_feed(
    tmp_path: Path, other_first: bool
) -> None:
    """After ``state rebuild`` a row names its record's feed but has no fingerprint; whichever
    feed lists it first, only its own feed's entry is learnt, so nothing is requeued."""
    state = State(tmp_path / "s.db")
    state.restore_archived([("mt", "a1", "https://x/a1", "mt/a1.json", "https://x/rss", "h", 1)])
    own = Discovered("a1", "https://x/a1", "https://x/rss", None, "fp-own")
    other = Discovered("a1", "https://x/a1", "https://x/all", None, "fp-other")
    for item in [other, own] if other_first else [own, other]:
        assert state.discover("mt", [item], 10.0) == (0, 0)
    assert state.discover("mt", [own, other], 20.0) == (0, 0)
    changed = Discovered("a1", "https://x/a1", "https://x/rss", None, "fp-own-2")
    assert state.discover("mt", [changed], 30.0) == (0, 1)
    state.close()


def test_an_article_of_no_feed_learns_the_first_feed_that_lists_it(tmp_path: Path) -> None:
    state = State(tmp_path / "s.db")
    state.restore_archived([("mt", "a1", "https://x/a1", "mt/a1.json", None, "h", 1)])
    first = Discovered("a1", "https://x/a1", "https://x/all", None, "fp-all")
    second = Discovered("a1", "https://x/a1", "https://x/rss", None, "fp-rss")
    assert state.discover("mt", [first, second], 10.0) == (0, 0)
    assert state.discover("mt", [second, first], 20.0) == (0, 0)
    state.close()


def test_leases_of_dead_owners_are_reclaimed(tmp_path: Path) -> None:
    state = State(tmp_path / "s.db")
    state.discover("mt", [Discovered("a1", "https://x/a1", None, None, None)], 1.0)
    import socket

    ghost = f"{socket.gethostname()}:999999999:dead"
    assert state.claim_due("mt", 1.0, ghost, 3600)
    assert owner_is_dead(ghost, "me")
    assert not owner_is_dead(f"otherhost:{os.getpid()}:x", "me")
    assert state.reclaim_leases(lambda owner: owner_is_dead(owner, "me")) == 1
    assert state.claim_due("mt", 2.0, "me", 60)
    state.close()


def test_corrupt_state_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    path.write_bytes(b"this is not a sqlite database" * 100)
    with pytest.raises(StateError, match="state rebuild"):
        State(path)


@pytest.mark.parametrize("fast", [True, False])
def test_raw_pages_are_plain_gzip_with_or_without_isal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fast: bool
) -> None:
    import worker.store.folder

    if not fast:
        monkeypatch.setattr(worker.store.folder, "_isal_compress", None)
    else:
        assert worker.store.folder._isal_compress is not None  # installed with the package here
    page = (
        "<html><body>" + "<p>Пример текста, example text.</p>" * 2000 + "</body></html>"
    ).encode()
    Archive(tmp_path).write(_record("one"), "mt/2024/12/27/a1.json", page)
    stored = (tmp_path / "mt/2024/12/27/a1.html.gz").read_bytes()
    assert gzip.decompress(stored) == page
    assert len(stored) < len(page) / 10
