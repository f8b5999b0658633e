"""The operators' area: `/status` for residents, `/metrics` for Prometheus (DESIGN §5).

Both read the run-status document the archiver replaces at the end of each run
(`archiver.run_status`, `status/runs.json`) and the latest signed checkpoint, from the store; the
catalog is never opened. The two objects are fetched at most once per `STATUS_TTL_SECONDS` per
process (with the read model's record count), so a flood of requests costs no more store reads
than one. Query strings are ignored: neither page takes a parameter.

`/metrics` also carries the portal's own request latency (`portal.metrics.RequestLatency`), timed
from the first `before_request` hook to the last `after_request` one. It answers even when the
store is down (`sunshine_run_status_available 0`), since that is when operators need it.

Endpoints: `ops.status`, `ops.metrics`.
"""

from __future__ import annotations

import threading
import time
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, render_template, request
from flask.sansio.blueprints import BlueprintSetupState

from archiver.errors import SunshineError
from archiver.ledger.note import NoteError, peek_checkpoint
from archiver.run_status import read_status
from portal.backends import BackendDown, index, store
from portal.metrics import CONTENT_TYPE, Family, Labels, RequestLatency, Sample, counter, gauge, render

bp = Blueprint("ops", __name__)

STATUS_TTL_SECONDS = 15.0
_SNAPSHOT_LOCK = threading.Lock()


@dataclass(frozen=True)
class Snapshot:
    """What `/status` and `/metrics` show, as read at `read_at` (monotonic seconds)."""

    doc: dict[str, Any] | None  # None before the first run, or when it could not be read
    problem: str | None  # why it could not be read (public wording: names the part, no detail)
    checkpoint_size: int | None
    indexed: int | None  # records in the read model now
    read_at: float


@bp.record_once
def _install(state: BlueprintSetupState) -> None:
    app: Flask = state.app
    app.extensions["sunshine.latency"] = RequestLatency()
    # First of all hooks, so a request the rate limiter refuses is timed too.
    app.before_request_funcs.setdefault(None, []).insert(0, _start_timer)
    app.after_request_funcs.setdefault(None, []).append(_observe)


def _start_timer() -> None:
    g.sunshine_started = time.perf_counter()


def _observe(response: Response) -> Response:
    started = g.get("sunshine_started")
    if started is not None:
        rule = request.url_rule.rule if request.url_rule is not None else None
        current_app.extensions["sunshine.latency"].observe(rule, request.method, response.status_code,
                                                           time.perf_counter() - started)
    return response


def snapshot() -> Snapshot:
    """The cached snapshot, read again once it is `STATUS_TTL_SECONDS` old."""
    found: Snapshot | None = current_app.extensions.get("sunshine.ops_snapshot")
    now = time.monotonic()
    if found is not None and now - found.read_at < STATUS_TTL_SECONDS:
        return found
    with _SNAPSHOT_LOCK:
        found = current_app.extensions.get("sunshine.ops_snapshot")
        if found is None or now - found.read_at >= STATUS_TTL_SECONDS:
            found = current_app.extensions["sunshine.ops_snapshot"] = _read(now)
    return found


def _read(now: float) -> Snapshot:
    from portal.ledger import reader

    doc, problem, size, indexed = None, None, None, None
    try:
        doc = read_status(store())
        text = reader().read_checkpoint()
        size = peek_checkpoint(text).size if text else None
    except BackendDown as exc:
        problem = f"the {exc.part} is not answering"
    except (SunshineError, NoteError):  # a damaged document or checkpoint: say so, show no detail
        problem = "the archive's status document could not be read"
    with suppress(BackendDown):
        indexed = sum(index().counts().values())
    return Snapshot(doc, problem, size, indexed, now)


@bp.get("/status")
def status() -> Response:
    snap = snapshot()
    doc = snap.doc or {}
    body = render_template("status.html", doc=doc, sources=doc.get("sources") or [], problem=snap.problem,
                           last_run=doc.get("last_run"), checkpoint=doc.get("checkpoint"),
                           live_size=snap.checkpoint_size, index_lag=_index_lag(snap))
    return Response(body, status=503 if snap.problem else 200, mimetype="text/html",
                    headers={"Cache-Control": "no-store" if snap.problem else "public, max-age=15"})


def _index_lag(snap: Snapshot) -> int | None:
    """Records the read model lacked at the last run's end, or lacks now if more (a lost index)."""
    archive = (snap.doc or {}).get("archive") or {}
    lag, records = archive.get("index_lag"), archive.get("records")
    if not isinstance(lag, int):
        return None
    if isinstance(records, int) and snap.indexed is not None:
        return max(lag, records - snap.indexed)
    return lag


