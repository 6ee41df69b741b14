"""``news-worker export``: the latest revision of every article, one row each, as JSON Lines,
CSV or Parquet (typed: instants with the source's offset beside them, lists), from the folder
and from S3; the range of days read is the range asked for."""

from __future__ import annotations

import csv
import io
import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from s3srv import S3Server
from stores import MakeArchive
from test_warc import with_warc

from conftest import Cli, records
from worker.parse import dates


def _expected(archive: Path) -> dict[str, dict[str, Any]]:
    return {record["id"]: record for record in records(archive).values()}


def test_jsonl_has_one_row_per_article_with_its_values(
    cli: Cli, config: Path, archive_dir: Path
) -> None:
    assert cli("fetch", "--config", str(config))[0] == 0
    code, out, err = cli("export", "--config", str(config), "--format", "jsonl")
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    expected = _expected(archive_dir)
    assert len(rows) == len(expected) == 10
    assert {row["id"] for row in rows} == set(expected)
    for row in rows:
        record = expected[row["id"]]
        for key in ("title", "text", "authors", "tags", "published_at", "updated_at", "url"):
            assert row[key] == record[key]
        assert row["revision"] == record["revision"] and row["source"] == "moscowtimes"
        assert row["path"].endswith(f"/{row['id']}.json")
        assert row["lead_image_url"] == (record["lead_image"] or {}).get("url")


