"""`sunshine verify`: re-hash every stored object against the catalog, and the ledger against itself.

Auditors run this: it trusts nothing it has not re-hashed. Every object the catalog lists is read
back from the store (streamed, in parallel) and its sha256 compared; every version's content blob
and WARC range must exist; every WARC object must parse; the ledger's tiles, entries and signed
checkpoints are recomputed and checked, and every catalog capture must be in the log. Each problem
is named by object key or record, so damage can be found and restored from another copy.

A report that checked nothing is never OK: with no catalog (or an empty one) the store's own ledger
is checked and the report says to run `sunshine recover`; with nothing in the store either, it says
there is nothing to verify. Objects a pending disposal lists are not checked (it may have deleted
them already; the next `sunshine retention run` finishes it).

`verify_natives` (`--deep`) goes further: every version's content is re-derived from its original
WARC response with the platform's rule (`archiver.verify_deep`).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field

from archiver.catalog import Catalog
from archiver.config import Config
from archiver.disposition import pending_object_keys
from archiver.errors import StoreUnavailableError, SunshineError
from archiver.store import ObjectStore
from archiver.store.capabilities import pending_keys
from archiver.store.keys import blob_key
from archiver.store.rehash import rehash_items
from archiver.verify_deep import NativeExtractor, check_natives


@dataclass
class VerifyReport:
    objects_checked: int = 0
    bytes_checked: int = 0
    versions_checked: int = 0
    ledger_entries_checked: int = 0
    natives_checked: int = 0  # versions re-derived from their WARC response (`--deep`)
    deep: bool = False
    problems: list[str] = field(default_factory=list)
    spooled: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict:
        return {"ok": self.ok, "objects_checked": self.objects_checked, "bytes_checked": self.bytes_checked,
                "versions_checked": self.versions_checked, "ledger_entries_checked": self.ledger_entries_checked,
                "deep": self.deep, "natives_checked": self.natives_checked, "spooled": self.spooled, "problems": self.problems}


def verify_archive(config: Config, store: ObjectStore, *, workers: int = 16,
                   progress: Callable[[int], None] | None = None) -> VerifyReport:
    """Check everything; a report that checked nothing is never OK (it names why).

    A store that refuses us (no such bucket, wrong credentials) is a `SunshineError`, not a report:
    nothing can be checked. A store that is away is a problem in the report (spooled objects are
    still checked from the spool).
    """
    report = VerifyReport()
    with suppress(StoreUnavailableError):  # away: each check below names what it could not do
        store.ping()
    if not config.catalog_path.exists():
        _without_catalog(config, store, report, f"there is no catalog at {config.catalog_path}")
        return report
    catalog = Catalog(config.catalog_path)
    try:
        if catalog.count("objects") == 0 and catalog.ledger_size() == 0:
            _without_catalog(config, store, report, f"the catalog {config.catalog_path} is empty")
            return report
        # A pending disposal may have deleted some of these already; it is finished, not damage.
        disposing = pending_object_keys(catalog)
        rows = [row for row in catalog.objects() if row["key"] not in disposing]
        try:
            for done in rehash_items(store, rows, lambda row: (row["key"], row["version_id"]), workers=workers):
                _check_object(done.item, done.sha256, done.size, done.error, report)
                if progress:
                    progress(done.size)
        except StoreUnavailableError as exc:  # one problem, not one per object: the store is away
            report.problems.append(f"store unreachable, objects not all re-hashed: {exc}")
        _check_versions(catalog, report)
        for check in (_check_warcs, lambda *args: _check_ledger(config, *args)):
            try:
                check(store, catalog, report)
            except StoreUnavailableError as exc:  # an auditor gets the report, with this named in it
                report.problems.append(f"store unreachable, checks not completed: {exc}")
                break
        report.spooled = pending_keys(store)
    finally:
        catalog.close()
    return report


def verify_natives(config: Config, store: ObjectStore, extract: NativeExtractor, report: VerifyReport, *,
                   progress: Callable[[int], None] | None = None) -> None:
    """`verify --deep`: re-derive every version's content from its WARC response (`verify_deep`),
    adding what differs to `report`. Run after `verify_archive`; an archive it found nothing in
    (no catalog, or an empty one) has no versions to re-derive, and its report already says why."""
    report.deep = True
    if not config.catalog_path.exists():
        return
    catalog = Catalog(config.catalog_path)
    try:
        for result in check_natives(store, catalog, extract):
            report.natives_checked += 1
            if result.problem is not None:
                report.problems.append(result.problem)
            if progress:
                progress(1)
    except StoreUnavailableError as exc:  # one problem, not one per version: the store is away
        report.problems.append(f"store unreachable, versions not all re-derived from their WARC responses: {exc}")
    finally:
        catalog.close()


def _without_catalog(config: Config, store: ObjectStore, report: VerifyReport, why: str) -> None:
    """No catalog to check against: check what the store proves on its own (the ledger's signed
    checkpoints and tiles) and say that the objects were not checked, or that there is nothing."""
    from archiver.ledger import log as ledger_log
    from archiver.ledger.reader import LogReader
    from archiver.ledger_check import _trusted_key

    where = _describe_store(config)
    try:
        first = next(iter(store.list()), None)
    except StoreUnavailableError as exc:
        report.problems.append(f"{why}, and the store {where} is unreachable: {exc}")
        return
    if first is None:
        report.problems.append(f"nothing to verify: {why} and the store {where} holds no objects "
                               f"(check -c and the [storage] settings of {config.path})")
        return
    vkey = _trusted_key(config, store, report.problems)
    if vkey is not None and store.exists(ledger_log.CHECKPOINT_KEY):
        report.problems.extend(ledger_log.verify_log(store, vkey))
        with suppress(SunshineError, ValueError):  # verify_log has named an unreadable checkpoint
            report.ledger_entries_checked = LogReader(store).size()
    report.problems.append(f"{why}: the objects in the store {where} were not re-hashed (only its ledger, "
                           f"{report.ledger_entries_checked} entries, was checked); run `sunshine recover` to "
                           "rebuild the catalog from the store, then `sunshine verify` again")


def _describe_store(config: Config) -> str:
    storage = config.storage
    if storage.backend == "s3":
        return f"s3://{storage.bucket}/{storage.prefix}" + (f" at {storage.endpoint_url}" if storage.endpoint_url else "")
    return str(storage.path)


def _check_object(row, sha256: str | None, size: int, error: Exception | None, report: VerifyReport) -> None:
    report.objects_checked += 1
    report.bytes_checked += size
    if error is not None:
        report.problems.append(f"{row['key']}: could not be read: {error}")
    elif sha256 is None:
        report.problems.append(f"{row['key']}: missing from the store")
    elif sha256 != row["sha256"]:
        report.problems.append(f"{row['key']}: sha256 is {sha256}, catalog has {row['sha256']} (damaged)")
    elif size != row["size"]:
        report.problems.append(f"{row['key']}: size is {size}, catalog has {row['size']}")


def _check_versions(catalog: Catalog, report: VerifyReport) -> None:
    known = {row["key"] for row in catalog.objects()}
    for version in catalog.undisposed_versions():
        report.versions_checked += 1
        name = f"record {version.record_id} v{version.version}"
        if blob_key(version.content_sha256) not in known:
            report.problems.append(f"{name}: content blob not in catalog")
        if version.warc_ref.key not in known:
            report.problems.append(f"{name}: WARC {version.warc_ref.key} not in catalog")


def _check_warcs(store: ObjectStore, catalog: Catalog, report: VerifyReport) -> None:
    from warcio.archiveiterator import ArchiveIterator

    for row in catalog.objects(kind="warc"):
        try:
            with store.open(row["key"], version_id=row["version_id"]) as handle:
                for record in ArchiveIterator(handle, check_digests=True):
                    record.content_stream().read()
                    if record.digest_checker.problems:
                        report.problems.append(f"{row['key']}: WARC digest check failed: "
                                               f"{'; '.join(map(str, record.digest_checker.problems))}")
                        break
        except KeyError:
            continue  # already reported as missing
        except Exception as exc:  # noqa: BLE001
            report.problems.append(f"{row['key']}: not a readable WARC file: {exc}")


def _check_ledger(config: Config, store: ObjectStore, catalog: Catalog, report: VerifyReport) -> None:
    """The log intact, signed over everything published, and holding every capture (ledger_check)."""
    from archiver.ledger_check import check_ledger

    report.ledger_entries_checked, problems = check_ledger(config, store, catalog)
    report.problems.extend(problems)
