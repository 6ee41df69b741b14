"""The archive store's contract, run against every implementation (``tests/stores.py``), and
what the folder implementation does on disk (atomic files, leftovers swept, fsync failures)."""

from __future__ import annotations

import gzip
import json
import os
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from stores import MakeArchive

from worker.errors import ArchiveError, StateError
from worker.ingest.leases import owner_is_dead
from worker.store import layout
from worker.store.files import TMP_MARK, pid_alive
from worker.store.folder import FolderArchive
from worker.store.sqlite import SqliteState

SEEN = datetime(2024, 12, 27, tzinfo=UTC)
REL = "mt/2024/12/27/a1.json"


def _record(text: str, article_id: str = "a1") -> dict[str, object]:
    return {"id": article_id, "content_hash": f"sha256:{hash(text)}", "text": text, "revision": 1}


def test_layout_is_by_utc_publication_day() -> None:
    assert (
        layout.record_path("mt", "a1", "2024-12-27T01:30:00+03:00", SEEN) == "mt/2024/12/26/a1.json"
    )
    assert layout.record_path("mt", "a1", None, SEEN) == "mt/2024/12/27/a1.json"


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
def test_unsafe_names_never_leave_the_archive(source: str, article_id: str) -> None:
    with pytest.raises(ArchiveError):
        layout.record_path(source, article_id, None, SEEN)


@pytest.mark.parametrize(
    "relative",
    ["../x.json", "mt/../../x.json", "/tmp/x.json", "mt//a1.json", "mt/./a1.json", "mt\\..\\x"],
)
def test_stored_paths_that_would_leave_the_archive_are_refused(
    make_archive: MakeArchive, tmp_path: Path, relative: str
) -> None:
    # Paths come back from the state database too: they are checked again on every use.
    archive = make_archive()
    with pytest.raises(ArchiveError, match="escapes the archive"):
        archive.write(_record("one"), relative, b"<html></html>")
    with pytest.raises(ArchiveError, match="escapes the archive"):
        archive.read(relative)
    assert not list(tmp_path.rglob("*.json"))


def test_revisions_keep_every_earlier_version(make_archive: MakeArchive) -> None:
    archive = make_archive()
    assert archive.write(_record("one"), REL, b"<html>1</html>").outcome == "new"
    assert archive.write(_record("one"), REL, b"<html>1</html>").outcome == "unchanged"
    second = archive.write(_record("two"), REL, b"<html>2</html>")
    third = archive.write(_record("three"), REL, b"<html>3</html>")
    assert (second.outcome, second.revision, third.revision) == ("updated", 2, 3)
    current = archive.read(REL)
    assert current is not None and (current["text"], current["revision"]) == ("three", 3)
    assert archive.revisions(REL) == [1, 2]
    assert [(archive.read_revision(REL, n) or {}).get("text") for n in (1, 2, 3)] == [
        "one",
        "two",
        "three",
    ]
    assert archive.read_raw(REL) == b"<html>3</html>"


def test_raw_page_can_be_turned_off(make_archive: MakeArchive) -> None:
    archive = make_archive(keep_raw=False)
    archive.write(_record("one"), REL, b"x")
    assert archive.read_raw(REL) is None
    assert archive.read(REL) is not None


def test_a_batch_is_written_together_and_one_failure_stays_its_own(
    make_archive: MakeArchive,
) -> None:
    archive = make_archive()
    archive.write(_record("old"), REL, b"<html>old</html>")
    results = archive.write_many(
        [
            (_record("new"), REL, b"<html>new</html>"),  # a revision
            (_record("y", "a3"), "mt/2024/12/28/a3.json", b"<html>y</html>"),
            (_record("z", "a4"), "../a4.json", b"z"),
        ]
    )
    first, second, escaping = results
    assert not isinstance(first, Exception) and (first.outcome, first.revision) == ("updated", 2)
    assert not isinstance(second, Exception) and second.outcome == "new"
    assert isinstance(escaping, ArchiveError) and "escapes" in str(escaping)
    assert (archive.read(REL) or {}).get("text") == "new"
    assert (archive.read_revision(REL, 1) or {}).get("text") == "old"
    assert (archive.read("mt/2024/12/28/a3.json") or {}).get("text") == "y"


def test_records_are_listed_found_and_located(make_archive: MakeArchive) -> None:
    archive = make_archive()
    assert not archive.has_records("mt")
    archive.write(_record("one"), REL, b"<html>1</html>")
    archive.write(_record("two"), REL, b"<html>2</html>")  # a revision: still one record
    archive.write(_record("b", "a2"), "mt/2024/12/28/a2.json", None)
    archive.write(_record("c", "a1"), "other/2024/12/28/a1.json", None)
    assert [rel for rel, _ in archive.records("mt")] == [REL, "mt/2024/12/28/a2.json"]
    assert archive.has_records("other") and not archive.has_records("nope")
    assert archive.find("a1") == ["mt/2024/12/27/a1.json", "other/2024/12/28/a1.json"]
    assert archive.find("a9") == [] and archive.find("../x") == []
    assert archive.read("mt/2024/12/29/a9.json") is None
    assert archive.read_raw("mt/2024/12/29/a9.json") is None
    assert archive.revisions("mt/2024/12/28/a2.json") == []
    assert archive.writable() is None


