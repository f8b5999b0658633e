"""C2SP tlog-tiles: tile paths, entry bundles, and which tiles a tree of a given size has.

https://c2sp.org/tlog-tiles. A hash tile at level L, index N holds up to 256 consecutive hashes of
tree level 8·L (the roots of complete subtrees of 256**L leaves), concatenated; a partial tile of
width W < 256 is published at `<path>.p/<W>`. An entry bundle holds the entries of the level-0
tile with the same index, each as a 2-byte big-endian length followed by the entry bytes.

Paths encode N in 3-digit groups, all but the last prefixed with `x`: 1234067 → `x001/x234/067`.
Pure functions only; `archiver.ledger.log` does the storing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from archiver.errors import SunshineError
from archiver.ledger.merkle import HASH_SIZE

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
MAX_ENTRY_SIZE = 0xFFFF
"""An entry bundle's 2-byte length prefix caps an entry at 65535 bytes (DESIGN §7: digests only)."""


def encode_index(n: int) -> str:
    """The tile index N as path elements: `000`, `x001/000`, `x001/x234/067` (C2SP tlog-tiles)."""
    if n < 0:
        raise ValueError(f"negative tile index {n}")
    groups = [f"{n % 1000:03d}"]
    n //= 1000
    while n:
        groups.append(f"x{n % 1000:03d}")
        n //= 1000
    return "/".join(reversed(groups))


def _width_suffix(width: int) -> str:
    if not 1 <= width <= TILE_WIDTH:
        raise ValueError(f"tile width {width} is not in 1..{TILE_WIDTH}")
    return "" if width == TILE_WIDTH else f".p/{width}"


def tile_path(level: int, index: int, width: int = TILE_WIDTH) -> str:
    """`tile/<L>/<N>[.p/<W>]`: the path of a hash tile, relative to the log's prefix."""
    if level < 0:
        raise ValueError(f"negative tile level {level}")
    return f"tile/{level}/{encode_index(index)}{_width_suffix(width)}"


def entries_path(index: int, width: int = TILE_WIDTH) -> str:
    """`tile/entries/<N>[.p/<W>]`: the path of an entry bundle, relative to the log's prefix."""
    return f"tile/entries/{encode_index(index)}{_width_suffix(width)}"


@dataclass(frozen=True)
class TileRef:
    """One tile: `level` is None for an entry bundle."""

    level: int | None
    index: int
    width: int

    @property
    def path(self) -> str:
        if self.level is None:
            return entries_path(self.index, self.width)
        return tile_path(self.level, self.index, self.width)


_TILE_PATH = re.compile(
    r"^tile/(?P<level>entries|0|[1-9][0-9]{0,2})/(?P<index>(?:x[0-9]{3}/)*[0-9]{3})(?:\.p/(?P<width>[1-9][0-9]{0,2}))?$"
)


def parse_tile_path(path: str) -> TileRef:
    """The tile a path names; `ValueError` unless it is exactly a canonical C2SP tile path."""
    match = _TILE_PATH.match(path)
    if not match:
        raise ValueError(f"not a tile path: {path!r}")
    groups = match["index"].replace("x", "").split("/")
    if len(groups) > 1 and groups[0] == "000":
        raise ValueError(f"tile index has a leading zero group: {path!r}")
    index = int("".join(groups))
    width = TILE_WIDTH
    if match["width"]:
        width = int(match["width"])
        if width >= TILE_WIDTH:
            raise ValueError(f"partial tile width must be below {TILE_WIDTH}: {path!r}")
    level = None if match["level"] == "entries" else int(match["level"])
    ref = TileRef(level, index, width)
    if ref.path != path:
        raise ValueError(f"not a canonical tile path: {path!r}")
    return ref


def level_width(size: int, level: int) -> int:
    """How many hashes tree level 8·`level` has in a tree of `size` leaves (complete subtrees only)."""
    return size >> (TILE_HEIGHT * level)