def test_csv_has_a_header_and_one_row_per_article(
    cli: Cli, config: Path, archive_dir: Path
) -> None:
    assert cli("fetch", "--config", str(config))[0] == 0
    code, out, _ = cli("export", "--config", str(config), "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    expected = _expected(archive_dir)
    assert len(rows) == 10
    for row in rows:
        record = expected[row["id"]]
        assert row["text"] == record["text"]  # newlines and quotes survive CSV quoting
        assert json.loads(row["authors"]) == record["authors"]
        assert row["subtitle"] == (record["subtitle"] or "")


def test_parquet_reads_back_with_the_same_values_and_proper_types(
    cli: Cli, config: Path, archive_dir: Path, tmp_path: Path
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    assert cli("fetch", "--config", str(config))[0] == 0
    out = tmp_path / "articles.parquet"
    code, text, err = cli(
        "export", "--config", str(config), "--format", "parquet", "--output", str(out)
    )
    assert code == 0, err
    assert text == f"exported 10 articles to {out}\n"
    table = pq.read_table(out)
    assert table.num_rows == 10
    assert table.schema.field("published_at").type == pa.timestamp("us", tz="UTC")
    assert table.schema.field("authors").type == pa.list_(pa.string())
    assert table.schema.field("tags").type == pa.list_(pa.string())
    assert table.schema.field("revision").type == pa.int32()
    expected = _expected(archive_dir)
    for row in table.to_pylist():
        record = expected[row["id"]]
        assert row["text"] == record["text"] and row["title"] == record["title"]
        assert row["authors"] == record["authors"] and row["tags"] == record["tags"]
        published = dates.parse_date(record["published_at"])
        assert published is not None and row["published_at"] == published
        assert row["published_offset"] == published.utcoffset().total_seconds() // 60 == 180
        fetched = dates.parse_date(record["fetched_at"])
        assert row["fetched_at"] == fetched and row["fetched_at"].tzinfo is not None


def test_duckdb_loads_a_month_in_one_line(
    cli: Cli, config: Path, tmp_path: Path, archive_dir: Path
) -> None:
    import duckdb

    assert cli("fetch", "--config", str(config))[0] == 0
    out = tmp_path / "dec.parquet"
    args = ["--since", "2024-12-01", "--until", "2024-12-31", "--format", "parquet"]
    assert cli("export", "--config", str(config), *args, "--output", str(out))[0] == 0
    # The one line: SELECT ... FROM 'dec.parquet'
    rows = duckdb.sql(
        f"SELECT count(*), min(published_at), list_contains(flatten(list(authors)), 'AFP') "
        f"FROM '{out}'"
    ).fetchall()
    assert rows[0][0] == 9 and rows[0][2] is True  # the 2026 opinion piece is outside
    december = [
        dates.parse_date(r["published_at"])
        for p, r in records(archive_dir).items()
        if p.startswith("moscowtimes/2024/12/")
    ]
    assert rows[0][1] == min(d for d in december if d is not None)
    types = {r[0]: r[1] for r in duckdb.sql(f"DESCRIBE SELECT * FROM '{out}'").fetchall()}
    assert types["published_at"] == "TIMESTAMP WITH TIME ZONE" and types["tags"] == "VARCHAR[]"
    # JSON Lines works as well: read_json_auto over the export.
    lines = tmp_path / "dec.jsonl"
    assert (
        cli(
            "export",
            "--config",
            str(config),
            *args[:4],
            "--format",
            "jsonl",
            "--output",
            str(lines),
        )[0]
        == 0
    )
    assert duckdb.sql(f"SELECT count(*) FROM read_json_auto('{lines}')").fetchall() == [(9,)]


def test_since_until_and_source_choose_the_rows(cli: Cli, config: Path, archive_dir: Path) -> None:
    assert cli("fetch", "--config", str(config))[0] == 0
    day = [r for r in records(archive_dir) if r.startswith("moscowtimes/2024/12/27/")]
    code, out, _ = cli(
        "export", "--config", str(config), "--format", "jsonl",
        "--since", "2024-12-27", "--until", "2024-12-27", "--source", "moscowtimes",
    )  # fmt: skip
    assert code == 0 and sorted(json.loads(line)["path"] for line in out.splitlines()) == day
    code, _, err = cli("export", "--config", str(config), "--format", "csv", "--source", "nope")
    assert code == 2 and "--source nope" in err
    code, _, err = cli(
        "export", "--config", str(config), "--format", "csv", "--since", "2024-13-01"
    )
    assert code == 2 and "--since" in err
    code, _, err = cli(
        "export", "--config", str(config), "--format", "csv", "--since", "2025-01-02",
        "--until", "2025-01-01",
    )  # fmt: skip
    assert code == 2 and "--until" in err


def test_an_empty_archive_exports_no_rows(cli: Cli, config: Path, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    code, out, _ = cli("export", "--config", str(config), "--format", "csv")
    assert code == 0 and out.splitlines()[0].startswith("id,source,url,title")
    assert len(out.splitlines()) == 1
    out_file = tmp_path / "none.parquet"
    assert (
        cli("export", "--config", str(config), "--format", "parquet", "--output", str(out_file))[0]
        == 0
    )
    assert pq.read_table(out_file).num_rows == 0


def test_parquet_without_pyarrow_names_the_extra(
    cli: Cli, config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import pyarrow: ImportError
    out = tmp_path / "x.parquet"
    code, _, err = cli(
        "export", "--config", str(config), "--format", "parquet", "--output", str(out)
    )
    assert code == 2 and "pip install 'news-worker[parquet]'" in err
    assert not out.exists() and len(err.strip().splitlines()) == 1


def test_export_from_s3(
    cli: Cli, config: Path, s3_server: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    with_warc(config, url=s3_server.url())
    config.write_text(config.read_text().replace("warc = true\n", ""))
    assert cli("fetch", "--config", str(config))[0] == 0
    code, out, _ = cli("export", "--config", str(config), "--format", "jsonl")
    assert code == 0 and len(out.splitlines()) == 10
    code, out, _ = cli(
        "export", "--config", str(config), "--format", "jsonl", "--since", "2026-01-01",
    )  # fmt: skip
    assert [json.loads(line)["id"] for line in out.splitlines()] == ["a93072"]


def _record(article_id: str, day: date) -> dict[str, Any]:
    return {
        "id": article_id,
        "url": f"https://news.test/{article_id}",
        "published_at": f"{day.isoformat()}T10:00:00+00:00",
        "content_hash": f"sha256:{article_id}",
    }


def test_records_in_a_day_range_on_every_store(make_archive: MakeArchive) -> None:
    archive = make_archive()
    days = [date(2023, 12, 31), date(2024, 1, 1), date(2024, 1, 31), date(2024, 2, 1)]
    for n, day in enumerate(days):
        archive.write(_record(f"a{n}", day), f"mt/{day:%Y/%m/%d}/a{n}.json", None)
    everything = [rel for rel, _ in archive.records("mt")]
    assert everything == [f"mt/{d:%Y/%m/%d}/a{n}.json" for n, d in enumerate(days)]
    january = [rel for rel, _ in archive.records("mt", (date(2024, 1, 1), date(2024, 1, 31)))]
    assert january == everything[1:3]
    assert [rel for rel, _ in archive.records("mt", (date(2024, 1, 2), None))] == everything[2:]
    assert [rel for rel, _ in archive.records("mt", (None, date(2023, 12, 31)))] == everything[:1]