def test_the_folder_keeps_revisions_as_files_beside_the_record(tmp_path: Path) -> None:
    archive = FolderArchive(tmp_path)
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


def test_the_folder_writes_no_raw_file_when_turned_off(tmp_path: Path) -> None:
    FolderArchive(tmp_path, keep_raw=False).write(_record("one"), "mt/2024/12/27/a1.json", b"x")
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
    assert FolderArchive(tmp_path).sweep_all() == 1
    assert not stale.exists() and live.exists()


def test_unwritable_archive_is_an_archive_error(tmp_path: Path) -> None:
    blocker = tmp_path / "mt"
    blocker.write_text("a file where a folder should be")
    with pytest.raises(ArchiveError, match=r"cannot (read|write)"):
        FolderArchive(tmp_path).write(_record("x"), "mt/2024/12/27/a1.json", None)


def test_a_folder_batch_with_a_blocked_folder_writes_the_rest(tmp_path: Path) -> None:
    archive = FolderArchive(tmp_path)
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
    import worker.store.files

    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        if ".a2.html.gz" in os.readlink(f"/proc/self/fd/{fd}"):  # the second article's page
            raise OSError(28, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(worker.store.files.os, "fsync", fsync)
    results = FolderArchive(tmp_path).write_many(
        [
            ({**_record(t), "id": aid}, f"mt/2024/12/27/{aid}.json", b"<html></html>")
            for t, aid in (("one", "a1"), ("two", "a2"), ("three", "a3"))
        ]
    )
    assert [isinstance(r, ArchiveError) for r in results] == [False, True, False]
    assert "disk full" in str(results[1])
    names = sorted(p.name for p in (tmp_path / "mt/2024/12/27").iterdir())
    assert names == ["a1.html.gz", "a1.json", "a3.html.gz", "a3.json"]


@pytest.mark.parametrize("fast", [True, False])
def test_raw_pages_are_plain_gzip_with_or_without_isal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fast: bool
) -> None:
    import worker.store.files

    if not fast:
        monkeypatch.setattr(worker.store.files, "_isal_compress", None)
    else:
        assert worker.store.files._isal_compress is not None  # installed with the package here
    page = (
        "<html><body>" + "<p>Пример текста, example text.</p>" * 2000 + "</body></html>"
    ).encode()
    FolderArchive(tmp_path).write(_record("one"), "mt/2024/12/27/a1.json", page)
    stored = (tmp_path / "mt/2024/12/27/a1.html.gz").read_bytes()
    assert gzip.decompress(stored) == page
    assert len(stored) < len(page) / 10


def test_the_folder_locates_only_records_inside_it(tmp_path: Path) -> None:
    archive = FolderArchive(tmp_path / "archive")
    archive.write(_record("one"), REL, None)
    assert archive.locate(str(tmp_path / "archive" / REL)) == REL
    (tmp_path / "x.json").write_text("{}")
    assert archive.locate(str(tmp_path / "x.json")) is None
    assert archive.locate(str(tmp_path / "archive" / "mt/2024/12/27/a1.r1.json")) is None


def test_a_corrupt_sqlite_state_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    path.write_bytes(b"this is not a sqlite database" * 100)
    with pytest.raises(StateError, match="state rebuild"):
        SqliteState(path)


class _Crash(BaseException):
    """The process dying: nothing after it runs (not even ``except Exception``)."""


@pytest.mark.parametrize("survived", [0, 1, 2, 3])
def test_a_crash_between_any_two_renames_of_a_revision_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, survived: int
) -> None:
    """Revision 2 of an article is written as four files (the copies of revision 1's record and
    raw page, the new raw page, the new record); the process dies after ``survived`` of them
    are in place. Then the next run writes revision 2 again and revision 3 after it."""
    import worker.store.files

    archive = FolderArchive(tmp_path)
    archive.write(_record("one"), REL, b"<html>1</html>")
    real_place = worker.store.files.Staged.place
    placed = []

    def place(self: worker.store.files.Staged) -> None:
        if len(placed) == survived:
            raise _Crash
        placed.append(self.path.name)
        real_place(self)

    monkeypatch.setattr(worker.store.files.Staged, "place", place)
    with pytest.raises(_Crash):
        archive.write(_record("two"), REL, b"<html>2</html>")
    monkeypatch.setattr(worker.store.files.Staged, "place", real_place)
    # Whatever was cut short, revision 1 and its page are there (as the current or the copy).
    assert (archive.read_revision(REL, 1) or {}).get("text") == "one"
    if (archive.read(REL) or {}).get("revision") == 1:
        assert archive.read_raw(REL) in (b"<html>1</html>", b"<html>2</html>")

    again = FolderArchive(tmp_path)  # the next run
    assert again.sweep() >= 0
    assert again.write(_record("two"), REL, b"<html>2</html>").revision == 2
    assert again.write(_record("three"), REL, b"<html>3</html>").revision == 3
    day = tmp_path / "mt/2024/12/27"
    assert [(again.read_revision(REL, n) or {}).get("text") for n in (1, 2, 3)] == [
        "one",
        "two",
        "three",
    ]
    assert gzip.decompress((day / "a1.r1.html.gz").read_bytes()) == b"<html>1</html>"
    assert gzip.decompress((day / "a1.r2.html.gz").read_bytes()) == b"<html>2</html>"
    assert again.read_raw(REL) == b"<html>3</html>"
    assert again.revisions(REL) == [1, 2]


