"""The pure helpers: highlight escaping, URL safety, thread nesting, text diffs."""

from __future__ import annotations

import re
import time

from hypothesis import given
from hypothesis import strategies as st

from archiver.model import RecordDoc
from indexer import HIGHLIGHT_END as E
from indexer import HIGHLIGHT_START as S
from portal.presentation import highlight_html, safe_url
from portal.textdiff import diff_texts
from portal.thread import MAX_DEPTH, nest


def test_highlight_escapes_then_marks():
    assert str(highlight_html(f"a {S}<script>{E} & b")) == "a <mark>&lt;script&gt;</mark> &amp; b"


def test_highlight_balances_stray_markers():
    assert str(highlight_html(f"{E}x{S}y{S}z")) == "x<mark>yz</mark>"


@given(st.text(alphabet=st.sampled_from(["<", ">", "&", '"', "'", "a", " ", S, E, "\u202e"]), max_size=80))
def test_highlight_never_emits_other_markup(text):
    rendered = str(highlight_html(text))
    tags = re.findall(r"<[^>]*>", rendered)
    assert all(tag in ("<mark>", "</mark>") for tag in tags)
    assert rendered.count("<mark>") == rendered.count("</mark>")


def test_safe_url_allows_only_http():
    assert safe_url("https://bsky.app/x") == "https://bsky.app/x"
    assert safe_url(" JavaScript:alert(1)") is None
    assert safe_url("data:text/html,x") is None
    assert safe_url("") is None


def _doc(record_id: str, parent_id: str | None) -> RecordDoc:
    return RecordDoc(record_id=record_id, platform="x", account="a", kind="reply", native_id=record_id,
                     url="", author="a", author_is_department=False, created_at="2026-01-01T00:00:00Z",
                     text="", parent_id=parent_id, thread_id="t", status="active", sha256="0" * 64,
                     ledger_index=None)


def test_nest_attaches_orphans_at_top_and_survives_cycles():
    docs = [_doc("root", None), _doc("r1", "root"), _doc("orphan", "gone"), _doc("a", "b"), _doc("b", "a"),
            _doc("self", "self")]
    roots = nest(docs)
    assert [node.record.record_id for node in roots] == ["root", "orphan", "a", "b", "self"]
    assert [child.record.record_id for child in roots[0].children] == ["r1"]


def test_nest_caps_depth():
    docs = [_doc("n0", None)] + [_doc(f"n{i}", f"n{i - 1}") for i in range(1, 50)]
    roots = nest(docs)
    depth, node = 1, roots[0]
    while node.children:
        node, depth = node.children[0], depth + 1
        assert depth <= MAX_DEPTH
    assert sum(1 for _ in docs) == 50


def test_word_diff():
    diff = diff_texts("the parade tonight", "the holiday parade tonight")
    assert diff.mode == "words"
    changed = [(seg.op, seg.text.strip()) for seg in diff.segments if seg.op != "same"]
    assert changed == [("ins", "holiday")]
    assert "".join(seg.text for seg in diff.segments if seg.op != "del") == "the holiday parade tonight"
    assert diff_texts("same", "same").mode == "none"


def test_huge_diff_shows_the_edited_line():
    old = "".join(f"line {number} of the report\n" for number in range(50_000))
    new = old.replace("line 30000 of", "line 30000 (corrected) of")
    started = time.monotonic()
    diff = diff_texts(old, new)
    assert time.monotonic() - started < 5
    assert diff.mode == "lines"
    changed = [(seg.op, seg.text) for seg in diff.segments if seg.op in ("del", "ins")]
    assert ("ins", "line 30000 (corrected) of the report") in changed
    assert diff.segments[0].op == "skip"


def test_huge_scattered_diff_is_bounded():
    old = "lorem ipsum dolor\n" * 60_000
    new = old.replace("dolor", "dolore", 5000)
    started = time.monotonic()
    diff = diff_texts(old, new)
    assert time.monotonic() - started < 5
    assert len(diff.segments) <= 402
    assert diff.truncated
