"""Retention schedules and disposition runs a records manager approves (`archiver.retention`,
`archiver.approvals`): the run disposes exactly what the dry run listed."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from archiver import approvals
from archiver.config import RetentionRule, RetentionSchedule, StorageConfig
from archiver.disposition import due_records
from archiver.errors import SunshineError
from archiver.holds import HoldCriteria, place_hold
from archiver.retention import parse_time, retention_period
from archiver.store.local import LocalStore

NOW = datetime.now(UTC)


def test_the_most_specific_schedule_wins_and_storage_rules_remain_the_fallback() -> None:
    storage = StorageConfig(retention_days=100, retention_rules=(RetentionRule(days=5, platform="x"),),
                            retention_schedules=(
                                RetentionSchedule("all replies", 30, "last_capture", kind="reply"),
                                RetentionSchedule("facebook replies", 7, "created", platform="facebook", kind="reply")))
    assert retention_period(storage, "facebook", "reply") == replace(retention_period(storage, "facebook", "reply"),
                                                                     series="facebook replies", days=7, trigger="created")
    assert (retention_period(storage, "bluesky", "reply").series, retention_period(storage, "bluesky", "reply").days) \
        == ("all replies", 30)
    assert retention_period(storage, "x", "post").days == 5  # no schedule: the [storage] rule
    assert retention_period(storage, "x", "post").trigger == "last_capture"
    assert retention_period(storage, "rss", "post").days == 100
    assert parse_time("2026-01-15T17:03:42.358Z") == datetime(2026, 1, 15, 17, 3, 42, 358000, tzinfo=UTC)


def test_a_created_trigger_counts_from_the_platforms_creation_time(clerk_archive) -> None:
    with clerk_archive.catalog() as catalog:
        created = {row[0]: parse_time(row[1]) for row in catalog.db.execute(
            "SELECT record_id, created_at FROM records WHERE platform = 'bluesky' AND kind = 'post'")}
        days = max(1, (NOW - min(created.values())).days - 1)  # the oldest post was created before that
        found = {}
        for trigger in ("created", "last_capture"):
            storage = StorageConfig(retention_days=3650, retention_schedules=(
                RetentionSchedule("bluesky posts", days, trigger, platform="bluesky", kind="post"),))
            due, _ = due_records(catalog, storage, NOW)
            assert all(item["series"] == "bluesky posts" and item["trigger"] == trigger for item in due)
            found[trigger] = {item["record_id"] for item in due}
    assert found["created"] == {rid for rid, at in created.items() if at + timedelta(days=days) <= NOW}
    assert found["created"]  # the oldest post at least
    assert found["last_capture"] == set()  # every record was just captured


def _disposed(catalog) -> set[str]:
    return {row[0] for row in catalog.db.execute("SELECT record_id FROM disposed")}


def test_approving_a_dry_run_disposes_exactly_its_list_even_when_more_became_due(clerk_archive) -> None:
    config = clerk_archive.config
    store = LocalStore(config.storage.path)
    with clerk_archive.catalog() as catalog:
        listed_at = NOW + timedelta(days=10)  # facebook replies (2 days) are due, nothing else (3650)
        proposal = approvals.propose(catalog, config.storage, "clara", now=listed_at)
        listed = {item["record_id"] for item in proposal.due}
        assert listed and all(item["platform"] == "facebook" and item["kind"] == "reply" for item in proposal.due)
        assert _disposed(catalog) == set()  # a dry run disposes nothing
        later = NOW + timedelta(days=4000)  # by now every record is due, but only the list is approved
        report = approvals.approve(catalog, store, config.storage, proposal.approval_id, "manny", now=later)
        assert set(report.disposed) == listed == _disposed(catalog)
        assert catalog.approval(proposal.approval_id).status == "approved"
        certificate = store.get(report.certificate_key).decode()
        assert "manny" in certificate and proposal.approval_id in certificate and "clara" in certificate
        with pytest.raises(SunshineError, match="already approved"):
            approvals.approve(catalog, store, config.storage, proposal.approval_id, "manny", now=later)
        actions = [entry.action for entry in catalog.audit_trail(action="clerk.retention")]
        assert actions == ["clerk.retention.approve", "clerk.retention.propose"]


def test_a_record_held_after_the_dry_run_makes_the_approval_stale_and_nothing_is_disposed(clerk_archive) -> None:
    config = clerk_archive.config
    store = LocalStore(config.storage.path)
    when = NOW + timedelta(days=10)
    with clerk_archive.catalog() as catalog:
        proposal = approvals.propose(catalog, config.storage, "clara", now=when)
        first = proposal.due[0]["record_id"]
        place_hold(catalog, store, "PRR-77", "clara", HoldCriteria(record_ids=(first,), with_threads=False))
        with pytest.raises(SunshineError, match="no longer due"):
            approvals.approve(catalog, store, config.storage, proposal.approval_id, "manny", now=when)
        assert _disposed(catalog) == set()
        assert catalog.approval(proposal.approval_id).status == "stale"
        again = approvals.propose(catalog, config.storage, "clara", now=when)
        assert first not in {item["record_id"] for item in again.due}
        report = approvals.approve(catalog, store, config.storage, again.approval_id, "manny", now=when)
        assert set(report.disposed) == {item["record_id"] for item in again.due}
        assert first not in _disposed(catalog)
