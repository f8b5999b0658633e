"""`sunshine archive`: one archiving run of all (or one) configured sources.

The run is the core's: it opens the catalog and the store, resumes an interrupted run, publishes
what an outage left behind, hands one `ArchiveSession` to the crawler it is given (the Scrapy
spiders, wired in `archiver.cli.wiring`, so the core imports no edge) and signs the checkpoint. A run that was interrupted (crash, SIGKILL) is resumed
under the same run id: threads already captured in it are skipped, everything else is fetched
again and deduplicated against the catalog, so nothing is lost and nothing is stored twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from archiver.catalog import Catalog
from archiver.clock import new_run_id, utc_now
from archiver.config import Config, SourceConfig
from archiver.errors import StoreUnavailableError, SunshineError
from archiver.incremental import SourceOutcome
from archiver.publish import LedgerPublisher
from archiver.retention import retention_period
from archiver.run_status import publish_run_status
from archiver.session import ArchiveSession, RunStats
from archiver.store import ObjectStore, open_store
from archiver.store.capabilities import Spooled, pending_keys
from archiver.store.spool import DrainError

log = logging.getLogger(__name__)


# `sunshine archive` exit statuses: 0 every source complete and every capture stored and verified;
# 1 a capture failed or is still spooled, or a source stopped because its credentials were refused
# (its summary line names the variable to renew); EXIT_PAUSED when nothing failed but a source paused
# on a spent budget (the next run resumes).
EXIT_OK, EXIT_FAILED, EXIT_PAUSED = 0, 1, 3


@dataclass(frozen=True)
class RunResult:
    run_id: str
    resumed: bool
    stats: RunStats
    spooled: int
    checkpoint: str | None
    sources: tuple[SourceOutcome, ...] = ()

    @property
    def ok(self) -> bool:
        """Exit 0 only if every capture was stored and verified (DESIGN §3)."""
        return self.stats.failed == 0 and self.spooled == 0

    @property
    def paused(self) -> list[SourceOutcome]:
        return [outcome for outcome in self.sources if outcome.status == "paused"]

    @property
    def stopped(self) -> list[SourceOutcome]:
        return [outcome for outcome in self.sources if outcome.status == "stopped"]

    @property
    def exit_status(self) -> int:
        if not self.ok or self.stopped:
            return EXIT_FAILED
        return EXIT_PAUSED if self.paused else EXIT_OK


def open_archive_store(config: Config) -> ObjectStore:
    """The store the config selects; S3 writes go through the local spool so an outage loses nothing."""
    store = open_store(config.storage)
    if config.storage.backend == "s3":
        from archiver.store.spool import SpoolingStore

        return SpoolingStore(store, config.storage.spool_path)
    return store


def _store_reachable(config: Config, store: ObjectStore) -> bool:
    """Check the store before a run; an unreachable S3 is not fatal (captures spool locally)."""
    if config.storage.backend != "s3":
        store.ping()
        return True
    try:
        prepare_store(config)
    except StoreUnavailableError as exc:
        log.warning("S3 is unreachable (%s); this run's captures will be kept in the local spool %s",
                    exc, config.storage.spool_path)
        return False
    return True


def prepare_store(config: Config) -> None:
    """Create the S3 bucket (with Object Lock when configured) if it does not exist yet."""
    if config.storage.backend == "s3":
        open_store(config.storage).ensure_bucket(config.storage.object_lock)


def select_sources(config: Config, name: str | None) -> tuple[SourceConfig, ...]:
    if name is None:
        if not config.sources:
            raise SunshineError(f"{config.path}: no [[sources]] configured; nothing to archive")
        return config.sources
    for source in config.sources:
        if source.name == name:
            return (source,)
    names = ", ".join(source.name for source in config.sources) or "none"
    raise SunshineError(f"no source named {name!r} in {config.path} (configured: {names})")


# Crawls `sources` into the session; the catalog answers what is known and what this run has done.
# Returns how each source ended (complete, incomplete, paused, stopped).
Crawl = Callable[[ArchiveSession, Catalog, tuple[SourceConfig, ...], str], list[SourceOutcome] | None]


def run_archive(config: Config, crawl: Crawl, index, source_name: str | None = None,
                progress: Callable[[int], None] | None = None) -> RunResult:
    """One run into `index` (a search index, closed at the end); `crawl` fetches the sources."""
    sources = select_sources(config, source_name)
    catalog = Catalog(config.catalog_path)
    try:
        store = open_archive_store(config)
        if _store_reachable(config, store):
            spool_drained, _still_spooled = drain_spool(store, catalog)
        else:
            spool_drained = 0
        ledger = LedgerPublisher(catalog, store, config)
        resumed_run = catalog.unfinished_run()
        run_id = resumed_run or new_run_id()
        catalog.start_run(run_id, utc_now())
        session = ArchiveSession(
            catalog, store, run_id, index=index, ledger=ledger, progress=progress,
            retain_days=lambda platform, kind: retention_period(config.storage, platform, kind).days,
        )
        session.publish_ledger()  # what a crash or an outage left unpublished
        session.update_index()  # what an index outage left behind
        outcomes = tuple(crawl(session, catalog, sources, run_id) or ())
        stats = session.close()
        if session.fatal is not None:
            raise SunshineError(f"archive run {run_id} stopped: {session.fatal}") from session.fatal
        checkpoint = _checkpoint(ledger)
        spooled = len(pending_keys(store))
        status = "complete" if stats.failed == 0 and spooled == 0 else "incomplete"
        if any(outcome.status == "stopped" for outcome in outcomes):
            status = "incomplete"
        if status == "complete" and any(outcome.status == "paused" for outcome in outcomes):
            status = "paused"
        catalog.finish_run(run_id, utc_now(), status, stats.as_dict() | {
            "spool_drained": spool_drained,
            "sources": {outcome.source: {"status": outcome.status, "detail": outcome.detail,
                                         "deferred": outcome.deferred} for outcome in outcomes}})
        index.close()
        result = RunResult(run_id, resumed_run is not None, stats, spooled, checkpoint, outcomes)
        publish_run_status(store, config, catalog, result, sources)  # for the portal's /status, /metrics
        return result
    finally:
        catalog.close()


def _checkpoint(ledger: LedgerPublisher) -> str | None:
    """Sign this run's checkpoint; with the store away it is signed by the next run (or `sync`).

    First, if this run's captures had to go to the spool and the store is back by now, they are
    uploaded: a store that returns seconds before the run ends leaves nothing waiting.
    """
    if pending_keys(ledger.store) and _reachable(ledger.store):
        _drain(ledger.store, ledger.catalog, warn=True)
    try:
        return ledger.checkpoint()
    except StoreUnavailableError as exc:
        log.warning("ledger checkpoint not published, the store is unreachable (%s); the next run "
                    "or `sunshine sync` signs it", exc)
        return None


def _reachable(store: ObjectStore) -> bool:
    try:
        store.ping()
    except StoreUnavailableError:
        return False
    return True


@dataclass(frozen=True)
class Drained:
    uploaded: int
    pending: list[str]  # keys still spooled, and a sentence for each entry that cannot be read
    problem: str | None  # what could not be uploaded for good, and why


def drain_spool(store: ObjectStore, catalog: Catalog) -> tuple[int, int]:
    """Upload what an S3 outage left spooled (see `_drain`); (uploaded, still pending)."""
    drained = _drain(store, catalog, warn=True)
    return drained.uploaded, len(drained.pending)


def _drain(store: ObjectStore, catalog: Catalog, *, warn: bool = False) -> Drained:
    """Upload what an S3 outage left spooled and record the version ids S3 gave those objects.

    Only the objects table learns them (verify reads exactly that version); a version row keeps the
    store version id it was logged with, since its ledger entry, already logged, cannot change.
    An object refused for good (damaged or unreadable in the spool) does not stop the rest; it stays
    pending and is named, so the run still exits non-zero.
    """
    if not isinstance(store, Spooled):
        return Drained(0, [], None)
    problem = None
    try:
        uploaded, pending = store.drain()
    except DrainError as exc:
        (uploaded, pending), problem = exc.result, str(exc)
        if warn:
            log.warning("%s", problem)
    if uploaded:
        catalog.set_version_ids([(result.key, result.version_id) for result in uploaded])
    return Drained(len(uploaded), pending, problem)


@dataclass(frozen=True)
class SyncResult:
    drained: Drained
    published: int  # ledger entries published now
    checkpoint: str | None  # the checkpoint signed now; None if the store is still away
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.drained.pending and not self.problems


def finish_deferred(config: Config, store: ObjectStore) -> SyncResult:
    """`sunshine sync`: everything an outage made a run defer, without another run.

    Uploads the spool (recording version ids), publishes the ledger entries not yet published and
    signs the checkpoint the run had to skip, so `verify` and `/ledger/checkpoint` are whole again.
    """
    catalog = Catalog(config.catalog_path)
    try:
        drained = _drain(store, catalog)
        problems = [drained.problem] if drained.problem else []
        if not _reachable(store):
            problems.append("the store is still unreachable; the ledger checkpoint was not signed")
            return SyncResult(drained, 0, None, problems)
        if catalog.ledger_size() == 0:
            return SyncResult(drained, 0, None, problems)
        unpublished = len(catalog.unpublished_ledger()[1])
        try:
            checkpoint = LedgerPublisher(catalog, store, config).checkpoint()
        except StoreUnavailableError as exc:
            return SyncResult(drained, 0, None, [*problems, f"ledger checkpoint not signed: {exc}"])
        return SyncResult(drained, unpublished, checkpoint, problems)
    finally:
        catalog.close()
