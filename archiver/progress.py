"""Progress displays for long commands (rich, on stderr), silent when stderr is not a terminal."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)


def _enabled(disable: bool) -> bool:
    return not disable and sys.stderr.isatty()


@contextmanager
def counting_progress(label: str, unit: str, *, disable: bool = False) -> Iterator[Callable[[int], None]]:
    """A spinner with a running count, for work whose total is not known up front (a crawl)."""
    if not _enabled(disable):
        yield lambda n: None
        return
    with Progress(SpinnerColumn(), TextColumn(label), TextColumn("{task.completed:,.0f} " + unit),
                  TimeElapsedColumn(), console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task(label, total=None)
        yield lambda n: progress.advance(task, n)


@contextmanager
def byte_progress(label: str, *, disable: bool = False, total: int | None = None) -> Iterator[Callable[[int], None]]:
    """Bytes processed with throughput, for verify."""
    if not _enabled(disable):
        yield lambda n: None
        return
    with Progress(SpinnerColumn(), TextColumn(label), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                  TimeElapsedColumn(), console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task(label, total=total)
        yield lambda n: progress.advance(task, n)
