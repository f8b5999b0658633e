"""The archive's nouns: what a spider hands over, and what a record and its versions are.

A `Capture` is one HTTP exchange exactly as it happened plus the records parsed out of it. A record's
`native` object is the platform's own JSON for that record; its canonical JSON is what
`content_sha256` covers (DESIGN §2). Records and versions are plain frozen dataclasses so they can
be compared, hashed and serialised without surprises.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

KINDS = ("post", "reply", "media")
STATUSES = ("active", "edited", "hidden", "deleted")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def display_text(text: str) -> str:
    """Text for display and search: lone surrogates (not encodable as UTF-8) become U+FFFD.

    Only the derived read model uses this; the exact characters stay in the record's canonical
    JSON blob and the WARC, which is what hashes and the raw download cover.
    """
    return _LONE_SURROGATE.sub("\ufffd", text)


def make_record_id(platform: str, native_id: str) -> str:
    """Stable, URL-safe id from platform + native id.

    Readable when the native id is simple (`facebook-123_456`); otherwise the native id (a Bluesky
    at:// URI, say) is replaced by a short digest of itself, so ids stay URL-safe and unique.
    """
    if native_id and not _UNSAFE.search(native_id) and len(native_id) <= 80:
        return f"{platform}-{native_id}"
    digest = base64.b32encode(hashlib.sha256(native_id.encode("utf-8", "surrogatepass")).digest()[:15])
    return f"{platform}-{digest.decode('ascii').lower()}"


@dataclass(frozen=True)
class HttpExchange:
    """One request/response pair, byte-exact, as it crossed the wire."""

    url: str
    method: str
    request_headers: tuple[tuple[str, str], ...]
    status: int
    reason: str
    response_headers: tuple[tuple[str, str], ...]
    body: bytes
    fetched_at: str  # RFC 3339 UTC, e.g. 2026-11-25T09:53:46Z


@dataclass(frozen=True)
class MediaRef:
    url: str
    mime: str | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class ParsedRecord:
    """One record as a spider parsed it out of an exchange (no archive state yet)."""

    platform: str
    account: str
    kind: str
    native_id: str
    native: dict[str, Any]
    url: str
    author: str
    author_is_department: bool
    created_at: str
    text: str
    parent_native_id: str | None = None
    thread_native_id: str | None = None
    status: str = "active"  # "active" or "hidden" as the platform reports it
    media: tuple[MediaRef, ...] = ()

    @property
    def record_id(self) -> str:
        return make_record_id(self.platform, self.native_id)


@dataclass(frozen=True)
class Tombstone:
    """The platform confirmed a record gone (the exchange that confirmed it is the capture)."""

    platform: str
    native_id: str

    @property
    def record_id(self) -> str:
        return make_record_id(self.platform, self.native_id)


@dataclass(frozen=True)
class MediaBlob:
    """Media bytes fetched for a record (images, video), stored content-addressed."""

    url: str
    mime: str
    data: bytes


@dataclass(frozen=True)
class Capture:
    """What a spider hands to the archiver: an exchange and what was parsed from it."""

    source: str
    exchange: HttpExchange
    records: tuple[ParsedRecord, ...] = ()
    tombstones: tuple[Tombstone, ...] = ()
    media: tuple[MediaBlob, ...] = ()
    error: str | None = None  # set when the payload could not be parsed: a failed capture
    completes_thread: str | None = None  # native id of a thread root whose thread capture this completes
    # (url, reason) of media this capture skipped (over the size limit) or could not fetch
    media_problems: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class WarcRef:
    """Where the exchange a version came from lives: a WARC object and the member's byte range."""

    key: str
    offset: int
    length: int

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "offset": self.offset, "length": self.length}


@dataclass(frozen=True)
class Version:
    record_id: str
    version: int
    captured_at: str
    status: str
    content_sha256: str
    warc_ref: WarcRef
    ledger_index: int | None = None
    store_version_id: str | None = None


@dataclass(frozen=True)
class RecordDoc:
    """A record as the read model holds it: latest fields plus every version (the JSON API shape)."""

    record_id: str
    platform: str
    account: str
    kind: str
    native_id: str
    url: str
    author: str
    author_is_department: bool
    created_at: str
    text: str
    parent_id: str | None
    thread_id: str
    status: str
    sha256: str
    ledger_index: int | None
    media: tuple[dict[str, Any], ...] = ()
    versions: tuple[dict[str, Any], ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        """The JSON API shape of DESIGN §2 (`versions` oldest first)."""
        return {
            "record_id": self.record_id, "platform": self.platform, "account": self.account,
            "kind": self.kind, "native_id": self.native_id, "url": self.url, "author": self.author,
            "author_is_department": self.author_is_department, "created_at": self.created_at,
            "text": self.text, "parent_id": self.parent_id, "thread_id": self.thread_id,
            "media": [dict(item) for item in self.media], "status": self.status,
            "versions": [dict(item) for item in self.versions], "sha256": self.sha256,
            "ledger_index": self.ledger_index,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RecordDoc:
        return cls(
            record_id=data["record_id"], platform=data["platform"], account=data["account"],
            kind=data["kind"], native_id=data["native_id"], url=data["url"], author=data["author"],
            author_is_department=bool(data["author_is_department"]), created_at=data["created_at"],
            text=data["text"], parent_id=data.get("parent_id"), thread_id=data["thread_id"],
            status=data["status"], sha256=data["sha256"], ledger_index=data.get("ledger_index"),
            media=tuple(data.get("media") or ()), versions=tuple(data.get("versions") or ()),
        )
