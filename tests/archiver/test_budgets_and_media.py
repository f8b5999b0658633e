"""Budgets, refused credentials and media limits, through real `sunshine archive` runs against the
in-process simulator (issue 10 items 2 and 3).

* a daily quota that runs out mid-run pauses that source (status "paused", exit status 3, a line
  saying what was deferred); the next run with quota left completes it, nothing missing or twice;
* a refused token stops only its source, with one line naming the source and the variable to renew,
  while the other sources finish;
* media over `media_max_bytes` are recorded as skipped with the reason, a failed media fetch as
  failed, and identical bytes seen under many URLs are stored once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import tomli_w

from archiver.cli.demo import simulator_config
from archiver.model import make_record_id
from archiver.run import EXIT_FAILED, EXIT_OK, EXIT_PAUSED
from infra.simulator.server import SimulatorHandle, start_simulator
from infra.simulator.wire import Reply
from tests.e2e.conftest import SIM_TOKEN, TOKEN_ENV, catalog_query, sunshine


def _write(data_dir: Path, data: dict[str, Any]) -> Path:
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "sunshine.toml"
    path.write_text(tomli_w.dumps(data), encoding="utf-8")
    return path


def _source(data: dict[str, Any], platform: str) -> dict[str, Any]:
    return next(source for source in data["sources"] if source["platform"] == platform)


def _world_ids(sim: SimulatorHandle, platform: str) -> set[str]:
    return {make_record_id(r.platform, r.native_id) for r in sim.world.records() if r.platform == platform}


def _archived_ids(data_dir: Path, platform: str) -> set[str]:
    return {row[0] for row in catalog_query(data_dir, "SELECT record_id FROM records WHERE platform = ?", (platform,))}


def _state(data_dir: Path, source: str) -> tuple[str, str]:
    return catalog_query(data_dir, "SELECT status, detail FROM source_state WHERE source = ?", (source,))[0]


def test_a_spent_daily_quota_pauses_the_source_and_the_next_run_completes_it(tmp_path: Path) -> None:
    platforms = ("bluesky", "youtube")
    with start_simulator(seed=5, scale=400, token=SIM_TOKEN, platforms=platforms) as sim:
        data = simulator_config(sim.base_url, token_env=TOKEN_ENV, platforms=platforms)
        youtube = _source(data, "youtube")
        youtube["daily_quota"] = 6  # every Data API list call costs one unit
        config = _write(tmp_path / "archive", data)
        data_dir = config.parent

        first = sunshine("archive", "-c", str(config), "--quiet")
        assert first.returncode == EXIT_PAUSED, first.stdout + first.stderr
        assert sim.app.requests["youtube"] <= 6
        paused = [line for line in first.stderr.splitlines() if "paused" in line]
        assert len(paused) == 1 and youtube["name"] in paused[0] and "quota" in paused[0] \
            and "deferred" in paused[0], first.stderr
        assert _state(data_dir, youtube["name"])[0] == "paused"
        assert _state(data_dir, _source(data, "bluesky")["name"])[0] == "complete"
        assert _archived_ids(data_dir, "bluesky") == _world_ids(sim, "bluesky")
        missing = _world_ids(sim, "youtube") - _archived_ids(data_dir, "youtube")
        assert missing, "the quota did not cut the YouTube crawl short"
        runs = catalog_query(data_dir, "SELECT status, stats FROM runs")
        assert [status for status, _ in runs] == ["paused"]
        assert '"deferred"' in runs[0][1]

        youtube["daily_quota"] = 10_000  # the next quota day (or a raised quota)
        _write(data_dir, data)
        second = sunshine("archive", "-c", str(config), "--quiet")
        assert second.returncode == EXIT_OK, second.stdout + second.stderr
        assert _state(data_dir, youtube["name"])[0] == "complete"
        assert _archived_ids(data_dir, "youtube") == _world_ids(sim, "youtube")
        versions = Counter(row[0] for row in catalog_query(
            data_dir, "SELECT record_id FROM versions WHERE record_id IN (SELECT record_id FROM records)"))
        assert versions and max(versions.values()) == 1, "a record was stored twice"


def test_a_refused_token_stops_only_its_source_with_one_line_naming_the_variable(tmp_path: Path) -> None:
    platforms = ("bluesky", "facebook", "mastodon")
    expired = "SUNSHINE_TEST_EXPIRED_FB_TOKEN"
    with start_simulator(seed=6, scale=300, token=SIM_TOKEN, platforms=platforms) as sim:
        data = simulator_config(sim.base_url, token_env=TOKEN_ENV, platforms=platforms)
        facebook = _source(data, "facebook")
        facebook["token_env"] = expired
        config = _write(tmp_path / "archive", data)
        data_dir = config.parent

        result = sunshine("archive", "-c", str(config), "--quiet", env={expired: "expired-page-token"})
        assert result.returncode == EXIT_FAILED, result.stdout + result.stderr
        naming = [line for line in result.stderr.splitlines() if expired in line]
        assert len(naming) == 1, result.stderr
        assert facebook["name"] in naming[0] and "renew" in naming[0]
        assert sim.app.requests["facebook"] == 1  # the feed's refusal; nothing more was asked
        assert _state(data_dir, facebook["name"])[0] == "stopped"
        for platform in ("bluesky", "mastodon"):
            assert _state(data_dir, _source(data, platform)["name"])[0] == "complete"
            assert _archived_ids(data_dir, platform) == _world_ids(sim, platform)


@contextmanager
def _media_answers(sim: SimulatorHandle, answer: Any) -> Iterator[None]:
    """Let `answer(name, reply)` replace the simulator's reply to `GET /media/<name>`."""
    original = sim.app.handle

    def handle(method: str, target: str, headers: Any = None, body: bytes = b"") -> Reply:
        reply = original(method, target, headers, body)
        path = target.partition("?")[0]
        return answer(path.rsplit("/", 1)[-1], reply) if path.startswith("/media/") else reply

    sim.app.handle = handle  # type: ignore[method-assign]
    try:
        yield
    finally:
        sim.app.handle = original  # type: ignore[method-assign]


