"""`verify_log`: audit a stored transparency log from its objects alone (`sunshine verify`).

The entry bundles are the source of truth; tiles are derived from them and the checkpoints sign
roots over them. The audit recomputes the whole tree from the entries and checks every tile,
every kept checkpoint's signature, root and consistency with the next one, and the published key.

Each problem names the exact object. When a checkpoint's signed root is not reproduced, the audit
decides which side is damaged: if the stored tiles still reproduce every signed root, the entry
bundles that disagree with the level-0 tiles are blamed; otherwise the tiles that disagree with
the entries are.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from archiver.ledger import merkle, tiles
from archiver.ledger.merkle import Address, ProofError
from archiver.ledger.note import Checkpoint, NoteError, open_checkpoint, parse_verifier_key
from archiver.ledger.reader import (
    CHECKPOINT_KEY,
    CHECKPOINTS_PREFIX,
    KEY_KEY,
    LedgerObjectError,
    LogReader,
    entries_key,
    tile_key,
)
from archiver.ledger.tiles import TILE_HEIGHT, TILE_WIDTH
from archiver.ledger.timestamp import parse_timestamp_key
from archiver.store import ObjectStore
from archiver.store.keys import LEDGER_PREFIX

HASH = merkle.HASH_SIZE
_SIZE = re.compile(r"^(0|[1-9][0-9]*)$")


class _RowsReader:
    """`HashReader` over every level of a tree recomputed in memory (levels as concatenated bytes)."""

    def __init__(self, leaf_row: bytes) -> None:
        self.levels = [leaf_row]
        row = leaf_row
        while len(row) >= 2 * HASH:
            row = b"".join(merkle.node_hash(row[i:i + HASH], row[i + HASH:i + 2 * HASH])
                           for i in range(0, len(row) - HASH, 2 * HASH))
            self.levels.append(row)

    def read_hashes(self, addresses: Sequence[Address]) -> list[bytes]:
        return [self.levels[level][n * HASH:(n + 1) * HASH] for level, n in addresses]


class _Inventory:
    """What is stored under `ledger/`, sorted into kinds."""

    def __init__(self, store: ObjectStore, problems: list[str]) -> None:
        self.bundles: dict[int, dict[int, str]] = {}
        self.hash_tiles: dict[tuple[int, int], dict[int, str]] = {}
        self.checkpoints: dict[int, str] = {}
        self.keys: set[str] = set()
        for obj in store.list(LEDGER_PREFIX):
            self.keys.add(obj.key)
            rel = obj.key[len(LEDGER_PREFIX):]
            if obj.key in (CHECKPOINT_KEY, KEY_KEY):
                continue
            if obj.key.startswith(CHECKPOINTS_PREFIX) and _SIZE.match(obj.key[len(CHECKPOINTS_PREFIX):]):
                self.checkpoints[int(obj.key[len(CHECKPOINTS_PREFIX):])] = obj.key
                continue
            if parse_timestamp_key(obj.key) is not None:
                continue  # an RFC 3161 token beside its checkpoint, checked by `ledger.timestamp`
            try:
                ref = tiles.parse_tile_path(rel)
            except ValueError:
                problems.append(f"{obj.key}: unexpected object in the ledger")
                continue
            if ref.level is None:
                self.bundles.setdefault(ref.index, {})[ref.width] = obj.key
            else:
                self.hash_tiles.setdefault((ref.level, ref.index), {})[ref.width] = obj.key


def _leaf_row(store: ObjectStore, inv: _Inventory, problems: list[str]) -> bytes:
    """Leaf hashes of every published entry, checking each bundle (and its older partials)."""
    full = 0
    while TILE_WIDTH in inv.bundles.get(full, {}):
        full += 1
    last_width = max((w for w in inv.bundles.get(full, {}) if w < TILE_WIDTH), default=0)
    size = full * TILE_WIDTH + last_width
    for index in sorted(inv.bundles):
        if index > full or (index == full and last_width == 0):
            for key in inv.bundles[index].values():
                problems.append(f"{key}: entry bundle beyond the end of the log "
                                f"(missing {entries_key(full, TILE_WIDTH)} or earlier)")
    row = bytearray()
    for index in range((size + TILE_WIDTH - 1) // TILE_WIDTH):
        width = min(TILE_WIDTH, size - index * TILE_WIDTH)
        key = entries_key(index, width)
        try:
            entries = tiles.decode_entry_bundle(store.get(key))
            if len(entries) != width:
                raise ValueError(f"holds {len(entries)} entries, expected {width}")
        except (ValueError, KeyError) as exc:
            problems.append(f"{key}: damaged entry bundle ({exc})")
            row += _stored_level0(store, index, width)
            continue
        row += b"".join(merkle.leaf_hash(entry) for entry in entries)
        for other_width, other_key in inv.bundles[index].items():
            if other_width < width:
                try:
                    prefix_ok = tiles.decode_entry_bundle(store.get(other_key)) == entries[:other_width]
                except ValueError:
                    prefix_ok = False
                if not prefix_ok:
                    problems.append(f"{other_key}: partial entry bundle is not a prefix of {key}")
    return bytes(row)


def _stored_level0(store: ObjectStore, index: int, width: int) -> bytes:
    """Leaf hashes from the level-0 tile, standing in for a bundle that cannot be read."""
    try:
        return LogReader(store).read_tile(0, index, width)
    except LedgerObjectError:
        return bytes(width * HASH)


def _tile_problems(store: ObjectStore, inv: _Inventory, tree: _RowsReader, needed: set[tuple[int, int, int]]) -> list[str]:
    """Every stored hash tile compared with the recomputed tree; every needed tile present."""
    problems = []
    for (level, index), widths in sorted(inv.hash_tiles.items()):
        row = tree.levels[level * TILE_HEIGHT] if level * TILE_HEIGHT < len(tree.levels) else b""
        for width, key in sorted(widths.items()):
            expected = row[index * TILE_WIDTH * HASH:(index * TILE_WIDTH + width) * HASH]
            if len(expected) != width * HASH:
                problems.append(f"{key}: hash tile beyond the end of the log")
            elif store.get(key) != expected:
                problems.append(f"{key}: hash tile does not match the hashes recomputed from the entries")
    for level, index, width in sorted(needed):
        if width not in inv.hash_tiles.get((level, index), {}):
            problems.append(f"{tile_key(level, index, width)}: hash tile is missing")
    return problems


def _bundle_blame(store: ObjectStore, tree: _RowsReader, size: int) -> list[str]:
    """Entry bundles whose leaf hashes disagree with the (trusted) level-0 tiles."""
    problems = []
    for index in range((size + TILE_WIDTH - 1) // TILE_WIDTH):
        width = min(TILE_WIDTH, size - index * TILE_WIDTH)
        stored = _stored_level0(store, index, width)
        ours = tree.levels[0][index * TILE_WIDTH * HASH:(index * TILE_WIDTH + width) * HASH]
        for i in range(width):
            if stored[i * HASH:(i + 1) * HASH] != ours[i * HASH:(i + 1) * HASH]:
                problems.append(f"{entries_key(index, width)}: entry {index * TILE_WIDTH + i} does not match "
                                f"its signed leaf hash in {tile_key(0, index, width)}")
    return problems


def _open_checkpoint(store: ObjectStore, key: str, verifier, problems: list[str]) -> tuple[Checkpoint, bytes] | None:
    data = store.get(key)
    try:
        checkpoint = open_checkpoint(data.decode(), [verifier])
    except (NoteError, UnicodeDecodeError) as exc:
        problems.append(f"{key}: checkpoint does not verify ({exc})")
        return None
    return checkpoint, data


def _root(reader: merkle.HashReader, size: int) -> bytes | None:
    """The root at `size`, or None if the tiles cannot give it (a store failure is raised, not
    reported as damage: the audit cannot judge what it could not read)."""
    try:
        return merkle.tree_hash(size, reader)
    except (LedgerObjectError, ValueError, IndexError):
        return None


def verify_log(store: ObjectStore, verifier_key: str, *, cosigned: bool = False) -> list[str]:
    """Audit the log under `ledger/`; human-readable problems naming objects (empty = all good).

    With `cosigned` (a witness policy is configured), `ledger/checkpoint` is the latest kept
    checkpoint that met the policy, with cosignature lines appended, so it may be smaller than the
    newest kept one, or absent; `archiver.ledger_witnesses` judges those against the policy.
    """
    try:
        verifier = parse_verifier_key(verifier_key)
    except NoteError as exc:
        return [f"verifier key: {exc}"]
    problems: list[str] = []
    inv = _Inventory(store, problems)
    tree = _RowsReader(_leaf_row(store, inv, problems))
    size = len(tree.levels[0]) // HASH

    signed: dict[int, Checkpoint] = {}
    for cp_size, key in sorted(inv.checkpoints.items()):
        opened = _open_checkpoint(store, key, verifier, problems)
        if opened is None:
            continue
        if opened[0].size != cp_size:
            problems.append(f"{key}: checkpoint is for size {opened[0].size}, not {cp_size}")
            continue
        signed[cp_size] = opened[0]
    if CHECKPOINT_KEY in inv.keys:
        opened = _open_checkpoint(store, CHECKPOINT_KEY, verifier, problems)
        if opened is not None:
            latest, data = opened
            kept = inv.checkpoints.get(latest.size)
            kept_data = store.get(kept) if kept is not None else None
            if kept_data is None or not (data == kept_data or (cosigned and data.startswith(kept_data))):
                problems.append(f"{CHECKPOINT_KEY}: not the same as {CHECKPOINTS_PREFIX}{latest.size}")
            elif latest.size != max(inv.checkpoints) and not cosigned:
                problems.append(f"{CHECKPOINT_KEY}: is size {latest.size}, but a larger checkpoint "
                                f"{CHECKPOINTS_PREFIX}{max(inv.checkpoints)} exists")
    elif inv.checkpoints and not cosigned:
        problems.append(f"{CHECKPOINT_KEY}: missing, though kept checkpoints exist")
    if KEY_KEY in inv.keys and store.get(KEY_KEY).decode(errors="replace").strip() != verifier_key.strip():
        problems.append(f"{KEY_KEY}: holds a different key from the one given")

    needed = {(ref.level, ref.index, ref.width) for ref in tiles.tiles_for_size(size) if ref.width == TILE_WIDTH}
    for cp_size in signed:
        needed |= {(ref.level, ref.index, ref.width) for ref in tiles.right_edge_tiles(cp_size)}
    beyond = [s for s in signed if s > size]
    for cp_size in beyond:
        problems.append(f"{inv.checkpoints[cp_size]}: signs {cp_size} entries but only {size} are published")
        del signed[cp_size]
    entries_agree = all(_root(tree, s) == cp.root for s, cp in signed.items())
    log = LogReader(store)
    tiles_agree = bool(signed) and all(_root(log.hashes(s), s) == cp.root for s, cp in signed.items())
    if entries_agree or not tiles_agree:
        problems += _tile_problems(store, inv, tree, needed)
        for cp_size, cp in sorted(signed.items()):
            if _root(tree, cp_size) != cp.root:
                problems.append(f"{inv.checkpoints[cp_size]}: signed root does not match the tree "
                                "recomputed from the entries")
    else:
        problems += _bundle_blame(store, tree, size)

    ordered = sorted(signed.items())
    for (old_size, old), (new_size, new) in zip(ordered, ordered[1:], strict=False):
        if old_size == 0:
            continue
        if not any(_consistent(reader, old, new) for reader in (tree, log.hashes(new_size))):
            problems.append(f"{inv.checkpoints[new_size]}: not consistent with {inv.checkpoints[old_size]}")
    return problems


def _consistent(reader: merkle.HashReader, old: Checkpoint, new: Checkpoint) -> bool:
    try:
        proof = merkle.consistency_proof(old.size, new.size, reader)
        merkle.verify_consistency(old.size, new.size, old.root, new.root, proof)
    except (ProofError, LedgerObjectError, ValueError, IndexError):
        return False
    return True
