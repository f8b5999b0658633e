"""The change log contract (`indexer.changes`): both backends list the same changes, in the same order.

Expected pages are computed in plain Python from `change_entries` over the documents written, so the
tests pin the backends to the derivation, and the derivation itself is pinned by the status table
and a hypothesis property below.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from archiver.model import RecordDoc
from indexer.changes import CHANGE_KINDS, Change, ChangeQuery, change_entries, classify, parse_change_args
from indexer.query import QueryError
from tests.indexer.conftest import Backend
from tests.indexer.corpus import HOSTILE_TEXTS, build_corpus

BASE = build_corpus()[:12]


def _history(doc: RecordDoc, steps: list[tuple[str, str]], day: int) -> RecordDoc:
    """`doc` with one version per (status, text), captured on successive hours of 2025-03-`day`."""
    versions = tuple(
        {"version": n, "captured_at": f"2025-03-{day:02d}T{n:02d}:00:00Z", "status": status,
         "content_sha256": f"{day * 100 + n:064x}", "warc_ref": {"key": "w", "offset": n, "length": 1},
         "ledger_index": day * 100 + n, "text": text}
        for n, (status, text) in enumerate(steps, start=1))
    return replace(doc, versions=versions, status=steps[-1][0], text=steps[-1][1] or doc.text)


def _docs() -> list[RecordDoc]:
    return [
        _history(BASE[0], [("active", "first words"), ("edited", "second words"), ("deleted", "")], 1),
        _history(BASE[1], [("active", "visible"), ("hidden", "visible"), ("active", "visible again")], 2),
        _history(BASE[2], [("active", "only once")], 3),
        _history(BASE[3], [("active", "gone soon"), ("deleted", ""), ("active", "back")], 4),
        _history(BASE[4], [("active", HOSTILE_TEXTS["m-hostile-script"]), ("edited", "<b>x</b> \ud800 text")], 5),
        _history(BASE[5], [("hidden", "hidden at first"), ("hidden", "hidden, edited")], 6),
    ]


def _expected(docs: list[RecordDoc], query: ChangeQuery | None = None) -> list[Change]:
    query = query or ChangeQuery()
    entries = [entry for doc in docs for entry in change_entries(doc)
               if (query.platform is None or entry.platform == query.platform)
               and (query.account is None or entry.account == query.account)
               and (query.change is None or entry.change == query.change)
               and (query.date_from is None or entry.detected_at[:10] >= query.date_from)
               and (query.date_to is None or entry.detected_at[:10] <= query.date_to)]
    entries.sort(key=lambda entry: (entry.record_id, -entry.version))
    entries.sort(key=lambda entry: entry.detected_at, reverse=True)
    start = (query.page - 1) * query.per_page
    return entries[start:start + query.per_page]


def test_status_table() -> None:
    assert classify("active", "edited") == "edit"
    assert classify("edited", "edited") == "edit"
    assert classify("active", "hidden") == "hide"
    assert classify("hidden", "hidden") == "edit"  # changed while still hidden
    assert classify("hidden", "active") == "restore"
    assert classify("deleted", "active") == "restore"
    assert classify("deleted", "hidden") == "restore"
    assert classify("hidden", "deleted") == "delete"
    assert classify("edited", "deleted") == "delete"


@given(st.lists(st.sampled_from(("active", "edited", "hidden", "deleted")), min_size=1, max_size=8))
def test_one_change_per_later_version(statuses: list[str]) -> None:
    doc = _history(BASE[0], [(status, f"text {n}") for n, status in enumerate(statuses)], 9)
    entries = change_entries(doc)
    assert [entry.version for entry in entries] == list(range(2, len(statuses) + 1))
    assert all(entry.change in CHANGE_KINDS for entry in entries)
    for entry, status in zip(entries, statuses[1:], strict=True):
        assert (entry.change == "delete") == (status == "deleted")


def test_a_deletion_shows_the_last_text_seen() -> None:
    entries = change_entries(_docs()[0])
    assert [(entry.change, entry.summary) for entry in entries] == [("edit", "second words"),
                                                                    ("delete", "second words")]


def test_empty_log(backend: Backend) -> None:
    page = backend.new_index().changes(ChangeQuery())
    assert (page.total, page.changes) == (0, [])


def test_changes_newest_first_with_counts(backend: Backend) -> None:
    index = backend.new_index()
    docs = _docs()
    index.upsert(docs)
    page = index.changes(ChangeQuery())
    assert page.changes == _expected(docs)
    assert page.total == sum(len(change_entries(doc)) for doc in docs)
    assert {kind for kind, count in page.counts.items() if count} == {"edit", "hide", "delete", "restore"}
    assert sum(page.counts.values()) == page.total
    # markup comes back as written (the portal escapes it); a lone surrogate as U+FFFD (excerpt)
    assert any(entry.summary == "<b>x</b> \ufffd text" for entry in page.changes)


@pytest.mark.parametrize("field", ["platform", "account", "change", "dates"])
def test_filters(backend: Backend, field: str) -> None:
    index = backend.new_index()
    docs = _docs()
    index.upsert(docs)
    entries = [entry for doc in docs for entry in change_entries(doc)]
    if field == "dates":
        query = ChangeQuery(date_from="2025-03-02", date_to="2025-03-04")
    else:
        query = ChangeQuery(**{field: getattr(entries[0], field)})
    page = index.changes(query)
    assert page.changes == _expected(docs, query)
    assert 0 < page.total < len(entries) or field == "change"
    if field == "change":  # counts per kind ignore the kind filter, so the page can offer the others
        assert page.counts == index.changes(ChangeQuery()).counts
        assert page.total == page.counts[entries[0].change]


def test_pages_are_bounded_and_consecutive(backend: Backend) -> None:
    index = backend.new_index()
    docs = _docs()
    index.upsert(docs)
    everything = index.changes(ChangeQuery()).changes
    paged = [entry for n in (1, 2, 3, 4) for entry in index.changes(ChangeQuery(page=n, per_page=2)).changes]
    assert paged == everything
    assert index.changes(ChangeQuery(page=50, per_page=2)).changes == []


def test_rewriting_deleting_and_rebuilding(backend: Backend) -> None:
    index = backend.new_index()
    docs = _docs()
    index.upsert(docs)
    index.upsert(docs[:2])  # written again (a redaction re-indexes a record): no duplicates
    assert index.changes(ChangeQuery()).changes == _expected(docs)
    redacted = replace(docs[1], versions=tuple({**v, "text": "[redacted: privacy]"} for v in docs[1].versions))
    index.upsert([redacted])
    summaries = {e.summary for e in index.changes(ChangeQuery()).changes if e.record_id == redacted.record_id}
    assert summaries == {"[redacted: privacy]"}
    assert index.delete([docs[0].record_id]) == 1  # disposal takes the record's changes with it
    remaining = [redacted, *docs[2:]]
    assert index.changes(ChangeQuery()).changes == _expected(remaining)
    index.rebuild(docs[3:])
    assert index.changes(ChangeQuery()).changes == _expected(docs[3:])


@pytest.mark.parametrize("args, problem", [
    ({"change": "nuked"}, "change must be one of"),
    ({"platform": "myspace"}, "platform must be one of"),
    ({"from": "2025-13-01"}, "not a real date"),
    ({"from": "2025-02-02", "to": "2025-02-01"}, "must not be after"),
    ({"page": "999999"}, "page must be a whole number"),
    ({"per_page": "1000"}, "per_page must be a whole number"),
    ({"account": "a" * 500}, "account is too long"),
])
def test_bad_arguments_are_named(args: dict[str, str], problem: str) -> None:
    with pytest.raises(QueryError, match=problem):
        parse_change_args(args)
