"""Manifests: the versions each stored batch made, as JSON lines beside its WARC object, and which
of them count.

Each line is either a version (the record's fields as captured then, and the version) or a media
blob's hash. A manifest is stored before its batch commits in the catalog, so the store can hold
manifests whose versions never committed: a batch that crashed before its commit, or the first
manifest of a batch whose commit found the ledger grown by a clerk event (`archiver.session` then
writes the manifest again under a fresh number). The ledger decides: a manifest version counts only
if the ledger holds its capture entry, byte for byte (`logged_index`), and its ledger index is where
the ledger holds it. `recover` and `reindex` both read the store through `read_manifests`, so they
count exactly the same versions.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from archiver.errors import SunshineError
from archiver.ledger import tiles
from archiver.ledger.log import entry_for_capture
from archiver.ledger.reader import LogReader, entries_key
from archiver.store import ObjectStore

MANIFEST_PREFIX = "manifests/"
BATCH_KEY = re.compile(r"^(?:warc|manifests)/(?P<run>[^/]+)/(?P<source>.+)-(?P<seq>\d{5})\.(?:warc\.gz|jsonl)$")

# (record_id, version) -> (ledger index, entry bytes) of every capture entry the ledger holds.
Captures = dict[tuple[str, int], tuple[int, bytes]]


def manifest_lines(record: dict[str, Any], version: dict[str, Any]) -> bytes:
    return json.dumps({"record": record, "version": version}, sort_keys=True,
                      ensure_ascii=True).encode("ascii") + b"\n"


def media_line(url: str, sha256: str, mime: str) -> bytes:
    return json.dumps({"media": {"url": url, "sha256": sha256, "mime": mime}}, sort_keys=True,
                      ensure_ascii=True).encode("ascii") + b"\n"


def published_entries(store: ObjectStore) -> list[bytes]:
    """Every entry the store's ledger bundles hold, in order; an unreadable bundle is a SunshineError."""
    reader = LogReader(store)
    size = reader.published_size()
    entries: list[bytes] = []
    for bundle in range((size + tiles.TILE_WIDTH - 1) // tiles.TILE_WIDTH):
        width = min(tiles.TILE_WIDTH, size - bundle * tiles.TILE_WIDTH)
        try:
            entries.extend(tiles.decode_entry_bundle(reader.read_entry_bundle(bundle, width)))
        except ValueError as exc:
            raise SunshineError(f"{entries_key(bundle, width)}: cannot be read ({exc}); restore it from "
                                "a copy of the store first") from None
    return entries


def capture_entries(entries: list[bytes]) -> Captures:
    """The capture entries among `entries`, by (record_id, version)."""
    found: Captures = {}
    for index, entry in enumerate(entries):
        fields = json.loads(entry)
        if fields.get("type") == "capture":
            found[(fields["record_id"], fields["version"])] = (index, entry)
    return found


def logged_index(captures: Captures, record_id: str, version: dict[str, Any]) -> int | None:
    """Where the ledger holds exactly this manifest version's capture entry; None if it does not
    (the version never committed)."""
    logged = captures.get((record_id, version["version"]))
    entry = entry_for_capture(record_id, version["version"], version["captured_at"], version["content_sha256"],
                              version.get("store_version_id"))
    return logged[0] if logged is not None and logged[1] == entry else None


@dataclass(frozen=True)
class CountedVersion:
    """A manifest version the ledger holds: the record's fields then, the version (its
    `ledger_index` the ledger's), and where it was read."""

    record: dict[str, Any]
    version: dict[str, Any]
    ledger_index: int


@dataclass(frozen=True)
class Manifest:
    key: str
    batch: re.Match[str] | None  # run, source and seq from the key; None if the key is not a manifest's
    versions: tuple[CountedVersion, ...]  # the versions that count, in the manifest's order
    not_logged: int  # version lines the ledger does not hold
    media: dict[str, tuple[str, str]]  # url -> (sha256, mime)

    @property
    def committed(self) -> bool:
        """Whether its batch committed: a version counts, or it has none (a run that changed nothing)."""
        return bool(self.versions) or not self.not_logged


def read_manifests(store: ObjectStore, captures: Captures) -> Iterator[Manifest]:
    """Every manifest in the store, in key order, with the versions that count (see the module)."""
    for item in store.list(MANIFEST_PREFIX):
        counted, not_logged, media = [], 0, {}
        for line in store.get(item.key).splitlines():
            entry = json.loads(line)
            if "media" in entry:
                media[entry["media"]["url"]] = (entry["media"]["sha256"], entry["media"]["mime"])
                continue
            record, version = entry["record"], entry["version"]
            index = logged_index(captures, record["record_id"], version)
            if index is None:
                not_logged += 1
            else:
                counted.append(CountedVersion(record, {**version, "ledger_index": index}, index))
        yield Manifest(item.key, BATCH_KEY.match(item.key), tuple(counted), not_logged, media)
