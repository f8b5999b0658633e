"""`/status` and `/metrics`: what residents and operators see of the archiver's runs, read from the
store's run-status document (never the catalog), bounded and with nothing secret in them."""

from __future__ import annotations

import re

import pytest
from prometheus_client.parser import text_string_to_metric_families

from archiver.canonical import canonical_json
from archiver.config import SourceConfig, load_config
from archiver.errors import StoreUnavailableError
from archiver.incremental import SourceOutcome
from archiver.run import RunResult
from archiver.run_status import RUN_STATUS_KEY, build_status
from archiver.session import RunStats
from archiver.store.local import LocalStore
from portal import create_app
from tests.e2e.conftest import demo_app, demo_archive  # noqa: F401  (fixtures)

BSKY = SourceConfig("spd-bluesky", "bluesky", "spd.bsky.social")
FB = SourceConfig("spd-facebook", "facebook", "123", token_env="SPD_FB_TOKEN")
SECRET = "EAAB-very-secret-token"


class StatusStore(LocalStore):
    """The test archive's store with a private `status/` overlay, counting reads of the document."""

    def __init__(self, root, doc: bytes | None = None, *, away: bool = False) -> None:
        super().__init__(root)
        self.doc, self.away, self.status_reads = doc, away, 0

    def get(self, key, **kwargs):
        if key == RUN_STATUS_KEY:
            self.status_reads += 1
            if self.away:
                raise StoreUnavailableError("connection refused to http://10.0.0.5:9000 with key AKIA-SECRET")
            if self.doc is None:
                raise KeyError(key)
            return self.doc
        return super().get(key, **kwargs)


def _run(run_id: str, finished: str, outcomes, failures=(), previous=None) -> dict:
    stats = RunStats(captures=40, failed=len(failures), new=5, failures=list(failures))
    result = RunResult(run_id, False, stats, 0, None, tuple(outcomes))
    return build_status(previous, result, (BSKY, FB), (BSKY, FB), records=31, finished_at=finished)


def _status_doc() -> bytes:
    good = _run("20260301T100000000000Z-aaaaaa", "2026-03-01T10:04:00Z",
                [SourceOutcome("spd-bluesky", "complete", "", 0), SourceOutcome("spd-facebook", "complete", "", 0)])
    bad = [SourceOutcome("spd-bluesky", "paused", "quota", 17),
           SourceOutcome("spd-facebook", "stopped", "renew the token in SPD_FB_TOKEN", 0)]
    failures = [("spd-facebook", f"https://graph.facebook.com/123/feed?access_token={SECRET}: HTTP 401")] * 3
    doc = _run("20260301T110000000000Z-bbbbbb", "2026-03-01T11:03:00Z", bad, failures, previous=good)
    doc["archive"]["index_lag"] = 4
    return canonical_json(doc)


def _app(archive, store):
    return create_app(load_config(archive.config_path), store=store, settings={"RATE_LIMIT_PER_MINUTE": 0})


def _metrics(client) -> dict[str, list]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    families = {family.name: family.samples for family in text_string_to_metric_families(response.get_data(as_text=True))}
    return families


def _value(families, family: str, sample: str, **labels) -> float:
    found = [s.value for s in families[family] if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items())]
    assert len(found) == 1, (family, sample, labels, families.get(family))
    return found[0]


def test_status_shows_a_paused_and_a_stopped_source_with_their_last_success(archive) -> None:
    store = StatusStore(archive.root / "store", _status_doc())
    page = _app(archive, store).test_client().get("/status")

    assert page.status_code == 200
    text = re.sub(r"\s+", " ", page.get_data(as_text=True))
    assert "spd.bsky.social" in text and "paused (a platform limit was reached)" in text
    assert "17 requests deferred to the next run" in text
    assert "stopped (the platform refused the archive" in text
    assert "2026-03-01 10:04" in text  # facebook's last complete run
    assert "3 in 1 run" in text  # failures since it
    assert "4 archived records are not searchable yet" in text
    assert SECRET not in text and "SPD_FB_TOKEN" not in text and str(archive.root) not in text


def test_metrics_parse_and_carry_the_runs_the_sources_and_the_index_lag(archive) -> None:
    store = StatusStore(archive.root / "store", _status_doc())
    client = _app(archive, store).test_client()
    families = _metrics(client)

    assert _value(families, "sunshine_run_status_available", "sunshine_run_status_available") == 1
    assert _value(families, "sunshine_archive_runs", "sunshine_archive_runs_total", status="complete") == 1
    assert _value(families, "sunshine_archive_runs", "sunshine_archive_runs_total", status="incomplete") == 1
    assert _value(families, "sunshine_archive_captures", "sunshine_archive_captures_total") == 80
    assert _value(families, "sunshine_archive_capture_failures", "sunshine_archive_capture_failures_total") == 3
    assert _value(families, "sunshine_archive_run_duration_seconds", "sunshine_archive_run_duration_seconds_count") == 2
    assert _value(families, "sunshine_archive_run_duration_seconds", "sunshine_archive_run_duration_seconds_sum") == 240 + 180
    assert _value(families, "sunshine_source_failures_since_success", "sunshine_source_failures_since_success",
                  source="spd-facebook") == 3
    assert _value(families, "sunshine_source_deferred_requests", "sunshine_source_deferred_requests",
                  source="spd-bluesky") == 17
    assert _value(families, "sunshine_source_last_run_status", "sunshine_source_last_run_status",
                  source="spd-facebook", status="stopped") == 1
    indexed = _value(families, "sunshine_index_records", "sunshine_index_records")
    assert indexed == len(archive.builder.docs)
    # the archive held 31 records at the run's end and the index holds more: the run's own lag stands
    assert _value(families, "sunshine_index_lag_records", "sunshine_index_lag_records") == 4
    body = client.get("/metrics").get_data(as_text=True)
    assert SECRET not in body and str(archive.root) not in body


