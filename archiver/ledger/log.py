"""The transparency log in the object store: what the archiver writes and the portal reads (DESIGN §7).

Everything lives under `ledger/` so the portal can serve `/ledger/<path>` straight from the store:

    ledger/tile/<L>/<N>[.p/<W>]         hash tiles (C2SP tlog-tiles)
    ledger/tile/entries/<N>[.p/<W>]     entry bundles
    ledger/checkpoint                   the latest signed checkpoint (the one mutable pointer)
    ledger/checkpoints/<size>           every checkpoint ever signed, kept
    ledger/key                          the verifier key that signs them

Full tiles are immutable; partial tiles are written at every width a publish ends on and kept, so
any past checkpoint stays provable from tiles alone. Within one publish, hash tiles are written
before entry bundles, so an entry bundle's presence means the tiles above it exist.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from archiver.canonical import canonical_json
from archiver.errors import SunshineError
from archiver.ledger import merkle, tiles
from archiver.ledger.merkle import Address, ProofError
from archiver.ledger.note import (
    Checkpoint,
    NoteError,
    Signer,
    format_checkpoint,
    generate_signer,
    open_note,
    parse_checkpoint,
    parse_signer_key,
    sign_note,
    signer_key,
)
from archiver.ledger.tiles import TILE_HEIGHT, TILE_WIDTH
from archiver.store import ObjectStore
from archiver.store.keys import LEDGER_PREFIX

HASH = merkle.HASH_SIZE
CHECKPOINT_KEY = LEDGER_PREFIX + "checkpoint"
CHECKPOINTS_PREFIX = LEDGER_PREFIX + "checkpoints/"
KEY_KEY = LEDGER_PREFIX + "key"
PUT_CONCURRENCY = 8
_CACHE_LOCK = threading.Lock()  # portal threads share a LogReader's tile cache


def tile_key(level: int, index: int, width: int = TILE_WIDTH) -> str:
    return LEDGER_PREFIX + tiles.tile_path(level, index, width)


def entries_key(index: int, width: int = TILE_WIDTH) -> str:
    return LEDGER_PREFIX + tiles.entries_path(index, width)


# ---------------------------------------------------------------------------------------- entries

def entry_for_capture(record_id: str, version: int, captured_at: str, content_sha256: str,
                      store_version_id: str | None = None) -> bytes:
    """The ledger entry of one capture: canonical JSON of what identifies it (DESIGN §7).

    `{"captured_at", "content_sha256", "record_id", "type": "capture", "version"}`, plus
    `store_version_id` (the S3 VersionId of the stored bytes) when there is one.
    """
    fields: dict[str, object] = {
        "type": "capture",
        "record_id": record_id,
        "version": version,
        "captured_at": captured_at,
        "content_sha256": content_sha256,
    }
    if store_version_id is not None:
        fields["store_version_id"] = store_version_id
    return _checked_entry(fields)


def entry_for_event(kind: str, fields: dict) -> bytes:
    """The ledger entry of a clerk event (hold, release, redaction, disposition): `{"type": kind, ...}`."""
    if not kind or kind == "capture" or not kind.replace("_", "").replace("-", "").isalnum():
        raise ValueError(f"invalid ledger event kind {kind!r}")
    if "type" in fields:
        raise ValueError("event fields must not contain 'type'; it is the event kind")
    return _checked_entry({**fields, "type": kind})


def _checked_entry(fields: dict) -> bytes:
    data = canonical_json(fields)
    if len(data) > tiles.MAX_ENTRY_SIZE:
        raise SunshineError(f"ledger entry of {len(data)} bytes exceeds {tiles.MAX_ENTRY_SIZE} bytes")
    return data


# ---------------------------------------------------------------------------------------- reading

def _read_tile_bytes(store: ObjectStore, level: int | None, index: int, width: int) -> bytes:
    """A tile's bytes at `width`, or the same prefix of the full tile or of a wider partial one.

    A wider tile at the same index holds the narrower one as its prefix (C2SP tlog-tiles), which
    covers a publish interrupted between its tiles.
    """
    key_of = entries_key if level is None else (lambda n, w: tile_key(level, n, w))
    for candidate in [width, TILE_WIDTH, *range(width + 1, TILE_WIDTH)]:
        key = key_of(index, candidate)
        try:
            data = store.get(key)
        except KeyError:
            continue
        if level is None:
            return data if candidate == width else _bundle_prefix(data, width, key)
        if len(data) != candidate * HASH:
            raise SunshineError(f"ledger object {key} is {len(data)} bytes, expected {candidate * HASH}")
        return data[:width * HASH]
    raise SunshineError(f"ledger object {key_of(index, width)} is missing")


def _bundle_prefix(data: bytes, width: int, key: str) -> bytes:
    try:
        entries = tiles.decode_entry_bundle(data)
    except ValueError as exc:
        raise SunshineError(f"ledger object {key} is damaged: {exc}") from None
    return tiles.encode_entry_bundle(entries[:width])


class StoreHashReader:
    """`merkle.HashReader` over the hash tiles of a tree of `size` leaves, with an LRU of tiles.

    A subtree hash at a level between tile rows is computed from the tile's row below it; each
    tile is expanded once into all its rows (255 hashes) and cached.
    """

    def __init__(self, store: ObjectStore, size: int, cache: OrderedDict | None = None,
                 cache_tiles: int = 1024) -> None:
        self.store, self.size = store, size
        self.cache = cache if cache is not None else OrderedDict()
        self.cache_tiles = cache_tiles

    def _rows(self, tile_level: int, index: int) -> list[bytes]:
        width = min(TILE_WIDTH, tiles.level_width(self.size, tile_level) - index * TILE_WIDTH)
        if width <= 0:
            raise ValueError(f"tile {tile_level}/{index} is outside a tree of size {self.size}")
        cache_key = (tile_level, index, width)
        with _CACHE_LOCK:
            rows = self.cache.get(cache_key)
            if rows is not None:
                self.cache.move_to_end(cache_key)
                return rows
        row = _read_tile_bytes(self.store, tile_level, index, width)
        rows = [row]
        while len(row) >= 2 * HASH:
            row = b"".join(merkle.node_hash(row[i:i + HASH], row[i + HASH:i + 2 * HASH])
                           for i in range(0, len(row) - HASH, 2 * HASH))
            rows.append(row)
        with _CACHE_LOCK:
            self.cache[cache_key] = rows
            while len(self.cache) > self.cache_tiles:
                self.cache.popitem(last=False)
        return rows

    def read_hashes(self, addresses: Sequence[Address]) -> list[bytes]:
        out = []
        for level, n in addresses:
            if (n + 1) << level > self.size:
                raise ValueError(f"subtree ({level}, {n}) is not complete in a tree of size {self.size}")
            tile_level, within = divmod(level, TILE_HEIGHT)
            per_tile = TILE_WIDTH >> within
            row = self._rows(tile_level, n // per_tile)[within]
            at = (n % per_tile) * HASH
            out.append(row[at:at + HASH])
        return out


def _checkpoint_body(text: str) -> Checkpoint:
    split = text.rfind("\n\n")
    return parse_checkpoint(text[:split + 1] if split >= 0 else text)


class LogReader:
    """Proofs and entries from the store alone, so any portal host can answer them.

    Sizes are bounded by the latest signed checkpoint: asking beyond it is a `ValueError` (a bad
    request), never a hunt for tiles that do not exist. Missing or damaged tiles inside it raise
    `SunshineError` naming the object. Safe to share between threads.
    """

    def __init__(self, store: ObjectStore, cache_tiles: int = 1024) -> None:
        self.store = store
        self._cache: OrderedDict = OrderedDict()
        self._cache_tiles = cache_tiles
        self._signed_size = -1

    def _hashes(self, size: int) -> StoreHashReader:
        if size > self._signed_size:
            self._signed_size = self.size()  # re-read the checkpoint only when asked beyond it
            if size > self._signed_size:
                raise ValueError(f"tree size {size} is beyond the latest checkpoint (size {self._signed_size})")
        return StoreHashReader(self.store, size, self._cache, self._cache_tiles)

    def checkpoint(self) -> str:
        """The latest signed checkpoint text; `SunshineError` if none has been signed."""
        try:
            return self.store.get(CHECKPOINT_KEY).decode()
        except KeyError:
            raise SunshineError("the ledger has no signed checkpoint yet; run an archive first") from None

    def size(self) -> int:
        """The size of the latest signed checkpoint (0 before the first)."""
        try:
            return _checkpoint_body(self.store.get(CHECKPOINT_KEY).decode()).size
        except KeyError:
            return 0

    def root(self, size: int) -> bytes:
        return merkle.tree_hash(size, self._hashes(size))

    def leaf_hash(self, index: int, size: int | None = None) -> bytes:
        size = self.size() if size is None else size
        if not 0 <= index < size:
            raise ValueError(f"leaf index {index} is not inside a tree of size {size}")
        return self._hashes(size).read_hashes([(0, index)])[0]

    def entry(self, index: int, size: int | None = None) -> bytes:
        size = self.size() if size is None else size
        if not 0 <= index < size:
            raise ValueError(f"entry index {index} is not inside a log of size {size}")
        self._hashes(size)  # bounds `size` by the checkpoint
        bundle, within = divmod(index, TILE_WIDTH)
        width = min(TILE_WIDTH, size - bundle * TILE_WIDTH)
        data = _read_tile_bytes(self.store, None, bundle, width)
        try:
            return tiles.decode_entry_bundle(data)[within]
        except (ValueError, IndexError):
            raise SunshineError(f"ledger object {entries_key(bundle, width)} is damaged") from None

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        return merkle.inclusion_proof(index, size, self._hashes(size))

    def consistency_proof(self, old: int, new: int) -> list[bytes]:
        return merkle.consistency_proof(old, new, self._hashes(new))

    def inclusion_json(self, index: int, size: int) -> dict:
        """The `/api/v1/proof/inclusion` body: `{"index", "size", "leaf_hash", "proof": [hex…], "root"}`."""
        return {"index": index, "size": size, "leaf_hash": self.leaf_hash(index, size).hex(),
                "proof": [h.hex() for h in self.inclusion_proof(index, size)], "root": self.root(size).hex()}

    def consistency_json(self, old: int, new: int) -> dict:
        """The `/api/v1/proof/consistency` body: `{"old", "new", "proof": [hex…]}`."""
        return {"old": old, "new": new, "proof": [h.hex() for h in self.consistency_proof(old, new)]}


# ---------------------------------------------------------------------------------------- writing

class LogWriter:
    """Publishes entries as tiles, keeping the tree's right edge in memory between calls.

    State: the hashes of the incomplete tile at each tile level and the entries of the incomplete
    bundle. It is re-loaded from the store's partial tiles whenever a call starts anywhere but
    where the last one ended (a fresh process, or a re-publish after a crash).
    """

    def __init__(self, store: ObjectStore) -> None:
        self.store = store
        self.size: int | None = None
        self._rows: list[bytearray] = []
        self._pending: list[bytes] = []

    def _load(self, size: int) -> None:
        self.size, self._rows, self._pending = None, [], []
        if size < 0:
            raise ValueError(f"negative ledger index {size}")
        try:
            level = 0
            while tiles.level_width(size, level):
                count = tiles.level_width(size, level)
                width = count % TILE_WIDTH
                row = _read_tile_bytes(self.store, level, count // TILE_WIDTH, width) if width else b""
                self._rows.append(bytearray(row))
                level += 1
            if size % TILE_WIDTH:
                data = _read_tile_bytes(self.store, None, size // TILE_WIDTH, size % TILE_WIDTH)
                self._pending = tiles.decode_entry_bundle(data)
            elif size and not self.store.exists(entries_key(size // TILE_WIDTH - 1)):
                raise SunshineError(f"ledger object {entries_key(size // TILE_WIDTH - 1)} is missing")
        except (SunshineError, ValueError) as exc:
            raise SunshineError(
                f"cannot continue the ledger at index {size}: {exc}; re-publish the entries from the "
                f"last checkpoint (size {LogReader(self.store).size()}) from the catalog"
            ) from None
        self.size = size

    def append(self, start_index: int, entries: Sequence[bytes]) -> None:
        """Publish entries [start_index, start_index + len(entries)); re-publishing is a no-op."""
        if self.size != start_index:
            published = published_size(self.store)
            if start_index > published:
                raise SunshineError(f"cannot continue the ledger at index {start_index}: only {published} "
                                    "entries are published; publish the missing ones first")
            overlap = min(len(entries), published - start_index)
            self._check_published(start_index, entries[:overlap])
            start_index, entries = start_index + overlap, entries[overlap:]
            self._load(start_index)
        self.size = None  # until this publish completes, state must be reloaded on error
        tile_writes: list[tuple[str, bytes]] = []
        bundle_writes: list[tuple[str, bytes]] = []
        size = start_index
        rows, pending = self._rows, self._pending
        for entry in entries:
            if len(entry) > tiles.MAX_ENTRY_SIZE:
                raise SunshineError(f"ledger entry {size} is {len(entry)} bytes; the limit is "
                                    f"{tiles.MAX_ENTRY_SIZE} (entries carry digests, never content)")
            pending.append(bytes(entry))
            carry = merkle.leaf_hash(entry)
            level = 0
            while carry is not None:
                if level == len(rows):
                    rows.append(bytearray())
                rows[level] += carry
                carry = None
                if len(rows[level]) == TILE_WIDTH * HASH:
                    index = ((size + 1) >> (TILE_HEIGHT * level)) // TILE_WIDTH - 1
                    tile_writes.append((tile_key(level, index), bytes(rows[level])))
                    carry = _tile_root(rows[level])
                    rows[level] = bytearray()
                    level += 1
            size += 1
            if len(pending) == TILE_WIDTH:
                bundle_writes.append((entries_key(size // TILE_WIDTH - 1), tiles.encode_entry_bundle(pending)))
                pending.clear()
        for level, row in enumerate(rows):
            if row:
                count = tiles.level_width(size, level)
                tile_writes.append((tile_key(level, count // TILE_WIDTH, count % TILE_WIDTH), bytes(row)))
        if pending:
            bundle_writes.append((entries_key(size // TILE_WIDTH, len(pending)), tiles.encode_entry_bundle(pending)))
        try:
            # Hash tiles strictly before entry bundles (see the module docstring); within each
            # phase the objects are independent, and concurrent puts hide the store's per-write
            # fsync or round trip.
            self._put_all(tile_writes)
            self._put_all(bundle_writes)
        except SunshineError as exc:
            self._rows, self._pending = [], []
            raise SunshineError(f"cannot publish ledger entries from {start_index}: {exc}; the "
                                "entries differ from those already published (history cannot be rewritten)") from None
        self.size = size

    def _put_all(self, writes: list[tuple[str, bytes]]) -> None:
        if len(writes) <= 1:
            for key, data in writes:
                self.store.put(key, data)
            return
        with ThreadPoolExecutor(max_workers=min(PUT_CONCURRENCY, len(writes))) as pool:
            futures = [pool.submit(self.store.put, key, data) for key, data in writes]
        for future in futures:
            future.result()


    def _check_published(self, start_index: int, entries: Sequence[bytes]) -> None:
        """Re-published entries must be byte-identical to the published ones."""
        index = start_index
        while index < start_index + len(entries):
            bundle, within = divmod(index, TILE_WIDTH)
            width = min(TILE_WIDTH, start_index + len(entries) - bundle * TILE_WIDTH)
            published = tiles.decode_entry_bundle(_read_tile_bytes(self.store, None, bundle, width))
            for offset in range(within, width):
                if published[offset] != entries[bundle * TILE_WIDTH + offset - start_index]:
                    raise SunshineError(
                        f"ledger entry {bundle * TILE_WIDTH + offset} differs from the one already published "
                        f"in {entries_key(bundle, width)}; history cannot be rewritten")
            index = (bundle + 1) * TILE_WIDTH


def _tile_root(row: bytearray | bytes) -> bytes:
    """The root of a full tile's 256 hashes: the hash one tile level up."""
    hashes = [bytes(row[i:i + HASH]) for i in range(0, len(row), HASH)]
    while len(hashes) > 1:
        hashes = [merkle.node_hash(hashes[i], hashes[i + 1]) for i in range(0, len(hashes), 2)]
    return hashes[0]


