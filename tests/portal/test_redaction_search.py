"""A redacted word must not find the record, on both search backends (SQLite FTS5, Elasticsearch).

The read model indexes the public (redacted) document `archiver.redaction.apply_redactions` makes,
so the backend never sees the redacted words: not in matching, ranking, highlights or stored JSON.
"""

from __future__ import annotations

import json

from archiver.catalog import Redaction
from archiver.model import RecordDoc
from archiver.redaction import apply_redactions, placeholder
from indexer import SearchQuery
from tests.indexer.conftest import Backend, backend  # noqa: F401 - the two-backend fixture

BASIS = "Fla. Stat. 119.071(2)(j)"
TEXTS = ["Officer talked to Wilhelmina Quaxley on Juniper Street about the bicycle",
         "Update: Wilhelmina Quaxley's bicycle was found near Juniper Street"]


def _doc() -> RecordDoc:
    versions = [{"version": n + 1, "captured_at": f"2026-01-0{n + 1}T00:00:00Z", "status": "active" if n == 0 else "edited",
                 "content_sha256": f"{n + 1:064x}", "warc_ref": {"key": "warc/a.warc.gz", "offset": n * 100, "length": 99},
                 "ledger_index": n, "text": text} for n, text in enumerate(TEXTS)]
    return RecordDoc(record_id="bluesky-r1", platform="bluesky", account="spd", kind="reply", native_id="r1",
                     url="https://bsky.example/r1", author="Wilhelmina Quaxley", author_is_department=False,
                     created_at="2026-01-01T00:00:00Z", text=TEXTS[-1], parent_id=None, thread_id="bluesky-r1",
                     status="edited", sha256=versions[-1]["content_sha256"], ledger_index=1, versions=tuple(versions))


def _ids(index, text: str) -> set[str]:
    return {hit.record.record_id for hit in index.search(SearchQuery(text=text)).hits}


def test_a_redacted_word_finds_nothing_and_unredacting_finds_it_again(backend: Backend) -> None:  # noqa: F811
    index = backend.new_index()
    redaction = Redaction("red-1", "bluesky-r1", "text", "wilhelmina quaxley", BASIS, "", "2026-02-01T00:00:00Z", "clerk")
    public = apply_redactions(_doc(), [redaction])
    index.upsert([public])
    for word in ("Wilhelmina", "Quaxley", '"Wilhelmina Quaxley"', "quaxley*"):
        assert _ids(index, word) == set(), word
    hits = index.search(SearchQuery(text="bicycle")).hits
    assert [hit.record.record_id for hit in hits] == ["bluesky-r1"]
    assert "Quaxley" not in hits[0].highlight and "Quaxley" not in json.dumps(hits[0].record.to_json())
    stored = index.get("bluesky-r1")
    assert stored.author == placeholder(BASIS) and placeholder(BASIS) in stored.text
    assert all(version["withheld"] == {"raw": [BASIS], "capture": [BASIS]} for version in stored.versions)

    index.upsert([apply_redactions(_doc(), [])])
    assert _ids(index, "Quaxley") == {"bluesky-r1"}
    assert "withheld" not in json.dumps(index.get("bluesky-r1").to_json())
