"""The log in a real LocalStore: publish, prove, sign, re-publish, refuse rewrites, audit."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from archiver.errors import SunshineError
from archiver.ledger import log, merkle, note
from archiver.ledger.log import LogReader, LogWriter
from archiver.store.local import LocalStore

ORIGIN = "test.example/log"


def entries(start: int, stop: int, tag: str = "") -> list[bytes]:
    return [log.entry_for_capture(f"rec-{i}{tag}", 1, "2026-01-01T00:00:00Z", f"{i:064x}") for i in range(start, stop)]


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "store")


@pytest.fixture
def signer(tmp_path: Path) -> note.Signer:
    return log.load_or_create_signer(tmp_path / "keys" / "ledger.key", ORIGIN)


def publish(store, sizes: list[int], batch: int = 100) -> list[bytes]:
    """Publish entries in batches, stopping at each of `sizes`; returns all entries."""
    everything, at = [], 0
    for size in sizes:
        while at < size:
            step = min(batch, size - at)
            chunk = entries(at, at + step)
            log.append_entries(store, at, chunk)
            everything += chunk
            at += step
    return everything


@pytest.mark.parametrize("size", [1, 255, 256, 257, 513])
def test_round_trip_across_tile_boundaries(store, signer, size: int):
    published = publish(store, [size], batch=100)
    text = log.sign_checkpoint(store, signer, ORIGIN)
    checkpoint = note.parse_checkpoint(note.open_note(text, [signer.verifier()]).text)
    leaf_hashes = [merkle.leaf_hash(e) for e in published]
    assert checkpoint.size == size
    assert checkpoint.root == merkle.root_from_leaf_hashes(leaf_hashes)
    reader = LogReader(store)
    assert reader.size() == size and reader.checkpoint() == text
    for index in {0, size // 2, size - 1}:
        assert reader.entry(index) == published[index]
        assert reader.leaf_hash(index) == leaf_hashes[index]
        merkle.verify_inclusion(index, size, leaf_hashes[index], reader.inclusion_proof(index, size), checkpoint.root)
    for old in {1, size // 2 or 1, size}:
        merkle.verify_consistency(old, size, reader.root(old), checkpoint.root, reader.consistency_proof(old, size))
    assert log.verify_log(store, log.verifier_key(signer)) == []
    with pytest.raises(ValueError, match="beyond the latest checkpoint"):
        reader.inclusion_proof(0, size + 1)


def test_65537_entries_and_every_checkpoint_stays_provable(store, signer):
    published = publish(store, [300, 65537], batch=1000)
    assert log.published_size(store) == 65537
    text = log.sign_checkpoint(store, signer, ORIGIN)
    assert store.exists("ledger/tile/2/000.p/1") and store.exists("ledger/tile/1/000")
    reader = LogReader(store)
    root = note.parse_checkpoint(text.split("\n\n")[0] + "\n").root
    leaf = merkle.leaf_hash(published[65536])
    merkle.verify_inclusion(65536, 65537, leaf, reader.inclusion_proof(65536, 65537), root)
    merkle.verify_inclusion(300, 65537, merkle.leaf_hash(published[300]), reader.inclusion_proof(300, 65537), root)
    assert log.verify_log(store, log.verifier_key(signer)) == []


def test_checkpoints_are_kept_and_consistent(store, signer):
    publish(store, [10])
    first = log.sign_checkpoint(store, signer, ORIGIN)
    publish_from(store, 10, 300)
    second = log.sign_checkpoint(store, signer, ORIGIN)
    assert store.get("ledger/checkpoints/10").decode() == first
    assert store.get("ledger/checkpoints/300").decode() == second
    assert store.get("ledger/checkpoint").decode() == second
    assert store.get("ledger/key").decode().strip() == log.verifier_key(signer)
    reader = LogReader(store)
    merkle.verify_consistency(10, 300, reader.root(10), reader.root(300), reader.consistency_proof(10, 300))
    # the old checkpoint's partial tiles are still there, so it remains provable from tiles alone
    merkle.verify_inclusion(3, 10, reader.leaf_hash(3, 10), reader.inclusion_proof(3, 10), reader.root(10))
    assert store.exists("ledger/tile/0/000.p/10")
    assert log.sign_checkpoint(store, signer, ORIGIN) == second  # nothing new: same bytes
    assert log.verify_log(store, log.verifier_key(signer)) == []


def publish_from(store, start: int, stop: int, tag: str = "") -> None:
    log.append_entries(store, start, entries(start, stop, tag))


def test_republishing_is_idempotent_and_a_fresh_writer_continues(store, signer):
    publish(store, [700], batch=250)
    log.sign_checkpoint(store, signer, ORIGIN)
    before = {obj.key: store.get(obj.key) for obj in store.list("ledger/")}
    log.append_entries(store, 0, entries(0, 700))  # after a "crash": republish everything
    log.append_entries(store, 512, entries(512, 700))
    assert {obj.key: store.get(obj.key) for obj in store.list("ledger/")} == before
    writer = LogWriter(store)  # a new process picks up the right edge from the partial tiles
    writer.append(700, entries(700, 1000))
    assert log.published_size(store) == 1000
    log.sign_checkpoint(store, signer, ORIGIN)
    assert log.verify_log(store, log.verifier_key(signer)) == []


def test_gaps_and_rewrites_are_refused(store, signer):
    publish(store, [300])
    with pytest.raises(SunshineError, match="cannot continue the ledger at index 400"):
        LogWriter(store).append(400, entries(400, 401))
    with pytest.raises(SunshineError, match="only 300 entries are published"):
        log.append_entries(store, 301, entries(301, 302))
    with pytest.raises(SunshineError, match="ledger entry 100 differs"):
        LogWriter(store).append(100, entries(100, 120, tag="-changed"))
    with pytest.raises(SunshineError, match="ledger entry 299 differs"):
        log.append_entries(store, 250, [*entries(250, 299), *entries(299, 310, tag="-changed")])
    assert not store.exists("ledger/tile/0/000.p/120")
    assert log.published_size(store) == 300
    log.append_entries(store, 250, entries(250, 310))  # the true entries go on where they stopped
    assert log.published_size(store) == 310


def test_checkpoint_refused_when_history_is_rewritten(tmp_path: Path, signer):
    store = LocalStore(tmp_path / "s")
    publish(store, [300])
    log.sign_checkpoint(store, signer, ORIGIN)
    # Someone rebuilds the log with different entries in a fresh store and copies the old checkpoint over.
    forged = LocalStore(tmp_path / "forged")
    log.append_entries(forged, 0, entries(0, 400, tag="-forged"))
    forged.put("ledger/checkpoint", store.get("ledger/checkpoint"))
    with pytest.raises(SunshineError, match="history was rewritten"):
        log.sign_checkpoint(forged, signer, ORIGIN)
    with pytest.raises(SunshineError, match="origin"):
        log.sign_checkpoint(store, signer, "other.example/log")
    other = note.generate_signer(ORIGIN)
    with pytest.raises(SunshineError, match="does not verify with this log's key"):
        log.sign_checkpoint(store, other, ORIGIN)


def test_signer_key_file(tmp_path: Path):
    path = tmp_path / "k" / "ledger.key"
    signer = log.load_or_create_signer(path, ORIGIN)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().startswith(f"PRIVATE+KEY+{ORIGIN}+")
    again = log.load_or_create_signer(path, ORIGIN)
    assert log.verifier_key(again) == log.verifier_key(signer)
    assert note.parse_verifier_key(log.verifier_key(signer)).name == ORIGIN
    with pytest.raises(SunshineError, match="is for log"):
        log.load_or_create_signer(path, "other.example/log")
    path.chmod(0o644)
    with pytest.raises(SunshineError, match="chmod 600"):
        log.load_or_create_signer(path, ORIGIN)


def test_entries_are_canonical_json():
    assert log.entry_for_capture("bluesky-abc", 2, "2026-01-01T00:00:00Z", "ab" * 32) == (
        b'{"captured_at":"2026-01-01T00:00:00Z","content_sha256":"' + b"ab" * 32
        + b'","record_id":"bluesky-abc","type":"capture","version":2}')
    assert b'"store_version_id":"v1"' in log.entry_for_capture("r", 1, "t", "00" * 32, store_version_id="v1")
    assert log.entry_for_event("hold", {"hold_id": 3, "record_id": "r"}) == (
        b'{"hold_id":3,"record_id":"r","type":"hold"}')
    for kind, fields in [("capture", {}), ("", {}), ("hold", {"type": "x"}), ("bad kind", {})]:
        with pytest.raises(ValueError):
            log.entry_for_event(kind, fields)
    with pytest.raises(SunshineError):
        log.entry_for_event("redaction", {"reason": "x" * 70000})


def _damage(store: LocalStore, key: str) -> None:
    path = store.root / key
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1
    path.write_bytes(bytes(data))


@pytest.fixture
def audited(store, signer):
    publish(store, [300])
    log.sign_checkpoint(store, signer, ORIGIN)
    publish_from(store, 300, 600)
    log.sign_checkpoint(store, signer, ORIGIN)
    assert log.verify_log(store, log.verifier_key(signer)) == []
    return store, log.verifier_key(signer)


@pytest.mark.parametrize("key", ["ledger/tile/0/001", "ledger/tile/0/002.p/88", "ledger/tile/1/000.p/2",
                                 "ledger/tile/0/001.p/44"])
def test_verify_log_names_a_damaged_tile(audited, key: str):
    store, vkey = audited
    _damage(store, key)
    problems = log.verify_log(store, vkey)
    assert problems and all(p.startswith(key + ":") for p in problems), problems


def test_verify_log_names_a_damaged_entry_bundle(audited):
    store, vkey = audited
    path = store.root / "ledger/tile/entries/001"
    path.write_bytes(path.read_bytes().replace(b"rec-300", b"rec-3o0"))
    problems = log.verify_log(store, vkey)
    assert problems == ["ledger/tile/entries/001: entry 300 does not match its signed leaf hash in ledger/tile/0/001"]


def test_verify_log_names_a_damaged_checkpoint_and_missing_objects(audited):
    store, vkey = audited
    _damage(store, "ledger/checkpoints/300")
    (store.root / "ledger/tile/0/000").unlink()
    problems = log.verify_log(store, vkey)
    assert any(p.startswith("ledger/checkpoints/300: checkpoint does not verify") for p in problems), problems
    assert "ledger/tile/0/000: hash tile is missing" in problems
    assert log.verify_log(store, note.generate_signer(ORIGIN).verifier().key())  # wrong key: nothing verifies


def test_empty_log_signs_the_empty_root_then_grows(store, signer):
    text = log.sign_checkpoint(store, signer, ORIGIN)
    assert note.parse_checkpoint(note.open_note(text, [signer.verifier()]).text).root == merkle.EMPTY_ROOT
    assert LogReader(store).size() == 0
    publish(store, [1024], batch=512)
    assert log.published_size(store) == 1024
    log.sign_checkpoint(store, signer, ORIGIN)
    assert LogReader(store).size() == 1024
    assert log.verify_log(store, log.verifier_key(signer)) == []