_writers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def append_entries(store: ObjectStore, start_index: int, entries: Sequence[bytes]) -> None:
    """Publish entries [start_index, start_index + len) as entry bundles and hash tiles.

    Idempotent: re-publishing a range (after a crash, from the catalog) rewrites identical bytes,
    which the store accepts; different bytes for a published index raise `SunshineError`. One
    `LogWriter` per store object is kept between calls so batches do not re-read tiles.
    """
    try:
        writer = _writers.get(store)
        if writer is None:
            writer = _writers[store] = LogWriter(store)
    except TypeError:  # a store that cannot be weakly referenced: no cached state
        writer = LogWriter(store)
    writer.append(start_index, entries)


def published_size(store: ObjectStore) -> int:
    """How many entries the store's entry bundles hold (probes full bundles, then the last partial)."""
    full = 0
    if store.exists(entries_key(0)):
        low, high = 1, 2  # bundle low-1 exists; bundle high-1 is not yet known to be missing
        while store.exists(entries_key(high - 1)):
            low, high = high, high * 2
        while high - low > 1:  # now bundle high-1 is missing
            mid = (low + high) // 2
            if store.exists(entries_key(mid - 1)):
                low = mid
            else:
                high = mid
        full = low
    for width in range(TILE_WIDTH - 1, 0, -1):
        if store.exists(entries_key(full, width)):
            return full * TILE_WIDTH + width
    return full * TILE_WIDTH


