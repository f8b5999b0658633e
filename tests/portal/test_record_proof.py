"""`/records/<id>/proof?version=N`: a record version's C2SP tlog-proof, checked by our verifier and by
Go's sumdb code (tests/go `tlog-proof`), over a portal whose read model and ledger agree.

The archive is the portal tests' standard one (tests/portal/conftest.py) with its ledger really
written: one capture entry per version at the version's `ledger_index`, signed in two checkpoints.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from archiver.config import load_config
from archiver.ledger import log
from archiver.ledger.note import parse_verifier_key
from archiver.ledger.proof import capture_fields, parse_tlog_proof, verify_tlog_proof
from tests.portal.conftest import ArchiveBuilder, build_standard, open_sqlite_index, write_config

ORIGIN = "proof-portal.example/log"


def write_ledger(builder: ArchiveBuilder, root: Path, *, sign_all: bool = True) -> str:
    """The capture entries of every version in ledger order; the last one left unsigned unless `sign_all`."""
    versions = sorted(((v["ledger_index"], doc.record_id, v) for doc in builder.docs for v in doc.versions),
                      key=lambda item: item[0])
    entries = [log.entry_for_capture(record_id, v["version"], v["captured_at"], v["content_sha256"])
               for _, record_id, v in versions]
    signer = log.load_or_create_signer(root / "ledger.key", ORIGIN)
    half = len(entries) // 2
    log.append_entries(builder.store, 0, entries[:half])
    log.sign_checkpoint(builder.store, signer, ORIGIN)
    log.append_entries(builder.store, half, entries[half:-1])
    log.sign_checkpoint(builder.store, signer, ORIGIN)
    log.append_entries(builder.store, len(entries) - 1, entries[-1:])
    if sign_all:
        log.sign_checkpoint(builder.store, signer, ORIGIN)
    return log.verifier_key(signer)


@pytest.fixture(scope="module")
def proof_portal(tmp_path_factory) -> Iterator[dict]:
    from portal import create_app

    root = tmp_path_factory.mktemp("proof-portal")
    builder = ArchiveBuilder(root)
    records = build_standard(builder)
    builder.finish()
    vkey = write_ledger(builder, root, sign_all=False)
    index = open_sqlite_index(root / "search.sqlite")
    index.rebuild(builder.docs)
    index.close()
    app = create_app(load_config(write_config(root)), settings={"RATE_LIMIT_PER_MINUTE": 0})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield {"app": app, "vkey": vkey, "records": records, "builder": builder,
               "url": f"http://127.0.0.1:{server.server_port}"}
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@pytest.fixture()
def client(proof_portal):
    return proof_portal["app"].test_client()


def test_each_version_has_a_proof_that_verifies_and_names_it(client, proof_portal) -> None:
    verifiers = [parse_verifier_key(proof_portal["vkey"])]
    post = proof_portal["records"]["post"]
    for version in post.versions:
        response = client.get(f"/records/{post.record_id}/proof?version={version['version']}")
        assert response.status_code == 200, response.data
        assert response.content_type.startswith("text/plain")
        assert f'{post.record_id}-v{version["version"]}.tlog-proof' in response.headers["Content-Disposition"]
        proof = parse_tlog_proof(response.get_data(as_text=True))
        checkpoint = verify_tlog_proof(proof, verifiers, origin=ORIGIN)
        assert proof.checkpoint == client.get("/ledger/checkpoint").get_data(as_text=True)
        assert proof.index == version["ledger_index"] < checkpoint.size
        fields = capture_fields(proof.extra)
        assert (fields["record_id"], fields["version"], fields["content_sha256"]) == (
            post.record_id, version["version"], version["content_sha256"])
    latest = client.get(f"/records/{post.record_id}/proof")  # no version: the latest, as /raw
    assert parse_tlog_proof(latest.get_data(as_text=True)).index == post.versions[-1]["ledger_index"]


def test_unknown_records_bad_versions_and_unsigned_entries_are_clear_errors(client, proof_portal) -> None:
    post = proof_portal["records"]["post"]
    assert client.get("/records/nope:nothing/proof").status_code == 404
    assert client.get(f"/records/{post.record_id}/proof?version=9").status_code == 404
    assert client.get(f"/records/{post.record_id}/proof?version=x").status_code == 400
    last = proof_portal["builder"].docs[-1]  # its one version is published but not yet signed
    response = client.get(f"/records/{last.record_id}/proof")
    assert response.status_code == 404 and b"not in a signed checkpoint yet" in response.data


def test_a_read_model_pointing_at_another_entry_gets_no_proof(proof_portal, tmp_path) -> None:
    """A stale or damaged index must never make the portal hand out a proof of some other capture."""
    from dataclasses import replace

    from portal import create_app

    post = proof_portal["records"]["post"]
    wrong = [dict(v, ledger_index=v["ledger_index"] + 1) for v in post.versions]
    index = open_sqlite_index(tmp_path / "search.sqlite")
    index.rebuild([replace(post, versions=tuple(wrong))])
    index.close()
    (tmp_path / "store").symlink_to(proof_portal["builder"].store.root)
    app = create_app(load_config(write_config(tmp_path)), settings={"RATE_LIMIT_PER_MINUTE": 0})
    response = app.test_client().get(f"/records/{post.record_id}/proof?version=1")
    assert response.status_code == 503


def run(binary: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(binary), *args], capture_output=True, text=True, timeout=120)


def test_go_verifies_a_proof_fetched_from_the_portal(ledgerverify, proof_portal, tmp_path) -> None:
    url, vkey = proof_portal["url"], proof_portal["vkey"]
    hostile = proof_portal["records"]["hostile"]
    proof_url = f"{url}/records/{hostile.record_id}/proof?version=1"
    raw_url = f"{url}/records/{hostile.record_id}/raw?version=1"
    result = run(ledgerverify, "tlog-proof", "-key", vkey, "-raw", raw_url, proof_url)
    assert result.returncode == 0, result.stderr
    index = hostile.versions[0]["ledger_index"]
    assert f"ok tlog-proof origin={ORIGIN} index={index}" in result.stdout
    assert f"record={hostile.record_id} version=1" in result.stdout and "ok raw sha256=" in result.stdout

    # The same file kept offline; then one altered proof hash, another record's bytes, a wrong key.
    text = proof_portal["app"].test_client().get(f"/records/{hostile.record_id}/proof?version=1").get_data(as_text=True)
    kept = tmp_path / "hostile.tlog-proof"
    kept.write_text(text)
    assert run(ledgerverify, "tlog-proof", "-key", vkey, str(kept)).returncode == 0
    lines = text.split("\n")
    lines[3] = ("B" if lines[3][0] != "B" else "C") + lines[3][1:]  # the first proof hash
    bad = tmp_path / "bad.tlog-proof"
    bad.write_text("\n".join(lines))
    result = run(ledgerverify, "tlog-proof", "-key", vkey, str(bad))
    assert result.returncode != 0 and f"inclusion of {index}" in result.stderr
    other = proof_portal["records"]["meeting"]
    result = run(ledgerverify, "tlog-proof", "-key", vkey, "-raw", f"{url}/records/{other.record_id}/raw",
                 str(kept))
    assert result.returncode != 0 and "raw bytes hash to" in result.stderr
    wrong = log.verifier_key(log.load_or_create_signer(tmp_path / "other.key", ORIGIN))
    result = run(ledgerverify, "tlog-proof", "-key", wrong, str(kept))
    assert result.returncode != 0 and "checkpoint signature" in result.stderr


def test_the_verify_page_explains_checking_a_record_proof(client, proof_portal) -> None:
    post = proof_portal["records"]["post"]
    index = post.versions[1]["ledger_index"]
    page = client.get(f"/verify?index={index}").get_data(as_text=True)
    assert "c2sp.org/tlog-proof" in page
    assert f"/records/{post.record_id}/proof?version=2" in page
    assert "go run . tlog-proof -key" in page


def test_the_record_page_links_each_versions_tlog_proof(client, proof_portal) -> None:
    post = proof_portal["records"]["post"]
    page = client.get(f"/records/{post.record_id}").get_data(as_text=True)
    for version in post.versions:
        link = f'/records/{post.record_id}/proof?version={version["version"]}'
        assert f'href="{link}"' in page
        assert client.get(link).status_code == 200
