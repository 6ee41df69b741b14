"""How an article changed: ``diff`` names the fields that changed between two revisions and the
words of the text; ``render --revisions`` lists the history, ``render --revision N`` shows one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import Cli
from sitesrv import Site, SiteServer
from worker.app.diff import GREEN, RED, text_diff, word_diff

PAGE = (
    "/2024/12/27/ukraine-captured-north-korean-soldier-fighting-alongside-russia-south-korea-"
    "says-a87467"
)
OLD_TITLE = "Ukraine Captured North Korean Soldier Fighting Alongside Russia, South Korea Says"
NEW_TITLE = "Ukraine Captured North Korean Soldier, South Korea Says"


@pytest.fixture
def revised(cli: Cli, config: Path, site: Site, server: SiteServer, archive_dir: Path) -> Path:
    """a87467 archived, then changed on the site (headline and one sentence) and fetched again:
    two revisions."""
    assert cli("fetch", "--config", str(config))[0] == 0
    body = site.files[PAGE]
    changed = body.replace(OLD_TITLE.encode(), NEW_TITLE.encode()).replace(
        b"though the soldier later died in captivity", b"though the wounded soldier later died"
    )
    assert changed.count(NEW_TITLE.encode()) and b"wounded soldier" in changed
    site.put(PAGE, changed)
    assert cli("fetch", "--config", str(config), "--url", server.url(PAGE))[0] == 0
    record = json.loads((archive_dir / "moscowtimes/2024/12/27/a87467.json").read_text())
    assert record["revision"] == 2
    return config


def test_diff_names_the_changed_fields_and_words(cli: Cli, revised: Path) -> None:
    code, out, err = cli("diff", "a87467", "--config", str(revised))
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "a87467 (moscowtimes/2024/12/27/a87467.json): revision 1 -> 2"
    assert "changed: title, text, body" in lines
    assert f"  - {OLD_TITLE}" in lines and f"  + {NEW_TITLE}" in lines
    # The word-level diff of the changed paragraph, marked as git's plain word diff marks it.
    [paragraph] = [line for line in lines if line.startswith("  ¶1: ")]
    assert "though the {+wounded +}soldier later died[- in captivity-]." in paragraph
    assert "\x1b[" not in out  # no colour off a terminal
    # The same with explicit revisions, and the other way round.
    code, back, _ = cli("diff", "a87467", "--from", "2", "--to", "1", "--config", str(revised))
    assert code == 0 and f"  - {NEW_TITLE}" in back.splitlines()


def test_render_lists_the_history_and_shows_an_earlier_revision(cli: Cli, revised: Path) -> None:
    code, out, _ = cli("render", "a87467", "--revisions", "--config", str(revised))
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "moscowtimes/2024/12/27/a87467.json"
    assert lines[2].startswith("1 ") and lines[2].endswith("(first)")
    assert lines[3].startswith("2 ") and lines[3].endswith("title, text, body")
    code, out, _ = cli(
        "render", "a87467", "--revisions", "--format", "json", "--config", str(revised)
    )
    history = json.loads(out)
    assert [r["revision"] for r in history["revisions"]] == [1, 2]
    assert history["revisions"][1]["changed"] == ["title", "text", "body"]
    code, out, _ = cli("render", "a87467", "--revision", "1", "--config", str(revised))
    assert code == 0 and out.startswith(f"# {OLD_TITLE}\n")
    code, out, _ = cli("render", "a87467", "--config", str(revised))
    assert out.startswith(f"# {NEW_TITLE}\n")
    code, out, _ = cli(
        "render", "a87467", "--revision", "2", "--format", "json", "--config", str(revised)
    )
    assert json.loads(out)["title"] == NEW_TITLE
    code, _, err = cli("render", "a87467", "--revision", "7", "--config", str(revised))
    assert (
        code == 2 and "--revision 7: moscowtimes/2024/12/27/a87467.json has revisions 1, 2" in err
    )


def test_diff_of_an_article_with_one_revision_is_a_one_line_error(cli: Cli, config: Path) -> None:
    assert cli("fetch", "--config", str(config))[0] == 0
    code, _, err = cli("diff", "a87467", "--config", str(config))
    assert code == 2 and "has one revision (1): nothing to compare" in err
    assert len(err.strip().splitlines()) == 1
    code, _, err = cli("diff", "a99999", "--config", str(config))
    assert code == 2 and "no archived article with that ID" in err


def test_word_diff_and_colour() -> None:
    assert word_diff("the cat sat", "the dog sat") == [
        ("equal", "the "),
        ("delete", "cat"),
        ("insert", "dog"),
        ("equal", " sat"),
    ]
    old = "First paragraph.\n\nThe cat sat.\n\nGone paragraph."
    new = "First paragraph.\n\nThe dog sat.\n\nNew one.\n\nAnother."
    assert text_diff(old, new, colour=False) == [
        "  ¶2: The [-cat-]{+dog+} sat.",
        "  ¶3: [-Gone-]{+New+} [-paragraph-]{+one+}.",
        "  ¶4 (added): {+Another.+}",
    ]
    coloured = text_diff(old, new, colour=True)
    assert coloured[0] == f"  ¶2: The {RED}cat\x1b[0m{GREEN}dog\x1b[0m sat."