def test_media_over_the_limit_are_skipped_and_a_failed_fetch_is_recorded(tmp_path: Path) -> None:
    platforms = ("bluesky", "facebook")
    with start_simulator(seed=7, scale=400, token=SIM_TOKEN, platforms=platforms) as sim:
        sizes = {f"{name}.png": len(sim.world.media_png(name) or b"") for name in sim.world.media_names()}
        limit = sorted(sizes.values())[len(sizes) // 2] + 1
        small = sorted(name for name, size in sizes.items() if size <= limit)
        large = {name for name, size in sizes.items() if size > limit}
        broken = small[0]
        assert large and len(small) >= 2, sizes
        config = _write(tmp_path / "archive", simulator_config(
            sim.base_url, token_env=TOKEN_ENV, platforms=platforms, tables={"archive": {"media_max_bytes": limit}}))
        data_dir = config.parent

        def fail_one(name: str, reply: Reply) -> Reply:
            return Reply(500, b"broken", "text/plain") if name == broken else reply

        with _media_answers(sim, fail_one):
            result = sunshine("archive", "-c", str(config), "--quiet")
        assert result.returncode == EXIT_FAILED, result.stdout + result.stderr  # the failed fetch
        problems = {url.rsplit("/", 1)[-1]: reason
                    for _source, url, reason in catalog_query(data_dir, "SELECT source, url, reason FROM media_problems")}
        assert {name for name, reason in problems.items() if reason.startswith("skipped: larger than")} == large
        assert all(f"{limit:,}" in problems[name] for name in large)
        assert problems[broken] == "failed: HTTP 500"
        stored = {url.rsplit("/", 1)[-1] for (url,) in catalog_query(data_dir, "SELECT url FROM media")}
        assert stored == set(small) - {broken}
        for name in [*large, broken]:
            assert f"{name}" in result.stderr  # the run summary names each problem
        runs = catalog_query(data_dir, "SELECT stats FROM runs")
        assert broken in runs[0][0] and "skipped: larger than" in runs[0][0]


def test_identical_media_under_many_urls_are_stored_once(tmp_path: Path) -> None:
    platforms = ("bluesky", "facebook")
    with start_simulator(seed=8, scale=400, token=SIM_TOKEN, platforms=platforms) as sim:
        names = sim.world.media_names()
        assert len(names) >= 2
        same = sim.world.media_png(names[0])
        config = _write(tmp_path / "archive", simulator_config(sim.base_url, token_env=TOKEN_ENV, platforms=platforms))
        data_dir = config.parent

        fetched: list[str] = []

        def identical(name: str, reply: Reply) -> Reply:
            fetched.append(name)
            return Reply(reply.status, same, reply.content_type, reply.headers) if reply.status == 200 else reply

        with _media_answers(sim, identical):
            result = sunshine("archive", "-c", str(config), "--quiet")
            assert result.returncode == EXIT_OK, result.stdout + result.stderr
            media = catalog_query(data_dir, "SELECT url, sha256 FROM media")
            assert len(media) == len(names) and len({sha for _url, sha in media}) == 1
            blobs = catalog_query(data_dir, "SELECT key FROM objects WHERE sha256 = ?", (media[0][1],))
            assert len(blobs) == 1, blobs
            assert sorted(fetched) == sorted(f"{name}.png" for name in names)  # each URL once
            # the demo config's window spans the whole history: the second run sees every record again
            again = sunshine("archive", "-c", str(config), "--quiet")
            assert again.returncode == EXIT_OK, again.stdout + again.stderr
        assert len(fetched) == len(names), "a stored media URL was fetched again"
        assert catalog_query(data_dir, "SELECT COUNT(*) FROM media") == [(len(names),)]
        assert catalog_query(data_dir, "SELECT COUNT(*) FROM objects WHERE sha256 = ?", (media[0][1],)) == [(1,)]
