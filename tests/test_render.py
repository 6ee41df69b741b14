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
    assert "*News* · December 27, 2024, 12:38 UTC+3 · updated 12:44 UTC+3" in blocks
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


def _record(archive: Path, **fields: object) -> Path:
    """A record written into the archive as the pipeline would (the fields that matter here)."""
    record: dict[str, object] = {
        "schema_version": 1,
        "id": "a1",
        "source": "moscowtimes",
        "url": "https://www.themoscowtimes.com/2024/12/28/a-story-a1",
        "title": "A Story",
        "subtitle": None,
        "authors": ["Jane Doe"],
        "author_details": [
            {"name": "Jane Doe", "url": "https://www.themoscowtimes.com/author/jane"}
        ],
        "published_at": "2024-12-28T09:05:00+03:00",
        "updated_at": None,
        "section": "Business",
        "tags": [],
        "lead_image": None,
        "body": [],
        "related": [],
        **fields,
    }
    path = archive / "moscowtimes" / "2024" / "12" / "28" / "a1.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record), encoding="utf-8")
    return path


def test_render_reads_as_a_reader_expects(cli: Cli, config: Path, archive_dir: Path) -> None:
    """The attribution once, embeds as links, paragraphs split where the page had a blank line,
    a header with the section, the date and time, the update and the byline's links."""
    body = [
        {"type": "paragraph", "text": "One.\n\nTwo.", "markdown": "One.  \n  \nTwo.  \nStill two."},
        {
            "type": "quote",
            "text": "It is over.",
            "markdown": "It is over.",
            "cite": "– a senior official",
        },
        {
            "type": "quote",
            "text": "We will win. — Volodymyr Zelensky",
            "markdown": "We will win. — Volodymyr Zelensky",
            "cite": "Volodymyr Zelensky",
        },
        {
            "type": "embed",
            "text": "Footage from the front. — Ministry of Defense (@DefenceU)",
            "url": "https://twitter.com/DefenceU/status/1",
        },
        {"type": "embed", "text": "A post without its address, see https://t.me/moscowtimes/42."},
        {"type": "embed", "url": "https://www.youtube.com/embed/xyz123"},
    ]
    path = _record(archive_dir, body=body, updated_at="2024-12-29T10:00:00+03:00")
    code, out, err = cli("render", "--config", str(config), str(path))
    assert code == 0, err
    blocks = out.split("\n\n")
    assert blocks[:3] == [
        "# A Story",
        "By [Jane Doe](https://www.themoscowtimes.com/author/jane)",
        "*Business* · December 28, 2024, 09:05 UTC+3 · updated December 29, 2024, 10:00 UTC+3",
    ]
    assert "One." in blocks and "Two.  \nStill two." in blocks
    assert "> It is over.\n>\n> — a senior official" in out
    assert "— –" not in out and out.count("Volodymyr Zelensky") == 1
    assert (
        "> Footage from the front. — Ministry of Defense (@DefenceU)\n>\n"
        "> [View the post on twitter.com](https://twitter.com/DefenceU/status/1)"
    ) in out
    assert "[View the post on t.me](https://t.me/moscowtimes/42)" in out
    assert "[Embedded content from youtube.com](https://www.youtube.com/embed/xyz123)" in out


def test_render_header_on_the_same_day_and_in_utc(
    cli: Cli, config: Path, archive_dir: Path
) -> None:
    path = _record(
        archive_dir,
        published_at="2024-12-28T09:05:00Z",
        updated_at="2024-12-28T11:30:00Z",
        section=None,
    )
    code, out, _ = cli("render", "--config", str(config), str(path))
    assert "December 28, 2024, 09:05 UTC · updated 11:30 UTC" in out.split("\n\n")
