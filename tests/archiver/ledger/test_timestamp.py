"""RFC 3161 timestamps of checkpoints against a real TSA (`openssl ts -reply` on 127.0.0.1).

Each archive run signs a checkpoint; the publisher asks the configured TSA to stamp it and keeps
the reply at `ledger/checkpoints/<size>.<tsa>.tsr`. The stored token must verify with OpenSSL's
own `openssl ts -verify`; `sunshine verify` must name the checkpoint whose token stamps other
bytes, chains to an untrusted root, or went missing; a TSA that is down must not fail a run.
"""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from local_tsa import LocalTSA, TSAFiles, make_ca, make_tsa

from archiver.catalog import Catalog
from archiver.config import TimestampAuthority, load_config
from archiver.ledger import log
from archiver.ledger.timestamp import parse_timestamp_key, request_token, timestamp_key
from archiver.ledger_timestamps import FAILED_ACTION, TIMESTAMP_ACTION
from archiver.model import Capture, HttpExchange, ParsedRecord
from archiver.publish import LedgerPublisher
from archiver.session import ArchiveSession
from archiver.store.local import LocalStore
from archiver.verify import verify_archive

ORIGIN = "timestamp-test.example/log"
TSA_NAME = "local-tsa"


@pytest.fixture(scope="module")
def tsa_files(tmp_path_factory) -> TSAFiles:
    return make_tsa(tmp_path_factory.mktemp("tsa"))


@pytest.fixture(scope="module")
def tsa(tsa_files):
    with LocalTSA(tsa_files) as server:
        yield server


@pytest.fixture(autouse=True)
def _own_ledger_key(monkeypatch):
    monkeypatch.delenv("SUNSHINE_LEDGER_KEY", raising=False)


