"""Redaction end to end on a real archive (`sunshine redact`, `archiver.redaction`).

One small archive of the simulator is made per module (as in test_holds_retention.py); each test
works on its own copy. What the public can reach is read through the portal's own doors (pages,
API, search, raw and capture downloads) and the original through an auditor's (`sunshine verify`,
the store's bytes).
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from archiver.canonical import sha256_hex
from archiver.catalog import Catalog, Redaction
from archiver.config import Config, load_config
from archiver.errors import SunshineError
from archiver.manifests import published_entries
from archiver.publish import LedgerPublisher
from archiver.redaction import _redact_spans, placeholder, redact, redactions_from_store, unredact
from archiver.store.local import LocalStore
from indexer import SearchQuery, open_index
from tests.archiver.test_holds_retention import _write_config, sunshine

BASIS = "Fla. Stat. 119.071(2)(h)"


@pytest.fixture(scope="module")
def archived(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from infra.simulator import start_simulator
    from tests.archiver.test_holds_retention import SIM_TOKEN

    data_dir = tmp_path_factory.mktemp("redaction") / "archive"
    data_dir.mkdir()
    with start_simulator(seed=8, scale=200, port=0, token=SIM_TOKEN) as sim:
        _write_config(data_dir / "sunshine.toml", sim.base_url)
        result = sunshine("archive", "-c", str(data_dir / "sunshine.toml"), "--quiet")
    assert result.returncode == 0, result.stdout + result.stderr
    return data_dir


@pytest.fixture
def archive(archived: Path, tmp_path: Path) -> Iterator[tuple[Config, Catalog, LocalStore]]:
    data_dir = tmp_path / "archive"
    shutil.copytree(archived, data_dir)
    config = load_config(data_dir / "sunshine.toml")
    catalog = Catalog(config.catalog_path)
    try:
        yield config, catalog, LocalStore(config.storage.path)
    finally:
        catalog.close()


def _target(catalog: Catalog) -> tuple[str, str]:
    """A reply captured in a thread page with other records, and two words of its text that no other
    record's text or author holds (the "name" to redact)."""
    others = " ".join(f"{row[1]} {row[2]}" for row in catalog.db.execute("SELECT record_id, text, author FROM records"))
    shared = catalog.db.execute(
        "SELECT v.record_id, r.text FROM versions v JOIN records r USING (record_id) WHERE r.kind = 'reply' AND"
        " (SELECT COUNT(*) FROM versions w WHERE w.warc_key = v.warc_key AND w.warc_offset = v.warc_offset) > 2"
        " ORDER BY v.record_id").fetchall()
    for record_id, text in shared:
        words = re.findall(r"\b[A-Za-z]{4,}\b", text)
        for first, second in zip(words, words[1:], strict=False):
            phrase = f"{first} {second}"
            if phrase in text and others.lower().count(phrase.lower()) == 1:
                return record_id, phrase
    raise AssertionError("no reply with a phrase of its own in the archive")


def _public_responses(config: Config) -> Iterator[tuple[str, int, bytes]]:
    """Every public door of the portal for every record: pages, API, search, raw and capture."""
    from portal import create_app

    app = create_app(config, settings={"RATE_LIMIT_PER_MINUTE": 0})
    client = app.test_client()
    catalog = Catalog(config.catalog_path)
    try:
        ids = catalog.all_record_ids()
    finally:
        catalog.close()
    for path in ("/", "/search", "/api/v1/search?per_page=100", "/verify"):
        response = client.get(path)
        yield path, response.status_code, response.data
    for record_id in ids:
        for path in (f"/records/{record_id}", f"/api/v1/records/{record_id}", f"/records/{record_id}/raw",
                     f"/records/{record_id}/capture", f"/records/{record_id}/capture?format=warc"):
            response = client.get(path)
            yield path, response.status_code, response.data


def _search_ids(config: Config, text: str) -> set[str]:
    index = open_index(config.search)
    try:
        return {hit.record.record_id for hit in index.search(SearchQuery(text=f'"{text}"', per_page=100)).hits}
    finally:
        index.close()


def _found_in(config: Config, phrase: str) -> set[str]:
    needle = phrase.lower().encode()
    return {path for path, _status, data in _public_responses(config) if needle in data.lower()}