# ---------------------------------------------------------------------------------------- signing

def load_or_create_signer(key_path: Path, name: str) -> Signer:
    """The log's Ed25519 signer from `key_path`, creating the key file (mode 0600) the first time.

    The key file lives outside the object store; only the verifier key is published.
    """
    key_path = Path(key_path)
    if key_path.exists():
        mode = key_path.stat().st_mode
        if mode & 0o077:
            raise SunshineError(f"ledger key file {key_path} is readable by others; run: chmod 600 {key_path}")
        try:
            signer = parse_signer_key(key_path.read_text())
        except NoteError as exc:
            raise SunshineError(f"ledger key file {key_path}: {exc}") from None
        if signer.name != name:
            raise SunshineError(f"ledger key file {key_path} is for log {signer.name!r}, "
                                f"but the config names the log {name!r}")
        return signer
    try:
        signer = generate_signer(name)
    except NoteError as exc:
        raise SunshineError(f"ledger name: {exc}") from None
    key_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(signer_key(signer) + "\n")
    return signer


def verifier_key(signer: Signer) -> str:
    """The public verifier key `name+hash+base64(0x01 || pubkey)`, as `/ledger/key` serves it."""
    return signer.verifier().key()


def sign_checkpoint(store: ObjectStore, signer: Signer, origin: str) -> str:
    """Sign a checkpoint of everything published and store it; refuse if history was rewritten.

    The new tree must be consistent with the previous checkpoint (a consistency proof from the
    tiles is verified against the previous signed root). Writes `ledger/key` (once),
    `ledger/checkpoints/<size>` (kept) and `ledger/checkpoint` (the latest). Returns the text.
    """
    size = published_size(store)
    reader = StoreHashReader(store, size)
    try:
        root = merkle.tree_hash(size, reader)
    except ValueError as exc:
        raise SunshineError(f"cannot compute the ledger root at size {size}: {exc}") from None
    previous = _previous_checkpoint(store, signer)
    if previous is not None:
        if previous.origin != origin:
            raise SunshineError(f"ledger/checkpoint is for origin {previous.origin!r}, not {origin!r}; "
                                "a log's origin never changes")
        if previous.size > size:
            raise SunshineError(f"the published ledger has {size} entries but the last checkpoint has "
                                f"{previous.size}: entries are missing; re-publish them from the catalog")
        if previous.size:
            try:
                proof = merkle.consistency_proof(previous.size, size, reader)
                merkle.verify_consistency(previous.size, size, previous.root, root, proof)
            except ProofError:
                raise SunshineError(
                    f"ledger history was rewritten: the published tree of size {size} is not consistent "
                    f"with the checkpoint of size {previous.size}; refusing to sign") from None
    vkey = verifier_key(signer) + "\n"
    try:
        existing_key = store.get(KEY_KEY).decode()
    except KeyError:
        store.put(KEY_KEY, vkey.encode())
    else:
        if existing_key != vkey:
            raise SunshineError(f"{KEY_KEY} holds another public key ({existing_key.strip()}); "
                                "restore the original ledger key file instead of making a new one")
    text = sign_note(format_checkpoint(origin, size, root), [signer])
    store.put(f"{CHECKPOINTS_PREFIX}{size}", text.encode())
    store.put(CHECKPOINT_KEY, text.encode(), replace=True)
    return text


def _previous_checkpoint(store: ObjectStore, signer: Signer) -> Checkpoint | None:
    try:
        text = store.get(CHECKPOINT_KEY).decode()
    except KeyError:
        return None
    try:
        note = open_note(text, [signer.verifier()])
        return parse_checkpoint(note.text)
    except NoteError as exc:
        raise SunshineError(f"{CHECKPOINT_KEY} does not verify with this log's key ({exc}); "
                            "refusing to sign over it") from None


def verify_log(store: ObjectStore, verifier_key: str) -> list[str]:
    """Audit the whole log from the store; a list of problems, each naming the object (empty = good).

    See `archiver.ledger.audit.verify_log`.
    """
    from archiver.ledger.audit import verify_log as audit

    return audit(store, verifier_key)