def dead_url() -> str:
    """A 127.0.0.1 URL nothing listens on: a TSA that is down."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/tsr"


def write_config(root: Path, url: str, ca_file: Path) -> Path:
    path = root / "sunshine.toml"
    path.write_text(f'[storage]\npath = "store"\n[catalog]\npath = "catalog.sqlite"\n'
                    f'[ledger]\nname = "{ORIGIN}"\nkey_path = "keys/ledger.key"\n'
                    f'[[ledger.timestamp_authorities]]\nname = "{TSA_NAME}"\nurl = "{url}"\n'
                    f'ca_file = "{ca_file}"\n[search]\npath = "search.sqlite"\n', encoding="utf-8")
    return path


def archive_run(root: Path, run_id: str, texts: list[str]) -> None:
    """One archive run that ends, as `sunshine archive` does, with a signed checkpoint."""
    config = load_config(root / "sunshine.toml")
    catalog, store = Catalog(config.catalog_path), LocalStore(root / "store")
    try:
        session = ArchiveSession(catalog, store, run_id, ledger=LedgerPublisher(catalog, store, config))
        records = tuple(ParsedRecord("facebook", "123", "post", str(i), {"id": str(i), "message": text},
                                     f"https://fb.example/{i}", "Springfield PD", True, "2026-01-01T00:00:00Z", text)
                        for i, text in enumerate(texts))
        body = json.dumps({"data": texts}).encode()
        session.add(Capture("fb", HttpExchange("http://sim/page", "GET", (), 200, "OK", (), body,
                                               "2026-01-01T00:00:00Z"), records=records))
        session.close()
        LedgerPublisher(catalog, store, config).checkpoint()
    finally:
        catalog.close()


def checkpoint_sizes(store: LocalStore) -> list[int]:
    tail = len(log.CHECKPOINTS_PREFIX)
    return sorted(int(obj.key[tail:]) for obj in store.list(log.CHECKPOINTS_PREFIX) if obj.key[tail:].isdigit())


def problems_of(root: Path) -> list[str]:
    return verify_archive(load_config(root / "sunshine.toml"), LocalStore(root / "store"), workers=2).problems


def audit(root: Path, action: str) -> list[dict]:
    catalog = Catalog(load_config(root / "sunshine.toml").catalog_path)
    try:
        return catalog.audit_details(action)
    finally:
        catalog.close()


@pytest.fixture()
def stamped(tmp_path, tsa, tsa_files) -> Path:
    """An archive of two runs, each checkpoint stamped by the local TSA."""
    write_config(tmp_path, tsa.url, tsa_files.ca)
    archive_run(tmp_path, "run1", ["one", "two"])
    archive_run(tmp_path, "run2", ["one edited", "three"])
    return tmp_path


def test_every_checkpoint_is_stamped_and_openssl_verifies_the_token(stamped, tsa_files):
    store = LocalStore(stamped / "store")
    sizes = checkpoint_sizes(store)
    assert len(sizes) == 2
    for size in sizes:
        key = timestamp_key(size, TSA_NAME)
        assert store.exists(key)
        result = subprocess.run(["openssl", "ts", "-verify", "-data", stamped / "store" / log.CHECKPOINTS_PREFIX / str(size),
                                 "-in", stamped / "store" / key, "-CAfile", tsa_files.ca],
                                capture_output=True, text=True)
        assert result.returncode == 0 and "Verification: OK" in result.stdout, result.stdout + result.stderr
    assert sorted(row["key"] for row in audit(stamped, TIMESTAMP_ACTION)) == sorted(
        timestamp_key(size, TSA_NAME) for size in sizes)
    assert problems_of(stamped) == []


def test_a_tsa_that_is_down_does_not_fail_the_run_and_is_retried_at_the_next_publish(tmp_path, tsa, tsa_files):
    write_config(tmp_path, dead_url(), tsa_files.ca)
    archive_run(tmp_path, "run1", ["one"])
    store = LocalStore(tmp_path / "store")
    [first] = checkpoint_sizes(store)
    assert not store.exists(timestamp_key(first, TSA_NAME))
    [failure] = audit(tmp_path, FAILED_ACTION)
    assert f"{log.CHECKPOINTS_PREFIX}{first}" in failure["problem"] and "cannot be reached" in failure["problem"]
    assert problems_of(tmp_path) == []  # unstamped is not damaged: the next publish stamps it

    write_config(tmp_path, tsa.url, tsa_files.ca)
    archive_run(tmp_path, "run2", ["two"])
    sizes = checkpoint_sizes(store)
    assert first in sizes and len(sizes) == 2
    assert all(store.exists(timestamp_key(size, TSA_NAME)) for size in sizes)
    assert problems_of(tmp_path) == []


def test_a_reply_from_an_untrusted_root_is_not_stored(tmp_path, tsa):
    other_root, _ = make_ca(tmp_path / "other", "other-root")
    write_config(tmp_path, tsa.url, other_root)
    archive_run(tmp_path, "run1", ["one"])
    [size] = checkpoint_sizes(LocalStore(tmp_path / "store"))
    assert not LocalStore(tmp_path / "store").exists(timestamp_key(size, TSA_NAME))
    [failure] = audit(tmp_path, FAILED_ACTION)
    assert "does not verify" in failure["problem"]


def test_a_token_for_other_bytes_fails_verify_naming_the_checkpoint(stamped, tsa, tsa_files):
    store = LocalStore(stamped / "store")
    size = checkpoint_sizes(store)[-1]
    key = timestamp_key(size, TSA_NAME)
    other = request_token(TimestampAuthority(TSA_NAME, tsa.url, tsa_files.ca), b"another history\n")
    store.delete(key)
    store.put(key, other)
    problems = problems_of(stamped)
    checkpoint_key = f"{log.CHECKPOINTS_PREFIX}{size}"
    assert any(p.startswith(f"{checkpoint_key}: timestamp {key}") and "not these bytes" in p for p in problems), problems
    assert any(p.startswith(f"{key}: not the timestamp the catalog recorded") for p in problems), problems


def test_a_token_from_an_untrusted_root_fails_verify_naming_the_checkpoint(stamped, tsa):
    other_root, _ = make_ca(stamped / "other", "other-root")
    write_config(stamped, tsa.url, other_root)  # the clerk now trusts another root
    store = LocalStore(stamped / "store")
    problems = problems_of(stamped)
    for size in checkpoint_sizes(store):
        assert any(p.startswith(f"{log.CHECKPOINTS_PREFIX}{size}: timestamp") and "certificate chain" in p
                   for p in problems), problems


def test_a_removed_token_is_named(stamped):
    store = LocalStore(stamped / "store")
    key = timestamp_key(checkpoint_sizes(store)[0], TSA_NAME)
    store.delete(key)
    assert any(p.startswith(f"{key}: missing") for p in problems_of(stamped))


def test_a_token_from_an_unconfigured_tsa_is_named(stamped):
    store = LocalStore(stamped / "store")
    size = checkpoint_sizes(store)[0]
    store.put(timestamp_key(size, "gone-tsa"), store.get(timestamp_key(size, TSA_NAME)))
    assert any("'gone-tsa', which is not in [[ledger.timestamp_authorities]]" in p for p in problems_of(stamped))


@given(st.integers(min_value=0, max_value=10**12), st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?", fullmatch=True))
def test_token_keys_round_trip_and_are_never_checkpoint_keys(size, name):
    key = timestamp_key(size, name)
    assert parse_timestamp_key(key) == (size, name)
    assert not key[len(log.CHECKPOINTS_PREFIX):].isdigit()
    assert parse_timestamp_key(f"{log.CHECKPOINTS_PREFIX}{size}") is None


def test_the_portal_serves_each_token_byte_for_byte_and_nothing_else(stamped):
    from portal import create_app

    store = LocalStore(stamped / "store")
    size = checkpoint_sizes(store)[-1]
    client = create_app(load_config(stamped / "sunshine.toml"), settings={"RATE_LIMIT_PER_MINUTE": 0}).test_client()

    served = client.get(f"/ledger/checkpoints/{size}.{TSA_NAME}.tsr")

    assert served.status_code == 200 and served.content_type == "application/timestamp-reply"
    assert served.data == store.get(timestamp_key(size, TSA_NAME))
    assert "immutable" in served.headers["Cache-Control"]
    for junk in (f"{size}.other-tsa.tsr", f"{size + 100}.{TSA_NAME}.tsr", f"0{size}.{TSA_NAME}.tsr",
                 f"{size}.../key.tsr", f"{size}.{'a' * 500}.tsr", f"{size}.{TSA_NAME}.tsr.tsr"):
        assert client.get(f"/ledger/checkpoints/{junk}").status_code == 404, junk
    assert client.get(f"/ledger/checkpoints/{size}").status_code == 200


def test_after_recover_a_removed_token_is_still_named(stamped):
    from archiver.recover import recover_catalog

    config = load_config(stamped / "sunshine.toml")
    store = LocalStore(stamped / "store")
    recover_catalog(config, store, force=True)
    noted = sorted(row["key"] for row in audit(stamped, TIMESTAMP_ACTION))
    assert noted == sorted(timestamp_key(size, TSA_NAME) for size in checkpoint_sizes(store))

    store.delete(noted[0])

    assert any(p.startswith(f"{noted[0]}: missing") for p in problems_of(stamped))
