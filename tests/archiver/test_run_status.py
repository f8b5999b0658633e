"""The run-status document (`status/runs.json`): folded run by run, public, and left out of the record."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from archiver.canonical import canonical_json
from archiver.catalog import Catalog
from archiver.config import SourceConfig, load_config
from archiver.errors import StoreUnavailableError
from archiver.incremental import SourceOutcome
from archiver.run import RunResult
from archiver.run_status import (
    FORMAT,
    RUN_STATUS_KEY,
    build_status,
    parse_status,
    publish_run_status,
    read_status,
)
from archiver.session import RunStats
from archiver.store.local import LocalStore
from tests.archiver.prev_release import archive_again, extract
from tests.e2e.conftest import sunshine

BSKY = SourceConfig("spd-bluesky", "bluesky", "spd.bsky.social")
FB = SourceConfig("spd-facebook", "facebook", "123", token_env="SPD_FB_TOKEN")
SECRET_URL = "https://graph.facebook.com/v21.0/123/feed?access_token=EAAB-very-secret"


def _result(run_id: str, *, failures: tuple[tuple[str, str], ...] = (), outcomes: tuple[SourceOutcome, ...] = (),
            captures: int = 10, checkpoint: str | None = None) -> RunResult:
    stats = RunStats(captures=captures, failed=len(failures), new=3, failures=list(failures))
    return RunResult(run_id, False, stats, 0, checkpoint, outcomes)


def _fold(previous, result, sources=(BSKY, FB), finished_at="2026-03-01T10:05:00Z"):
    return build_status(previous, result, sources, (BSKY, FB), records=42, finished_at=finished_at)


def _source(doc, name):
    return next(entry for entry in doc["sources"] if entry["name"] == name)


def test_a_failing_source_keeps_its_last_success_and_counts_failures_until_it_succeeds_again() -> None:
    first = _fold(None, _result("20260301T100000000000Z-aaaaaa", outcomes=(
        SourceOutcome("spd-bluesky", "complete", "", 0), SourceOutcome("spd-facebook", "complete", "", 0))))
    refused = (SourceOutcome("spd-bluesky", "complete", "", 0),
               SourceOutcome("spd-facebook", "stopped", "renew SPD_FB_TOKEN", 7))
    second = _fold(first, _result("20260301T110000000000Z-bbbbbb", outcomes=refused,
                                  failures=(("spd-facebook", f"{SECRET_URL}: HTTP 401"),)),
                   finished_at="2026-03-01T11:02:00Z")
    third = _fold(second, _result("20260301T120000000000Z-cccccc", outcomes=refused,
                                  failures=(("spd-facebook", "a: x"), ("spd-facebook", "b: y"))),
                  finished_at="2026-03-01T12:01:00Z")

    facebook = _source(third, "spd-facebook")
    assert facebook["last_success"]["run_id"] == "20260301T100000000000Z-aaaaaa"
    assert facebook["last_run"] == {"run_id": "20260301T120000000000Z-cccccc", "finished_at": "2026-03-01T12:01:00Z",
                                    "status": "stopped", "failed": 2, "deferred": 7}
    assert (facebook["runs_since_success"], facebook["failures_since_success"]) == (2, 3)
    bluesky = _source(third, "spd-bluesky")
    assert bluesky["last_success"]["run_id"] == bluesky["last_run"]["run_id"] == "20260301T120000000000Z-cccccc"
    assert (bluesky["runs_since_success"], bluesky["failures_since_success"]) == (0, 0)
    assert third["totals"]["runs"] == 3 and third["totals"]["failed"] == 3 and third["totals"]["captures"] == 30
    assert third["totals"]["runs_by_status"] == {"complete": 1, "incomplete": 2}
    assert third["last_run"]["duration_seconds"] == 60.0  # from the start its run id names
    assert third["totals"]["duration_seconds"] == 300.0 + 120.0 + 60.0

    recovered = _fold(third, _result("20260301T130000000000Z-dddddd", outcomes=(
        SourceOutcome("spd-facebook", "complete", "", 0),)), sources=(FB,))
    assert _source(recovered, "spd-facebook")["runs_since_success"] == 0
    assert _source(recovered, "spd-facebook")["failures_since_success"] == 0
    assert _source(recovered, "spd-bluesky") == bluesky  # not crawled this run: unchanged


def test_a_paused_source_says_what_it_deferred_and_the_run_is_paused() -> None:
    doc = _fold(None, _result("20260301T100000000000Z-aaaaaa", outcomes=(
        SourceOutcome("spd-bluesky", "paused", "quota spent", 120), SourceOutcome("spd-facebook", "complete", "", 0))))

    assert _source(doc, "spd-bluesky")["last_run"]["status"] == "paused"
    assert _source(doc, "spd-bluesky")["last_run"]["deferred"] == 120
    assert _source(doc, "spd-bluesky")["last_success"] is None
    assert doc["last_run"]["status"] == "paused"


def test_the_document_carries_no_failure_text_detail_or_secret() -> None:
    doc = _fold(None, _result("20260301T100000000000Z-aaaaaa", outcomes=(
        SourceOutcome("spd-facebook", "stopped", "renew the token in SPD_FB_TOKEN", 0),),
        failures=(("spd-facebook", f"{SECRET_URL}: HTTP 401"),)))

    text = canonical_json(doc).decode()
    assert "very-secret" not in text and "access_token" not in text and "SPD_FB_TOKEN" not in text
    assert parse_status(canonical_json(doc)) == doc


def test_sources_follow_the_config_and_a_checkpoint_is_kept_until_a_new_one_is_signed() -> None:
    checkpoint = "example.org/log\n5\n" + "A" * 43 + "=\n\n— example.org/log abc=\n"
    first = _fold(None, _result("20260301T100000000000Z-aaaaaa", checkpoint=checkpoint))
    second = build_status(first, _result("20260301T110000000000Z-bbbbbb"), (BSKY,), (BSKY,),
                          records=42, finished_at="2026-03-01T11:00:00Z")

    assert first["checkpoint"] == {"origin": "example.org/log", "size": 5, "root": "A" * 43 + "="}
    assert second["checkpoint"] == first["checkpoint"]  # this run signed none (the store was away)
    assert [entry["name"] for entry in second["sources"]] == ["spd-bluesky"]


@pytest.mark.parametrize("data", [b"{", b"[]", b'{"format": "other"}', b" " * (2 << 20)])
def test_a_damaged_document_is_refused_naming_the_key(data: bytes) -> None:
    with pytest.raises(Exception) as caught:
        parse_status(data)
    assert RUN_STATUS_KEY in str(caught.value)


def _config(tmp_path: Path):
    path = tmp_path / "sunshine.toml"
    path.write_text('[department]\nname = "SPD"\n[[sources]]\nname = "spd-bluesky"\nplatform = "bluesky"\n'
                    'account = "spd.bsky.social"\n')
    return load_config(path)


def test_publish_replaces_the_document_and_a_damaged_one_is_started_afresh(tmp_path: Path) -> None:
    config = _config(tmp_path)
    store = LocalStore(tmp_path / "store")
    store.put(RUN_STATUS_KEY, b"not json")
    with Catalog(tmp_path / "catalog.sqlite") as catalog:
        first = publish_run_status(store, config, catalog, _result("20260301T100000000000Z-aaaaaa"),
                                   config.sources, now="2026-03-01T10:00:01Z")
        second = publish_run_status(store, config, catalog, _result("20260301T110000000000Z-bbbbbb"),
                                    config.sources, now="2026-03-01T11:00:01Z")

    assert first is not None and first["totals"]["runs"] == 1
    assert read_status(store) == second and second["totals"]["runs"] == 2 and second["format"] == FORMAT
    assert store.get(RUN_STATUS_KEY) == canonical_json(second)


class _AwayStore(LocalStore):
    def get(self, key, **kwargs):
        raise StoreUnavailableError("connection refused")


def test_with_the_store_away_nothing_is_written_and_the_run_goes_on(tmp_path: Path) -> None:
    config = _config(tmp_path)
    store = _AwayStore(tmp_path / "store")
    with Catalog(tmp_path / "catalog.sqlite") as catalog:
        doc = publish_run_status(store, config, catalog, _result("20260301T100000000000Z-aaaaaa"), config.sources)

    assert doc is None and not store.exists(RUN_STATUS_KEY)  # the history it cannot read is not reset


def test_runs_publish_it_and_after_recover_a_new_run_replacing_it_still_verifies(tmp_path: Path) -> None:
    config = extract(tmp_path / "archive")
    first = archive_again(config.parent)
    assert first.returncode == 0, first.stdout + first.stderr
    store = LocalStore(load_config(config).storage.path)
    assert read_status(store)["totals"]["runs"] == 1
    (config.parent / "catalog.sqlite").unlink()
    recovered = sunshine("recover", "-c", str(config), "--quiet")
    assert recovered.returncode == 0, recovered.stdout + recovered.stderr

    again = archive_again(config.parent)

    assert again.returncode == 0, again.stdout + again.stderr
    doc = read_status(store)
    assert doc["totals"]["runs"] == 2 and doc["archive"]["index_lag"] == 0
    assert doc["archive"]["records"] > 0 and doc["checkpoint"]["size"] > 0
    verified = sunshine("verify", "-c", str(config))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert json.loads(store.get(RUN_STATUS_KEY)) == doc
    shutil.rmtree(tmp_path / "archive")
