"""Response packages (`sunshine export`, `sunshine verify-package`; DESIGN §6) on a real demo archive.

One demo archive (three rounds: edits, hides, deletions) and one package per module: a request over
every thread that has an edited, hidden or deleted record, with one reply's word redacted. Checked
through the doors a recipient has: the `bagit` library, `verify-package`, Go's sumdb tlog code
(tests/go), warcio, and `pdftotext` on the report.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import bagit
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from warcio.archiveiterator import ArchiveIterator

from archiver.catalog import Catalog
from archiver.config import load_config
from archiver.export import export_package, package_redactions
from archiver.export.report import visible_controls
from archiver.holds import HoldCriteria
from archiver.ledger_events import append_event
from archiver.package_verify import key_fingerprint, verify_package
from archiver.publish import LedgerPublisher
from archiver.readmodel import docs_from_catalog
from archiver.redaction import redact
from archiver.requests import request_record_ids, save_request
from archiver.store.local import LocalStore
from tests.archiver.test_requests import make_demo, sunshine

NUMBER = "PRR-2026-042"


def _pick_redaction(catalog: Catalog, ids: list[str]) -> tuple[str, str]:
    """A reply in scope and a word of its text found in no other record's text (so its absence is
    the redaction's doing)."""
    docs = docs_from_catalog(catalog, ids)
    everything = " ".join(v.get("text") or "" for doc in docs for v in doc.versions).lower()
    for doc in sorted(docs, key=lambda d: d.record_id):
        if doc.kind != "reply" or doc.status != "active" or len(doc.versions) != 1:
            continue
        for word in re.findall(r"[A-Za-z]{6,}", doc.text):
            if everything.count(word.lower()) == 1:
                return doc.record_id, word
    pytest.fail("no reply with a word of its own in the requested threads")


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("export")
    data = make_demo(root)
    config = load_config(data / "sunshine.toml")
    store = LocalStore(config.storage.path)
    with Catalog(config.catalog_path) as catalog:
        changed = [row[0] for row in catalog.db.execute(
            "SELECT record_id FROM records WHERE status != 'active' ORDER BY record_id")]
        assert {row[0] for row in catalog.db.execute("SELECT DISTINCT status FROM versions")} >= {
            "edited", "hidden", "deleted"}, "the demo archive should have edits, hides and deletions"
        save_request(catalog, store, NUMBER, "every changed thread", "2026-04-01", "2026-04-15",
                     [HoldCriteria(record_ids=tuple(changed))], "clerk", log_event=append_event)
        ids = request_record_ids(catalog, NUMBER)
        redacted_id, word = _pick_redaction(catalog, ids)
        basis = config.redaction_bases[0]
        redact(catalog, store, redacted_id, basis=basis, by="clerk", bases=config.redaction_bases, scope="text",
               target=word)
        LedgerPublisher(catalog, store, config).checkpoint()
        out = root / "package.zip"
        result = export_package(catalog, store, out, ids, redactions=package_redactions(catalog, ids),
                                exported_by="clerk", request=catalog.request(NUMBER))
        docs = {doc.record_id: doc for doc in docs_from_catalog(catalog, ids)}
    unpacked = root / "unpacked"
    with zipfile.ZipFile(out) as archive:
        archive.extractall(unpacked)
    (bag_dir,) = unpacked.iterdir()
    return {"config": config, "zip": out, "bag": bag_dir, "result": result, "ids": ids, "docs": docs,
            "redacted": (redacted_id, word, basis), "root": root}


def _lines(bag: Path) -> list[dict]:
    return [json.loads(line) for line in (bag / "data" / "records.jsonl").read_text().splitlines()]


def test_the_package_is_a_valid_bag_and_verifies(package) -> None:
    bag = bagit.Bag(str(package["bag"]))
    assert bag.validate()
    assert {"sha256", "sha512"} <= set(bag.algorithms)
    data = package["bag"] / "data"
    for name in ("records.jsonl", "records.csv", "report.html", "report.pdf", "proofs.json", "redactions.json",
                 "ledger/checkpoint", "ledger/key", "package.json"):
        assert (data / name).is_file(), name
    lines = _lines(package["bag"])
    assert sorted(line["record_id"] for line in lines) == sorted(package["ids"])
    report = verify_package(package["zip"])
    assert report.ok, report.problems
    assert report.records == len(package["ids"]) and report.proofs_checked == package["result"].versions
    key = (data / "ledger" / "key").read_text().strip()
    assert report.fingerprint == key_fingerprint(key) and report.key == key


def test_every_version_has_a_proof_against_one_checkpoint_and_warc_members_are_valid(package) -> None:
    data = package["bag"] / "data"
    index = json.loads((data / "proofs.json").read_text())
    checkpoint = (data / "ledger" / "checkpoint").read_text()
    versions = [(line["record_id"], v["version"]) for line in _lines(package["bag"]) for v in line["versions"]]
    assert sorted((p["record_id"], p["version"]) for p in index["proofs"]) == sorted(versions)
    assert index["unproven"] == []
    for item in index["proofs"]:
        text = (data / item["proof"]).read_text()
        assert text.startswith("c2sp.org/tlog-proof@v1\n") and text.endswith(checkpoint)
    warcs = sorted((data / "warc").glob("*.warc.gz"))
    assert warcs
    kinds = []
    for path in warcs:
        with path.open("rb") as handle:
            for record in ArchiveIterator(handle, check_digests="raise"):
                record.content_stream().read()
                kinds.append(record.rec_type)
    assert kinds.count("response") >= 1 and kinds.count("response") == kinds.count("request")


