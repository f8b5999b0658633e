"""Time, in one place, so tests and the simulator's time steps can inject it."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime


def utc_now() -> str:
    """Now as RFC 3339 UTC with seconds and microseconds dropped to seconds: `2026-11-25T09:53:46Z`."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_run_id() -> str:
    """Sortable, unique id of an archive run: its start time plus a random suffix."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ") + "-" + secrets.token_hex(3)
