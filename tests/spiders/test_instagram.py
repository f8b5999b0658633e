"""Instagram: the parsers against recorded Graph payloads (tests/spiders/fixtures/instagram/README.md)
and generated ones, and crawls of the simulator for what the shared tests do not cover."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from archiver.config import SourceConfig
from spiders.base import PayloadError
from spiders.extract import find_native
from spiders.graph import is_gone, next_cursor
from spiders.instagram import (
    NATIVE,
    VOLATILE,
    InstagramSpider,
    parse_comment,
    parse_comment_page,
    parse_media,
)
from tests.spiders.conftest import TOKEN_ENV, run_crawl, source_for

FIXTURES = Path(__file__).with_name("fixtures") / "instagram"
OWNER = "17841406338772941"  # the fixtures' account (python-facebook's test account)


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_bytes())


def test_recorded_media_pages_parse_with_cursor_media_and_stable_native() -> None:
    first, last = fixture("media_page_1.json"), fixture("media_page_2.json")
    assert next_cursor(first) == "after" and next_cursor(last) is None
    records = [parse_media(item, OWNER, f"data[{i}]") for i, item in enumerate(first["data"] + last["data"])]
    assert all(r.kind == "post" and r.thread_native_id == r.native_id and r.author_is_department for r in records)
    assert records[0].text == "" and records[0].created_at == "2021-08-13T08:25:28Z"  # no caption: still a record
    carousel = next(r for r in records if r.native["media_type"] == "CAROUSEL_ALBUM")
    assert carousel.text == "ALBUM" and carousel.url == "https://www.instagram.com/p/CRyZpmrjYC4/"
    urls = [ref.url for ref in carousel.media]
    assert len(urls) == len(set(urls)) == 4  # three children (the album's own URL is its first) + a video thumbnail
    assert any(ref.mime == "video/mp4" for ref in carousel.media)
    for record in records:  # signed CDN URLs and counters are volatile; what the account wrote stays
        assert not VOLATILE & set(record.native) and "permalink" in record.native
    body = (FIXTURES / "media_page_2.json").read_bytes()
    assert find_native("instagram", body, carousel.native_id) == carousel.native


def test_recorded_media_object_and_comment_pages() -> None:
    media = parse_media(fixture("media_carousel.json"), OWNER, "response")
    assert media.author == "ikroskun" and {"owner", "ig_id", "shortcode"} <= set(media.native)
    for name in ("comments_page_1.json", "comments_page_2.json", "docs_comments_page.json"):
        records, more = parse_comment_page(fixture(name), OWNER, "17846368219941692")
        assert records and more == []
        assert all(r.parent_native_id == r.thread_native_id == "17846368219941692" for r in records)
        assert all(r.status == "active" and not r.author_is_department for r in records)
    assert next_cursor(fixture("comments_page_1.json")) == "after"


def test_recorded_comment_with_inline_replies_and_reply_object() -> None:
    raw = fixture("comment_with_replies.json")
    comment = parse_comment(raw, OWNER, "response", media_id=None, parent_id=None)
    assert comment.author_is_department  # `user` is returned only for the app user's own comments
    assert comment.thread_native_id == comment.parent_native_id == "17846368219941692"
    assert "replies" not in comment.native and "like_count" not in comment.native
    body = json.dumps({"data": [raw]}).encode()
    [reply] = [obj for obj in NATIVE.iter_raw_objects(json.loads(body)) if obj["id"] != raw["id"]]
    assert find_native("instagram", body, reply["id"]) == reply
    records, _ = parse_comment_page(json.loads(body), OWNER, "17846368219941692")
    assert [r.parent_native_id for r in records] == ["17846368219941692", raw["id"]]
    own = parse_comment(fixture("reply.json"), OWNER, "response", media_id=None, parent_id=None)
    assert own.thread_native_id == "17955956875141196" and own.author == "ikroskun"
    records, _ = parse_comment_page(fixture("replies_page.json"), OWNER, "m1", parent_id="c1")
    assert [r.parent_native_id for r in records] == ["c1"]


def _spider(token_env: str | None = TOKEN_ENV) -> InstagramSpider:
    return InstagramSpider(source=SourceConfig(name="spd-ig", platform="instagram", account=OWNER,
                                               token_env=token_env))


def test_recorded_errors_gone_only_with_subcode_33_and_token_errors_name_the_variable() -> None:
    spider = _spider()
    permission = fixture("error_not_found.json")  # "Object does not exist ... missing permission", no subcode
    assert not is_gone(permission["error"])
    outcome = spider.http_error(400, permission, {"native_id": "1", "object": "comment"})
    assert outcome.tombstones == [] and "Graph API error 100" in outcome.error
    gone = {"error": {**permission["error"], "error_subcode": 33}}
    assert [t.native_id for t in spider.http_error(400, gone, {"native_id": "1"}).tombstones] == ["1"]
    token = spider.http_error(400, fixture("docs_error_token.json"), {"feed": True}).error
    assert "Graph API error 190" in token and TOKEN_ENV in token
    nonexisting = {"error": {"message": "(#100) Tried accessing nonexisting field (text) on node type (IGMedia)",
                             "type": "OAuthException", "code": 100, "fbtrace_id": "x"}}
    [retry] = spider.http_error(400, nonexisting, {"native_id": "9", "object": "comment"}).requests
    assert retry.cb_kwargs["ctx"]["object"] == "media" and "caption" in retry.url


ids = st.text(alphabet="0123456789", min_size=1, max_size=20)
graph_time = st.datetimes().map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%S+0000"))
extra = st.dictionaries(st.text(min_size=1, max_size=8).filter(lambda k: k not in {
    "id", "text", "timestamp", "hidden", "from", "user", "media", "parent_id", "username", "replies"}),
    st.integers() | st.text(max_size=5), max_size=3)


@st.composite
def comments(draw: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {"id": draw(ids), "timestamp": draw(graph_time), **draw(extra)}
    for key, value in (("text", st.text()), ("hidden", st.booleans()), ("username", st.text(max_size=8)),
                       ("like_count", st.integers(0, 10**6)), ("parent_id", ids),
                       ("from", st.fixed_dictionaries({"id": ids, "username": st.text(max_size=8)})),
                       ("user", st.fixed_dictionaries({"id": ids}))):
        if draw(st.booleans()):
            obj[key] = draw(value)
    return obj


@given(st.lists(comments(), max_size=4), ids)
def test_generated_comment_pages_parse_and_reextract(items: list[dict[str, Any]], media_id: str) -> None:
    body = json.dumps({"data": items}).encode()
    records, _ = parse_comment_page(json.loads(body), OWNER, media_id)
    assert [r.native_id for r in records] == [item["id"] for item in items]
    for record, item in zip(records, items, strict=True):
        assert record.text == item.get("text", "") and record.status == ("hidden" if item.get("hidden") else "active")
        assert record.parent_native_id == item.get("parent_id", media_id)
        assert record.author_is_department == (OWNER in (item.get("user", {}).get("id"), item.get("from", {}).get("id")))
        assert find_native("instagram", body, record.native_id) in ({k: v for k, v in i.items() if k not in VOLATILE}
                                                                     for i in items)


@given(comments(), st.sampled_from(["id", "timestamp", "text", "hidden", "from", "parent_id"]),
       st.integers() | st.lists(st.integers(), max_size=1) | st.floats(allow_nan=False))
def test_generated_malformed_comment_names_the_json_path(item: dict[str, Any], key: str, bad: Any) -> None:
    item[key] = bad
    with pytest.raises(PayloadError, match=rf"^data\[1\]\.{key}: expected"):
        parse_comment_page({"data": [{"id": "1", "timestamp": "2026-01-01T00:00:00+0000"}, item]}, OWNER, "m")


def test_malformed_page_shapes_name_the_path() -> None:
    with pytest.raises(PayloadError, match=r"^response\.data: expected a list, got dict"):
        parse_comment_page({"data": {}}, OWNER, "m")
    with pytest.raises(PayloadError, match=r"^data\[0\]\.replies\.data\[0\]\.text: expected a string, got int"):
        parse_comment_page({"data": [{"id": "1", "timestamp": "t", "replies": {"data": [
            {"id": "2", "timestamp": "t", "text": 5}]}}]}, OWNER, "m")
    with pytest.raises(PayloadError, match=r"^data\[0\]\.children\.data: expected a list"):
        parse_media({"id": "1", "timestamp": "t", "children": {"data": None}}, OWNER, "data[0]")


def test_crawl_walks_three_media_pages(make_sim) -> None:
    sim = make_sim(seed=2, scale=600, platforms=("instagram",))
    result = run_crawl(source_for(sim, "instagram"), timeout=300)
    assert result.errors == []
    urls = [c.exchange.url for c in result.captures]
    assert sum("/media?" in url for url in urls) >= 3
    truth = {r.native_id: r for r in sim.world.records() if r.platform == "instagram"}
    assert sorted(r.native_id for r in result.records) == sorted(truth)
    posts = {nid for nid, r in truth.items() if r.kind == "post"}
    assert {c.completes_thread for c in result.captures if c.completes_thread} == posts
    assert all("access_token" not in url for url in urls)


def test_expired_token_stops_only_this_source_with_one_line(sim) -> None:
    wrong = run_crawl(source_for(sim, "instagram"), token="expired", known=frozenset({"17900000000000001"}))
    [capture] = wrong.captures  # the feed walk failed: nothing else is asked, no deletion is guessed
    assert "190" in capture.error and f"environment variable {TOKEN_ENV} was rejected" in capture.error
    assert "\n" not in capture.error
    unnamed = run_crawl(source_for(sim, "instagram", token_env=None))
    assert "source 'spd-instagram' has no token_env" in unnamed.errors[0].error
    missing = run_crawl(source_for(sim, "instagram"), token=None)
    assert f"environment variable {TOKEN_ENV} is not set" in missing.errors[0].error
