"""Text searches on SQLite count facets and the timeline by bucket (`records.bucket`): after any mix
of upserts that move records between platforms, statuses and months, and deletes, the counts must
equal counting the live records themselves."""

from __future__ import annotations

import tempfile
from collections import Counter
from dataclasses import replace
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from archiver.model import RecordDoc
from indexer import FACET_FIELDS, SearchQuery
from indexer.sqlite_fts import SqliteIndex
from tests.indexer.corpus import build_corpus

BASE = build_corpus()[0]
PLATFORMS = ("bluesky", "x", "youtube")
STATUSES = ("active", "edited", "deleted")
MONTHS = ("2024-01", "2024-02", "2025-12")


def _doc(n: int, platform: str, status: str, month: str, day: int) -> RecordDoc:
    return replace(BASE, record_id=f"b-{n}", thread_id=f"b-{n}", platform=platform, account=f"acct-{platform}",
                   status=status, text=f"marigold {'tulip' if n % 2 else 'peony'}",
                   created_at=f"{month}-{day:02d}T10:00:{n % 60:02d}Z")


_change = st.tuples(st.integers(0, 12), st.sampled_from(PLATFORMS), st.sampled_from(STATUSES),
                    st.sampled_from(MONTHS), st.integers(1, 28), st.booleans())


@settings(max_examples=25, deadline=None)
@given(st.lists(st.lists(_change, min_size=1, max_size=8), min_size=1, max_size=4))
def test_text_search_counts_equal_the_live_records(batches: list[list[tuple]]) -> None:
    live: dict[str, RecordDoc] = {}
    with tempfile.TemporaryDirectory() as folder:
        index = SqliteIndex(Path(folder) / "search.sqlite")
        try:
            for batch in batches:
                upserts = [_doc(n, platform, status, month, day) for n, platform, status, month, day, keep in batch
                           if keep]
                gone = [f"b-{n}" for n, *_rest, keep in batch if not keep]
                index.upsert(upserts)
                live.update((doc.record_id, doc) for doc in upserts)
                index.delete(gone)
                for record_id in gone:
                    live.pop(record_id, None)
            for text, filters in (("marigold", {}), ("tulip", {}), ("marigold", {"status": "deleted"}),
                                  ("marigold", {"date_from": "2024-02-01"}), ("-tulip", {})):
                page = index.search(SearchQuery(text=text, per_page=50, **filters))
                matching = [doc for doc in live.values() if _matches(doc, text, filters)]
                assert page.total == len(matching)
                for name in FACET_FIELDS:
                    assert page.facets[name] == dict(Counter(getattr(doc, name) for doc in matching)), name
                assert page.timeline == dict(Counter(doc.created_at[:7] for doc in matching))
                assert {hit.record.record_id for hit in page.hits} == {doc.record_id for doc in matching}
        finally:
            index.close()


def _matches(doc: RecordDoc, text: str, filters: dict[str, str]) -> bool:
    words = doc.text.split()
    found = text.lstrip("-") in words
    if (found if text.startswith("-") else not found):
        return False
    if "status" in filters and doc.status != filters["status"]:
        return False
    return "date_from" not in filters or doc.created_at >= filters["date_from"]
