"""Each spider crawled for real (Scrapy + the platform simulator over HTTP), checked against the world."""

from __future__ import annotations

import urllib.request
from collections import Counter

import pytest

from archiver.canonical import canonical_json
from spiders.extract import find_native
from spiders.registry import PLATFORMS
from tests.spiders.conftest import (
    TOKEN_ENV,
    CrawlResult,
    advance_until,
    has_department_reply,
    has_hidden,
    has_media,
    run_crawl,
    source_for,
)


def _world_records(sim, platform):
    return {r.native_id: r for r in sim.world.records() if r.platform == platform}


def _assert_matches_world(sim, platform: str, result: CrawlResult) -> None:
    assert result.errors == []
    world = _world_records(sim, platform)
    seen = Counter(record.native_id for record in result.records)
    assert set(seen) == set(world)
    assert max(seen.values()) == 1, "a record was captured twice in one crawl"
    for record in result.records:
        truth = world[record.native_id]
        assert record.kind == truth.kind
        assert record.author_is_department == truth.author_is_department
        assert record.text == truth.text
        assert record.thread_native_id == truth.thread_id
        assert record.parent_native_id == truth.parent_id
        assert record.status == ("hidden" if truth.status == "hidden" else "active")
        assert not PLATFORMS[platform].native.volatile & set(record.native)
    assert any(r.author_is_department and r.kind == "reply" for r in result.records) \
        or not sim.world.profiles[platform].has_replies
    posts = {nid for nid, r in world.items() if r.kind == "post"}
    assert {c.completes_thread for c in result.captures if c.completes_thread} == posts


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_crawl_captures_every_record_exactly_once(sim, platform):
    result = run_crawl(source_for(sim, platform))
    _assert_matches_world(sim, platform, result)
    hostile = {h.native_id: h.text for h in sim.world.hostile_records() if h.platform == platform}
    by_id = {r.native_id: r for r in result.records}
    assert {nid: by_id[nid].text for nid in hostile} == hostile  # 1 MB, <script>, \ud800, RTL kept exactly


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_exchange_is_byte_exact_and_native_reextracts(sim, platform):
    result = run_crawl(source_for(sim, platform))
    api = [c for c in result.captures if c.records]
    for capture in api[:5]:
        exchange = capture.exchange
        request = urllib.request.Request(exchange.url, headers={"Authorization": "OAuth sim-token"})
        with urllib.request.urlopen(request) as response:
            assert exchange.body == response.read()
        assert exchange.status == 200 and exchange.reason == "OK" and exchange.method == "GET"
        content_type = dict(exchange.response_headers)["Content-Type"]
        assert content_type == "application/json; charset=utf-8" or PLATFORMS[platform].spider.payload_format != "JSON"
        assert exchange.fetched_at.endswith("Z")
        assert ("Authorization", "REDACTED") in exchange.request_headers or not PLATFORMS[platform].token_required
        assert "sim-token" not in repr(exchange.request_headers) + exchange.url
    for capture in api:
        for record in capture.records:
            assert find_native(platform, capture.exchange.body, record.native_id) == record.native


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_media_fetched_once_each(make_sim, platform):
    sim = make_sim(seed=1, scale=100, platforms=(platform,))
    advance_until(sim, lambda world: has_media(world, platform), f"{platform} post with an image")
    result = run_crawl(source_for(sim, platform))
    blobs = [blob for capture in result.captures for blob in capture.media]
    urls = Counter(blob.url for blob in blobs)
    referenced = {ref.url for record in result.records for ref in record.media}
    assert set(urls) == referenced and referenced and max(urls.values()) == 1
    for blob in (b for b in blobs if b.mime != "text/vtt"):  # caption tracks: test_youtube_captions.py
        name = blob.url.rsplit("/", 1)[-1].removesuffix(".png")
        assert blob.data == sim.world.media_png(name)
        assert blob.mime == "image/png"


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_versions_only_on_real_change_and_tombstones_after_advance(make_sim, platform):
    sim = make_sim(seed=11, scale=300)
    first = run_crawl(source_for(sim, platform))
    again = run_crawl(source_for(sim, platform))
    canon = {r.native_id: canonical_json(r.native) for r in first.records}
    assert {r.native_id: canonical_json(r.native) for r in again.records} == canon

    known = frozenset(canon)
    deleted: set[str] = set()
    changed: set[str] = set()
    for _ in range(40):  # a step deletes ~0.4% of all records: advance until this platform lost some
        change = sim.advance()
        deleted |= {ref.native_id for ref in change.deleted if ref.platform == platform}
        changed |= {ref.native_id for ref in change.edited + change.hidden if ref.platform == platform}
        # a record made and deleted between the crawls was never known; the department's replies
        # may all be gone, and the crawl is checked for them too
        if deleted & known and has_department_reply(sim.world, platform):
            break
    after = run_crawl(source_for(sim, platform), known=known)
    _assert_matches_world(sim, platform, CrawlResult([c for c in after.captures if not c.tombstones],
                                                     after.stats))
    tombstoned = Counter(t.native_id for c in after.captures for t in c.tombstones)
    assert set(tombstoned) == deleted & known and deleted & known
    assert max(tombstoned.values()) == 1
    for record in after.records:
        if record.native_id in canon:
            same = canonical_json(record.native) == canon[record.native_id]
            assert same == (record.native_id not in changed), record.native_id


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_rate_limited_crawl_still_completes(make_sim, platform):
    sim = make_sim(seed=5, scale=200, rate_limit_every=4, retry_after=1)
    advance_until(sim, lambda world: has_department_reply(world, platform), f"{platform} department reply")
    result = run_crawl(source_for(sim, platform))
    _assert_matches_world(sim, platform, result)
    assert result.stats["sunshine_retry/count"] > 0


