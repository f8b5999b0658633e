"""Readable differences between two versions of a record's text (difflib, rendered escaped).

Posts are short paragraphs, so a word-level inline diff ("~~old~~ new") reads best. Long texts
fall back to a line diff of bounded size: difflib is roughly quadratic, and a hostile 1 MB reply must
not tie up a worker. The output is data (segments), never HTML: the template escapes it.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

WORD_DIFF_MAX_TOKENS = 3000
LINE_DIFF_MAX_CHARS = 200_000
LINE_DIFF_MAX_LINES = 400
LINE_MAX_CHARS = 1000
_TOKEN = re.compile(r"\s+|\w+|[^\w\s]", re.UNICODE)


@dataclass(frozen=True)
class Segment:
    op: str  # "same", "del", "ins"
    text: str


@dataclass(frozen=True)
class TextDiff:
    mode: str  # "words", "lines" or "none" (no change)
    segments: tuple[Segment, ...]
    truncated: bool = False


def diff_texts(old: str, new: str) -> TextDiff:
    """The difference from `old` to `new`, word-level when small enough, else line-level."""
    old, new = old or "", new or ""
    if old == new:
        return TextDiff("none", ())
    old_tokens, new_tokens = _TOKEN.findall(old), _TOKEN.findall(new)
    if max(len(old_tokens), len(new_tokens)) <= WORD_DIFF_MAX_TOKENS:
        return TextDiff("words", _word_segments(old_tokens, new_tokens))
    return _line_diff(old, new)


def _word_segments(old: list[str], new: list[str]) -> tuple[Segment, ...]:
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    segments: list[Segment] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            segments.append(Segment("same", "".join(old[i1:i2])))
            continue
        if tag in ("delete", "replace"):
            segments.append(Segment("del", "".join(old[i1:i2])))
        if tag in ("insert", "replace"):
            segments.append(Segment("ins", "".join(new[j1:j2])))
    return tuple(segments)


def _line_diff(old: str, new: str) -> TextDiff:
    truncated = len(old) > LINE_DIFF_MAX_CHARS or len(new) > LINE_DIFF_MAX_CHARS
    old_lines = _lines(old[:LINE_DIFF_MAX_CHARS])
    new_lines = _lines(new[:LINE_DIFF_MAX_CHARS])
    segments: list[Segment] = []
    for line in difflib.unified_diff(old_lines, new_lines, lineterm="", n=1):
        if line.startswith(("---", "+++")):
            continue
        if len(segments) >= LINE_DIFF_MAX_LINES:
            truncated = True
            break
        op = {"-": "del", "+": "ins"}.get(line[:1], "same")
        text = line[1:] if line[:1] in "-+ " else line
        if len(text) > LINE_MAX_CHARS:
            text, truncated = text[:LINE_MAX_CHARS] + "…", True
        segments.append(Segment(op, text))
    return TextDiff("lines", tuple(segments), truncated)


def _lines(text: str) -> list[str]:
    # A single enormous line diffs as one replaced line; split very long lines so the diff stays useful.
    lines: list[str] = []
    for line in text.splitlines():
        lines.extend(line[i:i + LINE_MAX_CHARS] for i in range(0, max(len(line), 1), LINE_MAX_CHARS))
    return lines
