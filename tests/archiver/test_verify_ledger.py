"""`sunshine verify` names every removed or altered ledger object and every capture missing from the log.

A small real archive (`ArchiveSession` + `LedgerPublisher` on a `LocalStore`, two runs, two signed
checkpoints) is copied for each test, damaged in one way, and verified.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from archiver.catalog import Catalog
from archiver.config import load_config
from archiver.ledger import log
from archiver.ledger_check import note_checkpoint
from archiver.ledger_events import log_event
from archiver.model import Capture, HttpExchange, ParsedRecord
from archiver.publish import LedgerPublisher
from archiver.session import ArchiveSession
from archiver.store.local import LocalStore
from archiver.verify import verify_archive

ORIGIN = "verify-test.example/log"
FIRST, SECOND = 280, 300  # entries after each run: one full bundle and partial tiles


def exchange(body: dict) -> HttpExchange:
    return HttpExchange("http://sim/page", "GET", (("Accept", "application/json"),), 200, "OK",
                        (("Content-Type", "application/json"),), json.dumps(body).encode(), "2026-01-01T00:00:00Z")


def post(native_id: str, text: str) -> ParsedRecord:
    return ParsedRecord("facebook", "123", "post", native_id, {"id": native_id, "message": text},
                        f"https://fb.example/{native_id}", "Springfield PD", True, "2026-01-01T00:00:00Z", text)


def write_config(root: Path) -> Path:
    path = root / "sunshine.toml"
    path.write_text(f'[storage]\npath = "store"\n[catalog]\npath = "catalog.sqlite"\n'
                    f'[ledger]\nname = "{ORIGIN}"\nkey_path = "keys/ledger.key"\n'
                    f'[search]\npath = "search.sqlite"\n', encoding="utf-8")
    return path


def archive_run(config, catalog: Catalog, store: LocalStore, run_id: str, records: list[ParsedRecord]) -> None:
    publisher = LedgerPublisher(catalog, store, config)
    session = ArchiveSession(catalog, store, run_id, ledger=publisher)
    session.add(Capture("fb", exchange({"data": []}), records=tuple(records)))
    session.close()
    note_checkpoint(catalog, publisher.checkpoint(), "2026-01-01T00:00:00Z")


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("verify-template")
    config = load_config(write_config(root))
    catalog, store = Catalog(config.catalog_path), LocalStore(root / "store")
    try:
        archive_run(config, catalog, store, "run1", [post(str(i), f"post {i}") for i in range(FIRST)])
        archive_run(config, catalog, store, "run2", [post(str(i), f"post {i} edited") for i in range(SECOND - FIRST)])
    finally:
        catalog.close()
    return root


@pytest.fixture()
def archive(template, tmp_path, monkeypatch):
    monkeypatch.delenv("SUNSHINE_LEDGER_KEY", raising=False)
    root = tmp_path / "archive"
    shutil.copytree(template, root)
    config = load_config(root / "sunshine.toml")
    return config, LocalStore(root / "store")


def verify(archive) -> list[str]:
    config, store = archive
    report = verify_archive(config, store, workers=2)
    return report.problems


def named(problems: list[str], key: str) -> bool:
    return any(problem.startswith(key) or f" {key}" in problem for problem in problems)


def catalog_of(archive) -> Catalog:
    return Catalog(archive[0].catalog_path)


def test_an_intact_archive_verifies(archive):
    config, store = archive
    report = verify_archive(config, store, workers=2)
    assert report.ok, report.problems
    assert report.ledger_entries_checked == SECOND
    assert log.LogReader(store).size() == SECOND


@pytest.mark.parametrize("key", [
    "ledger/checkpoint", "ledger/checkpoints/280", "ledger/checkpoints/300", "ledger/key",
    "ledger/tile/0/000", "ledger/tile/0/001.p/44", "ledger/tile/0/001.p/24", "ledger/tile/1/000.p/1",
    "ledger/tile/entries/000", "ledger/tile/entries/001.p/44", "ledger/tile/entries/001.p/24",
])
def test_a_removed_ledger_object_is_named(archive, key):
    store = archive[1]
    assert store.exists(key)
    store.delete(key)
    problems = verify(archive)
    assert problems, key
    assert named(problems, key), problems


@pytest.mark.parametrize(("key", "position"), [
    ("ledger/checkpoint", -10), ("ledger/checkpoints/280", -10), ("ledger/checkpoints/300", 40),
    ("ledger/tile/0/000", 100), ("ledger/tile/0/001.p/44", 33), ("ledger/tile/1/000.p/1", 0),
    ("ledger/tile/entries/000", 60), ("ledger/tile/entries/001.p/44", 200),
])
def test_an_altered_ledger_object_is_named(archive, key, position):
    store = archive[1]
    path = store.root / key
    data = bytearray(path.read_bytes())
    # flip one hex digit (or byte): the object keeps its shape but not its content
    data[position] = ord("0") if data[position] != ord("0") else ord("1")
    path.write_bytes(bytes(data))
    problems = verify(archive)
    assert named(problems, key), problems


def test_every_checkpoint_removed_is_named(archive):
    store = archive[1]
    for key in ("ledger/checkpoint", "ledger/checkpoints/280", "ledger/checkpoints/300"):
        store.delete(key)
    problems = verify(archive)
    assert named(problems, "ledger/checkpoint"), problems
    assert len(problems) < 5, problems  # one line, not one per entry


def test_a_capture_missing_from_the_log_is_named(archive):
    catalog = catalog_of(archive)
    row = catalog.db.execute("SELECT record_id, version, ledger_index FROM versions WHERE ledger_index = 7").fetchone()
    with catalog.transaction() as conn:
        conn.execute("DELETE FROM ledger WHERE idx = 7")
    catalog.close()
    problems = verify(archive)
    assert f"record {row['record_id']} v{row['version']}: ledger entry 7 is missing from the catalog's ledger" \
        in problems, problems


def test_a_capture_never_logged_is_named(archive):
    catalog = catalog_of(archive)
    with catalog.transaction() as conn:
        conn.execute("UPDATE versions SET ledger_index = NULL WHERE record_id = 'facebook-3' AND version = 2")
    catalog.close()
    problems = verify(archive)
    assert "record facebook-3 v2: has no ledger index (the capture was never logged)" in problems


def test_a_catalog_entry_that_differs_from_the_published_one_is_named(archive):
    catalog = catalog_of(archive)
    entry = bytes(catalog.db.execute("SELECT entry FROM ledger WHERE idx = 290").fetchone()[0])
    with catalog.transaction() as conn:
        conn.execute("UPDATE ledger SET entry = ? WHERE idx = 290", (entry.replace(b'"version":2', b'"version":9'),))
    catalog.close()
    problems = verify(archive)
    assert any(p.startswith("ledger/tile/entries/001.p/44: entry 290") for p in problems), problems
    assert any("ledger entry 290 does not describe this capture" in p for p in problems), problems


def test_entries_published_but_not_signed_are_named(archive):
    config, store = archive
    catalog = catalog_of(archive)
    log_event(catalog, "hold", {"hold_id": "h1", "record_ids": ["facebook-1"]}, "2026-02-01T00:00:00Z")
    LedgerPublisher(catalog, store, config).publish_pending()  # published, no checkpoint signed
    catalog.close()
    problems = verify(archive)
    assert any(p.startswith("ledger/checkpoint: signs 300 entries but the catalog has 301") for p in problems)


def test_unpublished_entries_are_named_once(archive):
    catalog = catalog_of(archive)
    for n in range(3):
        log_event(catalog, "redaction", {"record_id": f"facebook-{n}"}, "2026-02-01T00:00:00Z")
    catalog.close()
    problems = verify(archive)
    assert problems == ["ledger: 3 entries from index 300 are not yet published (run `sunshine archive` again)"]


def test_verify_uses_the_published_key_without_creating_one(archive):
    config, store = archive
    config.ledger_key_path.unlink()
    assert verify(archive) == []
    assert not config.ledger_key_path.exists()
    store.delete("ledger/key")
    problems = verify(archive)
    assert named(problems, "ledger/key"), problems
    assert not config.ledger_key_path.exists()


def test_a_log_signed_by_another_key_is_named(archive, tmp_path):
    config, store = archive
    config.ledger_key_path.unlink()
    log.load_or_create_signer(config.ledger_key_path, ORIGIN)  # a new key in place of the real one
    problems = verify(archive)
    assert named(problems, "ledger/checkpoint") and named(problems, "ledger/key"), problems


# ------------------------------------------------------------------------------------ clerk events

def test_log_event_appends_an_entry_and_an_audit_row(archive):
    config, store = archive
    catalog = catalog_of(archive)
    index = log_event(catalog, "hold", {"hold_id": "h-1", "reason": "litigation", "record_ids": ["facebook-1"]},
                      "2026-02-01T10:00:00Z", actor="clerk@spd")
    assert index == SECOND
    entry = bytes(catalog.db.execute("SELECT entry FROM ledger WHERE idx = ?", (index,)).fetchone()[0])
    assert json.loads(entry) == {"type": "hold", "at": "2026-02-01T10:00:00Z", "hold_id": "h-1",
                                 "reason": "litigation", "record_ids": ["facebook-1"]}
    fields = json.loads(entry)
    del fields["type"]
    assert entry == log.entry_for_event("hold", fields)  # canonical JSON, as the ledger module makes it
    audit = catalog.db.execute("SELECT * FROM audit ORDER BY id DESC LIMIT 1").fetchone()
    assert (audit["actor"], audit["action"]) == ("clerk@spd", "ledger:hold")
    assert json.loads(audit["details"])["ledger_index"] == index
    assert log_event(catalog, "disposition", {"record_id": "facebook-2"}, "2026-02-02T00:00:00Z") == index + 1

    # published and signed like any capture, provable from the store
    LedgerPublisher(catalog, store, config).checkpoint()
    catalog.close()
    reader = log.LogReader(store)
    assert reader.size() == SECOND + 2 and reader.entry(index) == entry
    assert verify(archive) == []


def test_log_event_joins_the_callers_transaction(archive):
    catalog = catalog_of(archive)
    with pytest.raises(RuntimeError), catalog.transaction() as conn:
        log_event(catalog, "hold", {"hold_id": "h-2"}, "2026-02-01T00:00:00Z", conn=conn)
        raise RuntimeError("the hold itself failed")
    assert catalog.ledger_size() == SECOND  # rolled back together
    with catalog.transaction() as conn:
        assert log_event(catalog, "hold", {"hold_id": "h-2"}, "2026-02-01T00:00:00Z", conn=conn) == SECOND
    assert catalog.ledger_size() == SECOND + 1
    catalog.close()


@pytest.mark.parametrize(("kind", "fields"), [
    ("capture", {}), ("", {}), ("bad kind", {}), ("hold", {"type": "x"}), ("hold", {"at": "2020-01-01T00:00:00Z"}),
])
def test_log_event_rejects_bad_events(archive, kind, fields):
    catalog = catalog_of(archive)
    with pytest.raises(ValueError):
        log_event(catalog, kind, fields, "2026-02-01T00:00:00Z")
    assert catalog.ledger_size() == SECOND
    catalog.close()


def test_a_legal_hold_and_its_release_are_ledger_entries(archive):
    from archiver.holds import HoldCriteria, place_hold, release_hold
    from archiver.ledger_events import append_event

    config, store = archive
    catalog = catalog_of(archive)
    hold = place_hold(catalog, store, "case 26-114", "clerk@spd", HoldCriteria(record_ids=("facebook-1",)),
                      log_event=append_event)
    release_hold(catalog, store, hold.hold_id, "clerk@spd", log_event=append_event)
    placed, released = (json.loads(bytes(row[0])) for row in
                        catalog.db.execute("SELECT entry FROM ledger WHERE idx >= ? ORDER BY idx", (SECOND,)))
    assert placed["type"] == released["type"] == "hold"
    assert (placed["hold_id"], placed["action"], placed["records"]) == (hold.hold_id, "place", ["facebook-1"])
    assert released["action"] == "release"
    note_checkpoint(catalog, LedgerPublisher(catalog, store, config).checkpoint(), "2026-02-03T00:00:00Z")
    catalog.close()
    assert log.LogReader(store).size() == SECOND + 2
    assert verify(archive) == []


def test_an_event_over_thousands_of_records_carries_their_digest(archive):
    from archiver.canonical import canonical_json, sha256_hex
    from archiver.ledger_events import append_event

    records = [f"facebook-{n:06d}-with-a-long-native-id" for n in range(5000)]
    catalog = catalog_of(archive)
    with catalog.transaction() as conn:
        index = append_event(conn, "hold", {"hold_id": "h-big", "records": records, "at": "2026-02-01T00:00:00Z"})
    entry = json.loads(bytes(catalog.db.execute("SELECT entry FROM ledger WHERE idx = ?", (index,)).fetchone()[0]))
    catalog.close()
    assert entry == {"type": "hold", "hold_id": "h-big", "at": "2026-02-01T00:00:00Z",
                     "records_count": 5000, "records_sha256": sha256_hex(canonical_json(records))}
    small = {"hold_id": "h-small", "records": records[:3]}
    catalog = catalog_of(archive)
    with catalog.transaction() as conn:
        index = append_event(conn, "hold", small)
    assert json.loads(bytes(catalog.db.execute("SELECT entry FROM ledger WHERE idx = ?", (index,)).fetchone()[0])) \
        == {**small, "type": "hold"}
    catalog.close()
