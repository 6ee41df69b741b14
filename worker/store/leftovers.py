"""What writers that died leave behind: temporary files (never visible as records), and where
to look for them without walking the whole archive.

Each writing process keeps a log of the folders it has written to (one line per folder, once),
``<archive>/.writers/<pid>-<token>.log``. At start, only the folders named in the logs of
processes that are gone are swept, and those logs are removed.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from worker.errors import ArchiveError
from worker.store.files import is_stale_temporary, pid_alive

WRITERS = ".writers"


class WriterLog:
    def __init__(self, root: Path, resolve: Callable[[str], Path]) -> None:
        self.root = root
        self._resolve = resolve  # a relative folder name to a checked path in the archive
        self._log: Path | None = None
        self._noted: set[Path] = set()

    def note(self, folder: Path) -> None:
        """Remember that temporary files may be left in ``folder`` if this process dies."""
        if folder in self._noted:
            return
        if self._log is None:
            logs = self.root / WRITERS
            logs.mkdir(parents=True, exist_ok=True)
            self._log = logs / f"{os.getpid()}-{secrets.token_hex(4)}.log"
        with open(self._log, "a", encoding="utf-8") as log:
            log.write(folder.relative_to(self.root).as_posix() + "\n")
        self._noted.add(folder)

    def sweep(self) -> int:
        """Sweep the folders of dead writers' logs; returns how many files were removed."""
        try:
            entries = list(os.scandir(self.root / WRITERS))
        except OSError:
            return 0
        removed = 0
        for entry in entries:
            pid_text = entry.name.split("-", 1)[0]
            alive = pid_text.isdigit() and int(pid_text) != os.getpid() and pid_alive(int(pid_text))
            if alive or entry.path == str(self._log):
                continue
            try:
                folders = Path(entry.path).read_text(encoding="utf-8").split()
            except OSError:
                continue
            for folder in dict.fromkeys(folders):
                try:
                    removed += sweep_folder(self._resolve(folder))
                except ArchiveError:
                    continue  # a log line that is not a folder of ours
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
        return removed


def sweep_folder(folder: Path) -> int:
    removed = 0
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    for entry in entries:
        if entry.is_file(follow_symlinks=False) and is_stale_temporary(entry):
            try:
                os.unlink(entry.path)
                removed += 1
            except OSError:
                pass
    return removed


def sweep_tree(root: Path) -> int:
    """Sweep every folder under ``root`` (a full walk)."""
    removed = 0
    if not root.is_dir():
        return 0
    stack = [root]
    while stack:
        folder = stack.pop()
        removed += sweep_folder(folder)
        try:
            stack += [Path(e.path) for e in os.scandir(folder) if e.is_dir(follow_symlinks=False)]
        except OSError:
            continue
    return removed
