"""Elasticsearch as the scale-out search backend, end to end (issue 4).

Everything runs through the doors a user has: `sunshine demo -c es.toml`, `sunshine archive`,
`sunshine reindex` as child processes, the portal app (`create_app(DIR/sunshine.toml)`) over HTTP,
and a real Elasticsearch node. Three checks:

1. A demo archive searched on Elasticsearch answers with the same totals, facets and timelines as an
   SQLite FTS5 index built from the same store, for words, phrases, filters and dates.
2. Lucene syntax and junk in the query string is answered (200) or refused (400), never a 5xx, on
   both backends.
3. Outage and recovery: a *private* node (never the shared session node) is killed while
   `sunshine archive` runs; the run still stores every capture, warns that the index is behind, the
   portal answers 503 naming the search index; once the node is back the next run catches the index
   up; `sunshine reindex` rebuilds a dropped index from the store alone, and a second reindex swaps
   the alias with zero downtime for concurrent searches.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from archiver.config import load_config
from archiver.model import make_record_id
from archiver.readmodel import docs_from_store
from archiver.run import open_archive_store
from indexer import SearchQuery
from indexer.elastic import ElasticIndex
from indexer.sqlite_fts import SqliteIndex
from infra import es_server
from infra.service_state import free_port
from portal import create_app
from tests.e2e.conftest import catalog_query, sunshine, sunshine_popen, write_config

SEED = 5
SCALE = 300
PORTAL_SETTINGS = {"RATE_LIMIT_PER_MINUTE": 0}


def search_section(url: str, index: str) -> str:
    return f'[search]\nbackend = "elasticsearch"\nurl = "{url}"\nindex = "{index}"\n'


def drop_index(url: str, alias: str) -> None:
    """Delete the alias and every versioned index behind it (test clean-up on a shared node)."""
    client = Elasticsearch(url)
    try:
        client.options(ignore_status=404).indices.delete(index=f"{alias}-v*", expand_wildcards="all")
    finally:
        client.close()


# --- 1. a demo archive on Elasticsearch agrees with SQLite ------------------------------------------


@dataclass(frozen=True)
class EsDemo:
    data_dir: Path
    config: Path
    alias: str
    url: str
    result: subprocess.CompletedProcess


@pytest.fixture(scope="module")
def es_demo(es_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EsDemo]:
    """`sunshine demo -c es.toml --data DIR --scale 300` with search on the session's Elasticsearch."""
    base = tmp_path_factory.mktemp("es-demo")
    alias = f"e2e-demo-{uuid.uuid4().hex[:10]}"
    es_toml = base / "es.toml"
    es_toml.write_text(search_section(es_url, alias), encoding="utf-8")
    data_dir = base / "archive"
    result = sunshine("demo", "-c", str(es_toml), "--data", str(data_dir), "--scale", str(SCALE),
                      "--seed", str(SEED), timeout=300)
    try:
        yield EsDemo(data_dir, data_dir / "sunshine.toml", alias, es_url, result)
    finally:
        drop_index(es_url, alias)


@pytest.fixture(scope="module")
def es_client(es_demo: EsDemo):
    assert es_demo.result.returncode == 0, f"sunshine demo failed:\n{es_demo.result.stdout}\n{es_demo.result.stderr}"
    app = create_app(es_demo.config, settings=PORTAL_SETTINGS)
    app.testing = True
    return app.test_client()


@pytest.fixture(scope="module")
def sqlite_client(es_demo: EsDemo, tmp_path_factory: pytest.TempPathFactory):
    """The portal over the same archive with an SQLite FTS5 index rebuilt from its store alone."""
    assert es_demo.result.returncode == 0, es_demo.result.stderr
    config = load_config(es_demo.config)
    index = SqliteIndex(tmp_path_factory.mktemp("sqlite-twin") / "search.sqlite")
    index.rebuild(docs_from_store(open_archive_store(config)))
    app = create_app(config, index=index, settings=PORTAL_SETTINGS)
    app.testing = True
    yield app.test_client()
    index.close()


