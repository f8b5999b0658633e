"""The transparency log in the object store: entries, the writer and checkpoint signing (DESIGN §7).

Reading is `archiver.ledger.reader` (the layout is described there). Full tiles are immutable;
partial tiles are written at every width a publish ends on and kept, so any past checkpoint stays
provable from tiles alone. Within one publish, hash tiles are written before entry bundles, so an
entry bundle's presence means the tiles above it exist.

One publisher at a time: callers that may run concurrently (an archive run and a clerk's
`sunshine hold add`) hold `archiver.ledger.lock.publish_lock` around `append_entries` and
`sign_checkpoint`; `sign_checkpoint` also refuses to replace the stored checkpoint with a smaller
or inconsistent one, re-reading it just before it writes.
"""

from __future__ import annotations

import os
import tempfile
import weakref
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from archiver.canonical import canonical_json
from archiver.errors import IntegrityError, StoreUnavailableError, SunshineError
from archiver.ledger import merkle, tiles
from archiver.ledger.audit import verify_log
from archiver.ledger.merkle import ProofError
from archiver.ledger.note import (
    Checkpoint,
    NoteError,
    Signer,
    format_checkpoint,
    generate_signer,
    open_checkpoint,
    parse_signer_key,
    sign_note,
    signer_key,
)
from archiver.ledger.reader import (
    CHECKPOINT_KEY,
    CHECKPOINTS_PREFIX,
    KEY_KEY,
    LedgerObjectError,
    LogReader,
    entries_key,
    kept_checkpoint_key,
    tile_key,
)
from archiver.ledger.tiles import TILE_HEIGHT, TILE_WIDTH
from archiver.store import ObjectStore

__all__ = [  # the reader's names are re-exported: callers of the log need not know the split
    "CHECKPOINTS_PREFIX", "CHECKPOINT_KEY", "KEY_KEY", "LogReader", "LogWriter",
    "append_entries", "entries_key", "entry_for_capture", "entry_for_event", "load_or_create_signer",
    "published_size", "sign_checkpoint", "tile_key", "verifier_key", "verify_log",
]

HASH = merkle.HASH_SIZE
PUT_CONCURRENCY = 8
_STORE_FAILURES = (StoreUnavailableError, IntegrityError)  # never re-worded: callers act on the type


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


# ---------------------------------------------------------------------------------------- writing

