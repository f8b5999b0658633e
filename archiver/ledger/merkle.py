"""RFC 6962 / RFC 9162 Merkle tree hashing, proofs and proof verification.

Pure functions, modelled on Go's `golang.org/x/mod/sumdb/tlog`: nothing here does I/O. Storage
enters through one small protocol, `HashReader.read_hashes(addresses)`, where an address
`(level, n)` names the hash of the complete subtree of 2**level leaves that covers leaves
`[n * 2**level, (n + 1) * 2**level)` (Go's `StoredHashIndex(level, n)`, kept as a pair because our
tiles are addressed by level). Proof generation first plans every address it needs, reads them in
one call (so a tile-backed reader fetches each tile once), then folds the hashes.

Spec terms → names here: MTH(D[n]) → `tree_hash` / `root_from_leaf_hashes`; PATH(m, D[n]) →
`inclusion_proof`; PROOF(m, D[n]) → `consistency_proof`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Protocol

from archiver.errors import SunshineError

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
"""MTH({}) = SHA-256() (RFC 9162 §2.1.1): the root of the empty tree."""

Address = tuple[int, int]


class ProofError(SunshineError):
    """A proof did not verify (or was malformed). The one sentinel for every failed check."""


class HashReader(Protocol):
    def read_hashes(self, addresses: Sequence[Address]) -> list[bytes]:
        """The stored hash of each complete subtree `(level, n)`, in the order asked."""


def leaf_hash(entry: bytes) -> bytes:
    """leaf_hash returns MTH({d0}) = SHA-256(0x00 || d0), RFC 9162 §2.1.1."""
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """node_hash returns SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n])), RFC 9162 §2.1.1."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _largest_power_of_two_below(n: int) -> int:
    """k: the largest power of two smaller than n (n > 1), the split point of RFC 9162 §2.1.1."""
    return 1 << ((n - 1).bit_length() - 1)


