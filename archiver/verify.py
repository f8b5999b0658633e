"""`sunshine verify`: re-hash every stored object against the catalog, and the ledger against itself.

Auditors run this: it trusts nothing it has not re-hashed. Every object the catalog lists is read
back from the store (streamed, in parallel) and its sha256 compared; every version's content blob
and WARC range must exist; every WARC object must parse; the ledger's tiles, entries and signed
checkpoints are recomputed and checked, and every catalog capture must be in the log. Each problem
is named by object key or record, so damage can be found and restored from another copy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from archiver.catalog import Catalog
from archiver.config import Config
from archiver.errors import StoreUnavailableError
from archiver.store import ObjectStore
from archiver.store.capabilities import pending_keys
from archiver.store.keys import blob_key
from archiver.store.rehash import rehash_items


@dataclass
class VerifyReport:
    objects_checked: int = 0
    bytes_checked: int = 0
    versions_checked: int = 0
    ledger_entries_checked: int = 0
    problems: list[str] = field(default_factory=list)
    spooled: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict:
        return {"ok": self.ok, "objects_checked": self.objects_checked, "bytes_checked": self.bytes_checked,
                "versions_checked": self.versions_checked, "ledger_entries_checked": self.ledger_entries_checked,
                "spooled": self.spooled, "problems": self.problems}


def verify_archive(config: Config, store: ObjectStore, *, workers: int = 16,
                   progress: Callable[[int], None] | None = None) -> VerifyReport:
    report = VerifyReport()
    catalog = Catalog(config.catalog_path)
    try:
        rows = list(catalog.objects())
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
    for row in catalog.db.execute("SELECT record_id, version, content_sha256, warc_key FROM versions"
                                  " WHERE record_id NOT IN (SELECT record_id FROM disposed)"):
        report.versions_checked += 1
        if blob_key(row["content_sha256"]) not in known:
            report.problems.append(f"record {row['record_id']} v{row['version']}: content blob not in catalog")
        if row["warc_key"] not in known:
            report.problems.append(f"record {row['record_id']} v{row['version']}: WARC {row['warc_key']} not in catalog")


def _check_warcs(store: ObjectStore, catalog: Catalog, report: VerifyReport) -> None:
    from warcio.archiveiterator import ArchiveIterator

    for row in catalog.db.execute("SELECT key, version_id FROM objects WHERE kind = 'warc' ORDER BY key"):
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
