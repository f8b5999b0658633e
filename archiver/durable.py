"""Making a file or a folder's entries durable: the one fsync helper the stores and the index share.

A file is durable once its bytes are fsynced *and* the folder entry naming it is: after a rename
that means fsyncing the folder, and a folder created for it must in turn be fsynced in its parent.
We never `os.sync()` the whole host: that flushes every other program's dirty pages too.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path


def fsync_path(path: Path) -> None:
    """fsync a file or a directory by path (a directory's fsync makes its renames and unlinks durable)."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def make_folder(folder: Path) -> list[Path]:
    """Create `folder` and its missing parents; the folders whose entries this changed, which the
    caller fsyncs (with `fsync_folders`) before counting anything written below as durable."""
    missing: list[Path] = []
    probe = Path(folder)
    while not probe.is_dir():
        missing.append(probe)
        if probe.parent == probe:
            break
        probe = probe.parent
    Path(folder).mkdir(parents=True, exist_ok=True)
    return [created.parent for created in missing]


def fsync_folders(folders: Iterable[Path]) -> None:
    """fsync each distinct folder once, deepest first (so a new folder's contents are durable before
    its parent names it)."""
    for folder in sorted(set(folders), key=lambda path: len(path.parts), reverse=True):
        fsync_path(folder)
