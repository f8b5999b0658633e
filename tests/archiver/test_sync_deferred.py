"""`sunshine sync` and the end of a run finish what an S3 outage made them defer (issue 9).

The remote store here is a local folder behind a switch that makes every call fail the way an
unreachable S3 does (`StoreUnavailableError`), with the real spool (`SpoolingStore`) in front.
The MinIO version of the whole outage is tests/e2e/test_sync_e2e.py.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from archiver.catalog import Catalog, ObjectRow
from archiver.cli import main
from archiver.cli.demo import write_simulator_config
from archiver.clock import utc_now
from archiver.config import Config, load_config
from archiver.errors import StoreUnavailableError
from archiver.ledger.note import peek_checkpoint
from archiver.ledger_events import log_event
from archiver.run import finish_deferred, run_archive
from archiver.store.local import LocalStore
from archiver.store.spool import SpoolingStore
from archiver.verify import verify_archive
from indexer import open_index
from tests.archiver.test_disposition_crash import STORAGE, TOKEN_ENV, _archive


class Switchable:
    """A store that, while `down`, fails every call as an unreachable S3 does."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.down = False

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.store, name)
        if not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            if self.down:
                raise StoreUnavailableError("S3 endpoint http://127.0.0.1:9 unreachable (switched off by the test)")
            return attribute(*args, **kwargs)
        return call

    def ensure_bucket(self, object_lock: bool | None = None) -> None:
        if self.down:
            raise StoreUnavailableError("S3 endpoint http://127.0.0.1:9 unreachable (switched off by the test)")


def _spooled(remote: Switchable, spool: Path) -> SpoolingStore:
    return SpoolingStore(remote, spool, retry_seconds=0.05, first_delay=0.01)


def _garble_one(spool: Path) -> Path:
    description = sorted(spool.glob("*.json"))[0]
    description.write_text("{not json")
    return description


def _s3_config(tmp_path: Path) -> Config:
    storage = {"backend": "s3", "bucket": "deferred", "endpoint_url": "http://127.0.0.1:9"}
    return load_config(write_simulator_config(tmp_path / "sunshine.toml", "http://127.0.0.1:9",
                                              token_env=TOKEN_ENV, tables={"storage": storage}))


@pytest.fixture(scope="module")
def archived(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _archive(tmp_path_factory.mktemp("sync") / "archive", {"backend": "local", "path": "store", **STORAGE}).parent


def test_sync_uploads_the_spool_publishes_the_ledger_and_signs_the_checkpoint(archived: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "archive"
    shutil.copytree(archived, data_dir)
    config = load_config(data_dir / "sunshine.toml")
    remote = Switchable(LocalStore(config.storage.path))
    store = _spooled(remote, data_dir / "spool")
    remote.down = True  # the outage: an object waits in the spool, a clerk event waits unpublished
    spooled = store.put("dispositions/outage-note.json", b"{}")
    catalog = Catalog(config.catalog_path)
    try:
        with catalog.transaction() as tx:
            catalog.add_objects(tx, [ObjectRow(spooled.key, spooled.sha256, spooled.size, None, "disposition",
                                               utc_now())])
        log_event(catalog, "hold", {"hold": "hold-outage", "records": ["r1"]}, utc_now())
        entries = catalog.ledger_size()
    finally:
        catalog.close()
    assert not finish_deferred(config, store).ok  # still away: nothing is claimed
    remote.down = False
    assert not verify_archive(config, store).ok  # unpublished and unsigned until sync

    result = finish_deferred(config, store)
    assert result.ok and result.drained.uploaded == 1 and result.drained.pending == []
    assert result.published == 1 and result.checkpoint is not None
    assert peek_checkpoint(result.checkpoint).size == entries
    assert LocalStore(config.storage.path).get("dispositions/outage-note.json") == b"{}"
    report = verify_archive(config, store)
    assert report.ok, report.problems[:5]


def test_sync_names_an_unreadable_spool_entry_and_exits_non_zero(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = _s3_config(tmp_path)
    remote = Switchable(LocalStore(tmp_path / "remote"))
    store = _spooled(remote, config.storage.spool_path)
    remote.down = True
    store.put("blobs/a", b"a")
    store.put("blobs/b", b"b")
    garbled = _garble_one(config.storage.spool_path)
    remote.down = False
    monkeypatch.setattr("archiver.run.open_archive_store", lambda _config: store)
    result = CliRunner().invoke(main, ["sync", "-c", str(config.path)], catch_exceptions=False)
    assert result.exit_code == 1, result.output
    assert "uploaded 1 spooled objects; 1 still waiting" in result.output
    assert "still spooled: " in result.output and garbled.name in result.output


def _crawl_during_outage(remote: Switchable, back: bool, garble: Path | None) -> Callable[..., None]:
    """A crawl whose capture lands in the spool because S3 is away, and S3 returns before the end."""

    def crawl(session, _catalog, _sources, _run_id) -> None:
        remote.down = True
        session.store.put("media/captured-in-the-outage", b"bytes")
        session.store.put("media/another", b"more")
        if garble is not None:
            _garble_one(garble)
        remote.down = not back
    return crawl


@pytest.mark.parametrize("case", ["back", "still-away", "unreadable-entry"])
def test_a_run_whose_store_returns_before_it_ends_leaves_nothing_spooled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                          case: str) -> None:
    config = _s3_config(tmp_path)
    remote = Switchable(LocalStore(tmp_path / "remote"))
    monkeypatch.setattr("archiver.run.open_store", lambda _storage: remote)
    garble = config.storage.spool_path if case == "unreadable-entry" else None
    crawl = _crawl_during_outage(remote, back=case != "still-away", garble=garble)
    result = run_archive(config, crawl, open_index(config.search))
    if case == "back":
        assert result.spooled == 0 and result.ok
        assert remote.store.get("media/captured-in-the-outage") == b"bytes"
    elif case == "still-away":
        assert result.spooled == 2 and not result.ok
    else:
        assert result.spooled == 1 and not result.ok  # the unreadable one counts, the other was uploaded
