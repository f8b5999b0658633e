"""YouTube caption tracks: listed with captions.list, downloaded with captions.download as WebVTT media of
their video, counted against the daily quota; an API key (no OAuth) records them as skipped, not failed."""

from __future__ import annotations

from collections import Counter

from archiver.config import SourceConfig
from archiver.model import MediaBlob, MediaRef
from infra.simulator.youtube import caption_id, has_caption
from spiders.base import CrawlPlan
from spiders.youtube import CAPTION_DOWNLOAD_COST, CAPTIONS_NEED_OAUTH, QUOTA_COST, YouTubeSpider, quota_cost
from tests.spiders.conftest import run_crawl, source_for
from tests.spiders.test_spider_crawls import _assert_matches_world


def _captioned_videos(sim) -> dict[str, str]:
    """Live videos with a caption track in the simulator's world → their track id."""
    world = sim.world
    return {n.native_id: caption_id(world, n) for n in world.nodes
            if n.platform == "youtube" and n.parent is None and not n.deleted and has_caption(world, n)}


def test_captions_are_stored_once_as_media_of_their_video(make_sim):
    sim = make_sim(seed=5, scale=300, platforms=("youtube",))
    captioned = _captioned_videos(sim)
    assert captioned, "the world has no captioned video"
    result = run_crawl(source_for(sim, "youtube"))
    _assert_matches_world(sim, "youtube", result)  # no record lost to the held-back second look, no error
    blobs = [b for c in result.captures for b in c.media if isinstance(b, MediaBlob) and b.mime == "text/vtt"]
    assert Counter(b.url for b in blobs).most_common(1)[0][1] == 1  # each track fetched once
    assert {b.url.split("/captions/", 1)[1].split("?")[0] for b in blobs} == set(captioned.values())
    assert all(b.data.startswith(b"WEBVTT") for b in blobs)
    videos = {r.native_id: r for c in result.captures for r in c.records if r.kind == "post"}
    for video_id, track in captioned.items():
        refs = [m for m in videos[video_id].media if m.mime == "text/vtt"]
        assert [m.url.split("/captions/", 1)[1].split("?")[0] for m in refs] == [track]
    for video_id in set(videos) - set(captioned):
        assert not [m for m in videos[video_id].media if m.mime == "text/vtt"]
    assert not any(c.media_problems for c in result.captures)


def test_an_api_key_records_captions_as_skipped_and_the_run_stays_clean(make_sim):
    sim = make_sim(seed=5, scale=300, platforms=("youtube",), token="AIzaSimulatorKey")
    captioned = _captioned_videos(sim)
    result = run_crawl(source_for(sim, "youtube"), token="AIzaSimulatorKey")
    _assert_matches_world(sim, "youtube", result)
    assert result.errors == []
    problems = dict(p for c in result.captures for p in c.media_problems)
    skipped = {url.split("/captions/", 1)[1].split("?")[0] for url, why in problems.items()
               if why == CAPTIONS_NEED_OAUTH}
    assert skipped == set(captioned.values())
    assert not [b for c in result.captures for b in c.media if b.mime == "text/vtt"]


def test_caption_calls_count_against_the_daily_quota():
    base = "https://www.googleapis.com/youtube/v3"
    assert quota_cost(f"{base}/captions?part=snippet&videoId=abcdefghijk") == QUOTA_COST["captions"] == 50
    assert quota_cost(f"{base}/captions/AUieDaXYZ?tfmt=vtt") == CAPTION_DOWNLOAD_COST == 200
    source = SourceConfig(name="spd-youtube", platform="youtube", account="UC" + "a" * 22, token_env="T")
    spider = YouTubeSpider(source=source, plan=CrawlPlan(quota_units=260))
    listing = spider.captions_request("abcdefghijk")
    download = spider._media_request(MediaRef(url=spider.caption_url("AUieDaXYZ"), mime="text/vtt"))
    assert spider.admit(listing) and spider.units_used == 50
    assert spider.admit(download) and spider.units_used == 250
    assert not spider.admit(spider._media_request(MediaRef(url=spider.caption_url("AUieDaOther"), mime="text/vtt")))
    assert spider.halted is not None and "quota" in spider.halted and spider.units_used == 250
