"""How a `RecordDoc` is stored in and read back from a search backend, shared by both backends.

The whole record is kept as its canonical JSON (`archiver.canonical.canonical_json`), so hostile text
(lone surrogates, RTL overrides, markup, megabytes) comes back exactly as it went in. Only the text
that is *searched and highlighted* is cleaned (`searchable_text`): a lone surrogate cannot be encoded
for SQLite's tokenizer, and the highlight markers must only ever be the ones the backend inserts.
"""

from __future__ import annotations

import datetime as dt
import json
import re

from archiver.canonical import canonical_json
from archiver.model import RecordDoc
from indexer import HIGHLIGHT_END, HIGHLIGHT_START

EXCERPT_CHARS = 300  # the highlight of a record shown without a text match
_UNSEARCHABLE = re.compile(f"[\ud800-\udfff{HIGHLIGHT_START}{HIGHLIGHT_END}]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def doc_to_json_text(doc: RecordDoc) -> str:
    """The record's JSON as stored: canonical, lone surrogates kept as `\\udXXX` escapes."""
    return canonical_json(doc.to_json()).decode("utf-8")


def doc_from_json_text(text: str) -> RecordDoc:
    return RecordDoc.from_json(json.loads(text))


def searchable_text(text: str) -> str:
    """`text` for the full-text index: lone surrogates and highlight markers become U+FFFD.

    U+FFFD separates words, so every other word of a hostile text stays findable, and a record can
    never smuggle highlight markers into the portal's `<mark>` rendering.
    """
    return _UNSEARCHABLE.sub("\ufffd", text)


def column_text(value: str) -> str:
    """A filter column's value (account, thread id...) in a form SQLite can store, one-to-one."""
    return _SURROGATE.sub(lambda match: f"\\u{ord(match.group()):04x}", value)


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """The start of a record's text, bounded, for a hit without highlighted matches."""
    clean = searchable_text(text)
    return clean if len(clean) <= limit else clean[:limit].rstrip() + "…"


def next_day(date: str) -> str | None:
    """The YYYY-MM-DD after `date`: an inclusive `to` date is `created_at < next_day(to)`.

    None after 9999-12-31, the last date there is: nothing is created later, so there is no bound.
    """
    day = dt.date.fromisoformat(date)
    return None if day == dt.date.max else (day + dt.timedelta(days=1)).isoformat()


# Bidi controls, zero-width and BOM characters separate words: unicode61 would otherwise keep them
# inside a token (U+2067 שלום U+2069 would never match שלום). Both backends tokenize with this.
TOKEN_SEPARATORS = "\u200b\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff"
FTS5_TOKENIZE = f"porter unicode61 remove_diacritics 2 separators '{TOKEN_SEPARATORS}'"
