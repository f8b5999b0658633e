"""Go's own sumdb code (tests/go) accepts our checkpoints, proofs, tiles and entry bundles."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from archiver.ledger import log
from archiver.ledger.log import LogReader
from archiver.store.local import LocalStore

ORIGIN = "go-test.example/log"


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    root = tmp_path_factory.mktemp("archive")
    store = LocalStore(root / "store")
    signer = log.load_or_create_signer(root / "ledger.key", ORIGIN)
    entries = [log.entry_for_capture(f"rec-{i}", 1, "2026-01-01T00:00:00Z", f"{i:064x}") for i in range(600)]
    log.append_entries(store, 0, entries[:300])
    log.sign_checkpoint(store, signer, ORIGIN)
    for start in range(300, 600, 100):
        log.append_entries(store, start, entries[start:start + 100])
    log.sign_checkpoint(store, signer, ORIGIN)
    reader = LogReader(store)
    proofs = root / "proofs"
    proofs.mkdir()
    files = []
    for index, size in [(0, 600), (255, 600), (256, 600), (599, 600), (17, 300), (299, 300)]:
        path = proofs / f"inclusion-{index}-{size}.json"
        path.write_text(json.dumps(reader.inclusion_json(index, size)))
        files += ["-inclusion", str(path)]
    path = proofs / "consistency-300-600.json"
    path.write_text(json.dumps(reader.consistency_json(300, 600)))
    files += ["-consistency", str(path)]
    return store, log.verifier_key(signer), files, proofs


def run(binary: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(binary), *args], capture_output=True, text=True, timeout=120)


def test_go_verifies_checkpoint_proofs_tiles_and_entries(ledgerverify, archive):
    store, vkey, files, _ = archive
    result = run(ledgerverify, "-ledger", str(store.root / "ledger"), "-key", vkey, "-tiles", *files)
    assert result.returncode == 0, result.stderr
    assert "ok checkpoint origin=go-test.example/log size=600" in result.stdout
    assert "ok tiles hash to the checkpoint root" in result.stdout
    assert result.stdout.count("ok inclusion") == 6 and "ok consistency old=300 new=600" in result.stdout


def test_go_rejects_a_tampered_proof_and_a_wrong_key(ledgerverify, archive, tmp_path):
    store, vkey, _, proofs = archive
    body = json.loads((proofs / "inclusion-256-600.json").read_text())
    body["proof"][3] = ("0" if body["proof"][3][0] != "0" else "1") + body["proof"][3][1:]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(body))
    result = run(ledgerverify, "-ledger", str(store.root / "ledger"), "-key", vkey, "-inclusion", str(bad))
    assert result.returncode != 0 and "inclusion of 256 in 600" in result.stderr
    other = log.verifier_key(log.load_or_create_signer(tmp_path / "other.key", ORIGIN))
    result = run(ledgerverify, "-ledger", str(store.root / "ledger"), "-key", other)
    assert result.returncode != 0 and "checkpoint signature" in result.stderr
