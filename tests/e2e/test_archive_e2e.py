"""The walking skeleton as a whole (issue 2, "Must show"): simulator → `sunshine archive` → portal.

Every archive here is made by the real CLI in a child process against the real simulator, and read
back through the doors users and auditors have: the portal app (HTML and JSON), the CLI (`verify`,
`reindex`), the store folder (WARC files, blobs, ledger tiles) and the catalog file. Ground truth is
always the simulator's (`World`), never the archiver's own idea of what it stored.
"""

from __future__ import annotations

import hashlib
import io
import json
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator

from archiver.canonical import canonical_json
from archiver.model import display_text, make_record_id
from infra.simulator import Fault, start_simulator
from infra.simulator.world import World
from spiders.extract import iter_raw_objects, native_object, rule
from spiders.mastodon import html_text
from tests.e2e.conftest import (
    DEMO_SCALE,
    DEMO_SEED,
    DEMO_STEPS,
    SIM_TOKEN,
    DemoArchive,
    catalog_query,
    sunshine,
    sunshine_popen,
    write_config,
)

# --- helpers ---------------------------------------------------------------------------------------


def api_search(client, **params: Any) -> dict[str, Any]:
    response = client.get("/api/v1/search", query_string=params)
    assert response.status_code == 200, response.data[:500]
    return response.get_json()


def api_record(client, record_id: str) -> dict[str, Any]:
    response = client.get(f"/api/v1/records/{record_id}")
    assert response.status_code == 200, response.data[:500]
    return response.get_json()


def all_result_ids(client, **params: Any) -> list[str]:
    """Every matching record id, in result order, across API pages of 100."""
    ids: list[str] = []
    page = 1
    while True:
        data = api_search(client, per_page=100, page=page, **params)
        ids += [item["record_id"] for item in data["results"]]
        if len(ids) >= data["total"] or not data["results"]:
            return ids
        page += 1


def statuses(data_dir: Path, status: str) -> set[str]:
    return {row[0] for row in catalog_query(data_dir, "SELECT record_id FROM records WHERE status = ?", (status,))}


# Platforms whose objects carry their text as HTML markup, read by their spider's own rule; every
# other platform's object carries the text as one of its string values, exactly (docs/platform-api.md).
MARKUP_TEXT: dict[str, Callable[[str], str]] = {"mastodon": html_text}


def native_strings(native: Any) -> Iterator[str]:
    """Every string value in a native object, however deep."""
    stack = [native]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def native_holds_text(platform: str, native: dict[str, Any], text: str) -> bool:
    """Whether the platform's own object carries `text` exactly, code point for code point."""
    read = MARKUP_TEXT.get(platform, str)
    return any(read(value) == text for value in native_strings(native))


def find_object_with_sha(platform: str, body: bytes, sha: str) -> dict[str, Any] | None:
    """The object inside an API response whose native form hashes to `sha` (what an auditor does).

    The native form is the documented rule of `spiders/extract.py`: the platform's object minus its
    volatile counters, canonically serialised. The body is decoded as the platform answers (JSON, or
    the XML feed or HTML page its rule reads); every object in a JSON answer is tried, and the record
    objects the rule finds where the decoded answer is not plain JSON (an XML element tree).
    """
    doc = rule(platform).decode(body)
    stack = [doc, *iter_raw_objects(platform, doc)]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if hashlib.sha256(canonical_json(native_object(platform, item))).hexdigest() == sha:
                return item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None


def warc_response(path: Path, offset: int, length: int) -> tuple[str, bytes]:
    """(target URI, payload) of the response record at a byte range of a WARC file, read with warcio."""
    with path.open("rb") as handle:
        handle.seek(offset)
        member = handle.read(length)
    for record in ArchiveIterator(io.BytesIO(member)):
        if record.rec_type == "response":
            return record.rec_headers.get_header("WARC-Target-URI"), record.content_stream().read()
    raise AssertionError(f"no response record in {path}#{offset}")


def flip_byte(path: Path, offset: int | None = None) -> None:
    data = bytearray(path.read_bytes())
    where = len(data) // 2 if offset is None else offset
    data[where] ^= 0x01
    path.chmod(0o600)
    path.write_bytes(bytes(data))


def version_count(data_dir: Path) -> int:
    return catalog_query(data_dir, "SELECT COUNT(*) FROM versions")[0][0]


