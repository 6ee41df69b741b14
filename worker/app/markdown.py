"""Render an archived record for a reader: Markdown in the spirit of the reference article.

Headline, byline with real links, a line with the section, the date and time of publication (in
the offset the site gave) and of the update, lead image with caption and credit, the body with
its subheadings, quotes (the attribution once, after the quote), links, images and embeds (as
links to the post), paragraphs split where the page had a blank line (``<br><br>``), the site's
disclaimer (in italics, after the body and apart from it), then the related articles (listed
after the body, not spliced into it) and the original URL, unbroken.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from worker.parse import dates

DASHES = "—–―-‒ "  # what sites put before an attribution, and what we would put again
_URL = re.compile(r"https?://[^\s<>()\[\]]+")


def _byline(record: dict[str, Any]) -> str | None:
    people = record.get("author_details") or [{"name": n, "url": None} for n in record["authors"]]
    names = [f"[{p['name']}]({p['url']})" if p.get("url") else p["name"] for p in people]
    if not names:
        return None
    joined = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return f"By {joined}"


def _day(when: datetime) -> str:
    return f"{when:%B} {when.day}, {when.year}"


def _offset(when: datetime) -> str:
    delta = when.utcoffset()
    if delta is None:
        return ""
    if not delta:
        return " UTC"
    sign = "+" if delta >= timedelta(0) else "-"
    minutes = abs(int(delta.total_seconds())) // 60
    hours, rest = divmod(minutes, 60)
    return f" UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


def _moment(value: str | None) -> tuple[datetime, bool] | None:
    """The datetime a record's field holds, and whether it says the time of day."""
    parsed = dates.parse_date(value)
    if parsed is None or value is None:
        return None
    return parsed, not re.match(r"^\s*\d{4}-\d{2}-\d{2}\s*$", value)


def _dateline(record: dict[str, Any]) -> str | None:
    """``News · December 27, 2024, 12:38 UTC+3 · updated 12:44``."""
    parts = []
    section = record.get("section")
    if section and section != record.get("label"):
        parts.append(f"*{section}*")
    published = _moment(record.get("published_at"))
    updated = _moment(record.get("updated_at"))
    if published:
        when, timed = published
        parts.append(_day(when) + (f", {when:%H:%M}{_offset(when)}" if timed else ""))
    if updated and (not published or updated[0] != published[0]):
        when, timed = updated
        same_day = published is not None and published[0].date() == when.date()
        clock = f"{when:%H:%M}{_offset(when)}" if timed else ""
        if same_day and timed:
            parts.append(f"updated {clock}")
        else:
            parts.append(f"updated {_day(when)}" + (f", {clock}" if clock else ""))
    return " · ".join(parts) or None


def _paragraphs(text: str) -> list[str]:
    """Paragraphs of a block's Markdown, split where a line is empty (a ``<br><br>`` on the
    page); a single ``<br>`` stays a hard break inside its paragraph."""
    groups: list[list[str]] = [[]]
    for line in text.split("\n"):
        if line.strip():
            groups[-1].append(line)
        elif groups[-1]:
            groups.append([])
    return ["\n".join(g).rstrip() for g in groups if g]


def _quote_lines(text: str) -> str:
    return "\n".join(f"> {line}" if line.strip() else ">" for line in text.split("\n"))


def _quote(text: str, cite: str | None) -> str:
    body = "\n\n".join(_paragraphs(text))
    who = (cite or "").strip().lstrip(DASHES).strip()
    last = body.rstrip().rsplit("\n", 1)[-1]
    if who and not last.rstrip(" .").endswith(who.rstrip(" .")):
        body += f"\n\n— {who}"
    return _quote_lines(body)


def _embed(block: dict[str, Any]) -> str:
    """An embedded post: its text quoted, and always a link to it where one is known."""
    text = (block.get("markdown") or block.get("text") or "").strip()
    url = block.get("url")
    if not url:
        found = _URL.search(text)
        url = found.group(0).rstrip(".,;") if found else None
    host = (urlsplit(url).hostname or "").removeprefix("www.") if url else ""
    if not text:
        return f"[Embedded content from {host}]({url})" if url else ""
    link = f"\n\n[View the post on {host}]({url})" if url else ""
    return _quote_lines(text + link)


def _image(url: str, caption: str | None, credit: str | None) -> list[str]:
    lines = [f"![{caption or ''}]({url})"]
    under = "  \n".join(part for part in (caption, credit) if part)
    if under:
        lines.append(under)
    return ["\n\n".join(lines)]


def _block(block: dict[str, Any]) -> list[str]:
    kind = block["type"]
    text = block.get("markdown") or block.get("text") or ""
    if kind == "heading":
        return [f"{'#' * max(2, min(block.get('level', 2), 6))} {text}"]
    if kind == "quote":
        return [_quote(text, block.get("cite"))]
    if kind == "table":
        rows = block.get("items", [])
        if not rows:
            return []
        width = rows[0].count(" | ") + 1
        return [
            "\n".join([f"| {rows[0]} |", "|" + " --- |" * width, *(f"| {r} |" for r in rows[1:])])
        ]
    if kind == "list":
        return ["\n".join(f"- {item}" for item in block.get("items", []))]
    if kind == "image":
        return _image(block["url"], block.get("caption"), block.get("credit"))
    if kind == "embed":
        embed = _embed(block)
        return [embed] if embed else []
    if kind == "aside":
        return [_quote_lines("\n\n".join(_paragraphs(text)))] if text else []
    return _paragraphs(text)


def markdown(record: dict[str, Any]) -> str:
    """The record as a Markdown document."""
    parts: list[str] = []
    if record.get("label"):
        parts.append(f"**{record['label']}**")
    parts.append(f"# {record.get('title') or record['url']}")
    if record.get("subtitle"):
        parts.append(f"*{record['subtitle']}*")
    byline = _byline(record)
    if byline:
        parts.append(byline)
    dateline = _dateline(record)
    if dateline:
        parts.append(dateline)
    image = record.get("lead_image")
    if image:
        parts.extend(_image(image["url"], image.get("caption"), image.get("credit")))
    for block in record.get("body", []):
        parts.extend(_block(block))
    if record.get("disclaimer"):
        parts.append(f"*{record['disclaimer']}*")
    if record.get("related"):
        related = "\n".join(f"- [{r['title']}]({r['url']})" for r in record["related"])
        parts.append(f"**Related articles:**\n\n{related}")
    if record.get("tags"):
        parts.append("Tags: " + ", ".join(record["tags"]))
    parts.append(f"Original URL: <{record['url']}>")
    return "\n\n".join(parts) + "\n"
