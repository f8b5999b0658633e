"""The run-status document: what the archiver last did, published into the store for the portal.

The portal never opens the catalog (several portal hosts may serve one archive), yet residents are
owed `/status` (for each source: its last successful run, failures since, what was deferred) and
operators `/metrics` (captures, failures, run durations, index lag). So each `sunshine archive` run
ends by replacing one small object, `status/runs.json`, canonical JSON (docs/archive-format.md,
"Run status"). It is cumulative: each run folds itself into the previous document, so the history
it needs (the last success, failures since, totals for counters) never requires a scan of the
catalog's run table, and a portal reads one object however old the archive is.

It is public by design: it carries counts, times, run ids, source names and the ledger checkpoint,
never a failure's text (a URL can carry an access token in its query string), a configured path or
an environment variable's value. It is not part of the record: not logged in the ledger, left out
of `recover`'s object table (it is replaced each run, so a recorded hash would go stale).
"""

from __future__ import annotations

import base64
import json
import logging
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Protocol

from archiver.canonical import canonical_json
from archiver.clock import utc_now
from archiver.config import Config, SourceConfig
from archiver.errors import StoreUnavailableError, SunshineError
from archiver.ledger.note import NoteError, peek_checkpoint
from archiver.store import ObjectStore


# The portal imports this module to read the document, and may not reach the catalog (import-linter
# contract), so the run's result and the catalog come in through what is used of them.
class RunResult(Protocol):
    """What `archiver.run.RunResult` offers (its `ok`, `paused` and `stopped` decide the status)."""

    run_id: str
    resumed: bool
    stats: Any  # archiver.session.RunStats
    spooled: int
    checkpoint: str | None
    sources: tuple[Any, ...]  # archiver.incremental.SourceOutcome

    @property
    def ok(self) -> bool: ...

    @property
    def paused(self) -> list[Any]: ...

    @property
    def stopped(self) -> list[Any]: ...


class RecordCounter(Protocol):
    def count(self, table: str) -> int: ...

log = logging.getLogger(__name__)

STATUS_PREFIX = "status/"
RUN_STATUS_KEY = STATUS_PREFIX + "runs.json"
FORMAT = "sunshine-run-status/1"
MAX_STATUS_BYTES = 1 << 20  # a reader refuses more: the document is a few KB per source
RUN_STATUSES = ("complete", "paused", "incomplete")
SOURCE_STATUSES = ("complete", "incomplete", "paused", "stopped")


def run_status_word(result: RunResult) -> str:
    """The run's status as the catalog records it (and as `RunResult.exit_status` reads it)."""
    if not result.ok or result.stopped:
        return "incomplete"
    return "paused" if result.paused else "complete"