def assert_one_version_per_simulator_record(data_dir: Path, world: World) -> None:
    dupes = catalog_query(data_dir, "SELECT record_id, COUNT(*) FROM versions GROUP BY record_id HAVING COUNT(*) > 1")
    assert dupes == [], f"records stored more than once: {dupes[:5]}"
    archived = {row[0] for row in catalog_query(data_dir, "SELECT record_id FROM records")}
    expected = {make_record_id(r.platform, r.native_id) for r in world.records()}
    assert archived == expected, (f"missing {len(expected - archived)} e.g. {sorted(expected - archived)[:3]}; "
                                  f"unexpected {sorted(archived - expected)[:3]}")
    assert version_count(data_dir) == len(expected)


# --- the portal over the demo archive --------------------------------------------------------------


@pytest.mark.parametrize("status", ["deleted", "edited", "hidden"])
def test_status_filter_finds_exactly_those_records(demo_archive: DemoArchive, client, status: str) -> None:
    expected = statuses(demo_archive.data_dir, status)
    assert expected, f"the demo archive has no {status} records"
    data = api_search(client, status=status, per_page=100)
    assert data["total"] == len(expected)
    assert {item["record_id"] for item in data["results"]} == expected
    assert all(item["status"] == status for item in data["results"])
    html = client.get("/search", query_string={"status": status})
    assert html.status_code == 200
    for record_id in expected:
        assert f"/records/{record_id}".encode() in html.data, record_id


def test_a_deleted_record_shows_every_version_the_last_a_tombstone(demo_archive: DemoArchive, client) -> None:
    for record_id in statuses(demo_archive.data_dir, "deleted"):
        record = api_record(client, record_id)
        versions = record["versions"]
        assert [v["version"] for v in versions] == list(range(1, len(versions) + 1))
        assert len(versions) >= 2
        assert versions[-1]["status"] == "deleted" and all(v["status"] != "deleted" for v in versions[:-1])
        assert record["status"] == "deleted" and record["sha256"] == versions[-1]["content_sha256"]
        page = client.get(f"/records/{record_id}")
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        assert f"Versions ({len(versions)})" in html
        assert "Deleted: the platform confirmed" in html
        for version in versions:
            assert version["content_sha256"] in html
        assert html.rindex('class="version version-deleted"') > html.rindex('class="version version-active"')
        # The tombstone is evidence like any version: its bytes are served and hash to its digest.
        tomb = client.get(f"/records/{record_id}/raw", query_string={"version": versions[-1]["version"]})
        assert tomb.status_code == 200
        assert hashlib.sha256(tomb.data).hexdigest() == versions[-1]["content_sha256"]


def test_an_edited_record_keeps_the_old_text_and_shows_the_new(demo_archive: DemoArchive, client) -> None:
    world = demo_archive.world
    for ref in world.changes[1].edited:
        record_id = make_record_id(*ref)
        record = api_record(client, record_id)
        texts = [v["text"] for v in record["versions"]]
        assert len(texts) == 2 and texts[0] != texts[1], texts
        assert record["text"] == texts[1] == display_text(world.record(*ref).text)


def _rare_word(text: str, document_frequency: Counter) -> str | None:
    words = [w for w in re.findall(r"\w+", text) if w.isascii() and w.isalpha() and len(w) >= 5]
    return min(words, key=lambda w: (document_frequency[w.lower()], w), default=None)


def test_a_word_from_random_records_finds_them(demo_archive: DemoArchive, client) -> None:
    world = demo_archive.world
    hostile = {h.native_id for h in world.hostile_records()}
    live = [r for r in world.records() if r.native_id not in hostile]
    frequency: Counter = Counter()
    for record in live:
        frequency.update({w.lower() for w in re.findall(r"\w+", record.text)})
    per_page = api_search(client, q="police")["per_page"]
    for record in random.Random(7).sample(live, 8):
        word = _rare_word(record.text, frequency)
        assert word, record.text
        record_id = make_record_id(record.platform, record.native_id)
        ids = all_result_ids(client, q=word)
        assert record_id in ids, f"searching {word!r} did not find {record_id}"
        page = ids.index(record_id) // per_page + 1
        html = client.get("/search", query_string={"q": word, "page": page})
        assert html.status_code == 200 and f"/records/{record_id}".encode() in html.data, word


