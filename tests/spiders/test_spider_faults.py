"""Broken answers become error Captures (never exceptions, never silence) and the crawl keeps going."""

from __future__ import annotations

import socket

import pytest

from archiver.config import SourceConfig
from infra.simulator import FACEBOOK_PAGE_ID
from infra.simulator.faults import Fault
from spiders.registry import PLATFORMS
from tests.spiders.conftest import run_crawl, source_for

ONE_OFF = ("truncated_json", "missing_id", "wrong_types", "html", "empty_body")


def test_bluesky_thread_faults_each_become_one_error_capture(make_sim):
    sim = make_sim(seed=3, scale=300)
    posts = [r for r in sim.world.records() if r.platform == "bluesky" and r.kind == "post"]
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


@pytest.mark.parametrize("kind", ["truncated_json", "html"])
@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_unparseable_answer_is_a_failed_capture_and_the_crawl_goes_on(make_sim, platform, kind):
    """Generic over the registry: break one thread request (found by a clean crawl of the same seed)."""
    clean = run_crawl(source_for(make_sim(seed=6, scale=200), platform))
    thread_urls = sorted(c.exchange.url for c in clean.captures if c.completes_thread)
    target = thread_urls[len(thread_urls) // 2].split("://", 1)[1].split("/", 1)[1]
    sim = make_sim(seed=6, scale=200, faults=[Fault(kind, path_contains=f"/{target}", count=1, platform=platform)])
    result = run_crawl(source_for(sim, platform))
    [error] = result.errors
    assert f"not valid {PLATFORMS[platform].spider.payload_format}" in error.error and error.records == ()
    assert error.exchange.url.endswith(f"/{target}")
    posts = {r.native_id for r in sim.world.records() if r.platform == platform and r.kind == "post"}
    captured = {r.native_id for r in result.records if r.kind == "post"}
    if sim.world.profiles[platform].has_replies:
        assert captured == posts
    else:  # the broken request was the post itself (a web page): only that one is missing
        assert captured <= posts and len(posts - captured) == 1
    assert len({c.completes_thread for c in result.captures if c.completes_thread}) == len(posts) - 1