def test_a_package_proof_verifies_with_go(package, ledgerverify) -> None:
    data = package["bag"] / "data"
    key = (data / "ledger" / "key").read_text().strip()
    proofs = [p for p in json.loads((data / "proofs.json").read_text())["proofs"] if p["raw"]][:3]
    assert proofs
    for item in proofs:
        result = subprocess.run([str(ledgerverify), "tlog-proof", "-key", key, "-raw", str(data / item["raw"]),
                                 str(data / item["proof"])], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        assert f"index={item['ledger_index']}" in result.stdout and "ok raw sha256=" in result.stdout


def _letters(text: str) -> str:
    """The ASCII letters and digits of `text`, so line breaks, fonts and right-to-left runs do not matter."""
    return re.sub(r"[^A-Za-z0-9]", "", text)


def _shown(text: str) -> str:
    """`_letters` of a record's text as the report shows it (bidirectional controls made visible)."""
    return _letters(visible_controls(text))


def test_the_pdf_shows_every_post_reply_edit_and_deletion(package) -> None:
    pdf = package["bag"] / "data" / "report.pdf"
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    flat = _letters(text)
    redacted_id, word, basis = package["redacted"]
    shown = {line["record_id"]: line for line in _lines(package["bag"])}
    assert word.lower() not in text.lower() and "redacted" in text
    deleted = edited = 0
    for record_id, doc in package["docs"].items():
        public = shown[record_id]
        assert _shown(public["author"])[:40] in flat, record_id
        for version, original in zip(public["versions"], doc.versions, strict=True):
            body = _shown(version["text"] or "")[:60]
            if version["status"] == "deleted":
                deleted += 1
                continue
            assert body in flat, (record_id, version["version"], version["text"][:80])
            if version["status"] == "edited":
                edited += 1
            assert original["content_sha256"] in flat  # capture hashes are in the report
    assert deleted and edited
    assert text.count("DELETED") >= deleted and "HIDDEN" in text


def test_redacted_text_never_leaves_and_the_withheld_are_listed(package) -> None:
    redacted_id, word, basis = package["redacted"]
    needle = word.lower().encode()
    for path in package["bag"].rglob("*"):
        if not path.is_file():
            continue
        data = path.read_bytes()
        if path.name.endswith(".gz"):
            data = gzip.GzipFile(fileobj=io.BytesIO(data)).read()
        assert needle not in data.lower(), path
    log = json.loads((package["bag"] / "data" / "redactions.json").read_text())
    assert [(r["record_id"], r["basis"]) for r in log["redactions"]] == [(redacted_id, basis)]
    assert "target" not in json.dumps(log["redactions"])
    withheld = {(w["what"], w["record_id"]) for w in log["withheld"]}
    assert ("raw", redacted_id) in withheld and ("warc", redacted_id) in withheld
    assert all(w["basis"] for w in log["withheld"])
    (line,) = [line for line in _lines(package["bag"]) if line["record_id"] == redacted_id]
    assert f"[redacted: {basis}]" in line["text"] and line["versions"][0]["raw"] is None
    assert verify_package(package["zip"]).ok


def _rezip(bag: Path, target: Path) -> None:
    with zipfile.ZipFile(target, "w") as archive:
        for path in sorted(bag.rglob("*")):
            if path.is_file():
                archive.write(path, f"{bag.name}/{path.relative_to(bag).as_posix()}")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(choice=st.integers(min_value=0), position=st.integers(min_value=0), flip=st.integers(1, 255))
def test_any_changed_byte_fails_verification_naming_its_file(package, tmp_path_factory, choice, position, flip) -> None:
    files = sorted(p for p in package["bag"].rglob("*") if p.is_file() and p.name != "bagit.txt")
    original = files[choice % len(files)]
    relative = original.relative_to(package["bag"]).as_posix()
    work = tmp_path_factory.mktemp("tamper") / package["bag"].name
    shutil.copytree(package["bag"], work)
    target = work / relative
    data = bytearray(target.read_bytes())
    data[position % len(data)] ^= flip
    target.write_bytes(bytes(data))
    zipped = work.parent / "tampered.zip"
    _rezip(work, zipped)
    report = verify_package(zipped)
    assert not report.ok
    assert any(problem.startswith(relative) for problem in report.problems), (relative, report.problems)


def test_the_command_line_exports_by_search_and_verify_package_names_a_changed_file(package, tmp_path) -> None:
    config = str(package["config"].path)
    out = tmp_path / "facebook.zip"
    refused = sunshine("export", "-c", config, "--out", str(out), "--request", NUMBER, "--platform", "facebook")
    assert refused.returncode == 2 and "either --request N or search options" in refused.stderr
    made = sunshine("export", "-c", config, "--out", str(out), "--platform", "facebook", "--by", "clerk")
    assert made.returncode == 0, made.stderr
    assert "proofs against checkpoint" in made.stdout
    checked = sunshine("verify-package", str(out))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "key fingerprint SHA256:" in checked.stdout and "OK" in checked.stdout
    lines = [json.loads(line) for line in zipfile.ZipFile(out).read(
        f"{zipfile.ZipFile(out).namelist()[0].split('/')[0]}/data/records.jsonl").decode().splitlines()]
    assert lines and {line["platform"] for line in lines} == {"facebook"}

    work = tmp_path / "bag"
    with zipfile.ZipFile(out) as archive:
        archive.extractall(work)
    (bag,) = work.iterdir()
    raw = sorted((bag / "data" / "raw").rglob("*.json"))[0]
    raw.write_bytes(raw.read_bytes().replace(b'"', b"'", 1))
    _rezip(bag, tmp_path / "changed.zip")
    failed = sunshine("verify-package", str(tmp_path / "changed.zip"))
    assert failed.returncode == 1
    assert f"FAIL {raw.relative_to(bag).as_posix()}" in failed.stdout
