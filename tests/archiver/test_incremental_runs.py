"""Runs that scale with what changed (issue 10): a second run walks only the recent window and one
revisit slice, so it makes a small share of the first run's API requests, and still catches edits and
deletions inside the window. Real `sunshine archive` runs against the in-process simulator.

`SUNSHINE_INCREMENTAL_SCALE=100000` runs the same test on a department of 100,000 records (slow).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from archiver.cli.demo import write_simulator_config
from archiver.model import make_record_id
from infra.simulator.server import start_simulator
from tests.e2e.conftest import SIM_TOKEN, TOKEN_ENV, catalog_query, sunshine

SCALE = int(os.environ.get("SUNSHINE_INCREMENTAL_SCALE", "2000"))
RECENT_DAYS = 30


def _run(config: Path, sim) -> int:
    """One `sunshine archive`; the API requests it made (all platforms)."""
    before = sum(sim.app.requests.values())
    result = sunshine("archive", "-c", str(config), "--quiet", timeout=3600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return sum(sim.app.requests.values()) - before


def _time(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@pytest.mark.xfail(strict=True, reason="web and mastodon spiders do not yet stop early (web re-walks its sitemap, "
                   "mastodon runs its own sweep); at 2,000 records the second run made 189 of 340 requests")
def test_a_second_run_makes_a_tenth_of_the_requests_and_catches_window_changes(tmp_path: Path) -> None:
    with start_simulator(seed=21, scale=SCALE, token=SIM_TOKEN) as sim:
        config = write_simulator_config(tmp_path / "archive" / "sunshine.toml", sim.base_url, token_env=TOKEN_ENV,
                                        tables={"archive": {"recent_days": RECENT_DAYS, "revisit_days": 30}})
        first = _run(config, sim)
        second = _run(config, sim)
        print(f"\n{SCALE} records: first run {first} requests, second run {second} "
              f"({second / first:.1%})")
        assert second < 0.10 * first

        change = sim.advance()
        world = sim.world
        newest = {platform: max(_time(r.created_at) for r in world.records() if r.platform == platform
                                and r.kind == "post") for platform in world.profiles}

        def in_window(platform: str, native_id: str) -> bool:
            record = world.record(platform, native_id) or next(
                r for r in world.records(include_deleted=True) if r.native_id == native_id)
            root = world.record(platform, record.thread_id) or record
            return _time(root.created_at) >= newest[platform] - timedelta(days=RECENT_DAYS)

        edited = [ref for ref in change.edited if in_window(*ref)]
        deleted = [ref for ref in change.deleted if in_window(*ref)]
        assert edited and deleted, "the step changed nothing inside the window"
        third = _run(config, sim)
        print(f"after a simulated week: {third} requests ({third / first:.1%})")
        data_dir = config.parent
        statuses = dict(catalog_query(data_dir, "SELECT record_id, status FROM records"))
        for ref in edited:
            assert statuses.get(make_record_id(*ref)) in ("edited", "hidden"), ref
        for ref in deleted:
            assert statuses.get(make_record_id(*ref)) == "deleted", ref
        new = {make_record_id(*ref) for ref in change.new} - {make_record_id(*ref) for ref in change.deleted}
        assert new <= set(statuses), sorted(new - set(statuses))[:5]
