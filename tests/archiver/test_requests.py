"""Records requests (`archiver.requests`, `sunshine request`): scope fixed when saved, a pending-request
hold that blocks disposition until the request is closed, documents and ledger events that let
`sunshine recover` rebuild them.

One demo archive (the simulator, three rounds so there are edits, hides and deletions) per module;
every test works on its own copy.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from archiver.catalog import Catalog
from archiver.config import Config, load_config
from archiver.disposition import run_retention
from archiver.errors import SunshineError
from archiver.holds import HoldCriteria, held_record_ids
from archiver.ledger_events import append_event
from archiver.recover import recover_catalog
from archiver.requests import (
    close_request,
    get_request,
    list_requests,
    request_document_key,
    request_record_ids,
    save_request,
)
from archiver.store.local import LocalStore

REPO = Path(__file__).resolve().parents[2]


def sunshine(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "archiver.cli", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout, check=False)


def make_demo(root: Path) -> Path:
    """A small demo archive with edits, hides and deletions (68-ish records over three rounds).

    Which seed of the simulated department shows all three in three rounds depends on the platforms
    in it, so the first seed that does is taken rather than one pinned by luck.
    """
    for seed in range(3, 13):
        data = root / f"demo-{seed}"
        result = sunshine("demo", "--data", str(data), "--scale", "60", "--steps", "3", "--seed", str(seed),
                          timeout=600)
        assert result.returncode == 0, result.stdout + result.stderr
        with Catalog(data / "catalog.sqlite") as catalog:
            statuses = {row[0] for row in catalog.db.execute("SELECT DISTINCT status FROM versions")}
            if {"edited", "hidden", "deleted"} <= statuses:
                return data
    pytest.fail("no seed from 3 to 12 gave a demo with edits, hides and deletions in three rounds")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_demo(tmp_path_factory.mktemp("requests"))


@pytest.fixture
def archive(demo: Path, tmp_path: Path) -> Iterator[tuple[Config, Catalog, LocalStore]]:
    data = tmp_path / "demo"
    shutil.copytree(demo, data)
    text = (data / "sunshine.toml").read_text().replace(str(demo), str(data))
    (data / "sunshine.toml").write_text(text)
    config = load_config(data / "sunshine.toml")
    catalog = Catalog(config.catalog_path)
    try:
        yield config, catalog, LocalStore(config.storage.path)
    finally:
        catalog.close()


def _a_thread(catalog: Catalog) -> tuple[str, set[str]]:
    """A thread with replies: (a reply in it, every record of the thread)."""
    rows = catalog.db.execute("SELECT thread_id, record_id FROM records").fetchall()
    threads: dict[str, set[str]] = {}
    for thread_id, record_id in rows:
        threads.setdefault(thread_id, set()).add(record_id)
    thread_id = max(threads, key=lambda t: (len(threads[t]), t))
    return sorted(threads[thread_id] - {thread_id})[0], threads[thread_id]


def test_a_saved_request_fixes_its_records_and_holds_them(archive) -> None:
    config, catalog, store = archive
    reply, thread = _a_thread(catalog)
    saved = save_request(catalog, store, "PRR-2026-017", "replies about the parade", "2026-03-01", "2026-03-15",
                         [HoldCriteria(record_ids=(reply,))], "clerk", log_event=append_event)
    assert saved.status == "open" and saved.record_count == len(thread)
    assert set(request_record_ids(catalog, "PRR-2026-017")) == thread  # the whole thread, resolved once
    hold = catalog.hold(saved.hold_id)
    assert hold is not None and "PRR-2026-017" in hold.reason and hold.released_at is None
    assert held_record_ids(catalog) == thread
    assert [item.number for item in list_requests(catalog)] == ["PRR-2026-017"]
    assert get_request(catalog, "PRR-2026-017").searches == ({"record_ids": [reply], "with_threads": True},)

    # The store has the request document, bound to the ledger event by its hash.
    key = request_document_key("PRR-2026-017", "save")
    document = json.loads(store.get(key))
    assert set(document["records"]) == thread and document["description"] == "replies about the parade"
    events = [json.loads(entry) for entry in catalog.unpublished_ledger()[1]]
    logged = [event for event in events if event.get("type") == "request"]
    assert logged and logged[-1]["document"] == key and logged[-1]["action"] == "save"
    from archiver.canonical import sha256_hex

    assert logged[-1]["document_sha256"] == sha256_hex(store.get(key))


def test_request_errors_name_what_to_fix(archive) -> None:
    config, catalog, store = archive
    reply, _thread = _a_thread(catalog)
    search = [HoldCriteria(record_ids=(reply,))]
    save_request(catalog, store, "PRR-1", "one", "2026-03-01", None, search, "clerk")
    with pytest.raises(SunshineError, match="already exists"):
        save_request(catalog, store, "PRR-1", "again", "2026-03-01", None, search, "clerk")
    with pytest.raises(SunshineError, match="request number"):
        save_request(catalog, store, "../PRR", "bad", "2026-03-01", None, search, "clerk")
    with pytest.raises(SunshineError, match="--received must be a date"):
        save_request(catalog, store, "PRR-2", "bad", "2026-13-01", None, search, "clerk")
    with pytest.raises(SunshineError, match="before --received"):
        save_request(catalog, store, "PRR-2", "bad", "2026-03-01", "2026-02-01", search, "clerk")
    with pytest.raises(SunshineError, match="match no archived record"):
        save_request(catalog, store, "PRR-2", "none", "2026-03-01", None,
                     [HoldCriteria(platform="facebook", date_from="2099-01-01")], "clerk")
    with pytest.raises(SunshineError, match="no request 'PRR-9'"):
        close_request(catalog, store, "PRR-9", "clerk")
    assert catalog.request("PRR-2") is None


def test_an_open_request_blocks_disposition_and_closing_it_releases_the_hold(archive) -> None:
    config, catalog, store = archive
    reply, thread = _a_thread(catalog)
    saved = save_request(catalog, store, "PRR-7", "the thread", "2026-03-01", None,
                         [HoldCriteria(record_ids=(reply,))], "clerk", log_event=append_event)
    future = datetime.now(UTC) + timedelta(days=365 * 50)  # past every retention period
    dry = run_retention(catalog, store, config.storage, dry_run=True, actor="test", now=future)
    due = {item["record_id"] for item in dry.due}
    assert due and not due & thread and dry.held == len(thread)

    closed = close_request(catalog, store, "PRR-7", "clerk", log_event=append_event)
    assert closed.status == "closed" and catalog.request("PRR-7").status == "closed"
    assert catalog.hold(saved.hold_id).released_at is not None and held_record_ids(catalog) == set()
    assert json.loads(store.get(request_document_key("PRR-7", "close")))["hold_id"] == saved.hold_id
    with pytest.raises(SunshineError, match="already closed"):
        close_request(catalog, store, "PRR-7", "clerk")
    dry = run_retention(catalog, store, config.storage, dry_run=True, actor="test", now=future)
    assert thread <= {item["record_id"] for item in dry.due}
    assert list_requests(catalog) == [] and [r.number for r in list_requests(catalog, include_closed=True)] == ["PRR-7"]


def test_recover_rebuilds_requests_from_the_store(archive, tmp_path: Path) -> None:
    config, catalog, store = archive
    reply, thread = _a_thread(catalog)
    result = sunshine("request", "add", "-c", str(config.path), "--number", "PRR-3", "--description", "a thread",
                      "--received", "2026-03-02", "--due", "2026-03-20", "--record", reply, "--by", "clerk")
    assert result.returncode == 0, result.stderr
    assert f"{len(thread)} records held" in result.stdout
    other = sorted(catalog.all_record_ids())[0]
    result = sunshine("request", "add", "-c", str(config.path), "--number", "PRR-4", "--description", "closed one",
                      "--received", "2026-03-02", "--record", other, "--no-threads", "--by", "clerk")
    assert result.returncode == 0, result.stderr
    assert sunshine("request", "close", "-c", str(config.path), "PRR-4").returncode == 0
    before = {item.number: item for item in list_requests(catalog, include_closed=True)}
    ids_before = {number: request_record_ids(catalog, number) for number in before}
    shown = json.loads(sunshine("request", "show", "-c", str(config.path), "PRR-3", "--json").stdout)
    assert set(shown["records"]) == thread and shown["status"] == "open"

    catalog.close()
    report = recover_catalog(config, store, force=True)
    assert not [w for w in report.warnings if "request" in w], report.warnings
    with Catalog(config.catalog_path) as recovered:
        after = {item.number: item for item in list_requests(recovered, include_closed=True)}
        assert after == before
        assert {number: request_record_ids(recovered, number) for number in after} == ids_before
        assert held_record_ids(recovered) == thread  # PRR-4's hold released, PRR-3's still held