def test_redacted_text_is_absent_from_every_public_door_and_unredacting_restores_it(archive) -> None:
    config, catalog, store = archive
    record_id, phrase = _target(catalog)
    before = _found_in(config, phrase)
    assert f"/records/{record_id}" in before and f"/records/{record_id}/raw" in before
    assert record_id in _search_ids(config, phrase)

    result = sunshine("redact", "add", "-c", str(config.path), record_id, "--text", phrase.upper(), "--basis", BASIS,
                      "--by", "clerk-a")
    assert result.returncode == 0, result.stderr
    redaction_id = result.stdout.split(":")[0]

    assert _found_in(config, phrase) == set()  # no page, JSON, search result, raw or capture download
    assert record_id not in _search_ids(config, phrase)
    from portal import create_app

    client = create_app(config, settings={"RATE_LIMIT_PER_MINUTE": 0}).test_client()
    page = client.get(f"/records/{record_id}").get_data(as_text=True)
    assert placeholder(BASIS) in page
    for path in (f"/records/{record_id}/raw", f"/records/{record_id}/capture"):
        withheld = client.get(path)
        assert withheld.status_code == 451 and BASIS in withheld.get_data(as_text=True)
    # The thread page it was captured in is withheld for every record it holds, naming the basis.
    sharing = {row[0] for row in catalog.db.execute(
        "SELECT w.record_id FROM versions v JOIN versions w ON w.warc_key = v.warc_key AND w.warc_offset = v.warc_offset"
        " WHERE v.record_id = ? AND w.record_id != ?", (record_id, record_id))}
    assert sharing
    for other in sharing:
        assert client.get(f"/records/{other}/capture").status_code == 451
        assert client.get(f"/records/{other}/raw").status_code == 200

    # The original is untouched and verifiable; the change is in the ledger without the text.
    verified = sunshine("verify", "-c", str(config.path))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    entries = published_entries(store)
    events = [json.loads(entry) for entry in entries if b'"redaction"' in entry]
    assert [(event["record_id"], event["action"], event["basis"]) for event in events] == [(record_id, "add", BASIS)]
    assert all(phrase.lower().encode() not in entry.lower() for entry in entries)

    # `reindex` (from the store alone) keeps it redacted.
    assert sunshine("reindex", "-c", str(config.path)).returncode == 0
    assert _found_in(config, phrase) == set()

    removed = sunshine("redact", "remove", "-c", str(config.path), redaction_id, "--by", "clerk-b")
    assert removed.returncode == 0, removed.stderr
    assert _found_in(config, phrase) == before
    assert record_id in _search_ids(config, phrase)
    assert sunshine("reindex", "-c", str(config.path)).returncode == 0
    assert _found_in(config, phrase) == before
    listed = json.loads(sunshine("redact", "list", "-c", str(config.path), "--all", "--json").stdout)
    assert [(item["redaction_id"], item["removed_by"]) for item in listed] == [(redaction_id, "clerk-b")]


def test_whole_record_and_media_redactions(archive) -> None:
    config, catalog, store = archive
    row = catalog.db.execute("SELECT record_id, text, author, media FROM records WHERE media != '[]' AND"
                             " length(text) > 20 ORDER BY record_id LIMIT 1").fetchone()
    record_id, text, author, media = row
    url = json.loads(media)[0]["url"]
    index = open_index(config.search)
    try:
        redact(catalog, store, record_id, basis=BASIS, by="clerk", bases=config.redaction_bases, scope="media",
               target=url, index=index)
        doc = index.get(record_id)
        assert doc.text == text and url not in json.dumps(doc.to_json())
        assert doc.media[0]["redacted"] == placeholder(BASIS)
        whole = redact(catalog, store, record_id, basis=config.redaction_bases[0], by="clerk",
                       bases=config.redaction_bases, scope="record", index=index)
        doc = index.get(record_id)
        assert doc.text == doc.author == placeholder(config.redaction_bases[0])
        assert all(text not in version.get("text", "") for version in doc.versions)
        unredact(catalog, store, whole.redaction_id, by="clerk", index=index)
        assert index.get(record_id).text == text and index.get(record_id).author == author
    finally:
        index.close()


def test_refusals_name_what_to_fix(archive) -> None:
    config, catalog, store = archive
    record_id, phrase = _target(catalog)
    bases = config.redaction_bases
    with pytest.raises(SunshineError, match=r"not in the configured \[redaction\] bases"):
        redact(catalog, store, record_id, basis="Made-up Act s.1", by="c", bases=bases, target=phrase)
    with pytest.raises(SunshineError, match="does not occur"):
        redact(catalog, store, record_id, basis=BASIS, by="c", bases=bases, target="zzqx never said")
    with pytest.raises(SunshineError, match="no record"):
        redact(catalog, store, "bluesky-nope", basis=BASIS, by="c", bases=bases, target=phrase)
    redact(catalog, store, record_id, basis=BASIS, by="c", bases=bases, target=phrase)
    with pytest.raises(SunshineError, match="already has this redaction"):
        redact(catalog, store, record_id, basis=BASIS, by="c", bases=bases, target=phrase.lower())
    with pytest.raises(SunshineError, match="no redaction"):
        unredact(catalog, store, "red-000000", by="c")
    result = sunshine("redact", "add", "-c", str(config.path), record_id, "--basis", BASIS)
    assert result.returncode == 2 and "exactly one of" in result.stderr and "Traceback" not in result.stderr


