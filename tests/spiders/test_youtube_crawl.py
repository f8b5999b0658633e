"""YouTube crawled for real against its simulator profile: credentials, paging, reply follow-ups."""

from __future__ import annotations

from collections import Counter

from tests.spiders.conftest import TOKEN_ENV, run_crawl, source_for
from tests.spiders.test_spider_crawls import _assert_matches_world


def test_rejected_or_missing_token_stops_the_source_with_one_line(make_sim):
    sim = make_sim(seed=3, scale=200, platforms=("youtube",))
    wrong = run_crawl(source_for(sim, "youtube"), token="not-the-token", known=frozenset({"abcdefghijk"}))
    [capture] = wrong.captures  # the channel lookup fails: no walk, no deletion sweep
    assert capture.exchange.status == 401 and "authError" in capture.error
    assert f"source 'spd-youtube': the token in environment variable {TOKEN_ENV} was rejected" in capture.error
    missing = run_crawl(source_for(sim, "youtube"), token=None)
    assert len(missing.captures) == 1 and f"environment variable {TOKEN_ENV} is not set" in missing.errors[0].error
    wrong_key = run_crawl(source_for(sim, "youtube"), token="AIzaNotTheKey")
    assert "API_KEY_INVALID" in wrong_key.errors[0].error and "was rejected" in wrong_key.errors[0].error


def test_api_key_travels_in_a_header_and_is_redacted(make_sim):
    sim = make_sim(seed=3, scale=200, platforms=("youtube",), token="AIzaSimulatorKey")
    result = run_crawl(source_for(sim, "youtube"), token="AIzaSimulatorKey")
    _assert_matches_world(sim, "youtube", result)
    for capture in result.captures:
        if "/youtube/v3/" in capture.exchange.url:
            assert ("X-Goog-Api-Key", "REDACTED") in capture.exchange.request_headers
            assert "AIzaSimulatorKey" not in repr(capture.exchange)


def test_many_pages_of_uploads_threads_and_replies(make_sim):
    sim = make_sim(seed=12, scale=2500, platforms=("youtube",))
    result = run_crawl(source_for(sim, "youtube"), timeout=300)
    _assert_matches_world(sim, "youtube", result)
    methods = Counter(c.exchange.url.split("/youtube/v3/", 1)[1].split("?")[0] for c in result.captures
                      if "/youtube/v3/" in c.exchange.url)
    assert methods["channels"] == 1
    assert methods["playlistItems"] >= 3  # 50 a page
    # one batch of up to 50 ids per page, and one more look at each captioned video (its tracks as media)
    assert methods["videos"] == methods["playlistItems"] + methods["captions"]
    assert methods["comments"] > 0  # threads with more replies than commentThreads carries inline
    threads_pages = Counter(c.exchange.url.split("videoId=", 1)[1].split("&")[0] for c in result.captures
                            if "/commentThreads?" in c.exchange.url)
    videos = [r for r in sim.world.records() if r.kind == "post"]
    assert set(threads_pages) == {v.native_id for v in videos}
    top_level = Counter(r.parent_id for r in sim.world.records() if r.depth == 1)
    for video_id, pages in threads_pages.items():
        assert pages == max(1, -(-top_level[video_id] // 100))  # 100 threads a page
