"""`sunshine monitor` against real portals over HTTP on 127.0.0.1, serving copies of the demo archive.

The monitor gets only the portal's URL and the log's key. It follows a clean log (first to the
demo's first-round checkpoint, then on to the latest), and finds: a forked log (the same key signs
a second, self-consistent history of the same size, shown to another client), a history rewritten
under a later checkpoint, an entry rewritten in its bundle, and a raw record whose bytes changed.
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from archiver.config import load_config
from archiver.ledger import log
from archiver.ledger.note import peek_checkpoint
from archiver.ledger.proof import capture_fields
from archiver.ledger.reader import LogReader
from archiver.store.keys import blob_key
from archiver.store.local import LocalStore
from tests.e2e.conftest import DemoArchive, sunshine


@contextmanager
def portal(data_dir: Path) -> Iterator[str]:
    """The real portal app over `data_dir`, served over HTTP (limiter off: the monitor is busy)."""
    from portal import create_app

    app = create_app(load_config(data_dir / "sunshine.toml"), settings={"RATE_LIMIT_PER_MINUTE": 0})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@pytest.fixture(scope="module")
def clean(demo_archive: DemoArchive, tmp_path_factory) -> Iterator[dict]:
    """A copy of the demo archive served untouched, its key, its checkpoint sizes and entries."""
    data_dir = tmp_path_factory.mktemp("monitor-clean") / "archive"
    shutil.copytree(demo_archive.data_dir, data_dir)
    store = LocalStore(data_dir / "store")
    config = load_config(data_dir / "sunshine.toml")
    signer = log.load_or_create_signer(config.ledger_key_path, config.ledger_name)
    reader = LogReader(store)
    size = reader.size()
    sizes = sorted(int(obj.key.rsplit("/", 1)[1]) for obj in store.list("ledger/checkpoints/")
                   if obj.key.rsplit("/", 1)[1].isdigit())
    assert len(sizes) >= 2 and sizes[-1] == size, sizes  # one checkpoint per demo round
    entries = [reader.entry(i, size) for i in range(size)]
    with portal(data_dir) as url:
        yield {"url": url, "data_dir": data_dir, "key": log.verifier_key(signer), "signer": signer,
               "origin": config.ledger_name, "sizes": sizes, "entries": entries}


def monitor(url: str, key: str, state: Path, *args: str) -> tuple[int, dict]:
    result = sunshine("monitor", url, "--key", key, "--state", str(state), "--json", *args, timeout=300)
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, json.loads(result.stdout)


def kinds(report: dict) -> list[str]:
    return [problem["kind"] for problem in report["problems"]]


def copy_archive(clean: dict, target: Path) -> Path:
    shutil.copytree(clean["data_dir"], target)
    return target


def captures(clean: dict, below: int | None = None) -> list[dict]:
    fields = [capture_fields(entry) for entry in clean["entries"][:below]]
    return [f for f in fields if f is not None]


def test_a_clean_log_is_followed_round_by_round(clean, tmp_path) -> None:
    first, latest = clean["sizes"][0], clean["sizes"][-1]
    # A portal still at the first round's checkpoint: the same archive, its pointer one round back.
    early = copy_archive(clean, tmp_path / "early")
    ledger = early / "store" / "ledger"
    (ledger / "checkpoint").write_bytes((ledger / "checkpoints" / str(first)).read_bytes())
    state = tmp_path / "state"
    with portal(early) as url:
        status, report = monitor(url, clean["key"], state)
    assert status == 0, report["problems"]
    assert (report["previous_size"], report["size"], report["entries_checked"]) == (0, first, first)
    assert report["raw_checked"] + report["disposed_skipped"] == len(captures(clean, first))
    assert (state / "checkpoints" / str(first)).read_bytes() == (ledger / "checkpoints" / str(first)).read_bytes()

    status, report = monitor(clean["url"], clean["key"], state)  # the real portal: the next round
    assert status == 0, report["problems"]
    assert (report["previous_size"], report["size"]) == (first, latest)
    assert report["entries_checked"] >= latest - first  # plus the re-read head of a partial bundle
    assert report["raw_checked"] + report["disposed_skipped"] == len(captures(clean)) - len(captures(clean, first))

    status, report = monitor(clean["url"], clean["key"], state)  # nothing new
    assert status == 0 and report["entries_checked"] == 0 and report["raw_checked"] == 0


def forged(clean: dict, target: Path, index: int) -> Path:
    """A copy of the archive whose whole ledger was rebuilt, with entry `index`'s capture time
    changed, and signed with the log's own key: a second, self-consistent history."""
    data_dir = copy_archive(clean, target)
    shutil.rmtree(data_dir / "store" / "ledger")
    store = LocalStore(data_dir / "store")
    entries = list(clean["entries"])
    fields = capture_fields(entries[index])
    assert fields is not None
    entries[index] = log.entry_for_capture(fields["record_id"], fields["version"], "2020-01-01T00:00:00Z",
                                           fields["content_sha256"], fields.get("store_version_id"))
    log.append_entries(store, 0, entries)
    log.sign_checkpoint(store, clean["signer"], clean["origin"])
    return data_dir