class LogWriter:
    """Publishes entries as tiles, keeping the tree's right edge in memory between calls.

    State: the hashes of the incomplete tile at each tile level and the entries of the incomplete
    bundle. It is re-loaded from the store's partial tiles whenever a call starts anywhere but
    where the last one ended (a fresh process, or a re-publish after a crash).
    """

    def __init__(self, store: ObjectStore) -> None:
        self.store = store
        self.reader = LogReader(store)
        self.size: int | None = None
        self._rows: list[bytearray] = []
        self._pending: list[bytes] = []

    def _load(self, size: int) -> None:
        """Re-load the right edge at `size` from the store's tiles.

        A publish interrupted after some tiles may have left only a wider partial tile where this
        size needs one; the tile is cut from it and stored at its own path, so every tile of a
        tree this writer continues (and may sign) exists as readers fetch it.
        """
        self.size, self._rows, self._pending = None, [], []
        if size < 0:
            raise ValueError(f"negative ledger index {size}")
        try:
            level = 0
            while tiles.level_width(size, level):
                count = tiles.level_width(size, level)
                width = count % TILE_WIDTH
                row = self._edge_tile(level, count // TILE_WIDTH, width) if width else b""
                self._rows.append(bytearray(row))
                level += 1
            if size % TILE_WIDTH:
                data = self.reader.read_entry_bundle(size // TILE_WIDTH, size % TILE_WIDTH, search=True)
                self._pending = tiles.decode_entry_bundle(data)
            elif size and not self.store.exists(entries_key(size // TILE_WIDTH - 1)):
                raise LedgerObjectError(f"ledger object {entries_key(size // TILE_WIDTH - 1)} is missing")
        except (LedgerObjectError, ValueError) as exc:
            raise SunshineError(
                f"cannot continue the ledger at index {size}: {exc}; re-publish the entries from the "
                f"last checkpoint (size {self.reader.size()}) from the catalog"
            ) from None
        self.size = size

    def _edge_tile(self, level: int, index: int, width: int) -> bytes:
        key = tile_key(level, index, width)
        if self.store.exists(key):
            return self.reader.read_tile(level, index, width)
        row = self.reader.read_tile(level, index, width, search=True)
        self.store.put(key, row)
        return row

    def append(self, start_index: int, entries: Sequence[bytes]) -> None:
        """Publish entries [start_index, start_index + len(entries)); re-publishing is a no-op."""
        if self.size != start_index:
            published = self.reader.published_size()
            if start_index > published:
                raise SunshineError(f"cannot continue the ledger at index {start_index}: only {published} "
                                    "entries are published; publish the missing ones first")
            overlap = min(len(entries), published - start_index)
            self._check_published(start_index, entries[:overlap])
            start_index, entries = start_index + overlap, entries[overlap:]
            if not entries and start_index < published:
                return  # all already published; the right edge is elsewhere, nothing to load
            self._load(start_index)
        if not entries:
            return
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
        except _STORE_FAILURES:
            self._rows, self._pending = [], []
            raise
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
            published = tiles.decode_entry_bundle(self.reader.read_entry_bundle(bundle, width, search=True))
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
    """How many entries the store's entry bundles hold; see `LogReader.published_size`."""
    return LogReader(store).published_size()


# ---------------------------------------------------------------------------------------- signing

def load_or_create_signer(key_path: Path, name: str) -> Signer:
    """The log's Ed25519 signer from `key_path`, creating the key file (mode 0600) the first time.

    The key file lives outside the object store; only the verifier key is published. Two
    publishers starting at once (the first archive run and a clerk's command) must end with one
    key: the file is written whole under a temporary name and linked into place, which fails if
    the other got there first, and then the other's key is the log's.
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
    fd, temporary = tempfile.mkstemp(dir=key_path.parent, prefix=f".{key_path.name}.")  # mode 0600
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(signer_key(signer) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.link(temporary, key_path)  # atomic create-if-absent: never a half-written key file
    except FileExistsError:
        return load_or_create_signer(key_path, name)
    finally:
        os.unlink(temporary)
    return signer


def verifier_key(signer: Signer) -> str:
    """The public verifier key `name+hash+base64(0x01 || pubkey)`, as `/ledger/key` serves it."""
    return signer.verifier().key()


def sign_checkpoint(store: ObjectStore, signer: Signer, origin: str, *, latest: bool = True) -> str:
    """Sign a checkpoint of everything published and store it; refuse if history was rewritten.

    The new tree must extend the stored checkpoint: at least as large, and consistent with it (a
    consistency proof from the tiles is verified against its signed root). The stored checkpoint
    is read again just before it is replaced, so even a publisher that ignored the publish lock
    cannot move it backwards past this check. Writes `ledger/key` (once),
    `ledger/checkpoints/<size>` (kept) and `ledger/checkpoint` (the latest). Returns the text.
    With `latest=False` the checkpoint is only kept: a log with a witness policy makes it the
    latest only once enough witnesses cosigned it (`archiver.publish`).
    """
    reader = LogReader(store)
    size = reader.published_size()
    append_entries(store, size, [])  # stands the writer at `size`: every tile of that tree stored
    hashes = reader.hashes(size)
    try:
        root = merkle.tree_hash(size, hashes)
    except ValueError as exc:
        raise SunshineError(f"cannot compute the ledger root at size {size}: {exc}") from None
    _check_extends(reader, signer, origin, size, root, hashes)
    vkey = verifier_key(signer) + "\n"
    existing_key = reader.read_key()
    if existing_key is None:
        store.put(KEY_KEY, vkey.encode())
    elif existing_key != vkey:
        raise SunshineError(f"{KEY_KEY} holds another public key ({existing_key.strip()}); "
                            "restore the original ledger key file instead of making a new one")
    text = sign_note(format_checkpoint(origin, size, root), [signer])
    store.put(kept_checkpoint_key(size), text.encode())
    if latest:
        _check_extends(reader, signer, origin, size, root, hashes)
        store.put(CHECKPOINT_KEY, text.encode(), replace=True)
    return text


def _check_extends(reader: LogReader, signer: Signer, origin: str, size: int, root: bytes,
                   hashes: merkle.HashReader) -> None:
    """Refuse unless the tree (`size`, `root`) extends the stored checkpoint, if there is one."""
    previous = _stored_checkpoint(reader, signer)
    if previous is None:
        return
    if previous.origin != origin:
        raise SunshineError(f"{CHECKPOINT_KEY} is for origin {previous.origin!r}, not {origin!r}; "
                            "a log's origin never changes")
    if previous.size > size:
        raise SunshineError(f"the published ledger has {size} entries but {CHECKPOINT_KEY} signs "
                            f"{previous.size}: refusing to move it backwards; re-publish the missing "
                            "entries from the catalog")
    if previous.size:
        try:
            proof = merkle.consistency_proof(previous.size, size, hashes)
            merkle.verify_consistency(previous.size, size, previous.root, root, proof)
        except ProofError:
            raise SunshineError(
                f"ledger history was rewritten: the published tree of size {size} is not consistent "
                f"with the checkpoint of size {previous.size}; refusing to sign") from None


def _stored_checkpoint(reader: LogReader, signer: Signer) -> Checkpoint | None:
    text = reader.read_checkpoint()
    if text is None:
        return None
    try:
        return open_checkpoint(text, [signer.verifier()])
    except NoteError as exc:
        raise SunshineError(f"{CHECKPOINT_KEY} does not verify with this log's key ({exc}); "
                            "refusing to sign over it") from None
