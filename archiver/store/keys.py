"""Where things live inside the object store: one function per kind of object.

Keys are part of the archive format: `reindex`, `verify` and the ledger's static tiles all find
objects by these names, so they are defined here once.
"""

from __future__ import annotations

import re

_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def blob_key(sha256: str) -> str:
    """Content-addressed key for a record's canonical JSON or a media blob."""
    if not _HEX64.match(sha256):
        raise ValueError(f"not a sha256 hex digest: {sha256!r}")
    return f"blobs/sha256/{sha256[:2]}/{sha256}"


def warc_key(run_id: str, source: str, sequence: int) -> str:
    """A WARC file of one archive run and source (several per run, rotated by size)."""
    return f"warc/{run_id}/{source}-{sequence:05d}.warc.gz"


def manifest_key(run_id: str, source: str, sequence: int) -> str:
    """The versions one WARC file produced (JSON lines); `reindex` rebuilds the read model from these."""
    return f"manifests/{run_id}/{source}-{sequence:05d}.jsonl"


LEDGER_PREFIX = "ledger/"
