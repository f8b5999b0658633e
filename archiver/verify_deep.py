"""`sunshine verify --deep`: every version's content re-derived from its original HTTP response.

Plain `verify` proves the stored bytes are the bytes that were stored. It cannot tell whether the
content blob of a version is what the platform actually answered: a parser bug, or a blob and
catalog rewritten together, would still hash consistently. Deep verify closes that gap, the promise
a record page makes to auditors (DESIGN §2): for every version it reads the WARC response its
`warc_ref` points at, re-extracts the record's native object from the body with the platform's own
rule, canonicalises it and checks that it hashes to the version's `content_sha256`.

A tombstone (a `deleted` version) has no native object: its content is the platform's own "gone"
answer, `archiver.session.tombstone_object` of the exchange that confirmed the deletion (the JSON
error body, or `{"http_status": N}` for a body that is not JSON). Deep verify re-derives exactly
that from the stored response, so a deletion is proved by the same bytes as it was recorded from.

The core cannot import `spiders`; the platform's rule arrives as a `NativeExtractor` from the
command line (`archiver.cli.wiring.native_extractor`). Versions come in WARC order, so each WARC
object is streamed once and each exchange parsed once, however many records it carries.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import groupby
from typing import Any

from archiver.canonical import canonical_json, sha256_hex
from archiver.catalog import Catalog, NativeVersion
from archiver.errors import StoreUnavailableError
from archiver.model import HttpExchange, Tombstone
from archiver.session import tombstone_object
from archiver.store import ObjectStore
from archiver.store.keys import blob_key
from archiver.warc import StoredExchange, read_exchange

NativeExtractor = Callable[[str, bytes, str], "dict[str, Any] | None"]
"""(platform, response body, native id) -> the record's native object, or None if the body has none.
Raises ValueError for a platform it has no rule for."""

# Keys of a differing native object named in a problem line (enough to find it; the rest is "...").
_NAMED_KEYS = 8


@dataclass(frozen=True)
class DeepResult:
    """What deep-checking one version found: `problem` is None when it re-derived to its hash."""

    version: NativeVersion
    problem: str | None


def check_natives(store: ObjectStore, catalog: Catalog, extract: NativeExtractor) -> Iterator[DeepResult]:
    """Deep-check every undisposed version, one result each, in WARC order.

    A WARC object that cannot be read makes one problem per version that points into it (each is
    named, so an auditor knows which records lost their evidence). `StoreUnavailableError` is
    raised for the caller to report once: the store is away, not damaged.
    """
    warc_versions = {row["key"]: row["version_id"] for row in catalog.objects(kind="warc")}
    versions = catalog.undisposed_versions_by_warc()
    for key, group in groupby(versions, key=lambda item: item.version.warc_ref.key):
        yield from _check_warc(store, key, warc_versions.get(key), list(group), extract)


def _check_warc(store: ObjectStore, key: str, version_id: str | None, group: list[NativeVersion],
                extract: NativeExtractor) -> Iterator[DeepResult]:
    """The versions of one WARC object, reading it once front to back (members in offset order)."""
    reported = 0  # results yielded so far: a read failing half-way names only the versions left
    try:
        with store.open(key, version_id=version_id) as handle:
            position = 0
            for (offset, length), members in groupby(group, key=lambda item: (item.version.warc_ref.offset,
                                                                             item.version.warc_ref.length)):
                members = list(members)
                if offset < position:  # two ranges overlap: a catalog damaged, not a WARC
                    results = list(_all_failed(members, f"its range overlaps an earlier one in {key}"))
                else:
                    _skip(handle, offset - position)
                    member = _read(handle, length)
                    position = offset + len(member)
                    results = list(_check_member(store, key, offset, member, length, members, extract))
                reported += len(results)
                yield from results
    except StoreUnavailableError:
        raise
    except KeyError:
        yield from _all_failed(group[reported:], f"its WARC {key} is missing from the store")
    except OSError as exc:
        yield from _all_failed(group[reported:], f"its WARC {key} could not be read: {exc}")


def _skip(handle, count: int) -> None:
    while count > 0:
        chunk = handle.read(min(count, 1 << 20))
        if not chunk:
            return
        count -= len(chunk)


def _read(handle, count: int) -> bytes:
    """`count` bytes, fewer only at the end of the object (a network stream may return short reads)."""
    parts: list[bytes] = []
    while count > 0:
        chunk = handle.read(count)
        if not chunk:
            break
        parts.append(chunk)
        count -= len(chunk)
    return b"".join(parts)


def _check_member(store: ObjectStore, key: str, offset: int, member: bytes, length: int, members: list[NativeVersion],
                  extract: NativeExtractor) -> Iterator[DeepResult]:
    where = f"{key}@{offset}+{length}"
    if len(member) != length:
        yield from _all_failed(members, f"its WARC range {where} runs past the end of the object")
        return
    try:
        exchange = read_exchange(member)
        if exchange.url is None or exchange.warc_date is None:  # warcio reads any bytes as *something*
            raise ValueError("no WARC-Target-URI or WARC-Date header")
    except Exception as exc:  # noqa: BLE001 - any parse failure of stored bytes is damage to name
        yield from _all_failed(members, f"its WARC range {where} holds no readable response: {exc}")
        return
    for item in members:
        yield DeepResult(item, _check_version(store, item, exchange, where, extract))


def _check_version(store: ObjectStore, item: NativeVersion, exchange: StoredExchange, where: str,
                   extract: NativeExtractor) -> str | None:
    version = item.version
    if version.status == "deleted":
        content = tombstone_content(item.platform, item.native_id, exchange)
        what = "the tombstone (the platform's gone answer)"
    else:
        try:
            native = extract(item.platform, exchange.body, item.native_id)
        except ValueError as exc:
            return f"{_name(item)}: cannot re-extract from {where}: {exc}"
        if native is None:
            return (f"{_name(item)}: its WARC response {where} holds no {item.platform} object with native id "
                    f"{item.native_id!r}")
        content = canonical_json(native)
        what = "the native object"
    found = sha256_hex(content)
    if found == version.content_sha256:
        return None
    return (f"{_name(item)}: {what} re-extracted from its WARC response {where} hashes to {found}, "
            f"the catalog has {version.content_sha256}{describe_difference(store, version.content_sha256, content)}")


def tombstone_content(platform: str, native_id: str, exchange: StoredExchange) -> bytes:
    """The canonical content of a tombstone, re-derived from the stored response that confirmed it."""
    replayed = HttpExchange(url=exchange.url, method="GET", request_headers=(), status=exchange.status, reason="",
                            response_headers=tuple(exchange.headers), body=exchange.body,
                            fetched_at=exchange.warc_date)
    return canonical_json(tombstone_object(Tombstone(platform, native_id), replayed))


def describe_difference(store: ObjectStore, content_sha256: str, extracted: bytes) -> str:
    """Which top-level keys of the stored content blob differ from `extracted` (for a problem line;
    read only for a version that failed, so a clean archive costs no blob reads)."""
    try:
        stored = json.loads(store.get(blob_key(content_sha256)))
        fresh = json.loads(extracted)
    except (KeyError, ValueError):
        return ""
    if not isinstance(stored, dict) or not isinstance(fresh, dict):
        return ""
    keys = sorted(k for k in stored.keys() | fresh.keys() if stored.get(k, ...) != fresh.get(k, ...))
    shown = ", ".join(keys[:_NAMED_KEYS]) + (", ..." if len(keys) > _NAMED_KEYS else "")
    return f"; the stored blob differs at {shown}" if keys else ""


def _all_failed(members: Iterable[NativeVersion], why: str) -> Iterator[DeepResult]:
    for item in members:
        yield DeepResult(item, f"{_name(item)}: {why}")


def _name(item: NativeVersion) -> str:
    return f"record {item.version.record_id} v{item.version.version} ({item.platform} {item.native_id})"