def test_raw_bytes_hash_to_the_shown_sha256_and_etag(demo_archive: DemoArchive, client) -> None:
    ids = sorted(statuses(demo_archive.data_dir, "edited")) + sorted(statuses(demo_archive.data_dir, "active"))[:5]
    for record_id in ids:
        record = api_record(client, record_id)
        assert record["sha256"] == record["versions"][-1]["content_sha256"]
        html = client.get(f"/records/{record_id}").get_data(as_text=True)
        latest = client.get(f"/records/{record_id}/raw")
        assert latest.status_code == 200
        digest = hashlib.sha256(latest.data).hexdigest()
        assert digest == record["sha256"] and latest.headers["ETag"] == f'"{digest}"' and digest in html
        assert client.get(f"/records/{record_id}/raw", headers={"If-None-Match": f'"{digest}"'}).status_code == 304
        for version in record["versions"]:
            raw = client.get(f"/records/{record_id}/raw", query_string={"version": version["version"]})
            assert hashlib.sha256(raw.data).hexdigest() == version["content_sha256"]
            assert raw.headers["ETag"] == f'"{version["content_sha256"]}"'
            assert version["content_sha256"] in html


def _latest_round_records(world: World) -> dict[str, str]:
    """One record id per platform whose latest version the demo's last round captured: an edited
    record where the last step edited one on that platform, else one the last step added."""
    step = world.changes[-1]
    chosen: dict[str, str] = {}
    for platform, native_id in step.edited + step.new:
        chosen.setdefault(platform, make_record_id(platform, native_id))
    return chosen


def test_capture_is_the_original_http_response(demo_archive: DemoArchive, client) -> None:
    """The capture route serves the response body as the WARC holds it and as the platform sent it."""
    store = demo_archive.data_dir / "store"
    world = World(DEMO_SEED, DEMO_SCALE)  # the same department at the same step, on a new port
    for _ in range(DEMO_STEPS - 1):
        world.advance()
    chosen = _latest_round_records(demo_archive.world)
    assert set(chosen) == set(world.platforms), f"no record of the last round on {set(world.platforms) - set(chosen)}"
    assert any(make_record_id(*ref) in chosen.values() for ref in demo_archive.world.changes[-1].edited)
    with start_simulator(world=world, token=SIM_TOKEN) as sim:
        for platform, record_id in sorted(chosen.items()):
            version = api_record(client, record_id)["versions"][-1]
            served = client.get(f"/records/{record_id}/capture", query_string={"version": version["version"]})
            assert served.status_code == 200
            ref = version["warc_ref"]
            target, payload = warc_response(store / ref["key"], ref["offset"], ref["length"])
            assert served.data == payload
            member = client.get(f"/records/{record_id}/capture",
                                query_string={"version": version["version"], "format": "warc"})
            with (store / ref["key"]).open("rb") as handle:
                handle.seek(ref["offset"])
                assert member.data == handle.read(ref["length"])  # the WARC member itself, byte for byte
            # Re-extraction: the platform's object inside the response hashes to the version's digest.
            assert find_object_with_sha(platform, served.data, version["content_sha256"]) is not None, record_id
            old_base = re.match(r"http://127\.0\.0\.1:\d+", target).group()
            request = urllib.request.Request(sim.base_url + target[len(old_base):],
                                             headers={"Authorization": f"Bearer {SIM_TOKEN}"})
            with urllib.request.urlopen(request, timeout=30) as answer:
                fresh = answer.read()
            assert served.data.replace(old_base.encode(), sim.base_url.encode()) == fresh, target


# --- hostile text ----------------------------------------------------------------------------------

HOSTILE_WORDS = {"xss": "onerror", "huge": "megabyte", "lone_surrogate": "surrogate", "bidi": "combining"}


@pytest.mark.parametrize("kind", list(HOSTILE_WORDS))
def test_hostile_text_is_stored_exactly_shown_escaped_and_searchable(demo_archive: DemoArchive, client,
                                                                     kind: str) -> None:
    world = demo_archive.world
    hostile = [h for h in world.hostile_records() if h.kind == kind]
    assert {h.platform for h in hostile} == {p for p in world.platforms if kind in world.hostile_kinds(p)}
    assert len(hostile) >= 2, hostile
    for record in hostile:
        record_id = make_record_id(record.platform, record.native_id)
        raw = client.get(f"/records/{record_id}/raw")
        assert raw.status_code == 200
        assert raw.headers["ETag"] == f'"{hashlib.sha256(raw.data).hexdigest()}"'
        assert native_holds_text(record.platform, json.loads(raw.data), record.text), record_id  # exact
        if kind == "lone_surrogate":
            assert b"\\ud800" in raw.data
        page = client.get(f"/records/{record_id}")
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        assert "<script>alert" not in html and "onerror=\"alert" not in html
        assert "<script" not in html  # the portal has no scripts of its own on record pages
        if kind == "xss":
            assert "&lt;script&gt;alert(" in html
        if kind == "huge":
            assert len(page.data) < 200_000 and "The text is long and was cut here" in html
        if kind == "bidi":
            assert "\u202eevil.exe\u202c" in html
        ids = all_result_ids(client, q=HOSTILE_WORDS[kind])
        assert record_id in ids, f"{kind}: searching {HOSTILE_WORDS[kind]!r} did not find {record_id}"
    results = client.get("/search", query_string={"q": HOSTILE_WORDS[kind]})
    assert results.status_code == 200 and b"<script>alert" not in results.data
    for item in api_search(client, q=HOSTILE_WORDS[kind])["results"]:
        assert "<script" not in item["highlight"]


