"""Where things are in an archive, the same on a folder and an object store.

``<source>/<YYYY>/<MM>/<DD>/<id>.json`` is the record (the publication day in UTC, or the first-seen
day), ``<id>.html.gz`` beside it the raw page, ``<id>.r<N>.json`` / ``<id>.r<N>.html.gz`` an earlier
revision. WARC files (``archive.warc``) are ``_warc/<YYYY>/<MM>/<DD>/<name>.warc.gz``, the day
their first record was written (UTC), with their CDXJ index ``<name>.cdxj`` beside them; ``_warc``
can never be a source's folder (a source name starts with a letter or digit). Paths are checked
on the string: nothing can name a place outside the archive.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from worker.config import SOURCE_NAME
from worker.errors import ArchiveError
from worker.parse import dates
from worker.parse.urls import SAFE_ID

RECORD = ".json"
RAW = ".html.gz"
WARC_ROOT = "_warc"
WARC = ".warc.gz"
CDXJ = ".cdxj"
# Prefix-Timestamp-Serial-Crawlhost.warc.gz, the IIPC naming convention (timestamp to the ms).
_WARC_NAME = re.compile(r"^[a-z]+-(?P<day>[0-9]{8})[0-9]{9}-[0-9]{5,}-[A-Za-z0-9.~_-]+\.warc\.gz$")
# A range of archive days, first and last (inclusive); None leaves that end open. An archive's
# records(source, days) are those of the source's day folders in the range, in path order,
# read as they are consumed (memory does not grow with the archive).
Days = tuple[date | None, date | None]
ALL_DAYS: Days = (None, None)
_REVISION = re.compile(r"^(?P<id>[A-Za-z0-9][A-Za-z0-9_-]{0,63})\.r(?P<n>[0-9]{1,9})\.json$")


def record_path(
    source: str, article_id: str, published_at: str | None, first_seen: datetime
) -> str:
    """Where an article's record lives, relative to the root. Refuses unsafe names."""
    if not SOURCE_NAME.match(source):
        raise ArchiveError(f"unsafe source name {source!r}")
    if not SAFE_ID.match(article_id):
        raise ArchiveError(f"unsafe article id {article_id!r}")
    year, month, day = dates.utc_day(published_at, first_seen)
    return f"{source}/{year}/{month}/{day}/{article_id}{RECORD}"


def checked(relative: str) -> str:
    """``relative`` if it stays inside the archive (not absolute, no "..", no empty parts)."""
    parts = relative.split("/")
    if (
        relative.startswith("/")
        or "\\" in relative
        or "\0" in relative
        or any(part in ("", ".", "..") for part in parts)
    ):
        raise ArchiveError(f"path {relative!r} escapes the archive")
    return relative


def stem(relative: str) -> str:
    """The record's path without ``.json``: ``moscowtimes/2024/12/27/a87467``."""
    return checked(relative).removesuffix(RECORD)


def raw_path(relative: str) -> str:
    return stem(relative) + RAW


def revision_path(relative: str, revision: int) -> str:
    return f"{stem(relative)}.r{revision}{RECORD}"


def raw_revision_path(relative: str, revision: int) -> str:
    return f"{stem(relative)}.r{revision}{RAW}"


def record_id(name: str) -> str | None:
    """The article ID of a current record's file name (``a87467.json``), else None."""
    if not name.endswith(RECORD):
        return None
    article_id = name[: -len(RECORD)]
    return article_id if SAFE_ID.match(article_id) else None


def revision_of(name: str) -> tuple[str, int] | None:
    """(article ID, revision) of an earlier revision's file name (``a87467.r2.json``)."""
    match = _REVISION.match(name)
    return (match.group("id"), int(match.group("n"))) if match else None


def earlier_revisions(
    names: Iterable[str], article_id: str, current: dict[str, Any] | None
) -> list[int]:
    """The earlier revisions of ``article_id`` among the file names of its folder, oldest first.
    Only those below the current record's revision count: a copy left by an interrupted write is
    the current revision itself, not an earlier one."""
    below = int(current.get("revision", 1)) if current is not None else None
    kept = []
    for name in names:
        found = revision_of(name)
        if found is not None and found[0] == article_id and (below is None or found[1] < below):
            kept.append(found[1])
    return sorted(kept)


def is_record_key(relative: str) -> bool:
    """Whether ``relative`` has the shape of a current record's path."""
    parts = relative.split("/")
    return (
        len(parts) == 5
        and SOURCE_NAME.match(parts[0]) is not None
        and all(p.isdigit() for p in parts[1:4])
        and record_id(parts[4]) is not None
    )


def warc_key(name: str) -> str:
    """Where a finished WARC file named ``name`` goes: the day of its name's timestamp."""
    match = _WARC_NAME.match(name)
    if match is None:
        raise ArchiveError(f"not a WARC file name of ours: {name!r}")
    day = match.group("day")
    return f"{WARC_ROOT}/{day[:4]}/{day[4:6]}/{day[6:]}/{name}"


def cdxj_key(warc: str) -> str:
    """The CDXJ index beside a WARC file."""
    return checked(warc).removesuffix(WARC) + CDXJ


def is_warc_key(relative: str) -> bool:
    parts = relative.split("/")
    return (
        len(parts) == 5
        and parts[0] == WARC_ROOT
        and all(p.isdigit() for p in parts[1:4])
        and _WARC_NAME.match(parts[4]) is not None
    )


def day_of(relative: str) -> date | None:
    """The archive day of a record's key (``<source>/<YYYY>/<MM>/<DD>/<id>.json``)."""
    parts = relative.split("/")
    try:
        return date(int(parts[1]), int(parts[2]), int(parts[3]))
    except (IndexError, ValueError):
        return None


def may_hold(parts: tuple[int, ...], since: date | None, until: date | None) -> bool:
    """Whether the folder of year (and month, and day) ``parts`` can hold days in the range."""
    low = (since.year, since.month, since.day)[: len(parts)] if since else None
    high = (until.year, until.month, until.day)[: len(parts)] if until else None
    return (low is None or parts >= low) and (high is None or parts <= high)