def tile_width(size: int, level: int, index: int) -> int:
    """The width of tile `index` at tile level `level` in a tree of `size` leaves (0: not there yet).

    The same rule names an entry bundle's width (`level` 0): 256 when complete, else what is left.
    """
    return max(0, min(TILE_WIDTH, level_width(size, level) - index * TILE_WIDTH))


@dataclass(frozen=True)
class HashLocation:
    """Where the hash of tree node (`level`, `n`) is found: hash tiles store only every 8th tree
    level, so a level in between is row `row` of the tile's internal tree (row 0 is the stored
    hashes, row k their k-th level of parents), at position `position` of that row."""

    tile_level: int
    tile_index: int
    row: int
    position: int


def hash_location(level: int, n: int) -> HashLocation:
    """The tile that holds tree node (`level`, `n`), per C2SP tlog-tiles ("which tile holds i")."""
    tile_level, row = divmod(level, TILE_HEIGHT)
    per_tile = TILE_WIDTH >> row
    return HashLocation(tile_level, n // per_tile, row, n % per_tile)


def cut_tile(data: bytes, level: int | None, width: int) -> bytes:
    """The partial tile of `width` cut from the bytes of a wider tile at the same place.

    A tile of width W is exactly the first W hashes (or entries) of any wider tile at the same
    level and index (C2SP tlog-tiles), so a missing partial tile can be answered from a wider one.
    `level` None means an entry bundle. `ValueError` if `data` is not a tile at least `width` wide.
    """
    if level is None:
        entries = decode_entry_bundle(data)
        if len(entries) < width:
            raise ValueError(f"entry bundle holds {len(entries)} entries, fewer than {width}")
        return encode_entry_bundle(entries[:width])
    if len(data) % HASH_SIZE or len(data) < width * HASH_SIZE:
        raise ValueError(f"hash tile is {len(data)} bytes, not a whole number of hashes of at least {width}")
    return data[:width * HASH_SIZE]


def tiles_for_size(size: int) -> Iterator[TileRef]:
    """Every hash tile a tree of `size` leaves publishes (full and its right-edge partials)."""
    level = 0
    while True:
        count = level_width(size, level)
        if count == 0:
            return
        for index in range(count // TILE_WIDTH):
            yield TileRef(level, index, TILE_WIDTH)
        if count % TILE_WIDTH:
            yield TileRef(level, count // TILE_WIDTH, count % TILE_WIDTH)
        level += 1


def right_edge_tiles(size: int) -> list[TileRef]:
    """The partial hash tiles of a tree of `size` (the ones a checkpoint of that size needs)."""
    return [ref for ref in tiles_for_size(size) if ref.width < TILE_WIDTH]


def encode_entry_bundle(entries: Sequence[bytes]) -> bytes:
    """Entries as a bundle: for each, a 2-byte big-endian length then the bytes."""
    if len(entries) > TILE_WIDTH:
        raise ValueError(f"an entry bundle holds at most {TILE_WIDTH} entries")
    parts = []
    for entry in entries:
        if len(entry) > MAX_ENTRY_SIZE:
            raise SunshineError(
                f"ledger entry of {len(entry)} bytes exceeds the {MAX_ENTRY_SIZE}-byte limit; "
                "entries carry digests, never content"
            )
        parts.append(len(entry).to_bytes(2, "big"))
        parts.append(entry)
    return b"".join(parts)


def decode_entry_bundle(data: bytes) -> list[bytes]:
    """The entries of a bundle; `ValueError` if it is truncated."""
    entries, at = [], 0
    while at < len(data):
        if at + 2 > len(data):
            raise ValueError("entry bundle ends inside a length prefix")
        length = int.from_bytes(data[at:at + 2], "big")
        at += 2
        if at + length > len(data):
            raise ValueError("entry bundle ends inside an entry")
        entries.append(data[at:at + length])
        at += length
    return entries
