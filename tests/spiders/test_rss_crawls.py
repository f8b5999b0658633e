"""The RSS/Atom puller against the simulator's news feeds (an rss-only world, so runs are quick)."""

from __future__ import annotations

from dataclasses import replace

from archiver.canonical import canonical_json
from infra.simulator import rss as sim_rss
from infra.simulator.faults import Fault
from spiders.extract import find_native
from tests.spiders.conftest import run_crawl, source_for


def _world(sim):
    return {r.native_id: r for r in sim.world.records() if r.platform == "rss"}


def _feed_pages(result):
    return [c for c in result.captures if "/news/feed." in c.exchange.url]


def test_atom_walk_pages_articles_and_native(make_sim):
    sim = make_sim(seed=21, scale=300, platforms=("rss",))
    result = run_crawl(source_for(sim, "rss"))
    world = _world(sim)
    assert result.errors == [] and len(world) > 3 * sim_rss.PAGE_SIZE
    assert len(_feed_pages(result)) >= 3  # rel=next followed across pages
    assert sorted(r.native_id for r in result.records) == sorted(world)
    assert all(r.text == world[r.native_id].text and r.kind == "post" for r in result.records)
    assert {c.completes_thread for c in result.captures if c.completes_thread} == set(world)
    pages = [c for c in result.captures if c.completes_thread]
    assert all(c.exchange.status == 200 and b"<article>" in c.exchange.body for c in pages)
    for capture in _feed_pages(result):
        for record in capture.records:
            assert find_native("rss", capture.exchange.body, record.native_id) == record.native


def test_rss2_feed_gives_the_same_entries(make_sim):
    sim = make_sim(seed=21, scale=300, platforms=("rss",))
    source = replace(source_for(sim, "rss"), account=f"{sim_rss.SITE}/news/feed.rss")
    result = run_crawl(source)
    assert result.errors == [] and len(_feed_pages(result)) >= 3
    assert sorted(r.native_id for r in result.records) == sorted(_world(sim))


def test_edits_new_entries_and_deletions_confirmed_only_by_the_page(make_sim):
    sim = make_sim(seed=22, scale=300, platforms=("rss",))
    first = run_crawl(source_for(sim, "rss"))
    before = {r.native_id: canonical_json(r.native) for r in first.records}
    change = sim.advance()
    deleted = {ref.native_id for ref in change.deleted}
    edited = {ref.native_id for ref in change.edited}
    new = {ref.native_id for ref in change.new}
    assert deleted and edited and new
    after = run_crawl(source_for(sim, "rss"), known=frozenset(before))
    assert after.errors == []
    tombstones = [t.native_id for c in after.captures for t in c.tombstones]
    assert sorted(tombstones) == sorted(deleted)
    gone = [c for c in after.captures if c.tombstones]
    assert all(c.exchange.status == 404 for c in gone)
    by_id = {r.native_id: r for r in after.records}
    assert new <= set(by_id)
    for nid, canon in before.items():
        if nid in by_id:
            assert (canonical_json(by_id[nid].native) != canon) == (nid in edited)


def test_entry_outside_the_feed_window_is_not_a_deletion(make_sim):
    sim = make_sim(seed=23, scale=200, platforms=("rss",))
    live = sorted(_world(sim))[0]
    result = run_crawl(source_for(sim, "rss"), known=frozenset({f"{sim_rss.SITE}/news/999999999", live}))
    [tombstone] = [t for c in result.captures for t in c.tombstones]  # the page that 404s
    assert tombstone.native_id.endswith("/999999999")


def test_throttled_feed_still_completes(make_sim):
    sim = make_sim(seed=24, scale=200, platforms=("rss",), rate_limit_every=3, retry_after=1)
    result = run_crawl(source_for(sim, "rss"))
    assert result.errors == [] and sorted(r.native_id for r in result.records) == sorted(_world(sim))
    assert result.stats["sunshine_retry/count"] > 0


def test_broken_feed_page_is_one_failed_capture_and_the_run_goes_on(make_sim):
    for kind, reason in (("truncated_json", "not valid XML"), ("html", "not valid XML")):
        sim = make_sim(seed=25, scale=300, platforms=("rss",),
                       faults=[Fault(kind, path_contains="feed.atom?page=", count=1, platform="rss")])
        result = run_crawl(source_for(sim, "rss"), known=frozenset({f"{sim_rss.SITE}/news/1"}))
        [error] = result.errors
        assert reason in error.error and "?page=" in error.exchange.url and error.records == ()
        first_page = {r.native_id for r in result.records}
        assert len(first_page) == sim_rss.PAGE_SIZE  # page 1 kept, its articles fetched
        assert {c.completes_thread for c in result.captures if c.completes_thread} == first_page
        assert not any(c.tombstones for c in result.captures)  # no deletion check after a broken walk
