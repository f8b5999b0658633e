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
LINE_DIFF_MAX_LINES = 400  # lines compared (beyond the common start and end) and shown
LINE_MAX_CHARS = 1000
_TOKEN = re.compile(r"\s+|\w+|[^\w\s]", re.UNICODE)


@dataclass(frozen=True)
class Segment:
    op: str  # "same", "del", "ins", or "skip" (a note that unchanged lines were left out)
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
    """Line diff of the part between the common first and last lines, bounded in time and size."""
    truncated = False
    old_lines, new_lines = _lines(old), _lines(new)  # linear work, fine for megabytes
    head = 0
    while head < min(len(old_lines), len(new_lines)) and old_lines[head] == new_lines[head]:
        head += 1
    tail = 0
    while (tail < min(len(old_lines), len(new_lines)) - head
           and old_lines[-1 - tail] == new_lines[-1 - tail]):
        tail += 1
    old_mid = old_lines[head:len(old_lines) - tail]
    new_mid = new_lines[head:len(new_lines) - tail]
    segments: list[Segment] = []
    if head:
        segments.append(Segment("skip", f"{head} unchanged line{'s' if head != 1 else ''}"))
    if max(len(old_mid), len(new_mid)) <= LINE_DIFF_MAX_LINES:
        matcher = difflib.SequenceMatcher(None, old_mid, new_mid, autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag == "equal":
                segments.extend(Segment("same", line) for line in old_mid[i1:i2])
                continue
            if tag in ("delete", "replace"):
                segments.extend(Segment("del", line) for line in old_mid[i1:i2])
            if tag in ("insert", "replace"):
                segments.extend(Segment("ins", line) for line in new_mid[j1:j2])
    else:  # too much changed to compare line by line in bounded time: show the start of each side
        half = LINE_DIFF_MAX_LINES // 2
        segments.extend(Segment("del", line) for line in old_mid[:half])
        segments.extend(Segment("ins", line) for line in new_mid[:half])
        truncated = True
    if tail:
        segments.append(Segment("skip", f"{tail} unchanged line{'s' if tail != 1 else ''}"))
    return TextDiff("lines", tuple(segments), truncated)


def _lines(text: str) -> list[str]:
    # A single enormous line diffs as one replaced line; split very long lines so the diff stays useful.
    lines: list[str] = []
    for line in text.splitlines():
        lines.extend(line[i:i + LINE_MAX_CHARS] for i in range(0, max(len(line), 1), LINE_MAX_CHARS))
    return lines