def test_a_forked_log_shown_to_two_clients_is_a_split_view(clean, tmp_path) -> None:
    size = clean["sizes"][-1]
    fork = forged(clean, tmp_path / "fork", index=0)
    ours, theirs = tmp_path / "state-a", tmp_path / "state-b"
    assert monitor(clean["url"], clean["key"], ours)[0] == 0
    with portal(fork) as fork_url:
        # Alone, the client shown the fork sees a log that is signed, consistent and whole.
        status, report = monitor(fork_url, clean["key"], theirs)
        assert status == 0 and report["size"] == size, report["problems"]
        # Compared with the other client's checkpoints, or shown to it: two checkpoints of one size.
        status, report = monitor(fork_url, clean["key"], theirs, "--peer", str(ours))
        assert status == 1 and kinds(report) == ["split-view"]
        assert f"size {size}" in report["problems"][0]["message"]
        status, report = monitor(fork_url, clean["key"], ours)
        assert status == 1 and kinds(report) == ["split-view"]
        evidence = report["problems"][0]["evidence"]
        assert peek_checkpoint(evidence["kept"]).root != peek_checkpoint(evidence["served"]).root
    assert monitor(clean["url"], clean["key"], ours)[0] == 0  # the kept state was not poisoned


def test_a_history_rewritten_under_a_later_checkpoint_is_inconsistent(clean, tmp_path) -> None:
    first = clean["sizes"][0]
    early = copy_archive(clean, tmp_path / "early")
    ledger = early / "store" / "ledger"
    (ledger / "checkpoint").write_bytes((ledger / "checkpoints" / str(first)).read_bytes())
    state = tmp_path / "state"
    with portal(early) as url:
        assert monitor(url, clean["key"], state)[0] == 0
    fork = forged(clean, tmp_path / "fork", index=3)  # entry 3 < first: inside what the monitor saw
    with portal(fork) as fork_url:
        status, report = monitor(fork_url, clean["key"], state)
    assert status == 1 and kinds(report) == ["inconsistent"], report["problems"]
    assert f"does not extend the tree of size {first}" in report["problems"][0]["message"]


def test_an_entry_rewritten_in_its_bundle_is_found(clean, tmp_path) -> None:
    data_dir = copy_archive(clean, tmp_path / "tampered")
    index = 5
    bundle = data_dir / "store" / "ledger" / "tile" / "entries" / "000"
    if not bundle.exists():  # a log under 256 entries: its one partial bundle
        bundle = next((data_dir / "store" / "ledger" / "tile" / "entries").glob("000.p/*"))
    original = clean["entries"][index]
    fields = capture_fields(original)
    altered = original.replace(fields["captured_at"].encode(), fields["captured_at"].replace("20", "19", 1).encode())
    assert len(altered) == len(original) and altered != original
    data = bundle.read_bytes()
    assert data.count(original) == 1
    for path in bundle.parent.rglob("*"):  # every width of the bundle that holds the entry
        if path.is_file() and original in path.read_bytes():
            path.write_bytes(path.read_bytes().replace(original, altered))
    with portal(data_dir) as url:
        status, report = monitor(url, clean["key"], tmp_path / "fresh")
    assert status == 1 and kinds(report) == ["rewritten-entry"], report["problems"]
    assert report["problems"][0]["index"] == index


def test_a_raw_record_whose_bytes_changed_is_named(clean, tmp_path) -> None:
    data_dir = copy_archive(clean, tmp_path / "tampered")
    victim = captures(clean)[10]
    blob = data_dir / "store" / blob_key(victim["content_sha256"])
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0x01  # one flipped bit behind the portal
    blob.write_bytes(bytes(data))
    with portal(data_dir) as url:
        status, report = monitor(url, clean["key"], tmp_path / "state")
    assert status == 1 and set(kinds(report)) == {"raw-mismatch"}, report["problems"]
    named = {(p["evidence"]["record_id"], p["evidence"]["version"]) for p in report["problems"]}
    assert (victim["record_id"], victim["version"]) in named
    assert all(p["evidence"]["content_sha256"] == victim["content_sha256"] for p in report["problems"])


