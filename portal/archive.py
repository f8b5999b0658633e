"""Reading a version's stored bytes: its canonical native JSON and the HTTP exchange it came from.

Both come straight from the object store, byte for byte, so anyone can re-hash what the portal
serves: the raw JSON must hash to the version's `content_sha256`, and the WARC member at
`warc_ref` holds the original response it was parsed from.

A tombstone (status "deleted") is handled like any other version: its `content_sha256` names
whatever canonical object the archiver stored for it (a tombstone object). If the store has no
object under that digest, the raw route answers 404 rather than inventing bytes.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from archiver.errors import SunshineError
from archiver.model import RecordDoc
from archiver.store import ObjectStore
from archiver.store.keys import blob_key


class NotStored(LookupError):
    """The version or its bytes are not in the archive (a 404, with a message for the page)."""


@dataclass(frozen=True)
class CapturedResponse:
    """A response payload byte for byte as the archiver wrote it into the WARC record.

    The archiver stores the body as the spider received it; if that is still compressed, the original
    `Content-Encoding` is kept so a browser can decode it (see `public.capture`).
    """

    status: int
    content_type: str
    body: bytes
    target_uri: str
    content_encoding: str | None
    warc_member: bytes
    warc_key: str
    warc_offset: int


def pick_version(record: RecordDoc, requested: str | None) -> dict[str, Any]:
    """The version `?version=N` names; by default the latest one with content (not a tombstone).

    Raises `ValueError` for a malformed N (a 400) and `NotStored` for one that does not exist.
    """
    versions = list(record.versions)
    if not versions:
        raise NotStored(f"record {record.record_id} has no stored versions")
    if requested is None or requested == "":
        live = [version for version in versions if version.get("status") != "deleted"]
        return (live or versions)[-1]
    if not requested.isascii() or not requested.isdigit() or len(requested) > 9:
        raise ValueError(f"version must be a positive whole number, got {requested!r}")
    number = int(requested)
    for version in versions:
        if version.get("version") == number:
            return version
    raise NotStored(f"record {record.record_id} has no version {number}")


def read_raw(store: ObjectStore, version: dict[str, Any]) -> tuple[str, bytes]:
    """(sha256, bytes) of a version's canonical JSON as stored."""
    sha256 = str(version.get("content_sha256") or "")
    try:
        key = blob_key(sha256)
    except ValueError:
        raise NotStored(f"version {version.get('version')} has no content digest") from None
    try:
        return sha256, store.get(key)
    except KeyError:
        raise NotStored(f"the object {sha256} of version {version.get('version')} is not in the store") from None


def read_capture(store: ObjectStore, version: dict[str, Any]) -> CapturedResponse:
    """The HTTP response a version was parsed from, out of its WARC member(s)."""
    ref = version.get("warc_ref") or {}
    key, offset, length = ref.get("key"), ref.get("offset"), ref.get("length")
    if not isinstance(key, str) or not isinstance(offset, int) or not isinstance(length, int) or length <= 0:
        raise NotStored(f"version {version.get('version')} has no capture reference")
    try:
        member = store.get_range(key, offset, length)
    except KeyError:
        raise NotStored(f"the capture file {key} is not in the store") from None
    if len(member) != length:
        raise SunshineError(f"capture {key}#{offset}: wanted {length} bytes, the store returned {len(member)}")
    try:
        for record in ArchiveIterator(io.BytesIO(member)):
            if record.rec_type != "response" or record.http_headers is None:
                continue
            headers = record.http_headers
            encoding = (headers.get_header("Content-Encoding") or "").strip().lower()
            return CapturedResponse(
                status=int(headers.get_statuscode() or 0),
                content_type=headers.get_header("Content-Type") or "application/octet-stream",
                body=record.raw_stream.read(),  # the payload exactly as archived, no decoding
                target_uri=record.rec_headers.get_header("WARC-Target-URI") or "",
                content_encoding=encoding or None,
                warc_member=member, warc_key=key, warc_offset=offset,
            )
    except (ArchiveLoadFailed, ValueError, EOFError, OSError) as exc:
        raise SunshineError(f"capture {key}#{offset}: not a readable WARC member ({exc})") from exc
    raise NotStored(f"capture {key}#{offset} holds no HTTP response record")
