"""The Moscow Times, end to end: every fixture page archived with every expected field.

Pages whose expected record says ``fetched_by_url`` are in no feed fixture (so tests counting
the feeds' articles are untouched): they are fetched with ``fetch --url`` after the feeds.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from conftest import FIXTURES, MT_EXPECTED, Cli, records
from mtsite import FURNITURE
from sitesrv import SiteServer
from worker.store.record import schema

EXPECTED = sorted(MT_EXPECTED.glob("*.json"))
BY_URL = [
    record["url"].removeprefix("https://www.themoscowtimes.com")
    for record in (json.loads(p.read_text(encoding="utf-8")) for p in EXPECTED)
    if record.get("fetched_by_url")
]


def _local(value: Any, base: str) -> Any:
    """Expected values name the real origin; the fixture server serves it from 127.0.0.1."""
    text = json.dumps(value, ensure_ascii=False).replace("https://www.themoscowtimes.com", base)
    return json.loads(text)


@pytest.fixture
def fetched(
    cli: Cli, config: Path, archive_dir: Path, server: SiteServer
) -> dict[str, dict[str, Any]]:
    code, _, err = cli("fetch", "--config", str(config))
    assert code == 0, err
    urls = [arg for path in BY_URL for arg in ("--url", server.url(path))]
    code, _, err = cli("fetch", "--config", str(config), *urls)
    assert code == 0, err
    return records(archive_dir)


@pytest.mark.parametrize("expected_file", EXPECTED, ids=[p.stem for p in EXPECTED])
def test_every_expected_field(
    expected_file: Path, fetched: dict[str, dict[str, Any]], server: SiteServer
) -> None:
    expected = _local(json.loads(expected_file.read_text(encoding="utf-8")), server.base)
    record = fetched[expected.pop("path")]
    jsonschema.validate(record, schema())
    assert record["id"] == expected_file.stem
    assert record["extraction"]["method"] == expected.pop("method")
    assert record["extraction"]["layout"] == expected.pop("layout", "2024")
    expected.pop("fetched_by_url", None)
    block_types = expected.pop("block_types", None)
    if block_types is not None:
        assert [b["type"] for b in record["body"]] == block_types
    for needle in expected.pop("markdown_contains", []):
        assert any(needle in b.get("markdown", "") for b in record["body"]), needle
    for needle in expected.pop("absent", []):
        assert needle not in record["text"]
        assert needle not in json.dumps(record["body"], ensure_ascii=False)
    for key, value in expected.items():
        assert record[key] == value, key


def test_no_furniture_anywhere(fetched: dict[str, dict[str, Any]]) -> None:
    assert len(fetched) == len(EXPECTED)
    for path, record in fetched.items():
        body = record["text"] + json.dumps(record["body"], ensure_ascii=False)
        for phrase in FURNITURE:
            assert phrase not in body, (path, phrase)
        assert record["extraction"]["warnings"] == []


def test_disclaimer_is_its_own_field_on_opinion_pieces_only(
    fetched: dict[str, dict[str, Any]],
) -> None:
    disclaimer = (
        "The views expressed in opinion pieces do not necessarily reflect the position of "
        "The Moscow Times."
    )
    for path, record in fetched.items():
        if record["kind"] == "opinion":
            assert record["disclaimer"] == disclaimer, path
            assert "The views expressed" not in record["text"], path
        else:
            assert record["disclaimer"] is None, path


def test_records_written_before_disclaimer_and_layout_still_validate(
    fetched: dict[str, dict[str, Any]],
) -> None:
    record = dict(fetched["moscowtimes/2026/06/22/a93072.json"])
    del record["disclaimer"]
    record["extraction"] = {k: v for k, v in record["extraction"].items() if k != "layout"}
    jsonschema.validate(record, schema())


def _seed_paragraphs() -> tuple[str, list[str]]:
    """Title and body paragraphs of the seed article, with its converter's flaws undone."""
    lines = (FIXTURES / "reference" / "seed-article.md").read_text(encoding="utf-8").split("\n\n")
    blocks = [b.strip() for b in lines if b.strip()]
    title = blocks[0].removeprefix("# ").strip()
    start = next(i for i, b in enumerate(blocks) if b.startswith("South Korean officials"))
    end = next(i for i, b in enumerate(blocks) if b.startswith("Original url"))
    body = [b for b in blocks[start:end] if not b.startswith("**Related article:**")]
    # The converter split one paragraph in two ("...South Korea's" / "National Intelligence...").
    joined: list[str] = []
    for block in body:
        if joined and not re.search(r"[.\"”]$", joined[-1]):
            joined[-1] += " " + block
        else:
            joined.append(block)
    return title, joined


def test_reference_article_text_is_the_seed(fetched: dict[str, dict[str, Any]]) -> None:
    title, paragraphs = _seed_paragraphs()
    record = fetched["moscowtimes/2024/12/27/a87467.json"]
    assert record["title"] == title
    assert len(paragraphs) == 9
    assert record["text"] == "\n\n".join(paragraphs)
    assert "Related article" not in record["text"]
