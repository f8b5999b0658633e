"""The rotating revisit's pace (`archiver.incremental.revisit_slice`): however runs are spaced, the
threads revisited keep up with `older / revisit_days` a day (so each older thread is rechecked within
the period), and frequent runs do not revisit more than that."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from archiver.incremental import parse_time, revisit_slice

START = datetime(2026, 1, 1, tzinfo=UTC)
DAYS = 30


@settings(max_examples=200, deadline=None)
@given(older=st.integers(1, 5000),
       gaps=st.lists(st.integers(1, DAYS * 86_400 - 1), min_size=1, max_size=60))
def test_the_revisit_keeps_pace_with_the_period_and_no_faster(older: int, gaps: list[int]) -> None:
    period = timedelta(days=DAYS)
    last = [START] * older  # when each older thread was last rechecked (the first, full walk: START)
    cursor = 0
    clock = START
    now = START
    total = 0
    for runs, gap in enumerate(gaps, start=1):
        now += timedelta(seconds=gap)
        count, saved = revisit_slice(older, clock, now, DAYS)
        assert 0 <= count <= older
        for _ in range(count):  # the slice continues where the last one ended, wrapping round
            last[cursor] = now
            cursor = (cursor + 1) % older
        total += count
        clock = parse_time(saved)
        assert clock is not None and clock <= now
        # every thread was rechecked within the period (give or take one thread's share of it, and
        # the clock's whole seconds)
        assert min(last) >= now - period - period / older - timedelta(seconds=runs)
    owed = older * ((now - START) / period)
    assert total <= owed + len(gaps) * older / period.total_seconds() + 1


def test_runs_seconds_apart_revisit_nothing_until_a_thread_is_owed() -> None:
    count, saved = revisit_slice(100, START, START + timedelta(seconds=5), DAYS)
    assert count == 0 and parse_time(saved) == START
    count, _ = revisit_slice(100, START, START + timedelta(days=DAYS) / 100, DAYS)
    assert count == 1


def test_a_clock_a_period_behind_revisits_everything_and_restarts() -> None:
    now = START + timedelta(days=DAYS, seconds=1)
    assert revisit_slice(70, START, now, DAYS) == (70, now.strftime("%Y-%m-%dT%H:%M:%SZ"))
    assert revisit_slice(70, None, now, DAYS)[0] == 70
    assert revisit_slice(0, START, now, DAYS)[0] == 0
