"""The public change log: every edit, hide, deletion and restoration, derived from records' versions.

A record's versions (oldest first, DESIGN §2) already say what happened to it; this module reads them
once, at index time, into `Change` entries both backends store beside the records, so listing "what
changed, newest first" never scans records. An entry is fully determined by its record document,
so re-indexing a record (a new capture, a redaction) simply replaces that record's entries, and
disposing of a record removes them.

What a version means (the archiver's `session._record` / `_tombstone` rules):
- version 1 is the first capture, not a change;
- status "deleted": the platform confirmed the record gone (a **delete**);
- a record seen again after a deletion, or active after being hidden: a **restore**;
- status "hidden" after a visible version: a **hide**;
- any other new version (new content, "edited", or changed while still hidden): an **edit**.

`detected_at` is the version's `captured_at`: when the archive saw the change, which is the order
the changes page and its feed list them in (newest first; ties by record id, then version).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from archiver.config import PLATFORMS
from archiver.model import RecordDoc
from indexer.documents import excerpt

CHANGE_KINDS = ("edit", "hide", "delete", "restore")
DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 100
MAX_CHANGE_WINDOW = 10_000  # page * per_page, as searches: deep paging is bounded on both backends
SUMMARY_CHARS = 280  # the text shown with a change (the whole diff is on the record page)


@dataclass(frozen=True)
class Change:
    """One change to one record, as the changes page and feed show it (all public, redacted form)."""

    record_id: str
    version: int  # the version that records the change (the record page's `#v<version>` anchor)
    change: str  # one of CHANGE_KINDS
    detected_at: str  # the version's captured_at
    created_at: str  # when the record was posted
    platform: str
    account: str
    kind: str  # the record's kind (post, reply...)
    author: str
    summary: str  # the start of the version's text (for a deletion: of the last text seen)

    def to_json(self) -> dict[str, Any]:
        return {"record_id": self.record_id, "version": self.version, "change": self.change,
                "detected_at": self.detected_at, "created_at": self.created_at, "platform": self.platform,
                "account": self.account, "kind": self.kind, "author": self.author, "summary": self.summary}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Change:
        return cls(**{name: data[name] for name in cls.__dataclass_fields__})


@dataclass(frozen=True)
class ChangeQuery:
    """Filters for the change log; dates are YYYY-MM-DD, inclusive, on `detected_at`."""

    platform: str | None = None
    account: str | None = None
    change: str | None = None
    date_from: str | None = None
    date_to: str | None = None
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE


@dataclass(frozen=True)
class ChangePage:
    total: int
    changes: list[Change]
    page: int
    per_page: int
    counts: dict[str, int]  # change kind -> count over the filters other than `change`


def classify(previous_status: str, status: str) -> str:
    """The kind of change a version with `status` after one with `previous_status` records."""
    if status == "deleted":
        return "delete"
    if previous_status == "deleted" or (previous_status == "hidden" and status != "hidden"):
        return "restore"
    if status == "hidden" and previous_status != "hidden":
        return "hide"
    return "edit"


def change_entries(doc: RecordDoc) -> list[Change]:
    """The changes `doc`'s versions record, oldest first (none for a record captured once)."""
    entries: list[Change] = []
    versions = sorted(doc.versions, key=lambda item: int(item.get("version") or 0))
    last_text = ""
    for previous, version in zip(versions, versions[1:], strict=False):
        if previous.get("text"):
            last_text = previous["text"]
        text = version.get("text") or last_text
        entries.append(Change(
            record_id=doc.record_id, version=int(version.get("version") or 0),
            change=classify(str(previous.get("status") or "active"), str(version.get("status") or "active")),
            detected_at=str(version.get("captured_at") or ""), created_at=doc.created_at,
            platform=doc.platform, account=doc.account, kind=doc.kind, author=doc.author,
            summary=excerpt(text, SUMMARY_CHARS),
        ))
    return entries


def parse_change_args(args: Mapping[str, str], *, max_per_page: int = MAX_PER_PAGE) -> ChangeQuery:
    """Validate `?platform=&account=&change=&from=&to=&page=&per_page=` (a `QueryError` names the fault)."""
    from indexer.query import (
        MAX_ACCOUNT_CHARS,
        QueryError,
        _choice_arg,
        _date_arg,
        _int_arg,
        _text_arg,
    )

    platform = _choice_arg(args, "platform", PLATFORMS)
    change = _choice_arg(args, "change", CHANGE_KINDS)
    account = _text_arg(args, "account", MAX_ACCOUNT_CHARS).strip() or None
    date_from, date_to = _date_arg(args, "from"), _date_arg(args, "to")
    if date_from and date_to and date_from > date_to:
        raise QueryError(f"'from' ({date_from}) must not be after 'to' ({date_to})")
    per_page = _int_arg(args, "per_page", min(DEFAULT_PER_PAGE, max_per_page), max_per_page)
    page = _int_arg(args, "page", 1, MAX_CHANGE_WINDOW // per_page,
                    f" (only the first {MAX_CHANGE_WINDOW} changes can be paged through, {per_page} a page; "
                    "narrow the list with filters instead)")
    return ChangeQuery(platform=platform, account=account, change=change, date_from=date_from,
                       date_to=date_to, page=page, per_page=per_page)