def test_request_latency_counts_requests_per_route_template_not_per_url(archive) -> None:
    client = _app(archive, StatusStore(archive.root / "store")).test_client()
    before = _metrics(client)["sunshine_portal_request_duration_seconds"]
    assert not [s for s in before if s.labels.get("route") == "/search"]

    for query in ("parade", "bulletin", "<script>"):
        assert client.get("/search", query_string={"q": query}).status_code == 200
    for record in archive.builder.docs[:5]:
        client.get(f"/records/{record.record_id}")
    for number in range(7):
        assert client.get(f"/no-such-page-{number}?token=x").status_code == 404
    families = _metrics(client)["sunshine_portal_request_duration_seconds"]

    def count(route: str, code: str) -> float:
        return _value({"f": families}, "f", "sunshine_portal_request_duration_seconds_count", route=route,
                      method="GET", code=code)
    assert count("/search", "200") == 3
    assert count("/records/<record_id>", "200") == 5
    assert count("(unmatched)", "404") == 7
    buckets = [s for s in families if s.name.endswith("_bucket") and s.labels["route"] == "/search"]
    assert buckets[-1].labels["le"] == "+Inf" and buckets[-1].value == 3
    assert not any("no-such-page" in str(s.labels) or "parade" in str(s.labels) for s in families)
    assert count("/metrics", "200") >= 1  # the scrape before is counted too


def test_both_routes_read_the_document_once_per_interval_and_ignore_query_strings(archive) -> None:
    store = StatusStore(archive.root / "store", _status_doc())
    client = _app(archive, store).test_client()
    plain = client.get("/status").get_data()

    for hostile in ("?format=json&x=<script>alert(1)</script>", "?path=../../etc/passwd", "?q=" + "a" * 5000,
                    "?refresh=1&nocache=1", "?%ff%fe=%00"):
        assert client.get("/status" + hostile).get_data() == plain
        assert client.get("/metrics" + hostile).status_code == 200
    assert store.status_reads == 1


def test_before_the_first_run_status_says_so_and_metrics_still_answer(archive) -> None:
    client = _app(archive, StatusStore(archive.root / "store")).test_client()

    page = client.get("/status")
    assert page.status_code == 200 and "No archiving run has finished yet" in page.get_data(as_text=True)
    assert _value(_metrics(client), "sunshine_run_status_available", "sunshine_run_status_available") == 0


def test_with_the_store_down_status_is_503_without_detail_and_metrics_say_unavailable(archive) -> None:
    client = _app(archive, StatusStore(archive.root / "store", away=True)).test_client()

    page = client.get("/status")
    text = page.get_data(as_text=True)
    assert page.status_code == 503 and "object store is not answering" in text
    assert "10.0.0.5" not in text and "AKIA" not in text
    metrics = client.get("/metrics")
    assert metrics.status_code == 200 and "10.0.0.5" not in metrics.get_data(as_text=True)
    assert _value(_metrics(client), "sunshine_run_status_available", "sunshine_run_status_available") == 0


def test_a_damaged_document_is_a_503_page_not_a_traceback(archive) -> None:
    client = _app(archive, StatusStore(archive.root / "store", b'{"format": "sunshine-run-status/1", "sources": 5')).test_client()

    page = client.get("/status")
    assert page.status_code == 503 and "could not be read" in page.get_data(as_text=True)
    assert "Traceback" not in page.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/status", "/metrics"])
def test_writes_are_refused(client, path: str) -> None:
    assert client.post(path).status_code == 405


def test_a_demo_archive_publishes_its_runs_for_status_and_metrics(demo_app, demo_archive) -> None:  # noqa: F811
    client = demo_app.test_client()
    config = load_config(demo_archive.config)

    page = client.get("/status")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    for source in config.sources:
        assert source.account in text
    assert "never" not in text  # every demo source completed a run
    assert str(demo_archive.data_dir) not in text and "token" not in text.lower()
    families = _metrics(client)
    runs = sum(s.value for s in families["sunshine_archive_runs"] if s.name == "sunshine_archive_runs_total")
    assert runs >= 2  # the demo's rounds
    assert _value(families, "sunshine_index_lag_records", "sunshine_index_lag_records") == 0
    checkpoint = _value(families, "sunshine_ledger_checkpoint_size", "sunshine_ledger_checkpoint_size")
    assert checkpoint > 0 and f"{int(checkpoint):,} entries" in text
    for source in config.sources:
        assert _value(families, "sunshine_source_last_success_timestamp_seconds",
                      "sunshine_source_last_success_timestamp_seconds", source=source.name) > 0