def api(client, **params: Any) -> dict[str, Any]:
    response = client.get("/api/v1/search", query_string=params)
    assert response.status_code == 200, (params, response.status_code, response.get_data(as_text=True)[:500])
    return response.get_json()


def all_ids(client, **params: Any) -> set[str]:
    """Every record id the search finds, over all its pages (its own page/per_page are ignored)."""
    params = {key: value for key, value in params.items() if key not in ("page", "per_page")}
    ids: set[str] = set()
    page = 1
    while True:
        data = api(client, **params, per_page=100, page=page)
        ids |= {item["record_id"] for item in data["results"]}
        if page * 100 >= data["total"]:
            return ids
        page += 1


def test_demo_on_elasticsearch_exits_0_and_indexes_every_record(es_demo: EsDemo) -> None:
    assert es_demo.result.returncode == 0, f"{es_demo.result.stdout}\n{es_demo.result.stderr}"
    config = load_config(es_demo.config)
    assert (config.search.backend, config.search.url, config.search.index) == ("elasticsearch", es_demo.url,
                                                                               es_demo.alias)
    assert not (es_demo.data_dir / "search.sqlite").exists(), "the demo built an SQLite index anyway"
    assert "search index behind" not in es_demo.result.stderr
    records = catalog_query(es_demo.data_dir, "SELECT COUNT(*) FROM records")[0][0]
    assert records >= SCALE * 0.8
    assert catalog_query(es_demo.data_dir, "SELECT COUNT(*) FROM records WHERE indexed = 0")[0][0] == 0
    index = ElasticIndex(es_demo.url, es_demo.alias)
    try:
        assert index.search(SearchQuery(per_page=1)).total == records
        client = Elasticsearch(es_demo.url)
        assert client.count(index=es_demo.alias)["count"] == records  # the alias really holds them
        client.close()
    finally:
        index.close()


