"""What changed between two revisions of an article, for an editor: the fields that differ
and, for the text, which words. Pure: two records in, lines out.

The text is compared paragraph by paragraph (so a long piece shows only the paragraphs that
changed, numbered), and within a changed paragraph word by word. Off a terminal the words are
marked as ``git diff --word-diff=plain`` marks them (``[-removed-]`` and ``{+added+}``); on one
they are coloured instead (red removed, green added).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from typing import Any

import orjson

from worker.store.record import CONTENT_FIELDS

FIELDS = (*CONTENT_FIELDS, "disclaimer")
# Words (with their inner apostrophes and hyphens), punctuation marks, whitespace runs.
_WORDS = re.compile(r"\s+|\w+(?:['’-]\w+)*|[^\w\s]")
RED, GREEN, BOLD, RESET = "\x1b[31m", "\x1b[32m", "\x1b[1m", "\x1b[0m"


def changed_fields(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    return [key for key in FIELDS if old.get(key) != new.get(key)]


def word_diff(old: str, new: str) -> list[tuple[str, str]]:
    """(``equal`` | ``delete`` | ``insert``, text) runs turning ``old`` into ``new``, by words
    (punctuation marks and whitespace runs are words of their own, so "died." and "died"
    differ by the full stop alone)."""
    a, b = _WORDS.findall(old), _WORDS.findall(new)
    runs: list[tuple[str, str]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            runs.append(("equal", "".join(a[i1:i2])))
            continue
        if op in ("delete", "replace"):
            runs.append(("delete", "".join(a[i1:i2])))
        if op in ("insert", "replace"):
            runs.append(("insert", "".join(b[j1:j2])))
    return runs


def _mark(runs: Sequence[tuple[str, str]], colour: bool) -> str:
    out = []
    for kind, text in runs:
        if kind == "equal":
            out.append(text)
        elif colour:
            out.append(f"{RED if kind == 'delete' else GREEN}{text}{RESET}")
        else:
            out.append(f"[-{text}-]" if kind == "delete" else f"{{+{text}+}}")
    return "".join(out)


def text_diff(old: str, new: str, *, colour: bool) -> list[str]:
    """The paragraphs that changed, each once, numbered by its place in the new text (in the
    old one for a removed paragraph), with its words marked."""
    a, b = _paragraphs(old), _paragraphs(new)
    lines = []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            continue
        pairs = list(zip(range(i1, i2), range(j1, j2), strict=False)) if op == "replace" else []
        for i, j in pairs:
            lines.append(f"  ¶{j + 1}: {_mark(word_diff(a[i], b[j]), colour)}")
        for i in range(i1 + len(pairs), i2):
            lines.append(f"  ¶{i + 1} (removed): {_mark([('delete', a[i])], colour)}")
        for j in range(j1 + len(pairs), j2):
            lines.append(f"  ¶{j + 1} (added): {_mark([('insert', b[j])], colour)}")
    return lines


def _paragraphs(text: str | None) -> list[str]:
    return [p for p in (text or "").split("\n\n") if p.strip()]


def _show(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def field_lines(key: str, old: Any, new: Any, *, colour: bool) -> list[str]:
    """How one field changed: lists item by item, the body by its blocks, the rest whole."""
    if key == "text":
        return text_diff(old or "", new or "", colour=colour)
    if key == "body":
        return [
            f"  {len(old or [])} -> {len(new or [])} blocks (what they say: see text; "
            "'render --revision N' shows each whole)"
        ]
    minus, plus = ("- ", "+ ") if not colour else (f"{RED}- ", f"{GREEN}+ ")
    end = RESET if colour else ""
    if isinstance(old, list) and isinstance(new, list):
        removed = [item for item in old if item not in new]
        added = [item for item in new if item not in old]
        if not removed and not added:
            return [f"  same items, reordered: {_show(new)}"]
        return [f"  {minus}{_show(i)}{end}" for i in removed] + [
            f"  {plus}{_show(i)}{end}" for i in added
        ]
    return [f"  {minus}{_show(old)}{end}", f"  {plus}{_show(new)}{end}"]


def describe(old: dict[str, Any], new: dict[str, Any], *, colour: bool, heading: str) -> list[str]:
    """The whole comparison: a heading, the changed fields' names, then each field's change."""
    changed = changed_fields(old, new)
    bold, end = (BOLD, RESET) if colour else ("", "")
    lines = [f"{bold}{heading}{end}"]
    for record in (old, new):
        lines.append(
            f"  revision {record.get('revision')}: fetched {record.get('fetched_at')}, "
            f"{record.get('content_hash')}"
        )
    if not changed:
        return [*lines, "no field changed"]
    lines.append(f"changed: {', '.join(changed)}")
    for key in changed:
        lines.append("")
        lines.append(f"{bold}{key}{end}")
        lines += field_lines(key, old.get(key), new.get(key), colour=colour)
    return lines