def root_from_leaf_hashes(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH(D[n]) from all n leaf hashes, bottom-up (RFC 9162 §2.1.1). O(n); for tests and audits."""
    if not leaf_hashes:
        return EMPTY_ROOT
    level = list(leaf_hashes)
    # Pairing left to right and promoting an odd last node unchanged gives exactly the RFC's
    # "split at the largest power of two" tree.
    while len(level) > 1:
        paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def subtree_addresses(lo: int, hi: int) -> list[Address]:
    """The maximal complete subtrees covering leaves [lo, hi), left to right.

    Every range the RFC recursion produces starts at a multiple of its largest piece, so the
    pieces are aligned complete subtrees that storage holds (Go's `subTreeIndex`).
    """
    addresses = []
    while lo < hi:
        level = (hi - lo).bit_length() - 1
        size = 1 << level
        if lo % size:
            raise AssertionError(f"ledger: unaligned subtree range [{lo}, {hi})")  # a bug, not bad input
        addresses.append((level, lo >> level))
        lo += size
    return addresses


def fold_subtrees(hashes: Sequence[bytes]) -> bytes:
    """MTH of a range from its maximal complete subtrees: h0 || (h1 || (... || hk)) (Go's `subTreeHash`)."""
    result = hashes[-1]
    for left in reversed(hashes[:-1]):
        result = node_hash(left, result)
    return result


def _read_groups(groups: list[list[Address]], reader: HashReader) -> list[bytes]:
    """Read every group's addresses in one call and fold each group into one hash."""
    flat = [address for group in groups for address in group]
    hashes = reader.read_hashes(flat) if flat else []
    if len(hashes) != len(flat):
        raise AssertionError("ledger: read_hashes returned the wrong number of hashes")
    out, at = [], 0
    for group in groups:
        out.append(fold_subtrees(hashes[at:at + len(group)]))
        at += len(group)
    return out


def tree_hash(size: int, reader: HashReader) -> bytes:
    """MTH(D[size]), the root of the first `size` leaves, read as maximal complete subtrees."""
    if size < 0:
        raise ValueError(f"negative tree size {size}")
    if size == 0:
        return EMPTY_ROOT
    return _read_groups([subtree_addresses(0, size)], reader)[0]


def _path_plan(index: int, lo: int, hi: int, out: list[list[Address]]) -> None:
    """PATH(m, D[lo:hi]) as address groups, leaf side first (RFC 9162 §2.1.3.1)."""
    while hi - lo > 1:
        k = _largest_power_of_two_below(hi - lo)
        if index < lo + k:
            out.append(subtree_addresses(lo + k, hi))
            hi = lo + k
        else:
            out.append(subtree_addresses(lo, lo + k))
            lo = lo + k
    out.reverse()  # collected top-down; the proof lists siblings from the leaf up


def inclusion_proof(index: int, size: int, reader: HashReader) -> list[bytes]:
    """PATH(index, D[size]) (RFC 9162 §2.1.3.1): the audit path of leaf `index` in tree `size`."""
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is not inside a tree of size {size}")
    groups: list[list[Address]] = []
    _path_plan(index, 0, size, groups)
    return _read_groups(groups, reader)


def _subproof_plan(m: int, lo: int, hi: int, complete: bool, out: list[list[Address]]) -> None:
    """SUBPROOF(m, D[lo:hi], b) as address groups (RFC 9162 §2.1.4.1)."""
    n = hi - lo
    if m == n:
        if not complete:
            out.append(subtree_addresses(lo, hi))
        return
    k = _largest_power_of_two_below(n)
    if m <= k:
        _subproof_plan(m, lo, lo + k, complete, out)
        out.append(subtree_addresses(lo + k, hi))
    else:
        _subproof_plan(m - k, lo + k, hi, False, out)
        out.append(subtree_addresses(lo, lo + k))


def consistency_proof(old_size: int, new_size: int, reader: HashReader) -> list[bytes]:
    """PROOF(m, D[n]) = SUBPROOF(m, D[n], true) (RFC 9162 §2.1.4.1): old tree → new tree."""
    if not 0 < old_size <= new_size:
        raise ValueError(f"no consistency proof from size {old_size} to size {new_size}")
    groups: list[list[Address]] = []
    _subproof_plan(old_size, 0, new_size, True, groups)
    return _read_groups(groups, reader)


def _check_hash(name: str, value: bytes) -> None:
    if not isinstance(value, bytes | bytearray) or len(value) != HASH_SIZE:
        raise ProofError(f"{name} is not a {HASH_SIZE}-byte hash")


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> None:
    """Check that `leaf` (a leaf hash) is leaf `index` of the tree of `size` with `root`.

    RFC 9162 §2.1.3.2, step by step: fn = index, sn = size - 1, r = leaf; for each p in the
    path: if LSB(fn) or fn == sn then r = HASH(0x01 || p || r) and (unless LSB(fn)) shift fn and
    sn right until LSB(fn) or fn == 0; else r = HASH(0x01 || r || p); then shift both once.
    Accept only if sn == 0 and r == root. Raises `ProofError`.
    """
    _check_hash("leaf hash", leaf)
    _check_hash("root", root)
    for element in proof:
        _check_hash("proof element", element)
    if index < 0 or index >= size:
        raise ProofError(f"leaf index {index} is not inside a tree of size {size}")
    fn, sn, r = index, size - 1, bytes(leaf)
    for p in proof:
        if sn == 0:
            raise ProofError("inclusion proof is too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("inclusion proof is too short")
    if r != root:
        raise ProofError("inclusion proof does not lead to the root")


def verify_consistency(size1: int, size2: int, root1: bytes, root2: bytes, proof: Sequence[bytes]) -> None:
    """Check that the tree (`size1`, `root1`) is a prefix of the tree (`size2`, `root2`).

    RFC 9162 §2.1.4.2: if size1 is a power of two, prepend root1 to the path; fn = size1 - 1,
    sn = size2 - 1; shift both right while LSB(fn); fr = sr = c[0]; for each later c: if LSB(fn)
    or fn == sn then fr = HASH(0x01 || c || fr), sr = HASH(0x01 || c || sr) and (unless LSB(fn))
    shift until LSB(fn) or fn == 0; else sr = HASH(0x01 || sr || c); shift both once. Accept only
    if fr == root1, sr == root2 and sn == 0. Conventions (transparency-dev/merkle): size1 == 0 is
    always an error; size1 == size2 needs an empty proof and equal roots. Raises `ProofError`.
    """
    if size1 <= 0:
        raise ProofError("consistency from an empty tree is not provable")
    if size1 > size2:
        raise ProofError(f"tree size {size1} is larger than {size2}")
    if size1 == size2:
        # Nothing is hashed: the roots are compared as given (transparency-dev/merkle does the same).
        if proof:
            raise ProofError("consistency proof between equal sizes must be empty")
        if root1 != root2:
            raise ProofError("equal tree sizes with different roots")
        return
    _check_hash("first root", root1)
    _check_hash("second root", root2)
    for element in proof:
        _check_hash("proof element", element)
    if not proof:
        raise ProofError("consistency proof is empty")
    path = list(proof)
    if size1 & (size1 - 1) == 0:
        path.insert(0, bytes(root1))
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof is too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("consistency proof is too short")
    if fr != root1 or sr != root2:
        raise ProofError("consistency proof does not lead to the roots")


class MemoryHashReader:
    """All complete-subtree hashes of a list of leaf hashes, in memory: for tests and audits."""

    def __init__(self, leaf_hashes: Sequence[bytes]) -> None:
        self.levels: list[list[bytes]] = [list(leaf_hashes)]
        while len(self.levels[-1]) > 1:
            below = self.levels[-1]
            self.levels.append([node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)])

    def read_hashes(self, addresses: Sequence[Address]) -> list[bytes]:
        return [self.levels[level][n] for level, n in addresses]