def _date_range(es_demo: EsDemo) -> tuple[str, str]:
    """The dates at the 25th and 75th percentile of created_at: a range that cuts the archive in half."""
    days = sorted(row[0][:10] for row in catalog_query(es_demo.data_dir, "SELECT created_at FROM records"))
    return days[len(days) // 4], days[3 * len(days) // 4]


QUERIES: list[dict[str, str]] = [
    {},
    {"status": "edited"},
    {"status": "deleted"},
    {"status": "hidden"},
    {"q": "arrest"},  # stemming: arrested, arrests
    {"q": "ARRESTED"},
    {"q": '"road closure"'},
    {"q": '"Main Street"'},
    {"q": "thank*"},
    {"q": "arrest -suspect"},
    {"q": "library OR marina"},
    {"q": "officers", "platform": "facebook", "kind": "reply"},
    {"q": "caf\u00e9"},  # diacritics
    {"platform": "bluesky", "kind": "post"},
    {"kind": "media"},
    {"q": "the", "page": "2"},
]


def test_elasticsearch_and_sqlite_agree_on_totals_facets_and_timelines(es_demo: EsDemo, es_client,
                                                                      sqlite_client) -> None:
    date_from, date_to = _date_range(es_demo)
    queries = [*QUERIES, {"from": date_from, "to": date_to}, {"q": "arrest", "from": date_from},
               {"status": "edited", "to": date_to}]
    nonzero = 0
    for params in queries:
        on_es, on_sqlite = api(es_client, **params), api(sqlite_client, **params)
        assert on_es["total"] == on_sqlite["total"], params
        assert on_es["facets"] == on_sqlite["facets"], params
        assert on_es["timeline"] == on_sqlite["timeline"], params
        assert len(on_es["results"]) == len(on_sqlite["results"]), params
        if on_es["total"] <= 300:  # the same records, whatever the order bm25 ties take
            assert all_ids(es_client, **params) == all_ids(sqlite_client, **params), params
        nonzero += on_es["total"] > 0
    assert nonzero >= len(queries) - 2, "most comparisons must be over real results, not two empty pages"
    # The status filters really select: the demo's second round edited and deleted records.
    for status in ("edited", "deleted"):
        expected = {row[0] for row in catalog_query(es_demo.data_dir,
                                                    "SELECT record_id FROM records WHERE status = ?", (status,))}
        assert expected and all_ids(es_client, status=status) == expected, status
    assert api(es_client, **{"from": date_from, "to": date_to})["total"] < api(es_client)["total"]


def test_the_search_page_on_elasticsearch_shows_the_same_count(es_client, sqlite_client) -> None:
    for params in ({"q": "arrest"}, {"status": "deleted"}, {"q": '"road closure"', "platform": "bluesky"}):
        total = api(es_client, **params)["total"]
        for client in (es_client, sqlite_client):
            page = client.get("/search", query_string=params)
            assert page.status_code == 200
            html = page.get_data(as_text=True)
            assert f"{total:,} result" in html, params
    hit = api(es_client, q="arrest")["results"][0]
    record = es_client.get(f"/records/{hit['record_id']}")
    assert record.status_code == 200 and hit["sha256"] in record.get_data(as_text=True)
    assert es_client.get("/healthz").status_code == 200


# --- 2. hostile query strings ----------------------------------------------------------------------


HOSTILE_QUERIES = [
    "title:(a OR", "*:*", "\\", '"unbalanced', "a AND", "NEAR(", "NEAR(a b, 3)", "(((((", ")))",
    "a~2 b^3 c?d [1 TO 5] {x TO y}", "/regex.*/", "+-!&&||", "field:value AND other:*", "OR", "AND NOT",
    "\"\"", "-", "*", "a*b*c*", "arrest*~", "_exists_:text", "\u0000", "x" * 2000,
    " ".join(["a AND (b OR"] * 150)[:1999], "q" * 100_000, "\u00e9\u0301\u202e\U0001F693 arrest",
]


@pytest.mark.parametrize("backend", ["elasticsearch", "sqlite"])
def test_lucene_syntax_and_junk_is_answered_or_refused_never_a_5xx(backend: str, es_client, sqlite_client) -> None:
    client = es_client if backend == "elasticsearch" else sqlite_client
    answered = refused = 0
    for text in HOSTILE_QUERIES:
        for path in ("/search", "/api/v1/search"):
            response = client.get(path, query_string={"q": text})
            body = response.get_data(as_text=True)
            assert response.status_code in (200, 400), (backend, path, text[:60], response.status_code, body[:300])
            assert "Traceback" not in body
            if response.status_code == 400:
                refused += 1
                if path.startswith("/api/"):
                    assert response.get_json()["error"]
                else:
                    assert "Bad request" in body
            else:
                answered += 1
                if path.startswith("/api/"):
                    assert isinstance(response.get_json()["total"], int)
    assert answered and refused  # junk is searched as words; only over-long text is refused
    # The length limit is the documented 1,000 characters, on both backends.
    assert client.get("/api/v1/search", query_string={"q": "x" * 1000}).status_code == 200
    assert client.get("/api/v1/search", query_string={"q": "x" * 1001}).status_code == 400


# --- 3. outage, catch-up, reindex, zero-downtime swap (a private node) -----------------------------


class PrivateNode:
    """A single-node Elasticsearch of our own, launched exactly as `infra.es_server.start` does, that we
    may kill and restart on the same data folder and port (the shared session node is never touched)."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.home = es_server.ensure_installed()
        dictionary = es_server.ensure_hunspell()
        conf = run_dir / "config"
        shutil.copytree(self.home / "config", conf)
        (conf / "hunspell" / "en_US").mkdir(parents=True)
        for suffix in (".aff", ".dic"):
            shutil.copy(dictionary.with_suffix(suffix), conf / "hunspell" / "en_US" / f"en_US{suffix}")
        (conf / "hunspell" / "en_US" / "settings.yml").write_text("ignore_case: true\n")
        self.conf = conf
        self.port, self.transport = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 150) -> None:
        settings = {
            "cluster.name": "sunshine-e2e-private", "node.name": "sunshine-e2e-private",
            "discovery.type": "single-node", "xpack.security.enabled": "false", "network.host": "127.0.0.1",
            "http.port": str(self.port), "transport.port": str(self.transport),
            "path.data": str(self.run_dir / "data"), "path.logs": str(self.run_dir / "logs"),
            "cluster.routing.allocation.disk.threshold_enabled": "false",
            "action.destructive_requires_name": "false",
        }
        command = [str(self.home / "bin" / "elasticsearch")] + [f"-E{k}={v}" for k, v in settings.items()]
        if os.geteuid() == 0:  # Elasticsearch refuses root: as es_server does, map us to a plain uid
            command = ["unshare", "--user", "--map-user=1000", "--map-group=1000", *command]
        env = dict(os.environ, ES_PATH_CONF=str(self.conf), ES_JAVA_OPTS=es_server.HEAP,
                   ES_JAVA_HOME=str(es_server.JAVA_HOME), JAVA_HOME=str(es_server.JAVA_HOME))
        with open(self.run_dir / "server.log", "ab") as out:
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"private Elasticsearch exited: {self._log_tail()}", pytrace=False)
            try:
                with urllib.request.urlopen(f"{self.url}/_cluster/health", timeout=2) as response:
                    if json.loads(response.read()).get("status") in ("yellow", "green"):
                        return
            except (OSError, ValueError):
                pass
            time.sleep(0.5)
        pytest.fail(f"private Elasticsearch not healthy after {timeout}s: {self._log_tail()}", pytrace=False)

    def kill(self) -> None:
        """SIGKILL its process group (launcher and JVM): a crash, not a polite shutdown."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # the JVM is in the same group: wait until it is gone
            try:
                os.killpg(self.process.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        self.process = None

    def _log_tail(self) -> str:
        try:
            return "\n".join((self.run_dir / "server.log").read_text(errors="replace").splitlines()[-15:])
        except OSError:
            return "(no log)"


@pytest.fixture()
def private_node(tmp_path: Path) -> Iterator[PrivateNode]:
    run_dir = tmp_path / "es-node"
    run_dir.mkdir()
    node = PrivateNode(run_dir)
    node.start()
    try:
        yield node
    finally:
        node.kill()


def _run_stats(stdout: str) -> dict[str, int]:
    """The counters `sunshine archive` prints: new, edited, hidden, deleted, restored, unchanged."""
    found = dict(re.findall(r"(new|edited|hidden|deleted|restored|unchanged) (\d+)", stdout))
    assert len(found) == 6, stdout
    return {name: int(value) for name, value in found.items()}


def test_a_down_index_is_one_warning_not_tracebacks(simulator, tmp_path: Path) -> None:
    """Elasticsearch unreachable for a whole run (nothing listens on its port): the run stores
    everything, exits 0 and says once, in one line, that the index is behind."""
    data_dir = tmp_path / "archive"
    config_path = write_config(data_dir, simulator.base_url)
    text = config_path.read_text(encoding="utf-8")
    sqlite_search = '[search]\nbackend = "sqlite"\npath = "search.sqlite"\n'
    dead_url = f"http://127.0.0.1:{free_port()}"  # closed again at once: connection refused
    config_path.write_text(text.replace(sqlite_search, search_section(dead_url, "e2e-dead")), encoding="utf-8")
    result = sunshine("archive", "-c", str(config_path), "--quiet")
    assert result.returncode == 0, result.stdout + result.stderr
    records = catalog_query(data_dir, "SELECT COUNT(*) FROM records")[0][0]
    assert records > 0
    assert catalog_query(data_dir, "SELECT COUNT(*) FROM records WHERE indexed = 0")[0][0] == records
    assert f"search index behind by {records} records" in result.stderr
    assert "Traceback" not in result.stderr, result.stderr[:2000]


def _wait_for_run_row(data_dir: Path, runs_before: int, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "the archive run ended before the node could be stopped under it"
        try:
            if catalog_query(data_dir, "SELECT COUNT(*) FROM runs")[0][0] > runs_before:
                return
        except Exception:  # noqa: BLE001 - the catalog may be mid-creation
            pass
        time.sleep(0.05)
    raise AssertionError("the archive run never started")


def test_elasticsearch_outage_catch_up_reindex_and_zero_downtime_swap(private_node: PrivateNode, simulator,
                                                                    tmp_path: Path) -> None:
    node = private_node
    alias = f"e2e-outage-{uuid.uuid4().hex[:8]}"
    data_dir = tmp_path / "archive"
    config_path = write_config(data_dir, simulator.base_url)
    text = config_path.read_text(encoding="utf-8")
    sqlite_search = '[search]\nbackend = "sqlite"\npath = "search.sqlite"\n'
    assert sqlite_search in text
    config_path.write_text(text.replace(sqlite_search, search_section(node.url, alias)), encoding="utf-8")

    # Round 1, node up: the baseline.
    first = sunshine("archive", "-c", str(config_path), "--quiet")
    assert first.returncode == 0, first.stdout + first.stderr
    versions_1 = catalog_query(data_dir, "SELECT COUNT(*) FROM versions")[0][0]
    archived_1 = {row[0] for row in catalog_query(data_dir, "SELECT record_id FROM records")}

    # Round 2: the platforms change, and the node dies once the run has started.
    simulator.advance()
    process = sunshine_popen("archive", "-c", str(config_path), "--quiet")
    _wait_for_run_row(data_dir, 1, process)
    node.kill()
    stdout, stderr = process.communicate(timeout=180)
    assert process.returncode == 0, f"a down search index must not fail the run:\n{stdout}\n{stderr}"
    stats = _run_stats(stdout)
    changed = stats["new"] + stats["edited"] + stats["hidden"] + stats["deleted"] + stats["restored"]
    assert changed > 0, "the simulator changed nothing: the outage round proves nothing"
    assert catalog_query(data_dir, "SELECT COUNT(*) FROM versions")[0][0] == versions_1 + changed
    lagging = catalog_query(data_dir, "SELECT COUNT(*) FROM records WHERE indexed = 0")[0][0]
    assert lagging >= changed - stats["restored"]
    assert f"search index behind by {lagging} records" in stderr, stderr
    # (No traceback on stderr either: test_a_down_index_is_one_warning_not_tracebacks.)
    # Against the simulator's ground truth: everything live is archived, the deletions recorded.
    status = dict(catalog_query(data_dir, "SELECT record_id, status FROM records"))
    live = {make_record_id(r.platform, r.native_id) for r in simulator.world.records()}
    assert live <= set(status), f"not archived during the outage: {sorted(live - set(status))[:3]}"
    deleted = [rid for rid in (make_record_id(*ref) for ref in simulator.world.changes[1].deleted) if rid in archived_1]
    assert deleted and all(status[rid] == "deleted" for rid in deleted)
    verify = sunshine("verify", "-c", str(config_path))
    assert verify.returncode == 0, verify.stdout + verify.stderr

    # The portal while the node is down: 503 pages naming the search index, never a traceback.
    app = create_app(config_path, settings=PORTAL_SETTINGS)
    app.testing = True
    client = app.test_client()
    health = client.get("/healthz")
    assert health.status_code == 503 and "search index" in health.get_data(as_text=True)
    assert "store" not in health.get_data(as_text=True)  # the store is fine
    some_id = catalog_query(data_dir, "SELECT record_id FROM records LIMIT 1")[0][0]
    for path, params in (("/search", {"q": "arrest"}), ("/", {}), (f"/records/{some_id}", {}),
                         ("/api/v1/search", {"q": "arrest"}), (f"/api/v1/records/{some_id}", {})):
        response = client.get(path, query_string=params)
        body = response.get_data(as_text=True)
        assert response.status_code == 503, (path, response.status_code, body[:300])
        assert response.headers.get("Retry-After")
        assert "Traceback" not in body and node.url not in body  # no internals to the public
        if not path.startswith("/api/"):
            assert "search index" in body, body[:500]

    # Round 3, node back: the run catches the index up, with nothing new to capture.
    node.start()
    third = sunshine("archive", "-c", str(config_path), "--quiet")
    assert third.returncode == 0, third.stdout + third.stderr
    assert "search index behind" not in third.stderr
    assert catalog_query(data_dir, "SELECT COUNT(*) FROM records WHERE indexed = 0")[0][0] == 0
    catalog = dict(catalog_query(data_dir, "SELECT record_id, status FROM records"))
    index = ElasticIndex(node.url, alias)
    try:
        assert index.search(SearchQuery(per_page=1)).total == len(catalog)
        for record_id, status in catalog.items():
            doc = index.get(record_id)
            assert doc is not None, f"{record_id} not in Elasticsearch after the catch-up run"
            assert doc.status == status, record_id
        assert client.get("/healthz").status_code == 200  # the same app recovers without a restart
        assert client.get("/search", query_string={"q": "arrest"}).status_code == 200

        # The index dropped: `sunshine reindex` rebuilds it from the store alone.
        drop_index(node.url, alias)
        assert index.search(SearchQuery(per_page=1)).total == 0
        rebuilt = sunshine("reindex", "-c", str(config_path))
        assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
        assert f"reindexed {len(catalog)} records" in rebuilt.stdout
        assert index.search(SearchQuery(per_page=1)).total == len(catalog)
        assert {doc.record_id: doc.status for doc in index.scan(SearchQuery())} == catalog

        _assert_reindex_keeps_answering(index, config_path, len(catalog))
    finally:
        index.close()


def _assert_reindex_keeps_answering(index: ElasticIndex, config_path: Path, records: int) -> None:
    """Searches in a loop while `sunshine reindex` runs: every one answers with every record."""
    admin = Elasticsearch(index.url)
    before = set(admin.indices.get_alias(name=index.alias))
    seen: list[tuple[int, frozenset[str]]] = []
    failures: list[str] = []
    done = threading.Event()

    def search_loop() -> None:
        probe = ElasticIndex(index.url, index.alias)
        try:
            while not done.is_set():
                try:
                    total = probe.search(SearchQuery(text="arrest OR thank OR the")).total
                    everything = probe.search(SearchQuery(per_page=1)).total
                    targets = frozenset(admin.indices.get_alias(name=index.alias))
                except Exception as exc:  # noqa: BLE001 - any failure during the swap is the finding
                    failures.append(f"{type(exc).__name__}: {exc}")
                    continue
                seen.append((everything, targets))
                if total == 0:
                    failures.append("a text search found nothing mid-reindex")
        finally:
            probe.close()

    thread = threading.Thread(target=search_loop, daemon=True)
    thread.start()
    time.sleep(0.3)  # searching before the reindex starts too
    result = sunshine("reindex", "-c", str(config_path))
    time.sleep(0.3)
    done.set()
    thread.join(timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr
    assert not failures, failures[:5]
    assert seen and all(total == records for total, _ in seen), sorted({total for total, _ in seen})
    after = set(admin.indices.get_alias(name=index.alias))
    admin.close()
    assert after != before and len(after) == 1, (before, after)  # a new index was swapped in
    targets = {name for _, names in seen for name in names}
    assert before <= targets and after <= targets, "the loop did not span the swap"
    assert all(len(names) == 1 for _, names in seen), "the alias pointed at two indices at once"