def test_a_word_inside_bidi_isolates_is_searchable(demo_archive: DemoArchive, client) -> None:
    bidi = [h for h in demo_archive.world.hostile_records() if h.kind == "bidi"]
    ids = all_result_ids(client, q="שלום")
    assert {make_record_id(h.platform, h.native_id) for h in bidi} <= set(ids)


# --- auditing: verify, tampering, reindex ----------------------------------------------------------


def test_every_warc_file_passes_warcio_check(demo_archive: DemoArchive) -> None:
    files = sorted((demo_archive.data_dir / "store" / "warc").rglob("*.warc.gz"))
    assert len(files) >= 2 * DEMO_STEPS
    result = subprocess.run([sys.executable, "-m", "warcio.cli", "check", "-v", *map(str, files)],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "digest pass" in result.stdout and "digest fail" not in result.stdout


def _tamper_target(data_dir: Path, what: str) -> str:
    store = data_dir / "store"
    if what == "blob":
        key = catalog_query(data_dir, "SELECT key FROM objects WHERE kind = 'blob' ORDER BY key LIMIT 1 OFFSET 7")[0][0]
    elif what == "warc":
        key = catalog_query(data_dir, "SELECT key FROM objects WHERE kind = 'warc' ORDER BY key LIMIT 1")[0][0]
    else:
        key = "ledger/tile/0/000"  # the first full level-0 hash tile (256 leaves)
    assert (store / key).is_file(), key
    flip_byte(store / key)
    return key


@pytest.mark.parametrize("what", ["blob", "warc", "ledger tile"])
def test_verify_names_a_damaged_object(demo_copy: Path, what: str) -> None:
    config = str(demo_copy / "sunshine.toml")
    assert sunshine("verify", "-c", config).returncode == 0
    key = _tamper_target(demo_copy, what)
    result = sunshine("verify", "-c", config)
    assert result.returncode != 0
    assert key in result.stdout + result.stderr, result.stdout[-3000:]
    assert "Traceback" not in result.stderr
    report = sunshine("verify", "-c", config, "--json")
    assert report.returncode != 0
    data = json.loads(report.stdout)
    assert data["ok"] is False
    assert any(key in problem for problem in data["problems"]), data["problems"]


def test_reindex_rebuilds_search_from_the_store_alone(demo_archive: DemoArchive, demo_copy: Path, client) -> None:
    from portal import create_app

    for path in demo_copy.glob("search.sqlite*"):  # the index file (or link) and its generations
        shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
    result = sunshine("reindex", "-c", str(demo_copy / "sunshine.toml"))
    assert result.returncode == 0, result.stderr
    records = catalog_query(demo_copy, "SELECT COUNT(*) FROM records")[0][0]
    assert f"reindexed {records} records" in result.stdout
    rebuilt = create_app(demo_copy / "sunshine.toml", settings={"RATE_LIMIT_PER_MINUTE": 0}).test_client()
    for params in ({"status": "deleted"}, {"status": "edited"}, {"q": "police"}, {"platform": "facebook"}, {}):
        before, after = api_search(client, **params), api_search(rebuilt, **params)
        assert after["total"] == before["total"], params
        assert after["facets"] == before["facets"], params
    for record_id in sorted(statuses(demo_copy, "deleted")) + sorted(statuses(demo_copy, "edited")):
        assert api_record(rebuilt, record_id) == api_record(client, record_id)


# --- runs against a simulator in this process ------------------------------------------------------


def test_a_second_run_with_nothing_changed_adds_no_versions(simulator, tmp_path: Path) -> None:
    config = write_config(tmp_path / "archive", simulator.base_url)
    first = sunshine("archive", "-c", str(config), "--quiet")
    assert first.returncode == 0, first.stderr
    versions = version_count(config.parent)
    assert versions == len(simulator.world.records())
    second = sunshine("archive", "-c", str(config), "--quiet")
    assert second.returncode == 0, second.stderr
    assert version_count(config.parent) == versions
    line = second.stdout.splitlines()[0]
    assert "new 0, edited 0, hidden 0, deleted 0, restored 0" in line, line
    # every record is seen again (the config's window spans the whole history) but the website's
    # pages: their sitemap `lastmod` says they did not change since the last walk, so none is fetched
    pages = sum(1 for record in simulator.world.records() if record.platform == "web")
    assert f"unchanged {versions - pages};" in line, line
    assert f"checkpoint: {versions} entries" in second.stdout
    assert_one_version_per_simulator_record(config.parent, simulator.world)



def test_a_clean_quiet_run_prints_nothing_on_stderr(simulator, tmp_path: Path) -> None:
    config = write_config(tmp_path / "archive", simulator.base_url)
    result = sunshine("archive", "-c", str(config), "--quiet")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""

def _stored_blobs(data_dir: Path) -> int:
    root = data_dir / "store" / "blobs"
    return sum(1 for path in root.rglob("*") if path.is_file()) if root.is_dir() else 0


def _kill_when(process: subprocess.Popen, ready, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if ready():
                    process.send_signal(signal.SIGKILL)
                    break
            except sqlite3.Error:  # the catalog is not created yet
                pass
            time.sleep(0.01)
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=30)
    assert process.returncode == -signal.SIGKILL, "the run finished before it could be killed"


@pytest.mark.parametrize("moment", ["after a batch committed", "while a batch is being stored"])
def test_a_killed_run_resumes_without_loss_or_duplicates(tmp_path: Path, moment: str) -> None:
    """SIGKILL mid-run, then run again: every record exactly once, one version each, verify passes.

    "while a batch is being stored" kills after content blobs reached the store but before the
    catalog recorded any version: the rerun meets objects nobody references yet.
    """
    config_dir = tmp_path / "archive"
    with start_simulator(seed=5, scale=4000, token=SIM_TOKEN) as sim:
        config = write_config(config_dir, sim.base_url)
        total = len(sim.world.records())
        process = sunshine_popen("archive", "-c", str(config), "--quiet")
        if moment == "after a batch committed":
            _kill_when(process, lambda: version_count(config_dir) > 0)
            assert 0 < version_count(config_dir) < total, "not killed mid-run"
        else:
            _kill_when(process, lambda: _stored_blobs(config_dir) > 0)
            assert version_count(config_dir) == 0 and _stored_blobs(config_dir) > 0, "not killed inside a batch"
        resumed = sunshine("archive", "-c", str(config), "--quiet")
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        assert "(resumed)" in resumed.stdout
        assert_one_version_per_simulator_record(config_dir, sim.world)
        ledger = catalog_query(config_dir, "SELECT COUNT(*), SUM(published) FROM ledger")[0]
        assert ledger == (total, total)
        verify = sunshine("verify", "-c", str(config))
        assert verify.returncode == 0, verify.stdout[-3000:]


def test_a_failed_capture_fails_the_run_is_kept_and_a_rerun_completes(simulator, tmp_path: Path) -> None:
    config = write_config(tmp_path / "archive", simulator.base_url)
    simulator.add_fault(Fault("truncated_json", path_contains="getPostThread", count=1))
    failed = sunshine("archive", "-c", str(config), "--quiet")
    assert failed.returncode != 0
    named = re.findall(r"failed capture: (\S+getPostThread\S+)", failed.stderr)
    assert len(named) == 1, failed.stderr
    rows = catalog_query(config.parent, "SELECT url, warc_key FROM failed_captures")
    assert [row[0] for row in rows] == [named[0].rstrip(":")]
    url, key = rows[0]
    # The broken exchange is evidence too: its response is in the WARC, truncated, exactly as served.
    with (config.parent / "store" / key).open("rb") as handle:
        bodies = [record.content_stream().read() for record in ArchiveIterator(handle)
                  if record.rec_type == "response" and record.rec_headers.get_header("WARC-Target-URI") == url]
    assert len(bodies) == 1
    with pytest.raises(ValueError):
        json.loads(bodies[0])

    rerun = sunshine("archive", "-c", str(config), "--quiet")
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert "failed capture" not in rerun.stderr
    assert_one_version_per_simulator_record(config.parent, simulator.world)
    assert sunshine("verify", "-c", str(config)).returncode == 0