def test_a_wrong_key_or_an_unreachable_portal_fails(clean, tmp_path) -> None:
    other = log.verifier_key(log.load_or_create_signer(tmp_path / "other.key", clean["origin"]))
    status, report = monitor(clean["url"], other, tmp_path / "state")
    assert status == 1 and kinds(report) == ["bad-checkpoint"]
    status, report = monitor("http://127.0.0.1:9", clean["key"], tmp_path / "state2", "--timeout", "2")
    assert status == 1 and kinds(report) == ["unreachable"]
    result = sunshine("monitor", clean["url"], "--key", "not-a-key", "--state", str(tmp_path / "s3"))
    assert result.returncode == 2 and "--key" in result.stderr and "Traceback" not in result.stderr


def test_cosignatures_are_checked_against_a_policy(clean, tmp_path) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    from archiver.ledger.cosignature import (
        CosignatureVerifier,
        add_cosignatures,
        cosign,
        cosigner_key_id,
        split_note,
    )

    data_dir = copy_archive(clean, tmp_path / "cosigned")
    pointer = data_dir / "store" / "ledger" / "checkpoint"
    note = pointer.read_text()
    keys = {}
    for name in ("witness-a.example", "witness-b.example"):
        private = Ed25519PrivateKey.generate()
        public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        keys[name] = (private, CosignatureVerifier(name, cosigner_key_id(name, public), public).key())
    text, _ = split_note(note)
    pointer.write_text(add_cosignatures(note, [cosign("witness-a.example", keys["witness-a.example"][0], text,
                                                      1_790_000_000)]))
    one = tmp_path / "one.policy"
    one.write_text(f"log {clean['key']}\nwitness A {keys['witness-a.example'][1]}\nquorum A\n")
    both = tmp_path / "both.policy"
    both.write_text(f"witness A {keys['witness-a.example'][1]}\nwitness B {keys['witness-b.example'][1]}\n"
                    "group AB all A B\nquorum AB\n")
    with portal(data_dir) as url:
        status, report = monitor(url, clean["key"], tmp_path / "s1", "--policy", str(one), "--max-raw", "0")
        assert status == 0, report["problems"]
        assert "cosigned by A" in report["notes"]
        status, report = monitor(url, clean["key"], tmp_path / "s2", "--policy", str(both), "--max-raw", "0")
        assert status == 1 and kinds(report) == ["policy"]
        assert "(A) do not meet the policy: 2 of (A, B)" in report["problems"][0]["message"]
    other = tmp_path / "other.policy"
    other.write_text(f"log {log.verifier_key(log.load_or_create_signer(tmp_path / 'k', 'other.example/log'))}\n"
                     "quorum none\n")
    result = sunshine("monitor", clean["url"], "--key", clean["key"], "--state", str(tmp_path / "s3"),
                      "--policy", str(other))
    assert result.returncode == 2 and "not this log's key" in result.stderr


def test_a_record_gone_from_the_portal_is_missing_unless_a_disposition_was_logged(tmp_path) -> None:
    """A logged capture the portal stops serving is reported, unless the log also holds the
    disposition that removed it (retention is lawful; a silent removal is not)."""
    from archiver.ledger_events import event_entry
    from archiver.monitor import follow
    from tests.portal.conftest import ArchiveBuilder, open_sqlite_index, write_config

    def build(root: Path, *, log_disposal: bool) -> str:
        builder = ArchiveBuilder(root)
        kept = builder.add("kept-1", ["still here"])
        gone = builder.add("gone-1", ["retention ran out"])
        builder.finish()
        entries = [log.entry_for_capture(doc.record_id, v["version"], v["captured_at"], v["content_sha256"])
                   for doc in (kept, gone) for v in doc.versions]
        if log_disposal:
            entries.append(event_entry("disposition", {"disposition": "d-1", "records": [gone.record_id],
                                                       "at": "2026-05-01T00:00:00Z", "by": "clerk"}))
        signer = log.load_or_create_signer(root / "ledger.key", "gone.example/log")
        log.append_entries(builder.store, 0, entries)
        log.sign_checkpoint(builder.store, signer, "gone.example/log")
        index = open_sqlite_index(root / "search.sqlite")
        index.rebuild([kept])  # the disposed record left the read model
        index.close()
        write_config(root)
        return log.verifier_key(signer)

    for log_disposal in (True, False):
        root = tmp_path / f"disposal-{log_disposal}"
        key = build(root, log_disposal=log_disposal)
        with portal(root) as url:
            report = follow(url, key, root / "monitor")
        if log_disposal:
            assert report.ok and report.disposed_skipped == 1 and report.raw_checked == 1, report.problems
        else:
            assert [p.kind for p in report.problems] == ["raw-missing"]
            assert report.problems[0].evidence["record_id"] == "bluesky-gone-1"