def run_started(run_id: str) -> datetime | None:
    """When a run first started: its id begins with that time (`clock.new_run_id`)."""
    try:
        return datetime.strptime(run_id.split("-", 1)[0], "%Y%m%dT%H%M%S%fZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _checkpoint_fields(text: str | None) -> dict[str, Any] | None:
    """Origin, size and root (base64, as in the note) of a checkpoint this log signed itself."""
    if not text:
        return None
    try:
        checkpoint = peek_checkpoint(text)
    except NoteError:
        return None
    return {"origin": checkpoint.origin, "size": checkpoint.size,
            "root": base64.b64encode(checkpoint.root).decode("ascii")}


def build_status(previous: dict[str, Any] | None, result: RunResult, sources: Iterable[SourceConfig],
                 configured: Iterable[SourceConfig], *, records: int, finished_at: str) -> dict[str, Any]:
    """The new document: `previous` (or nothing) with `result` folded in. Pure, for the tests.

    `sources` are the ones this run crawled; `configured` all the config names (a source no longer
    configured is dropped, one never run yet is listed without runs).
    """
    previous = previous or {}
    stats = result.stats
    status = run_status_word(result)
    started = run_started(result.run_id)
    finished = datetime.strptime(finished_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    duration = max(0.0, (finished - started).total_seconds()) if started else 0.0
    failed_by_source = Counter(source for source, _text in stats.failures)
    outcomes = {outcome.source: outcome for outcome in result.sources}
    crawled = {source.name for source in sources}
    old_sources = {entry.get("name"): entry for entry in previous.get("sources", []) if isinstance(entry, dict)}
    entries = []
    for source in sorted(configured, key=lambda item: item.name):
        entry = _source_entry(old_sources.get(source.name), source)
        if source.name in crawled:
            outcome = outcomes.get(source.name)
            failed = failed_by_source.get(source.name, 0)
            if outcome is not None:
                source_status, deferred = outcome.status, outcome.deferred
            else:  # a crawl that reports no outcomes: judge by its failures
                source_status, deferred = ("complete" if failed == 0 and result.ok else "incomplete"), 0
            entry["last_run"] = {"run_id": result.run_id, "finished_at": finished_at, "status": source_status,
                                 "failed": failed, "deferred": deferred}
            if source_status == "complete":
                entry["last_success"] = {"run_id": result.run_id, "finished_at": finished_at}
                entry["runs_since_success"] = entry["failures_since_success"] = 0
            else:
                entry["runs_since_success"] += 1
                entry["failures_since_success"] += failed
        entries.append(entry)
    totals = _totals(previous.get("totals"))
    totals["runs"] += 1
    totals["captures"] += stats.captures
    totals["failed"] += stats.failed
    totals["versions_added"] += stats.versions_added()
    totals["duration_seconds"] = round(totals["duration_seconds"] + duration, 3)
    totals["runs_by_status"][status] = totals["runs_by_status"].get(status, 0) + 1
    checkpoint = _checkpoint_fields(result.checkpoint) or previous.get("checkpoint")
    return {
        "format": FORMAT,
        "updated_at": finished_at,
        "last_run": {
            "run_id": result.run_id, "resumed": result.resumed, "status": status,
            "started_at": _stamp(started) if started else None, "finished_at": finished_at,
            "duration_seconds": round(duration, 3),
            "captures": stats.captures, "failed": stats.failed, "records_seen": stats.records_seen,
            "new": stats.new, "edited": stats.edited, "hidden": stats.hidden, "deleted": stats.deleted,
            "restored": stats.restored, "unchanged": stats.unchanged, "spooled": result.spooled,
        },
        # records the catalog held at the run's end, and how many of them the read model still lacked
        "archive": {"records": records, "index_lag": stats.index_lagging},
        "checkpoint": checkpoint,
        "totals": totals,
        "sources": entries,
    }


def _source_entry(old: dict[str, Any] | None, source: SourceConfig) -> dict[str, Any]:
    old = old or {}
    return {"name": source.name, "platform": source.platform, "account": source.account,
            "last_run": old.get("last_run"), "last_success": old.get("last_success"),
            "runs_since_success": _count(old.get("runs_since_success")),
            "failures_since_success": _count(old.get("failures_since_success"))}


def _totals(old: Any) -> dict[str, Any]:
    old = old if isinstance(old, dict) else {}
    by_status = old.get("runs_by_status")
    return {"runs": _count(old.get("runs")), "captures": _count(old.get("captures")),
            "failed": _count(old.get("failed")), "versions_added": _count(old.get("versions_added")),
            "duration_seconds": float(old.get("duration_seconds") or 0.0)
            if isinstance(old.get("duration_seconds"), (int, float)) else 0.0,
            "runs_by_status": {key: _count(value) for key, value in by_status.items()
                               if key in RUN_STATUSES} if isinstance(by_status, dict) else {}}


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def parse_status(data: bytes) -> dict[str, Any]:
    """The document from its bytes; `SunshineError` naming the key if it is not one."""
    if len(data) > MAX_STATUS_BYTES:
        raise SunshineError(f"{RUN_STATUS_KEY}: {len(data)} bytes, more than the {MAX_STATUS_BYTES} allowed")
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, ValueError) as exc:
        raise SunshineError(f"{RUN_STATUS_KEY}: not JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise SunshineError(f"{RUN_STATUS_KEY}: not a {FORMAT} document")
    return doc


def read_status(store: ObjectStore) -> dict[str, Any] | None:
    """The published document, or None before the first run. Store failures pass through."""
    try:
        data = store.get(RUN_STATUS_KEY)
    except KeyError:
        return None
    return parse_status(data)


def publish_run_status(store: ObjectStore, config: Config, catalog: RecordCounter, result: RunResult,
                       sources: Iterable[SourceConfig], *, now: str | None = None) -> dict[str, Any] | None:
    """Fold `result` into `status/runs.json` and replace it; the new document, or None if not written.

    Never fails the run: the captures are safe whatever happens here. With the store away the
    previous document cannot be read, and writing a fresh one would reset the history, so nothing is
    written (the next run folds itself into the old one). A damaged document is started afresh.
    """
    try:
        try:
            previous = read_status(store)
        except StoreUnavailableError:
            raise
        except SunshineError as exc:
            log.warning("%s; starting it afresh", exc)
            previous = None
        doc = build_status(previous, result, sources, config.sources, records=catalog.count("records"),
                           finished_at=now or utc_now())
        store.put(RUN_STATUS_KEY, canonical_json(doc), replace=True)
    except SunshineError as exc:
        log.warning("run status not published (%s); the next run publishes it", exc)
        return None
    return doc