def test_missing_token_is_an_error_capture_naming_the_variable(sim):
    result = run_crawl(source_for(sim, "facebook"), token=None, known=frozenset({"x_1"}))
    assert len(result.captures) == 1  # no sweep after a failed feed walk
    [capture] = result.errors
    assert TOKEN_ENV in capture.error and "190" in capture.error
    assert capture.records == () and capture.exchange.status == 400


def test_rejected_token_and_missing_token_env(sim):
    wrong = run_crawl(source_for(sim, "facebook"), token="not-the-token")
    assert "was rejected" in wrong.errors[0].error
    unnamed = run_crawl(source_for(sim, "facebook", token_env=None))
    assert "has no token_env" in unnamed.errors[0].error


def test_skip_threads_fetches_no_threads(sim):
    posts = frozenset(r.native_id for r in sim.world.records() if r.platform == "bluesky" and r.kind == "post")
    result = run_crawl(source_for(sim, "bluesky"), skip_threads=posts)
    assert not any(c.completes_thread for c in result.captures)
    assert all("getPostThread" not in c.exchange.url for c in result.captures)
    assert {r.native_id for r in result.records if r.kind == "post"} == posts


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_sweep_fetches_known_records_of_skipped_threads_one_by_one(make_sim, platform):
    sim = make_sim(seed=9, scale=200)
    advance_until(sim, lambda world: has_hidden(world, platform), f"hidden {platform} reply")
    world = _world_records(sim, platform)
    posts = frozenset(nid for nid, r in world.items() if r.kind == "post")
    replies = sorted(nid for nid, r in world.items() if r.kind == "reply" and not r.author_is_department)
    known = frozenset(replies[:15]) | {r.native_id for r in world.values() if r.status == "hidden"}
    result = run_crawl(source_for(sim, platform), known=known, skip_threads=posts)
    assert result.errors == []
    swept = {r.native_id: r for r in result.records if r.kind == "reply" and not r.author_is_department}
    assert set(swept) == known
    assert not sim.world.profiles[platform].hides_comments or any(r.status == "hidden" for r in swept.values())
    for nid, record in swept.items():
        assert record.parent_native_id == world[nid].parent_id
        assert record.thread_native_id == world[nid].thread_id
        assert record.status == ("hidden" if world[nid].status == "hidden" else "active")
