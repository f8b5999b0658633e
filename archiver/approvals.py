"""Disposition runs a records manager approves (the clerk pages' retention area).

A disposition is two steps. A dry run (`propose`, any clerk) lists the records due now, none on
hold, and keeps that list with its SHA-256 as a proposal. A records manager who approves it runs the
disposal of exactly that list (`archiver.disposition.run_retention(only=...)`): a record that became
due since is not touched, and if any listed record is no longer due (a hold or a records request
now covers it, or it was disposed of meanwhile) the approval is refused as stale and nothing is
disposed, so what runs is always what the manager saw. The certificates the disposal writes to the
store (`dispositions/…`) name the approver, the proposal and who made the dry run. Each step is in
the audit trail and the ledger (`archiver.users.record_action`).
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from archiver.canonical import canonical_json, sha256_hex
from archiver.catalog import ApprovalRow, Catalog
from archiver.clock import utc_now
from archiver.config import StorageConfig
from archiver.disposition import DispositionReport, LogEvent, due_records, run_retention
from archiver.errors import SunshineError
from archiver.store import ObjectStore
from archiver.users import record_action


def propose(catalog: Catalog, storage: StorageConfig, by: str, *, client: str | None = None,
            now: datetime | None = None) -> ApprovalRow:
    """A dry run kept as a proposal: the records due now (none on hold), awaiting a records manager."""
    due, held = due_records(catalog, storage, now or datetime.now(UTC))
    digest = sha256_hex(canonical_json(due))
    at = utc_now()
    approval_id = "disp-" + at.replace(":", "").replace("-", "") + "-" + secrets.token_hex(3)
    with catalog.transaction() as tx:
        catalog.add_approval(tx, approval_id, at, by, due, digest)
        record_action(catalog, tx, by, "retention.propose",
                      {"approval": approval_id, "records": len(due), "records_sha256": digest, "held": held},
                      client=client, at=at)
    return _open(catalog, approval_id)


def _open(catalog: Catalog, approval_id: str) -> ApprovalRow:
    approval = catalog.approval(approval_id)
    if approval is None:
        raise SunshineError(f"no disposition run {approval_id!r}")
    if approval.status != "proposed":
        raise SunshineError(f"disposition run {approval_id} is already {approval.status}")
    return approval


def reject(catalog: Catalog, approval_id: str, by: str, *, client: str | None = None) -> None:
    """A records manager declines a proposal; nothing is disposed."""
    _open(catalog, approval_id)
    at = utc_now()
    with catalog.transaction() as tx:
        if not catalog.decide_approval(tx, approval_id, "rejected", at, by):
            raise SunshineError(f"disposition run {approval_id} was decided meanwhile")
        record_action(catalog, tx, by, "retention.reject", {"approval": approval_id}, client=client, at=at)


def approve(catalog: Catalog, store: ObjectStore, storage: StorageConfig, approval_id: str, by: str, *,
            client: str | None = None, now: datetime | None = None,
            log_event: LogEvent | None = None) -> DispositionReport:
    """Dispose of exactly the approved list; the report (certificates, refusals by Object Lock).

    `SunshineError`, nothing disposed and the proposal marked stale, if a listed record is no
    longer due. Whether `by` may approve is the caller's check (the clerk pages allow records
    managers only); the audit trail and the certificate name both `by` and the proposer.
    """
    approval = _open(catalog, approval_id)
    listed = [item["record_id"] for item in approval.due]
    due_now = {item["record_id"] for item in due_records(catalog, storage, now or datetime.now(UTC))[0]}
    gone = sorted(set(listed) - due_now)
    at = utc_now()
    if gone:
        with catalog.transaction() as tx:
            catalog.decide_approval(tx, approval_id, "stale", at, by, {"no_longer_due": gone})
            record_action(catalog, tx, by, "retention.stale", {"approval": approval_id, "no_longer_due": gone},
                          client=client, at=at)
        raise SunshineError(f"disposition run {approval_id}: {len(gone)} listed record(s) no longer due (held, "
                            f"requested or disposed since the dry run, e.g. {gone[0]}); nothing was disposed; "
                            "make a new dry run")
    with catalog.transaction() as tx:
        if not catalog.decide_approval(tx, approval_id, "approved", at, by):
            raise SunshineError(f"disposition run {approval_id} was decided meanwhile")
        record_action(catalog, tx, by, "retention.approve",
                      {"approval": approval_id, "records": len(listed), "records_sha256": approval.due_sha256},
                      client=client, at=at)
    actor = f"{by} (approved {approval_id}; dry run by {approval.proposed_by})"
    report = run_retention(catalog, store, storage, dry_run=False, actor=actor, now=now, log_event=log_event,
                           only=listed)
    with catalog.transaction() as tx:
        catalog.set_approval_outcome(tx, approval_id, {
            "disposed": report.disposed, "refused": report.refused, "certificates": report.certificates,
            "interrupted": report.interrupted, "resumed": report.resumed})
    return report