def test_recover_rebuilds_redactions_and_their_revisions(archive) -> None:
    config, catalog, store = archive
    record_id, phrase = _target(catalog)
    first = redact(catalog, store, record_id, basis=BASIS, by="c1", bases=config.redaction_bases, target=phrase)
    redact(catalog, store, record_id, basis=BASIS, by="c1", bases=config.redaction_bases, scope="record")
    unredact(catalog, store, first.redaction_id, by="c2")
    LedgerPublisher(catalog, store, config).checkpoint()  # recover reads the published log
    tables = ("redactions", "redaction_log")
    before = {table: sorted(map(tuple, catalog.db.execute(f"SELECT * FROM {table}")), key=repr) for table in tables}
    catalog.close()
    result = sunshine("recover", "-c", str(config.path), "--force")
    assert result.returncode == 0, result.stdout + result.stderr
    with Catalog(config.catalog_path) as recovered:
        after = {table: sorted(map(tuple, recovered.db.execute(f"SELECT * FROM {table}")), key=repr) for table in tables}
    assert after == before and len(before["redaction_log"]) == 3


def test_a_redaction_document_cannot_be_confirmed_by_hashing_a_guess(archive) -> None:
    """The ledger binds each change to its document's SHA-256, and the document names the text; its
    random salt is what keeps a guessed text from being confirmed against the public hash."""
    config, catalog, store = archive
    record_id, phrase = _target(catalog)
    redaction = redact(catalog, store, record_id, basis=BASIS, by="clerk", bases=config.redaction_bases,
                       target=phrase)
    change = catalog.redaction_changes([record_id])[0]
    stored = json.loads(store.get(change.document))
    assert stored["redaction"]["target"] == phrase and len(stored["salt"]) == 32
    # Everything but the salt is what a guesser knows or guesses right; without it the hash differs.
    from archiver.canonical import canonical_json

    guess = {**stored, "salt": "0" * 32}
    event = next(json.loads(entry) for entry in _entries(catalog) if b'"redaction"' in entry)
    assert sha256_hex(canonical_json(stored)) == event["document_sha256"]
    assert sha256_hex(canonical_json(guess)) != event["document_sha256"]
    # The store's documents rebuild the same state the catalog holds.
    active, documents = redactions_from_store(store, _entries(catalog))
    assert active == {record_id: [redaction]} and len(documents) == 1


def _entries(catalog: Catalog) -> list[bytes]:
    return [bytes(row[0]) for row in catalog.db.execute("SELECT entry FROM ledger ORDER BY idx")]


@given(st.text(max_size=60), st.lists(st.text(min_size=1, max_size=6), min_size=1, max_size=4))
def test_no_redacted_span_survives_in_the_text(text: str, spans: list[str]) -> None:
    items = [Redaction(f"red-{n}", "r", "text", span, f"Basis {n}", "", "t", "c") for n, span in enumerate(spans)]
    redacted = _redact_spans(text, items)
    left = re.sub(r"\[redacted: Basis \d\]", "\x00", redacted)
    for span in spans:
        assert span.casefold() not in left.casefold() or span.casefold() in "\x00"


def test_a_monitor_skips_raw_versions_a_logged_redaction_withholds(archive, tmp_path) -> None:
    """The portal answers 451 for a redacted record's raw versions: a monitor following the log sees the
    redaction event and skips them instead of reporting them missing; the rest it re-hashes."""
    from archiver.ledger import log
    from tests.e2e.test_monitor_e2e import monitor, portal

    config, catalog, _store = archive
    record_id, phrase = _target(catalog)
    catalog.close()
    result = sunshine("redact", "add", "-c", str(config.path), record_id, "--text", phrase, "--basis", BASIS)
    assert result.returncode == 0, result.stderr
    key = log.verifier_key(log.load_or_create_signer(config.ledger_key_path, config.ledger_name))
    with portal(config.path.parent) as url:
        status, report = monitor(url, key, tmp_path / "state", "--max-raw", "100000", "--delay", "0")
    assert status == 0, report["problems"]
    assert report["redacted_skipped"] == 1 and report["raw_checked"] == 199
