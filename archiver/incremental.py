"""Runs that scale with what changed: what each source's crawl must cover this run, and what it
leaves for the next (the catalog's `source_state`).

A run walks a source's feed only down to the older of two marks: the newest item the last complete
walk saw (`high_water`: everything older was seen) and the edge of the recent window (`recent_days`
back from the source's newest post, never later than the run's clock: a source that posts rarely
still has its latest conversations re-swept). Threads inside the window are re-swept, and their
records checked for deletion, every run. Older threads are revisited in a rotating slice sized so
each is rechecked within `revisit_days` of the run clock, however often runs happen. Native ids whose
fetch failed are fetched again by the next run. So what a run holds in memory is the window, one
slice and the retries, never every id the archive has.

A walk that did not complete (a budget ran out, credentials were refused, a feed page failed) keeps
its marks: the next run walks from the top again down to the same high-water mark, skipping the
threads the open walk already finished (`walk_run`), so nothing is missed and, since unchanged
records add no version, nothing is duplicated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from archiver.catalog import Catalog, SourceState
from archiver.config import ArchiveConfig, SourceConfig

# Daily quotas (YouTube's) reset at midnight Pacific time; units are counted per such day.
QUOTA_DAY_ZONE = ZoneInfo("America/Los_Angeles")


@dataclass(frozen=True)
class SourcePlan:
    """What one source's crawl covers this run (see the module docstring)."""

    source: SourceConfig
    state: SourceState
    full_walk: bool
    stop_before: str | None  # RFC 3339; None: walk the whole feed
    known: frozenset[str]  # native ids whose absence the deletion sweep checks
    skip_threads: frozenset[str]
    revisit: tuple[str, ...]  # thread roots (and failed ids) to re-sweep
    slice_last: str | None  # record id the revisit continues after next time
    revisited_at: str | None  # the revisit clock once this run's slice is done (see `revisit_slice`)
    quota_day: str
    quota_left: int | None
    now: datetime


@dataclass(frozen=True)
class SourceReport:
    """How a source's crawl ended, as the spider saw it."""

    walk_complete: bool
    newest_seen: str | None
    halted: str | None
    token_refused: bool
    deferred: int
    units_used: int
    broken: frozenset[str]


@dataclass(frozen=True)
class SourceOutcome:
    """A source's line in the run summary: "complete", "incomplete", "paused" or "stopped"."""

    source: str
    status: str
    detail: str
    deferred: int


def parse_time(text: str | None) -> datetime | None:
    """An ISO 8601 time as an aware datetime (naive = UTC), or None."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def revisit_slice(older: int, revisited_at: datetime | None, now: datetime, revisit_days: int) -> tuple[int, str]:
    """How many of `older` threads to revisit now, and the revisit clock to save after them.

    The rotation runs at `older / revisit_days` threads a day: a run revisits the whole threads that
    rate owes since the clock, and the clock moves on by exactly the time they account for, so the
    fraction left over is owed by a later run. Runs a minute apart revisit nothing most of the time
    instead of a thread each; runs a week apart revisit a quarter of a 30-day rotation; a clock more
    than `revisit_days` behind (or none) revisits everything once and restarts at `now`.
    """
    period = timedelta(days=revisit_days)
    if older <= 0 or revisited_at is None or now - revisited_at >= period:
        return older, _stamp(now)
    if revisited_at > now:  # a clock from the future (the host's time was wrong): restart it
        return 0, _stamp(now)
    count = math.floor(older * ((now - revisited_at) / period))
    return count, _stamp(revisited_at + period * count / older) if count else _stamp(revisited_at)


def plan_source(catalog: Catalog, source: SourceConfig, settings: ArchiveConfig, run_id: str,
                now: datetime) -> SourcePlan:
    state = catalog.source_state(source.name)
    newest = parse_time(catalog.newest_post_created(source.name))
    anchor = min(now, newest) if newest is not None else now
    cutoff = anchor - timedelta(days=settings.recent_days)
    cutoff_text = _stamp(cutoff)[:19]
    high_water = parse_time(state.high_water)
    skip = catalog.threads_done(run_id, source.name)
    if state.walk_run is not None:
        skip |= catalog.threads_done_since(source.name, state.walk_run)
    quota_day = now.astimezone(QUOTA_DAY_ZONE).date().isoformat()
    quota_left = None
    if source.daily_quota is not None:
        quota_left = source.daily_quota - (state.quota_used if state.quota_day == quota_day else 0)
    common = dict(source=source, state=state, skip_threads=skip, quota_day=quota_day,
                  quota_left=max(quota_left, 0) if quota_left is not None else None, now=now)
    if high_water is None:  # no complete walk yet: the whole feed, every known record swept
        return SourcePlan(full_walk=True, stop_before=None, revisit=state.retry, slice_last=None,
                          revisited_at=_stamp(now),
                          known=catalog.known_native_ids(source.name, exclude_seen_in=run_id) | set(state.retry),
                          **common)
    older = catalog.older_post_count(source.name, cutoff_text)
    count, revisited_at = revisit_slice(older, parse_time(state.revisited_at), now, settings.revisit_days)
    roots = catalog.older_posts_after(source.name, cutoff_text, state.revisit_after, count)
    known = (catalog.recent_native_ids(source.name, cutoff_text, exclude_seen_in=run_id)
             | catalog.thread_native_ids(record_id for record_id, _native in roots) | set(state.retry))
    return SourcePlan(full_walk=False, stop_before=_stamp(min(high_water, cutoff)), known=known,
                      revisit=tuple(native for _rid, native in roots) + state.retry,
                      slice_last=roots[-1][0] if roots else state.revisit_after, revisited_at=revisited_at,
                      **common)


def finish_source(catalog: Catalog, plan: SourcePlan, report: SourceReport, run_id: str) -> SourceOutcome:
    """Save what the next run needs from this crawl; the source's line for the run summary."""
    state = plan.state
    name = plan.source.name
    if report.token_refused:
        status, detail = "stopped", f"source {name!r}: {report.halted}"
    elif report.halted is not None:
        status, detail = "paused", f"source {name!r} paused: {report.halted}; {report.deferred} requests deferred"
    elif not report.walk_complete or report.broken:
        status, detail = "incomplete", f"source {name!r}: some fetches failed; the next run fetches them again"
    else:
        status, detail = "complete", ""
    walked = report.walk_complete and report.halted is None
    high_water = state.high_water
    seen = parse_time(report.newest_seen)
    if walked and seen is not None and (parse_time(high_water) is None or seen > parse_time(high_water)):
        high_water = report.newest_seen
    used_before = state.quota_used if state.quota_day == plan.quota_day else 0
    updated = replace(
        state,
        high_water=high_water,
        walk_run=None if walked else (state.walk_run or run_id),
        revisit_after=plan.slice_last if report.halted is None else state.revisit_after,
        revisited_at=plan.revisited_at if report.halted is None else state.revisited_at,
        retry=tuple(sorted(report.broken)) if report.halted is None else tuple(sorted(set(state.retry) | report.broken)),
        status=status, detail=detail, quota_day=plan.quota_day, quota_used=used_before + report.units_used,
        updated_at=_stamp(plan.now),
    )
    with catalog.transaction() as tx:
        catalog.save_source_state(tx, updated)
    return SourceOutcome(name, status, detail, report.deferred)
