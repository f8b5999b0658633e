"""Retention schedules: how long each record series is kept, and from which event.

A record series is kept for a period after a trigger event. `[[retention.schedules]]`
(config) names series by platform and/or kind, each with `days` and a trigger: `last_capture` (the
archive last saw the record) or `created` (the platform's creation time). The most specific
matching schedule wins; a record no schedule covers falls back to the `[storage] retention` rules
(a default plus per-platform/per-kind days, counted from the last capture), so older configs keep
working unchanged.

Disposition runs a records manager approves on the clerk pages are `archiver.approvals`'.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from archiver.config import StorageConfig
from archiver.errors import SunshineError

DEFAULT_SERIES = "default"


@dataclass(frozen=True)
class RetentionPeriod:
    """How long one record is kept: its series, the days, and the event they count from."""

    series: str
    days: int
    trigger: str  # "last_capture" | "created"


def retention_period(storage: StorageConfig, platform: str, kind: str) -> RetentionPeriod:
    """The period of a record of this platform and kind: the most specific schedule, else the
    most specific `[storage] retention` rule, else the default; ties cannot happen (config refuses
    two schedules for the same platform and kind)."""
    best = None
    for schedule in storage.retention_schedules:
        if schedule.platform not in (None, platform) or schedule.kind not in (None, kind):
            continue
        specificity = (schedule.platform is not None) + (schedule.kind is not None)
        if best is None or specificity > best[0]:
            best = (specificity, schedule)
    if best is not None:
        schedule = best[1]
        return RetentionPeriod(schedule.series, schedule.days, schedule.trigger)
    return RetentionPeriod(_rule_series(storage, platform, kind), retention_days(storage, platform, kind),
                           "last_capture")


def _rule_series(storage: StorageConfig, platform: str, kind: str) -> str:
    for rule in storage.retention_rules:
        if rule.platform in (None, platform) and rule.kind in (None, kind) and \
                rule.days == retention_days(storage, platform, kind):
            return "storage.retention:" + "/".join(part for part in (rule.platform, rule.kind) if part)
    return DEFAULT_SERIES


def retention_days(storage: StorageConfig, platform: str, kind: str) -> int:
    """Days the `[storage] retention` rules keep a record of this platform and kind; the most
    specific rule wins."""
    best: tuple[int, int] | None = None
    for rule in storage.retention_rules:
        if rule.platform not in (None, platform) or rule.kind not in (None, kind):
            continue
        specificity = (rule.platform is not None) + (rule.kind is not None)
        if best is None or specificity > best[0]:
            best = (specificity, rule.days)
    return best[1] if best else storage.retention_days


def parse_time(value: str) -> datetime:
    """A platform or capture timestamp (`2026-01-15T17:03:42.358Z`, `...+00:00`, or a date) in UTC."""
    text = value.strip().replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise SunshineError(f"not a timestamp: {value!r}") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