def test_two_writers_of_one_article_lose_no_revision(tmp_path: Path) -> None:
    """Writers in different processes (here threads with their own archives: the folder lock is
    per open file, as between processes) each read the current revision and write the next."""
    import threading

    texts = [f"text {n}" for n in range(20)]

    def writer(part: list[str]) -> None:
        archive = FolderArchive(tmp_path)
        for text in part:
            archive.write(_record(text), REL, text.encode())

    threads = [threading.Thread(target=writer, args=(texts[i::2],)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    archive = FolderArchive(tmp_path)
    current = archive.read(REL)
    assert current is not None and current["revision"] == 20
    kept = [(archive.read_revision(REL, n) or {}).get("text") for n in range(1, 21)]
    assert sorted(kept) == sorted(texts)  # every one of them, once


def test_new_folders_are_made_durable_in_their_parents(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import worker.store.folder

    synced: list[str] = []
    real = worker.store.folder.sync_folder

    def sync(folder: Path) -> None:
        synced.append(folder.relative_to(tmp_path).as_posix() or ".")
        real(folder)

    monkeypatch.setattr(worker.store.folder, "sync_folder", sync)
    archive = FolderArchive(tmp_path / "archive")
    archive.write(_record("one"), REL, None)
    assert sorted(synced) == sorted(
        [
            "archive/mt/2024/12/27",
            "archive/mt/2024/12",
            "archive/mt/2024",
            "archive/mt",
            "archive",
            ".",
        ]
    )
    synced.clear()
    archive.write(_record("two"), REL, None)  # nothing new: only the day's folder
    assert synced == ["archive/mt/2024/12/27"]


def test_the_start_up_sweep_visits_only_the_folders_dead_writers_wrote_to(tmp_path: Path) -> None:
    writer = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, pathlib; from worker.store.folder import FolderArchive;"
            "a = FolderArchive(pathlib.Path(sys.argv[1]));"
            "a.write({'id': 'a1', 'content_hash': 'sha256:1', 'revision': 1}, sys.argv[2], None);"
            "import os; print(os.getpid())",
            str(tmp_path),
            REL,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    dead = writer.stdout.strip()
    written = tmp_path / "mt/2024/12/27"
    elsewhere = tmp_path / "mt/2024/11/01"
    elsewhere.mkdir(parents=True)
    for folder in (written, elsewhere):
        (folder / f".a9.json{TMP_MARK}{dead}-abcd").write_text("left by the dead writer")
    archive = FolderArchive(tmp_path)
    assert archive.sweep() == 1  # the folder its log names; nothing else is walked
    assert not list(written.glob(".*")) and list(elsewhere.glob(".*"))
    assert not list((tmp_path / ".writers").iterdir())  # the dead writer's log is done with
    assert archive.sweep_all() == 1


def test_a_writer_that_is_a_zombie_counts_as_dead(tmp_path: Path) -> None:
    """A worker killed with its parent stays a zombie until PID 1 reaps it (in a container
    without an init, never): the next start sweeps its temporary files and its log anyway."""
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, pathlib; from worker.store.folder import FolderArchive;"
            "a = FolderArchive(pathlib.Path(sys.argv[1]));"
            "a.write({'id': 'a1', 'content_hash': 'sha256:1', 'revision': 1}, sys.argv[2], None)",
            str(tmp_path),
            REL,
        ]
    )
    try:
        # Not reaped: once it has exited it is a zombie, which signal 0 still reaches.
        stat = Path(f"/proc/{writer.pid}/stat")
        for _ in range(600):
            if stat.read_bytes().rsplit(b")", 1)[1].split()[0] == b"Z":
                break
            time.sleep(0.05)
        os.kill(writer.pid, 0)
        assert not pid_alive(writer.pid)
        assert owner_is_dead(f"{socket.gethostname()}:{writer.pid}:x", "me")
        left = tmp_path / f"mt/2024/12/27/.a9.json{TMP_MARK}{writer.pid}-abcd"
        left.write_text("left by the killed writer")
        assert FolderArchive(tmp_path).sweep() == 1
        assert not left.exists() and not list((tmp_path / ".writers").iterdir())
    finally:
        writer.wait()