@bp.get("/metrics")
def metrics() -> Response:
    snap = snapshot()
    families = [*_archive_families(snap), current_app.extensions["sunshine.latency"].family()]
    return Response(render(families), content_type=CONTENT_TYPE, headers={"Cache-Control": "no-store"})


def _epoch(stamp: Any) -> float | None:
    if not isinstance(stamp, str):
        return None
    try:
        return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _archive_families(snap: Snapshot) -> list[Family]:
    doc = snap.doc or {}
    families = [gauge("sunshine_run_status_available", "1 if the archiver's run-status document was read "
                      "from the store, else 0 (no run yet, store down or document damaged).",
                      1 if snap.doc is not None else 0)]
    if snap.indexed is not None:
        families.append(gauge("sunshine_index_records", "Records in the search read model now.", snap.indexed))
    if snap.checkpoint_size is not None:
        families.append(gauge("sunshine_ledger_checkpoint_size", "Entries in the latest signed ledger checkpoint.",
                              snap.checkpoint_size))
    if snap.doc is None:
        return families
    totals = doc.get("totals") or {}
    by_status = totals.get("runs_by_status") or {}
    families.append(counter("sunshine_archive_runs", "Archive runs, by how they ended.",
                            {(("status", str(name)),): value for name, value in sorted(by_status.items())
                             if _num(value) is not None}))
    for name, key, help_text in (("sunshine_archive_captures", "captures", "HTTP exchanges captured by archive runs."),
                                 ("sunshine_archive_capture_failures", "failed", "Captures that failed."),
                                 ("sunshine_archive_versions_added", "versions_added",
                                  "Record versions added (new, edited, hidden, deleted, restored).")):
        if _num(totals.get(key)) is not None:
            families.append(counter(name, help_text, _num(totals.get(key))))
    if _num(totals.get("runs")) is not None and _num(totals.get("duration_seconds")) is not None:
        families.append(Family("sunshine_archive_run_duration_seconds", "summary",
                               "Wall time of archive runs, from first start to finish.", (
                                   _sample("_sum", totals["duration_seconds"]), _sample("_count", totals["runs"]))))
    last = doc.get("last_run") or {}
    archive = doc.get("archive") or {}
    for name, value, help_text in (
            ("sunshine_archive_last_run_duration_seconds", _num(last.get("duration_seconds")),
             "Wall time of the last archive run."),
            ("sunshine_archive_last_run_timestamp_seconds", _epoch(last.get("finished_at")),
             "When the last archive run finished (Unix time)."),
            ("sunshine_archive_last_run_failures", _num(last.get("failed")), "Failed captures of the last run."),
            ("sunshine_archive_records", _num(archive.get("records")), "Records the archive held at the last run's end."),
            ("sunshine_index_lag_records", _index_lag(snap),
             "Records the search read model lacks: those the last run could not index, or more if the index "
             "now holds fewer than the archive did.")):
        if value is not None:
            families.append(gauge(name, help_text, value))
    families.extend(_source_families(doc.get("sources") or []))
    return families


def _sample(suffix: str, value: float) -> Sample:
    return Sample(suffix, (), float(value))


def _source_families(sources: list[Any]) -> list[Family]:
    success: dict[Labels, float] = {}
    failures: dict[Labels, float] = {}
    runs: dict[Labels, float] = {}
    deferred: dict[Labels, float] = {}
    state: dict[Labels, float] = {}
    for entry in sources:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            continue
        labels: Labels = (("source", entry["name"]),)
        when = _epoch((entry.get("last_success") or {}).get("finished_at"))
        if when is not None:
            success[labels] = when
        failures[labels] = _num(entry.get("failures_since_success")) or 0
        runs[labels] = _num(entry.get("runs_since_success")) or 0
        last = entry.get("last_run") or {}
        deferred[labels] = _num(last.get("deferred")) or 0
        for word in ("complete", "incomplete", "paused", "stopped"):
            state[(*labels, ("status", word))] = 1 if last.get("status") == word else 0
    return [
        gauge("sunshine_source_last_success_timestamp_seconds",
              "When each source last completed a run (Unix time).", success),
        gauge("sunshine_source_failures_since_success", "Failed captures of each source since its last complete run.",
              failures),
        gauge("sunshine_source_runs_since_success", "Runs of each source since its last complete one.", runs),
        gauge("sunshine_source_deferred_requests", "Requests each source's last run deferred (a budget ran out).",
              deferred),
        gauge("sunshine_source_last_run_status", "1 for how each source's last run ended.", state),
    ]
