"""The pure parts of the spiders: the native-object rule, parsers, redaction, backoff."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from archiver.canonical import canonical_json
from spiders.base import PayloadError, redact_url
from spiders.bluesky import parse_feed_page, parse_post_view, parse_thread
from spiders.extract import find_native, native_object
from spiders.facebook import parse_object, rfc3339
from spiders.middlewares import backoff_delay
from spiders.registry import PLATFORMS
from spiders.settings import scrapy_settings

json_leaf = st.none() | st.booleans() | st.integers() | st.text()
json_value = st.recursive(json_leaf, lambda inner: st.lists(inner, max_size=3)
                          | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=8)
ALL_VOLATILE = frozenset().union(*(spec.native.volatile for spec in PLATFORMS.values()))
keys = st.sampled_from(sorted(ALL_VOLATILE) + ["uri", "id", "text", "message", "cid"]) | st.text(max_size=8)


@given(st.sampled_from(sorted(PLATFORMS)), st.dictionaries(keys, json_value, max_size=12))
def test_native_object_drops_exactly_the_volatile_keys(platform, raw):
    volatile = PLATFORMS[platform].native.volatile
    native = native_object(platform, raw)
    assert native == {k: v for k, v in raw.items() if k not in volatile}
    assert native_object(platform, native) == native  # idempotent: re-extraction agrees


@given(st.dictionaries(st.sampled_from(sorted(PLATFORMS["bluesky"].native.volatile)), st.integers(), max_size=5),
       st.text(), st.text())
def test_bluesky_engagement_never_changes_native_but_text_does(counters, text, other):
    view = {"uri": "at://did:plc:a/app.bsky.feed.post/1", "cid": "bafy", "record": {"text": text}}
    base = canonical_json(native_object("bluesky", view))
    assert canonical_json(native_object("bluesky", {**view, **counters})) == base
    if other != text:
        assert canonical_json(native_object("bluesky", {**view, "record": {"text": other}})) != base


@given(st.text(), st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1))
def test_find_native_round_trips_through_the_bytes(text, uri):
    view = {"uri": uri, "cid": "c", "likeCount": 3, "record": {"text": text}}
    body = json.dumps({"feed": [{"post": view}], "cursor": "x"}).encode()
    assert find_native("bluesky", body, uri) == native_object("bluesky", view)
    assert find_native("bluesky", b"{not json", uri) is None


def _view(uri="at://did:plc:dept/app.bsky.feed.post/1", text="hi", reply=None, **extra):
    record = {"$type": "app.bsky.feed.post", "text": text, "createdAt": "2026-01-01T00:00:00.000Z"}
    if reply:
        record["reply"] = reply
    return {"uri": uri, "cid": "bafy", "author": {"did": "did:plc:dept", "handle": "spd.bsky.social"},
            "record": record, "likeCount": 9, **extra}


def test_post_view_parsing_and_errors_name_the_field():
    record = parse_post_view(_view(text="\ud800 \u202e<script>"), "spd.bsky.social", "feed[0].post")
    assert record.kind == "post" and record.author_is_department and record.text == "\ud800 \u202e<script>"
    assert record.thread_native_id == record.native_id and "likeCount" not in record.native
    bad = _view()
    bad["record"]["text"] = 5
    with pytest.raises(PayloadError, match=r"feed\[0\]\.post\.record\.text: expected a string, got int"):
        parse_post_view(bad, "spd.bsky.social", "feed[0].post")
    with pytest.raises(PayloadError, match="response.feed"):
        parse_feed_page({"cursor": "x"}, "spd.bsky.social")


def test_thread_parsing_sets_parents_from_the_tree_and_refs():
    root = _view()
    child_uri, grandchild_uri = "at://did:plc:r/app.bsky.feed.post/2", "at://did:plc:r/app.bsky.feed.post/3"
    ref = {"root": {"uri": root["uri"], "cid": "x"}, "parent": {"uri": child_uri, "cid": "y"}}
    thread = {"thread": {"post": root, "replies": [
        {"post": _view(uri=child_uri), "replies": [{"post": _view(uri=grandchild_uri, reply=ref)}]},
        {"$type": "app.bsky.feed.defs#notFoundPost", "uri": "at://gone", "notFound": True},
    ]}}
    records = parse_thread(thread, "spd.bsky.social")
    assert [r.native_id for r in records] == [root["uri"], child_uri, grandchild_uri]
    assert records[1].parent_native_id == root["uri"] and records[1].kind == "reply"
    assert records[2].parent_native_id == child_uri and records[2].thread_native_id == root["uri"]


def test_facebook_comment_parsing():
    comment = {"id": "9_1", "message": "x", "created_time": "2026-01-05T14:03:00+0000",
               "from": {"name": "SPD", "id": "123"}, "is_hidden": True, "comment_count": 4}
    record = parse_object(comment, "123", "data[0]", kind="reply", post_id="123_9")
    assert record.status == "hidden" and record.author_is_department
    assert record.parent_native_id == "123_9" == record.thread_native_id
    assert record.created_at == "2026-01-05T14:03:00Z" and "comment_count" not in record.native
    with pytest.raises(PayloadError, match="is_hidden"):
        parse_object({**comment, "is_hidden": "yes"}, "123", "data[0]", kind="reply", post_id="123_9")


def test_rfc3339_and_redaction():
    assert rfc3339("2026-01-05T14:03:00-0500") == "2026-01-05T14:03:00-05:00"
    assert redact_url("https://g/v21.0/1/feed?a=1&access_token=SECRET&b=2") == \
        "https://g/v21.0/1/feed?a=1&access_token=REDACTED&b=2"


@given(st.integers(1, 50), st.floats(0, 10), st.floats(0.01, 30), st.none() | st.floats(-1e6, 1e6))
def test_backoff_is_capped_and_never_negative(attempt, base, cap, server):
    assert 0 <= backoff_delay(attempt, base, cap, server) <= cap


def test_settings_defaults_and_overrides():
    settings = scrapy_settings(CONCURRENT_REQUESTS=4)
    assert settings["CONCURRENT_REQUESTS"] == 4 and settings["COMPRESSION_ENABLED"] is False
    assert settings["ROBOTSTXT_OBEY"] is False and settings["ITEM_PIPELINES"] == {}
    settings["DOWNLOADER_MIDDLEWARES"]["x"] = 1
    assert "x" not in scrapy_settings()["DOWNLOADER_MIDDLEWARES"]
