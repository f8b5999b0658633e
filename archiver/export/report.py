"""The package's readable report: `report.html`, and `report.pdf` rendered from it by WeasyPrint.

Every post with its whole thread (replies nested under what they answer), each version with its
capture time, status, SHA-256 and ledger index; an edit shown as a word diff against the version
before; hidden and deleted items marked in words (not only by colour, so the PDF's text says it).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from archiver.model import RecordDoc

_WORDS = re.compile(r"\S+|\s+")
# A person reads the report; a text longer than this (a platform allows a million characters) is cut
# there, with a note: the full text is in records.jsonl and each version's raw JSON, and laying out
# a megabyte of text would take the PDF renderer many minutes.
TEXT_LIMIT = 10_000
STATUS_MARKS = {"hidden": "HIDDEN by the department or the platform", "deleted": "DELETED from the platform",
                "edited": "EDITED", "active": ""}


def word_diff(before: str, after: str) -> Markup:
    """`after` against `before` word by word: removed words in <del>, added words in <ins>."""
    old, new = _WORDS.findall(before or ""), _WORDS.findall(after or "")
    parts: list[str] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=old, b=new, autojunk=False).get_opcodes():
        if op == "equal":
            parts.append(str(escape("".join(old[i1:i2]))))
            continue
        if op in ("delete", "replace"):
            parts.append(f"<del>{escape(''.join(old[i1:i2]))}</del>")
        if op in ("insert", "replace"):
            parts.append(f"<ins>{escape(''.join(new[j1:j2]))}</ins>")
    return Markup("".join(parts))


def thread_rows(docs: Sequence[RecordDoc]) -> list[list[tuple[int, RecordDoc]]]:
    """Threads in order, each as (depth, record) rows: a reply under what it answers."""
    by_thread: dict[str, list[RecordDoc]] = {}
    for doc in docs:
        by_thread.setdefault(doc.thread_id, []).append(doc)
    threads = []
    for thread_id in sorted(by_thread, key=lambda t: min(d.created_at for d in by_thread[t])):
        members = sorted(by_thread[thread_id], key=lambda d: (d.created_at, d.record_id))
        ids = {doc.record_id for doc in members}
        children: dict[str | None, list[RecordDoc]] = {}
        for doc in members:
            parent = doc.parent_id if doc.parent_id in ids and doc.parent_id != doc.record_id else None
            children.setdefault(parent, []).append(doc)
        threads.append(_nested(children, None, 0))
    return threads


def _nested(children: dict[str | None, list[RecordDoc]], parent: str | None, depth: int) -> list[tuple[int, RecordDoc]]:
    rows: list[tuple[int, RecordDoc]] = []
    for child in children.get(parent, []):
        rows.append((depth, child))
        rows.extend(_nested(children, child.record_id, depth + 1))
    return rows


# Bidirectional controls reorder what a reader sees (U+202E makes "evil.exe" read "exe.live"); a
# record for a court is shown with them visible, as [U+202E], never applied.
_BIDI = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def visible_controls(text: str) -> str:
    """`text` with each bidirectional control shown as `[U+XXXX]` instead of applied."""
    return _BIDI.sub(lambda match: f"[U+{ord(match.group()):04X}]", text)


def shorten(text: str) -> str:
    """`text` for reading: bidirectional controls made visible, cut at `TEXT_LIMIT` characters with
    a note saying where the rest is."""
    text = visible_controls(text)
    if len(text) <= TEXT_LIMIT:
        return text
    return (text[:TEXT_LIMIT] + f" [... {len(text) - TEXT_LIMIT:,} more characters: the full text is in "
            "records.jsonl and the version's raw JSON]")


def _versions(doc: RecordDoc) -> list[dict[str, Any]]:
    out, previous = [], None
    for version in doc.versions:
        text = shorten(version.get("text") or "")
        item = dict(version, text=text, mark=STATUS_MARKS.get(version.get("status"), version.get("status")))
        item["diff"] = word_diff(previous, text) if previous is not None and text != previous else None
        out.append(item)
        if version.get("status") != "deleted":
            previous = text
    return out


def render_html(about: dict[str, Any], docs: Sequence[RecordDoc], lines: Sequence[dict[str, Any]],
                withheld: Sequence[dict[str, Any]], redactions: Sequence[dict[str, Any]]) -> str:
    env = Environment(loader=PackageLoader("archiver.export", "templates"), autoescape=select_autoescape(["html"]))
    env.filters["shorten"] = lambda value: shorten(str(value or ""))
    files = {line["record_id"]: line for line in lines}
    threads = [[(depth, doc, _versions(doc), files[doc.record_id]) for depth, doc in rows] for rows in thread_rows(docs)]
    return env.get_template("report.html").render(about=about, threads=threads, withheld=withheld,
                                                  redactions=redactions, marks=STATUS_MARKS)


def write_report(root: Path, about: dict[str, Any], docs: Sequence[RecordDoc], lines: Sequence[dict[str, Any]],
                 withheld: Sequence[dict[str, Any]], redactions: Sequence[dict[str, Any]]) -> None:
    """`report.html` and `report.pdf` into `root` (WeasyPrint is imported here: it is slow to load)."""
    from weasyprint import HTML

    html = render_html(about, docs, lines, withheld, redactions)
    (root / "report.html").write_text(html, encoding="utf-8")
    HTML(string=html, base_url=str(root)).write_pdf(root / "report.pdf")
