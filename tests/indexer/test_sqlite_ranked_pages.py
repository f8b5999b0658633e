"""Relevance pages of a text without filters are ranked on the FTS table alone (`_ranked_page`): they
must equal the one ORDER BY over every match that filtered searches still use, ties included (equal
scores, then newest first, then record_id), on every page."""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from indexer import SearchQuery
from indexer.sqlite_fts import SqliteIndex
from tests.indexer.corpus import build_corpus

BASE = build_corpus()[0]
TEXTS = ("marigold", "marigold marigold", "marigold tulip", "tulip peony marigold in the garden today")


@settings(max_examples=20, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(TEXTS), st.integers(0, 3)), min_size=1, max_size=40),
       st.integers(1, 7))
def test_unfiltered_relevance_pages_equal_the_full_ordering(records: list[tuple[str, int]], per_page: int) -> None:
    docs = [replace(BASE, record_id=f"t-{n * 7 % 41:02d}", thread_id=f"t-{n}", text=text,  # ids not in row order
                    created_at=f"2024-05-0{1 + day}T00:00:00Z") for n, (text, day) in enumerate(records)]
    with tempfile.TemporaryDirectory() as folder:
        index = SqliteIndex(Path(folder) / "search.sqlite")
        try:
            index.rebuild(docs)
            pages = -(-len(docs) // per_page) + 1
            for text in ("marigold", "tulip", "marigold | peony"):
                fast = [hit.record.record_id for page in range(1, pages + 1)
                        for hit in index.search(SearchQuery(text=text, page=page, per_page=per_page)).hits]
                full = [hit.record.record_id for page in range(1, pages + 1)
                        for hit in index.search(SearchQuery(text=text, page=page, per_page=per_page,
                                                            date_from="2000-01-01")).hits]
                assert fast == full, text
                assert len(fast) == len(set(fast)) == index.search(SearchQuery(text=text)).total
        finally:
            index.close()
