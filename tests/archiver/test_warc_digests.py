"""WARC digests are SHA-256 in files we write; files written with SHA-1 (before) still read and verify.

Outside tools judge the files: warcio's checker (`warcio check`) and webrecorder's `cdxj-indexer`.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from warcio.archiveiterator import ArchiveIterator
from warcio.utils import Digester

import archiver.warc
from archiver.catalog import Catalog
from archiver.config import load_config
from archiver.ledger_check import note_checkpoint
from archiver.model import Capture
from archiver.publish import LedgerPublisher
from archiver.session import ArchiveSession
from archiver.store.local import LocalStore
from archiver.verify import verify_archive
from archiver.warc import WarcBatch, iter_records, read_exchange
from portal.archive import read_capture
from tests.archiver.test_verify_ledger import exchange, post, write_config
from tests.archiver.test_warc import make_exchange


def sha256_label(data: bytes) -> str:
    return "sha256:" + base64.b32encode(hashlib.sha256(data).digest()).decode("ascii")


def headers_and_bodies(warc: bytes) -> list[tuple[str, dict[str, str], bytes]]:
    found = []
    for record in ArchiveIterator(io.BytesIO(warc)):
        headers = dict(record.rec_headers.headers)
        found.append((record.rec_type, headers, record.raw_stream.read()))
    return found


def use_sha1(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the writer did before: warcio's default SHA-1 digests."""
    monkeypatch.setattr(archiver.warc._Sha256WarcWriter, "_create_digester", staticmethod(lambda: Digester("sha1")))


@settings(max_examples=30, deadline=None)
@given(st.binary(max_size=3000))
def test_block_and_payload_digests_are_sha256_of_what_is_stored(body: bytes) -> None:
    batch = WarcBatch("t.warc.gz")
    batch.add(make_exchange(body))
    records = headers_and_bodies(batch.getvalue())
    response = next(headers for kind, headers, _ in records if kind == "response")
    payload = next(payload for kind, _, payload in records if kind == "response")
    assert payload == body
    assert response["WARC-Payload-Digest"] == sha256_label(body)
    for _kind, headers, _ in records:
        assert headers["WARC-Block-Digest"].startswith("sha256:")


def write_batch(tmp_path: Path, body: bytes = b'{"text": "original words"}') -> Path:
    batch = WarcBatch("t.warc.gz")
    batch.add(make_exchange(body))
    batch.add(make_exchange(b"", status=0, reason="no response: ConnectionRefusedError"))
    path = tmp_path / "t.warc.gz"
    path.write_bytes(batch.getvalue())
    return path


def warcio_check(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "warcio.cli", "check", "-v", str(path)],
                          capture_output=True, text=True)


def test_warcio_check_accepts_our_sha256_digests_and_catches_a_flipped_byte(tmp_path: Path) -> None:
    path = write_batch(tmp_path)
    check = warcio_check(path)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "digest pass" in check.stdout and "no digest" not in check.stdout

    raw = gzip.decompress(path.read_bytes())
    flipped = raw.replace(b"original", b"0riginal")
    assert flipped != raw
    damaged = tmp_path / "damaged.warc"  # uncompressed, so only the digest can notice
    damaged.write_bytes(flipped)
    check = warcio_check(damaged)
    assert check.returncode != 0
    assert "sha256" in check.stdout + check.stderr


def test_cdxj_indexer_indexes_our_warc_with_its_sha256_payload_digest(tmp_path: Path) -> None:
    pytest.importorskip("cdxj_indexer", reason="pip install -e '.[test]' installs cdxj-indexer")
    body = b'{"text": "original words"}'
    path = write_batch(tmp_path, body)
    index = subprocess.run([sys.executable, "-m", "cdxj_indexer.main", str(path)], capture_output=True, text=True)
    assert index.returncode == 0, index.stderr
    lines = [json.loads(line.split(" ", 2)[2]) for line in index.stdout.splitlines()]
    response = [line for line in lines if line.get("status") == "200"]
    assert len(response) == 1
    assert response[0]["digest"] == sha256_label(body)
    assert response[0]["url"] == make_exchange(body).url


def test_a_warc_written_with_sha1_digests_still_reads_and_checks(tmp_path: Path, monkeypatch) -> None:
    use_sha1(monkeypatch)
    body = b'{"old": "capture"}'
    path = write_batch(tmp_path, body)
    assert "WARC-Payload-Digest: sha1:" in gzip.decompress(path.read_bytes()).decode("latin-1")
    assert warcio_check(path).returncode == 0
    data = path.read_bytes()
    assert [record.body for record in iter_records(data) if record.rec_type == "response"] == [body]
    assert read_exchange(data).body == body


def test_an_archive_with_sha1_and_sha256_warcs_verifies_and_serves_both(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("SUNSHINE_LEDGER_KEY", raising=False)
    config = load_config(write_config(tmp_path))
    catalog, store = Catalog(config.catalog_path), LocalStore(tmp_path / "store")
    try:
        for run_id, text in (("old-run", "written with sha1"), ("new-run", "written with sha256")):
            with monkeypatch.context() as patch:
                if run_id == "old-run":
                    use_sha1(patch)
                publisher = LedgerPublisher(catalog, store, config)
                session = ArchiveSession(catalog, store, run_id, ledger=publisher)
                session.add(Capture("fb", exchange({"data": [text]}), records=(post("1", text),)))
                session.close()
                note_checkpoint(catalog, publisher.checkpoint(), "2026-01-01T00:00:00Z")
        rows = catalog.db.execute("SELECT * FROM versions ORDER BY version").fetchall()
    finally:
        catalog.close()
    labels = [gzip.decompress(store.get(row["warc_key"])).split(b"WARC-Payload-Digest: ")[1].split(b":")[0]
              for row in rows]
    assert labels == [b"sha1", b"sha256"]
    report = verify_archive(config, store, workers=2)
    assert report.ok, report.problems
    for row, text in zip(rows, ("written with sha1", "written with sha256"), strict=True):
        version = {"version": row["version"],
                   "warc_ref": {"key": row["warc_key"], "offset": row["warc_offset"], "length": row["warc_length"]}}
        assert json.loads(read_capture(store, version).body) == {"data": [text]}


def test_verify_names_a_sha256_digest_that_does_not_match(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("SUNSHINE_LEDGER_KEY", raising=False)
    config = load_config(write_config(tmp_path))
    catalog, store = Catalog(config.catalog_path), LocalStore(tmp_path / "store")
    try:
        session = ArchiveSession(catalog, store, "run1")
        session.add(Capture("fb", exchange({"data": ["original words"]}), records=(post("1", "x"),)))
        session.close()
        key = catalog.db.execute("SELECT warc_key FROM versions").fetchone()[0]
    finally:
        catalog.close()
    path = tmp_path / "store" / key
    # rewrite the WARC with one payload byte changed but every gzip member intact: only the digest can tell
    members = []
    for record_bytes in _members(path.read_bytes()):
        members.append(gzip.compress(record_bytes.replace(b"original", b"0riginal")))
    path.write_bytes(b"".join(members))
    report = verify_archive(config, store, workers=2)
    assert any(problem.startswith(f"{key}: WARC digest check failed") for problem in report.problems), report.problems


def _members(data: bytes) -> list[bytes]:
    """The decompressed bytes of each gzip member of a WARC file."""
    import zlib

    members = []
    while data:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        members.append(inflater.decompress(data))
        data = inflater.unused_data
    return members
