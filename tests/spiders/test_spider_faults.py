"""Broken answers become error Captures (never exceptions, never silence) and the crawl keeps going."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator

import pytest

from archiver.config import SourceConfig
from archiver.model import Capture
from infra.simulator import FACEBOOK_PAGE_ID, PROFILES, start_simulator
from infra.simulator.faults import Fault
from spiders.registry import PLATFORMS
from tests.spiders.conftest import CrawlResult, run_crawl, source_for

ONE_OFF = ("truncated_json", "missing_id", "wrong_types", "html", "empty_body")


def test_bluesky_thread_faults_each_become_one_error_capture(make_sim):
    sim = make_sim(seed=3, scale=300, platforms=("bluesky",))
    posts = [r for r in sim.world.records() if r.platform == "bluesky" and r.kind == "post"]
    assert len(posts) > len(ONE_OFF) + 1  # a thread for each fault, and threads that stay whole
    doomed = posts[0].native_id
    sim.add_fault(Fault("server_error", path_contains="getAuthorFeed", count=1))  # retried, then fine
    sim.add_fault(Fault("server_error", path_contains=doomed.rsplit("/", 1)[-1], count=None))
    for kind in ONE_OFF:
        sim.add_fault(Fault(kind, path_contains="getPostThread", count=1, platform="bluesky"))
    result = run_crawl(source_for(sim, "bluesky"))

    errors = result.errors
    assert len(errors) == len(ONE_OFF) + 1
    assert all(c.records == () and c.completes_thread is None for c in errors)
    assert all("getPostThread" in c.exchange.url for c in errors)
    messages = " | ".join(c.error for c in errors)
    assert "not valid JSON" in messages and "HTTP 500" in messages
    assert "thread.post.uri: expected a string, got NoneType" in messages  # missing_id
    assert "thread.post.uri: expected a string, got int" in messages  # wrong_types
    exhausted = [c for c in errors if c.exchange.status == 500]
    assert len(exhausted) == 1 and b"Internal Server Error" in exhausted[0].exchange.body
    assert result.stats["sunshine_retry/max_reached"] == 1

    completed = {c.completes_thread for c in result.captures if c.completes_thread}
    assert len(completed) == len(posts) - len(errors) and doomed not in completed
    assert {r.native_id for r in result.records if r.kind == "post"} == {p.native_id for p in posts}


def test_facebook_malformed_pages_are_error_captures(make_sim):
    sim = make_sim(seed=4, scale=300)
    sim.add_fault(Fault("missing_id", path_contains="/comments", count=1, platform="facebook"))
    sim.add_fault(Fault("wrong_types", path_contains="/comments", count=1, platform="facebook"))
    result = run_crawl(source_for(sim, "facebook"))
    messages = sorted(c.error for c in result.errors)
    assert len(messages) == 2
    assert "data[0].id: expected a string, got NoneType" in messages[0]
    assert "data[0].id: expected a string, got int" in messages[1]
    posts = {r.native_id for r in sim.world.records() if r.platform == "facebook" and r.kind == "post"}
    assert len({c.completes_thread for c in result.captures if c.completes_thread}) == len(posts) - 2


def test_facebook_broken_feed_page_stops_nothing_silently(make_sim):
    sim = make_sim(seed=4, scale=300)
    sim.add_fault(Fault("wrong_types", path_contains="/feed", count=1, platform="facebook"))
    result = run_crawl(source_for(sim, "facebook"), known=frozenset({f"{FACEBOOK_PAGE_ID}_1"}))
    [error] = result.errors
    assert "data[0].id" in error.error and error.records == ()
    assert not any(c.tombstones for c in result.captures)  # no deletion sweep after a broken feed walk


def test_unreachable_platform_is_an_error_capture_after_retries():
    with socket.socket() as probe:  # bound, never listening: connections are refused, nobody else gets it
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        source = SourceConfig(name="down", platform="bluesky", account="springfieldpd.bsky.social",
                              base_url=f"http://127.0.0.1:{port}/bluesky")
        result = run_crawl(source, settings={"SUNSHINE_RETRY_TIMES": 2})
    [capture] = result.captures
    assert capture.exchange.status == 0 and capture.exchange.body == b""
    assert "no response after retries" in capture.error and "Connection" in capture.error


@pytest.fixture(scope="module")
def clean_crawls() -> Iterator[Callable[[str], CrawlResult]]:
    """A clean crawl of `platform` alone (seed 6), run once per platform for both fault kinds."""
    done: dict[str, CrawlResult] = {}

    def crawl(platform: str) -> CrawlResult:
        if platform not in done:
            with start_simulator(seed=6, scale=150, token="sim-token", platforms=(platform,)) as sim:
                done[platform] = run_crawl(source_for(sim, platform))
        return done[platform]

    yield crawl


def _parsed_target(clean: CrawlResult) -> Capture:
    """A request whose answer the spider parses (its capture carries records): a thread's (or a web
    page's) where the platform has them, else the feed walk's last page (an RSS entry's article page
    is kept, not parsed), so that breaking it cuts off no later page."""
    parsed = [c for c in clean.captures if c.records]
    threads = sorted((c for c in parsed if c.completes_thread), key=lambda c: c.exchange.url)
    return threads[len(threads) // 2] if threads else parsed[-1]


@pytest.mark.parametrize("kind", ["truncated_json", "html"])
@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_unparseable_answer_is_a_failed_capture_and_the_crawl_goes_on(make_sim, clean_crawls, platform, kind):
    """Generic over the registry: break one parsed answer (found by a clean crawl of the same world);
    exactly what only that answer carried is missing, everything else is captured."""
    clean = clean_crawls(platform)
    target = _parsed_target(clean)
    others = [c for c in clean.captures if c.records and c is not target]
    assert others  # the crawl has something to go on with
    kept = {r.native_id for c in others for r in c.records}
    lost = {r.native_id for r in target.records} - kept  # e.g. a thread's replies, a feed page's entries
    path = target.exchange.url.split("://", 1)[1].split("/", 1)[1]
    sim = make_sim(seed=6, scale=150, platforms=(platform,),
                   faults=[Fault(kind, path_contains=f"/{path}", count=1, platform=platform)])
    result = run_crawl(source_for(sim, platform))
    [error] = result.errors
    assert f"not valid {PLATFORMS[platform].spider.payload_format}" in error.error and error.records == ()
    assert error.exchange.url.endswith(f"/{path}")
    assert {r.native_id for r in result.records} == {r.native_id for r in clean.records} - lost
    completed = {c.completes_thread for c in clean.captures if c.completes_thread}
    assert {c.completes_thread for c in result.captures if c.completes_thread} == \
        completed - {target.completes_thread} - lost  # a lost feed entry's own page is never asked for
    posts = {r.native_id for r in sim.world.records() if r.platform == platform and r.kind == "post"}
    assert {r.native_id for r in clean.records if r.kind == "post"} == posts


JSON_PLATFORMS = sorted(name for name, spec in PLATFORMS.items() if spec.spider.payload_format == "JSON")


def test_every_json_profile_says_where_its_records_are():
    assert sorted(name for name, profile in PROFILES.items() if profile.first_record is not None) == JSON_PLATFORMS


@pytest.mark.parametrize("kind", ["missing_id", "wrong_types"])
@pytest.mark.parametrize("platform", JSON_PLATFORMS)
def test_malformed_record_is_a_failed_capture_naming_its_field(make_sim, clean_crawls, platform, kind):
    """Generic over the JSON platforms: the first record of one parsed answer loses its id or gets
    wrong types (where it sits is the profile's `first_record`); that answer is one failed capture
    naming the field, and only what it alone carried is missing."""
    clean = clean_crawls(platform)
    target = _parsed_target(clean)
    fields = PROFILES[platform].first_record(json.loads(target.exchange.body))
    assert fields is not None and fields.obj.get(fields.id.split(".")[0]) is not None
    kept = {r.native_id for c in clean.captures if c.records and c is not target for r in c.records}
    lost = {r.native_id for r in target.records} - kept
    path = target.exchange.url.split("://", 1)[1].split("/", 1)[1]
    sim = make_sim(seed=6, scale=150, platforms=(platform,),
                   faults=[Fault(kind, path_contains=f"/{path}", count=1, platform=platform)])
    result = run_crawl(source_for(sim, platform))
    [error] = result.errors
    assert error.records == () and error.exchange.url.endswith(f"/{path}") and error.exchange.status == 200
    id_key = fields.id.rsplit(".", 1)[-1]
    assert f"{id_key}: expected" in error.error, error.error  # the JSON path of the id it could not read
    assert {r.native_id for r in result.records} == {r.native_id for r in clean.records} - lost
