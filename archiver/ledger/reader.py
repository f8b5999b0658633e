"""The one reader of the published log (Tessera's `LogReader`): checkpoints, hash tiles, entry bundles.

The writer (`log.LogWriter`, `sign_checkpoint`), the auditor (`audit`, `archiver.ledger_check`) and
the portal read the log only through `LogReader`, so "which tile holds index i" and "a partial tile
cut from a wider one" are decided here and in `tiles`, nowhere else.

Store layout (everything under `ledger/`, so the portal serves `/ledger/<path>` as stored):

    ledger/tile/<L>/<N>[.p/<W>]         hash tiles (C2SP tlog-tiles)
    ledger/tile/entries/<N>[.p/<W>]     entry bundles
    ledger/checkpoint                   the latest signed checkpoint (the one mutable pointer)
    ledger/checkpoints/<size>           every checkpoint ever signed, kept
    ledger/key                          the verifier key that signs them

A missing partial tile is answered from a wider one at the same place. Which wider ones are tried
is bounded: the full tile and the width the latest signed checkpoint gives that tile (3 reads).
Only the writer, resuming after a crash, may ask to `search` every wider width (255 reads at most).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence

from archiver.errors import SunshineError
from archiver.ledger import merkle, tiles
from archiver.ledger.merkle import Address
from archiver.ledger.note import NoteError, peek_checkpoint
from archiver.ledger.tiles import TILE_WIDTH, TileRef
from archiver.store import ObjectStore
from archiver.store.keys import LEDGER_PREFIX

HASH = merkle.HASH_SIZE
CHECKPOINT_KEY = LEDGER_PREFIX + "checkpoint"
CHECKPOINTS_PREFIX = LEDGER_PREFIX + "checkpoints/"
KEY_KEY = LEDGER_PREFIX + "key"


class LedgerObjectError(SunshineError):
    """A ledger object is missing or damaged (never a store outage: those keep their own type)."""


class MissingTileError(LedgerObjectError):
    """Neither the tile nor any wider tile it could be cut from is stored."""


def tile_key(level: int, index: int, width: int = TILE_WIDTH) -> str:
    return LEDGER_PREFIX + tiles.tile_path(level, index, width)


def entries_key(index: int, width: int = TILE_WIDTH) -> str:
    return LEDGER_PREFIX + tiles.entries_path(index, width)


def kept_checkpoint_key(size: int) -> str:
    return f"{CHECKPOINTS_PREFIX}{size}"


class LogReader:
    """Raw objects, hashes, entries and proofs of the log, from the store alone.

    Proof sizes are bounded by the latest signed checkpoint: asking beyond it is a `ValueError` (a
    bad request), never a hunt for tiles that do not exist. Missing or damaged objects inside it
    raise `LedgerObjectError` naming the object; store failures pass through unchanged. Safe to
    share between threads (the portal keeps one per app for its tile cache).
    """

    def __init__(self, store: ObjectStore, cache_tiles: int = 1024) -> None:
        self.store = store
        self._cache: OrderedDict[tuple[int, int, int], list[bytes]] = OrderedDict()
        self._cache_tiles = cache_tiles
        self._cache_lock = threading.Lock()
        self._signed_size = -1

    # -------------------------------------------------------------------------------- raw objects

    def _text(self, key: str) -> str | None:
        try:
            data = self.store.get(key)
        except KeyError:
            return None
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise LedgerObjectError(f"{key} is not UTF-8 text") from None

    def read_checkpoint(self) -> str | None:
        """The latest signed checkpoint as stored, or None before the first."""
        return self._text(CHECKPOINT_KEY)

    def read_kept_checkpoint(self, size: int) -> str | None:
        """The checkpoint signed at `size` (`ledger/checkpoints/<size>`), or None."""
        return self._text(kept_checkpoint_key(size))

    def read_key(self) -> str | None:
        """The published verifier key as stored, or None."""
        return self._text(KEY_KEY)

    def read_tile(self, level: int, index: int, width: int, *, search: bool = False) -> bytes:
        """Hash tile `level`/`index` at `width`: the stored object, or cut from a wider one."""
        return self._read(TileRef(level, index, width), search)

    def read_entry_bundle(self, index: int, width: int, *, search: bool = False) -> bytes:
        """Entry bundle `index` at `width`: the stored object, or cut from a wider one."""
        return self._read(TileRef(None, index, width), search)

    def _read(self, ref: TileRef, search: bool) -> bytes:
        key = LEDGER_PREFIX + ref.path
        for width in self._candidate_widths(ref, search):
            candidate = LEDGER_PREFIX + TileRef(ref.level, ref.index, width).path
            try:
                data = self.store.get(candidate)
            except KeyError:
                continue
            if ref.level is not None and len(data) != width * HASH:
                raise LedgerObjectError(f"ledger object {candidate} is {len(data)} bytes, expected {width * HASH}")
            if width == ref.width:
                return data  # as stored: an entry bundle is decoded (and checked) where it is used
            try:
                return tiles.cut_tile(data, ref.level, ref.width)
            except ValueError as exc:
                raise LedgerObjectError(f"ledger object {candidate} is damaged: {exc}") from None
        raise MissingTileError(f"ledger object {key} is missing")

    def _candidate_widths(self, ref: TileRef, search: bool) -> Iterator[int]:
        """The tile itself, its full tile, the width the latest checkpoint gives it, then (only when
        `search`) every other wider width: a bounded number of reads unless asked otherwise."""
        yield ref.width
        if ref.width == TILE_WIDTH:
            return
        yield TILE_WIDTH
        signed = tiles.tile_width(self._latest_size_or_zero(), ref.level or 0, ref.index)
        if ref.width < signed < TILE_WIDTH:
            yield signed
        if search:
            yield from (width for width in range(ref.width + 1, TILE_WIDTH) if width != signed)

    def _latest_size_or_zero(self) -> int:
        try:
            return self.size()
        except (NoteError, LedgerObjectError):
            return 0  # a damaged checkpoint offers no width; the tile is then simply missing

    # -------------------------------------------------------------------------------- tree state

    def checkpoint(self) -> str:
        """The latest signed checkpoint text; `SunshineError` if none has been signed."""
        text = self.read_checkpoint()
        if text is None:
            raise SunshineError("the ledger has no signed checkpoint yet; run an archive first")
        return text

    def size(self) -> int:
        """The size of the latest signed checkpoint (0 before the first)."""
        text = self.read_checkpoint()
        return 0 if text is None else peek_checkpoint(text).size

    def published_size(self) -> int:
        """How many entries the entry bundles hold (probes full bundles, then the last partial).

        The writer's view, ahead of the checkpoint while a publish is unsigned.
        """
        store = self.store
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

    def hashes(self, size: int) -> StoreHashReader:
        """A `merkle.HashReader` over the tiles of a tree of `size`, not bounded by the checkpoint
        (the writer signs a size no checkpoint has yet; the auditor checks every kept one)."""
        return StoreHashReader(self, size)

    def _signed_hashes(self, size: int) -> StoreHashReader:
        if size > self._signed_size:
            self._signed_size = self.size()  # re-read the checkpoint only when asked beyond it
            if size > self._signed_size:
                raise ValueError(f"tree size {size} is beyond the latest checkpoint (size {self._signed_size})")
        return self.hashes(size)

    def _tile_rows(self, tile_level: int, index: int, size: int) -> list[bytes]:
        """A hash tile of a tree of `size` expanded into all its rows (cached: 255 hashes a tile)."""
        width = tiles.tile_width(size, tile_level, index)
        if width == 0:
            raise ValueError(f"tile {tile_level}/{index} is outside a tree of size {size}")
        cache_key = (tile_level, index, width)
        with self._cache_lock:
            rows = self._cache.get(cache_key)
            if rows is not None:
                self._cache.move_to_end(cache_key)
                return rows
        row = self.read_tile(tile_level, index, width)
        rows = [row]
        while len(row) >= 2 * HASH:
            row = b"".join(merkle.node_hash(row[i:i + HASH], row[i + HASH:i + 2 * HASH])
                           for i in range(0, len(row) - HASH, 2 * HASH))
            rows.append(row)
        with self._cache_lock:
            self._cache[cache_key] = rows
            while len(self._cache) > self._cache_tiles:
                self._cache.popitem(last=False)
        return rows

    # -------------------------------------------------------------------------------- entries, proofs

    def entry(self, index: int, size: int | None = None) -> bytes:
        size = self.size() if size is None else size
        if not 0 <= index < size:
            raise ValueError(f"entry index {index} is not inside a log of size {size}")
        self._signed_hashes(size)  # bounds `size` by the checkpoint
        bundle, within = divmod(index, TILE_WIDTH)
        width = tiles.tile_width(size, 0, bundle)
        try:
            return tiles.decode_entry_bundle(self.read_entry_bundle(bundle, width))[within]
        except (ValueError, IndexError):
            raise LedgerObjectError(f"ledger object {entries_key(bundle, width)} is damaged") from None

    def root(self, size: int) -> bytes:
        return merkle.tree_hash(size, self._signed_hashes(size))

    def leaf_hash(self, index: int, size: int | None = None) -> bytes:
        size = self.size() if size is None else size
        if not 0 <= index < size:
            raise ValueError(f"leaf index {index} is not inside a tree of size {size}")
        return self._signed_hashes(size).read_hashes([(0, index)])[0]

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        return merkle.inclusion_proof(index, size, self._signed_hashes(size))

    def consistency_proof(self, old: int, new: int) -> list[bytes]:
        return merkle.consistency_proof(old, new, self._signed_hashes(new))

    def inclusion_json(self, index: int, size: int) -> dict:
        """The `/api/v1/proof/inclusion` body: `{"index", "size", "leaf_hash", "proof": [hex…], "root"}`."""
        return {"index": index, "size": size, "leaf_hash": self.leaf_hash(index, size).hex(),
                "proof": [h.hex() for h in self.inclusion_proof(index, size)], "root": self.root(size).hex()}

    def consistency_json(self, old: int, new: int) -> dict:
        """The `/api/v1/proof/consistency` body: `{"old", "new", "proof": [hex…]}`."""
        return {"old": old, "new": new, "proof": [h.hex() for h in self.consistency_proof(old, new)]}


class StoreHashReader:
    """`merkle.HashReader` over the hash tiles of a tree of `size` leaves, through a `LogReader`."""

    def __init__(self, reader: LogReader, size: int) -> None:
        self.reader, self.size = reader, size

    def read_hashes(self, addresses: Sequence[Address]) -> list[bytes]:
        out = []
        for level, n in addresses:
            if (n + 1) << level > self.size:
                raise ValueError(f"subtree ({level}, {n}) is not complete in a tree of size {self.size}")
            at = tiles.hash_location(level, n)
            row = self.reader._tile_rows(at.tile_level, at.tile_index, self.size)[at.row]
            out.append(row[at.position * HASH:(at.position + 1) * HASH])
        return out
