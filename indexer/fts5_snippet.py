"""Bounded highlights for long texts, because FTS5's own `snippet()` is not safe on them.

`snippet()` scores every candidate window around every match, so its cost grows with the square of
the number of matches: a 1 MB hostile text repeating one word takes minutes. Instead a long text is
cut into short chunks at whitespace, the chunks go into a throwaway in-memory FTS5 table with the
index's own tokenizer (`FTS5_TOKENIZE`), and the best-ranked chunk that matches the query is
highlighted with `highlight()`, which is linear. If no single chunk matches the whole query (its words are far apart), the best chunk matching
any of its clauses is used; if none does (the match was in the author), the text's start is shown.
"""

from __future__ import annotations

import re
import sqlite3

from indexer import HIGHLIGHT_END, HIGHLIGHT_START
from indexer.documents import FTS5_TOKENIZE, excerpt
from indexer.query import TextQuery, fts5_clause

CHUNK_CHARS = 300
_CHUNK = re.compile(rf"\S.{{0,{CHUNK_CHARS - 2}}}(?=\s|$)|\S{{1,{CHUNK_CHARS}}}", re.DOTALL)


def chunks(text: str) -> list[str]:
    """`text` cut at whitespace into pieces of at most CHUNK_CHARS (a longer word is cut hard)."""
    return [match.group() for match in _CHUNK.finditer(text)]


def long_text_highlight(text: str, query: TextQuery, positive: str) -> str:
    """A highlighted fragment of `text` (already `searchable_text`) for the FTS5 MATCH `positive`."""
    any_clause = " OR ".join(fts5_clause(clause) for _, clause in query.required)
    connection = sqlite3.connect(":memory:")
    try:
        # The index's own tokenizer: a word the index matched must match here too (bidi-isolated words).
        connection.execute(f'CREATE VIRTUAL TABLE chunk USING fts5 (text, tokenize = "{FTS5_TOKENIZE}")')
        pieces = chunks(text)
        connection.executemany("INSERT INTO chunk (rowid, text) VALUES (?, ?)", enumerate(pieces))
        for expression in (positive, any_clause):
            row = connection.execute(
                "SELECT rowid, highlight(chunk, 0, ?, ?) FROM chunk WHERE chunk MATCH ? ORDER BY rank, rowid LIMIT 1",
                (HIGHLIGHT_START, HIGHLIGHT_END, expression),
            ).fetchone()
            if row is not None:
                index, fragment = row
                before = "…" if index > 0 else ""
                after = "…" if index < len(pieces) - 1 else ""
                return f"{before}{fragment}{after}"
    finally:
        connection.close()
    return excerpt(text)
