"""Retention periods of record series: a default plus per-platform/per-kind overrides (config)."""

from __future__ import annotations

from archiver.config import StorageConfig


def retention_days(storage: StorageConfig, platform: str, kind: str) -> int:
    """Days a record of this platform and kind must be kept; the most specific rule wins."""
    best: tuple[int, int] | None = None
    for rule in storage.retention_rules:
        if rule.platform not in (None, platform) or rule.kind not in (None, kind):
            continue
        specificity = (rule.platform is not None) + (rule.kind is not None)
        if best is None or specificity > best[0]:
            best = (specificity, rule.days)
    return best[1] if best else storage.retention_days
