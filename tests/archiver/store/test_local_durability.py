"""Durable local writes without syncing the whole host, and a spool that never skips what it
cannot read."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from archiver.errors import SunshineError
from archiver.store import PutItem
from archiver.store.local import LocalStore
from archiver.store.spool import SpoolingStore


@pytest.fixture
def syncs(monkeypatch) -> list[str]:
    """Every fsync as "dir:<path>" or "file", and every os.sync as "sync"."""
    calls: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        mode = os.fstat(fd).st_mode
        calls.append(f"dir:{os.readlink(f'/proc/self/fd/{fd}')}" if stat.S_ISDIR(mode) else "file")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "sync", lambda: calls.append("sync"))
    return calls


def _dirs(calls: list[str]) -> set[str]:
    return {call.removeprefix("dir:") for call in calls if call.startswith("dir:")}


def test_put_fsyncs_the_file_and_every_folder_it_created(tmp_path: Path, syncs: list[str]) -> None:
    store = LocalStore(tmp_path / "store")
    store.put("a/b/c", b"data")
    assert "sync" not in syncs
    assert "file" in syncs
    root = tmp_path.resolve()
    # the file's folder names it; each new folder is named by its parent, up to the existing tmp_path
    assert _dirs(syncs) == {str(root / "store/a/b"), str(root / "store/a"), str(root / "store"), str(root)}


def test_put_many_fsyncs_each_folder_once_and_never_the_host(tmp_path: Path, syncs: list[str]) -> None:
    store = LocalStore(tmp_path / "store")
    store.put("x/seed", b"seed")
    syncs.clear()
    items = [PutItem(f"x/{n}", str(n).encode()) for n in range(20)] + [PutItem("y/z", b"z")]
    store.put_many(items)
    assert "sync" not in syncs
    assert syncs.count("file") == len(items)
    folders = [call for call in syncs if call.startswith("dir:")]
    assert len(folders) == len(set(folders)), "a folder was fsynced more than once in one batch"
    root = (tmp_path / "store").resolve()
    assert _dirs(syncs) == {str(root / "x"), str(root / "y"), str(root)}
    assert all(store.get(item.key) == item.data for item in items)


def _offline_spool(tmp_path: Path) -> SpoolingStore:
    (tmp_path / "not-a-folder").write_text("a file where the store's folder should be")
    return SpoolingStore(LocalStore(tmp_path / "not-a-folder"), tmp_path / "spool", retry_seconds=0)


def test_spooling_a_batch_never_syncs_the_host(tmp_path: Path, syncs: list[str]) -> None:
    spool = _offline_spool(tmp_path)
    results = spool.put_many([PutItem("k/1", b"one"), PutItem("k/2", b"two")])
    assert all(result.spooled for result in results)
    assert "sync" not in syncs
    assert syncs.count("file") == 4  # data and description of each
    assert str((tmp_path / "spool").resolve()) in _dirs(syncs)


@pytest.mark.parametrize("damage", ["garbled description", "description of the wrong shape", "data file gone"])
def test_an_unreadable_spool_entry_is_pending_and_named_by_drain(tmp_path: Path, damage: str) -> None:
    spool = _offline_spool(tmp_path)
    assert spool.put("good", b"fine").spooled
    assert spool.put("bad", b"only copy").spooled
    data = next(p for p in (tmp_path / "spool").glob("*.data") if p.read_bytes() == b"only copy")
    meta = data.with_suffix(".json")
    if damage == "garbled description":
        meta.write_bytes(b"\x00{not json")
    elif damage == "description of the wrong shape":
        meta.write_text('{"key": "bad"}')
    else:
        data.unlink()
    pending = spool.pending()
    assert len(pending) == 2 and pending[0] == "good"
    assert meta.name in pending[1]

    remote = LocalStore(tmp_path / "remote")
    with pytest.raises(SunshineError, match=f"spool entry .*{meta.name}") as raised:
        SpoolingStore(remote, tmp_path / "spool").drain()
    assert "remove" in str(raised.value)  # says what to do
    assert remote.get("good") == b"fine"  # everything readable still went up
    assert len(SpoolingStore(remote, tmp_path / "spool").pending()) == 1
    assert meta.exists() or data.exists()  # kept, never deleted
