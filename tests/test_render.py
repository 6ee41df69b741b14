"""``news-worker render``: the reference article back as Markdown, without the seed's flaws."""

from __future__ import annotations

import json
from pathlib import Path

from test_moscowtimes_golden import _seed_paragraphs

from conftest import Cli
from sitesrv import SiteServer

REFERENCE = "/2024/12/27/ukraine-captured-north-korean-soldier-fighting-alongside-russia-south-korea-says-a87467"


def test_render_reference_article_as_markdown(cli: Cli, config: Path, server: SiteServer) -> None:
    assert cli("fetch", "--config", str(config))[0] == 0
    code, out, err = cli("render", "--config", str(config), "a87467")
    assert code == 0, err
    title, paragraphs = _seed_paragraphs()
    blocks = out.split("\n\n")
    assert blocks[0] == f"# {title}"
    assert f"By [AFP]({server.url('/author/afp')})" in blocks
    assert "December 27, 2024" in blocks
    image = blocks.index(
        "![A photo purportedly showing the captured North Korean soldier alongside a Ukrainian "
        "serviceman.](https://static.themoscowtimes.com/image/article_1360/5c/6e/north-korean-soldier.jpg)"
    )
    assert blocks[image + 1] == (
        "A photo purportedly showing the captured North Korean soldier alongside a Ukrainian "
        "serviceman.  \nt.me/stranaua"
    )
    body = [b for b in blocks if b in paragraphs]
    assert body == paragraphs  # all nine, in order, none split
    # The related inset comes after the body as a real link, not spliced into it.
    related = f"- [Lavrov Claims France Sought Dialogue on Ukraine War Without Kyiv]({server.url('/2024/12/27/lavrov-claims-france-sought-dialogue-on-ukraine-war-without-kyiv')})"
    assert related in out
    assert out.index(related) > out.index(paragraphs[-1])
    assert f"Original URL: <{server.url(REFERENCE)}>" in out
    assert "(#)" not in out


def test_render_by_path_and_as_json(cli: Cli, config: Path, archive_dir: Path) -> None:
    assert cli("fetch", "--config", str(config))[0] == 0
    path = archive_dir / "moscowtimes/2026/06/22/a93072.json"
    code, out, _ = cli("render", "--config", str(config), str(path), "--format", "json")
    assert code == 0
    assert json.loads(out)["authors"] == ["Anna Petrova", "Mikko Virtanen"]
    code, out, _ = cli("render", "--config", str(config), str(path))
    assert out.startswith("**Opinion**\n\n# Europe Should Beat Russia")
    assert "By [Anna Petrova](" in out and ") and [Mikko Virtanen](" in out


def test_render_unknown_id_is_a_one_line_error(cli: Cli, config: Path) -> None:
    code, out, err = cli("render", "--config", str(config), "a1")
    assert code == 2
    assert err.strip().count("\n") == 0
    assert "a1" in err


def test_render_puts_the_opinion_disclaimer_after_the_body(
    cli: Cli, config: Path, archive_dir: Path
) -> None:
    assert cli("fetch", "--config", str(config))[0] == 0
    path = archive_dir / "moscowtimes/2026/06/22/a93072.json"
    code, out, _ = cli("render", "--config", str(config), str(path))
    assert code == 0
    blocks = out.split("\n\n")
    disclaimer = (
        "*The views expressed in opinion pieces do not necessarily reflect the position of "
        "The Moscow Times.*"
    )
    last_paragraph = (
        "A temporary administration, with profits held in escrow, would be *lawful* and effective."
    )
    assert blocks.index(disclaimer) == blocks.index(last_paragraph) + 1
    assert out.count("The views expressed") == 1
