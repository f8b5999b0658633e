"""Write the Merkle proof probes in `merkle-probes/` (run: python3 tests/vectors/merkle_probes.py).

Why a generator of our own: the probes must live in the repository, and the only outside facts they
need are the RFC 6962 test tree's leaves and roots (tlog-vectors.json). Proofs are built here from
the recursive definitions of RFC 9162 §2.1.3.1 (PATH) and §2.1.4.1 (SUBPROOF) -- deliberately not
with `archiver.ledger.merkle`, whose iterative verifier the probes exist to check -- and every
happy-path root is checked against the published roots before anything is written.

A probe is one JSON file: inclusion {"leafIdx", "treeSize", "root", "leafHash", "proof", "desc",
"wantErr"} or consistency {"size1", "size2", "root1", "root2", "proof", "desc", "wantErr"}; byte
strings are standard base64 and a null proof means empty. `wantErr` is decided by meaning, not by
running a verifier: a probe is valid exactly when it states the true proof of a true fact about the
RFC test tree. Every mutation either breaks a range rule (index >= size, size1 == 0, size1 > size2,
a hash that is not 32 bytes) or changes a value the verifier hashes, so a verifier must reject it.
Growing the tree size is deliberately not a mutation: where the proof's shape is the same for both
sizes (leaf 1 of 5 and of 6), the old proof and root verify for the larger size too -- a verifier
cannot tell a leaf hash from an interior one -- so "false" there would be wrong.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "merkle-probes"
TREE = json.loads((HERE / "tlog-vectors.json").read_text())["rfc6962_test_tree"]
LEAVES = [hashlib.sha256(b"\x00" + bytes.fromhex(h)).digest() for h in TREE["leaf_inputs_hex"]]
N = len(LEAVES)

# Cases chosen to cover a leaf alone, both edges, full and ragged trees, and equal sizes.
INCLUSION_CASES = [(0, 1), (0, 8), (5, 8), (7, 8), (2, 3), (1, 5), (4, 6), (6, 7)]
CONSISTENCY_CASES = [(1, 1), (3, 3), (1, 8), (4, 8), (6, 8), (7, 8), (2, 5), (6, 7)]


def mth(hashes: list[bytes]) -> bytes:
    """RFC 9162 §2.1.1 over leaf hashes: split at the largest power of two below n."""
    if not hashes:
        return hashlib.sha256(b"").digest()
    if len(hashes) == 1:
        return hashes[0]
    k = _split(len(hashes))
    return hashlib.sha256(b"\x01" + mth(hashes[:k]) + mth(hashes[k:])).digest()


def _split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def path(m: int, hashes: list[bytes]) -> list[bytes]:
    """RFC 9162 §2.1.3.1 PATH(m, D[n])."""
    if len(hashes) <= 1:
        return []
    k = _split(len(hashes))
    if m < k:
        return path(m, hashes[:k]) + [mth(hashes[k:])]
    return path(m - k, hashes[k:]) + [mth(hashes[:k])]


def subproof(m: int, hashes: list[bytes], whole: bool) -> list[bytes]:
    """RFC 9162 §2.1.4.1 SUBPROOF(m, D[n], b)."""
    n = len(hashes)
    if m == n:
        return [] if whole else [mth(hashes)]
    k = _split(n)
    if m <= k:
        return subproof(m, hashes[:k], whole) + [mth(hashes[k:])]
    return subproof(m - k, hashes[k:], False) + [mth(hashes[:k])]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _flip(data: bytes, bit: int = 0) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def _inclusion_valid(idx: int, size: int, leaf: bytes, proof: list[bytes], root: bytes) -> bool:
    return (0 <= idx < size <= N and leaf == LEAVES[idx] and proof == path(idx, LEAVES[:size])
            and root == mth(LEAVES[:size]))


def _consistency_valid(size1: int, size2: int, root1: bytes, root2: bytes, proof: list[bytes]) -> bool:
    return (0 < size1 <= size2 <= N and root1 == mth(LEAVES[:size1]) and root2 == mth(LEAVES[:size2])
            and proof == subproof(size1, LEAVES[:size2], True))


def _proof_mutations(proof: list[bytes], extra: bytes) -> dict[str, list[bytes]]:
    """Ways to spoil a proof; each yields a proof that differs from the true one."""
    out: dict[str, list[bytes]] = {"extra-hash-at-end": proof + [extra], "extra-hash-at-start": [extra] + proof}
    if proof:
        out["truncated"] = proof[:-1]
        out["empty"] = []
        out["short-hash"] = [proof[0][:31]] + proof[1:]
    for i, node in enumerate(proof):
        out[f"bit-flipped-{i}"] = proof[:i] + [_flip(node, 7)] + proof[i + 1:]
    if len(proof) >= 2:
        out["reversed"] = proof[::-1]
    return out


def inclusion_probes() -> dict[str, dict]:
    probes: dict[str, dict] = {}
    for idx, size in INCLUSION_CASES:
        leaf, proof, root = LEAVES[idx], path(idx, LEAVES[:size]), mth(LEAVES[:size])
        variants: dict[str, tuple[int, int, bytes, list[bytes], bytes]] = {
            "happy-path": (idx, size, leaf, proof, root),
            "wrong-root": (idx, size, leaf, proof, _flip(root)),
            "wrong-leaf": (idx, size, _flip(leaf), proof, root),
            "other-leaf": (idx, size, LEAVES[(idx + 1) % N], proof, root),
            "index-plus-1": (idx + 1, size, leaf, proof, root),
            "index-is-size": (size, size, leaf, proof, root),
            "size-zero": (idx, 0, leaf, proof, root),
            "short-root": (idx, size, leaf, proof, root[:31]),
            "empty-leaf-hash": (idx, size, b"", proof, root),
        }
        if idx > 0:
            variants["index-minus-1"] = (idx - 1, size, leaf, proof, root)
        for name, bad in _proof_mutations(proof, leaf).items():
            variants[f"proof-{name}"] = (idx, size, leaf, bad, root)
        for name, (i, s, lh, pr, rt) in variants.items():
            probes[f"inclusion/leaf{idx}-size{size}/{name}.json"] = {
                "leafIdx": i, "treeSize": s, "root": _b64(rt), "leafHash": _b64(lh),
                "proof": [_b64(p) for p in pr] or None, "desc": f"{name} (leaf {idx} of {size})",
                "wantErr": not _inclusion_valid(i, s, lh, pr, rt)}
    return probes


def consistency_probes() -> dict[str, dict]:
    probes: dict[str, dict] = {}
    for size1, size2 in CONSISTENCY_CASES:
        root1, root2 = mth(LEAVES[:size1]), mth(LEAVES[:size2])
        proof = subproof(size1, LEAVES[:size2], True)
        variants: dict[str, tuple[int, int, bytes, bytes, list[bytes]]] = {
            "happy-path": (size1, size2, root1, root2, proof),
            "wrong-root1": (size1, size2, _flip(root1), root2, proof),
            "wrong-root2": (size1, size2, root1, _flip(root2), proof),
            "size1-zero": (0, size2, root1, root2, proof),
            "size1-above-size2": (size2 + 1, size2, root1, root2, proof),
            "short-root1": (size1, size2, root1[:31], root2, proof),
            "empty-root2": (size1, size2, root1, b"", proof),
        }
        if size1 != size2:  # equal sizes have equal roots: swapping them changes nothing
            variants["swapped-roots"] = (size1, size2, root2, root1, proof)
        if size1 > 1:
            variants["size1-minus-1"] = (size1 - 1, size2, root1, root2, proof)
        for name, bad in _proof_mutations(proof, root1).items():
            variants[f"proof-{name}"] = (size1, size2, root1, root2, bad)
        for name, (s1, s2, r1, r2, pr) in variants.items():
            probes[f"consistency/size{size1}-to-{size2}/{name}.json"] = {
                "size1": s1, "size2": s2, "root1": _b64(r1), "root2": _b64(r2),
                "proof": [_b64(p) for p in pr] or None, "desc": f"{name} ({size1} -> {size2})",
                "wantErr": not _consistency_valid(s1, s2, r1, r2, pr)}
    # Equal empty trees: even 0 -> 0 with equal roots is refused (a size-0 checkpoint proves nothing).
    empty = mth([])
    probes["consistency/size0-to-0/equal-empty-roots.json"] = {
        "size1": 0, "size2": 0, "root1": _b64(empty), "root2": _b64(empty), "proof": None,
        "desc": "size1 == 0 is always an error", "wantErr": True}
    return probes


def all_probes() -> dict[str, dict]:
    """Every probe by its relative path; happy paths are checked against the published roots first."""
    published = {int(size): bytes.fromhex(root) for size, root in TREE["roots_hex_by_size"].items()}
    for size in range(N + 1):
        if mth(LEAVES[:size]) != published[size]:
            raise AssertionError(f"our tree hash of size {size} differs from the published root")
    return inclusion_probes() | consistency_probes()


def render(probe: dict) -> str:
    return json.dumps(probe, indent=1) + "\n"


def main() -> None:
    probes = all_probes()
    for old in OUT.glob("**/*.json"):
        old.unlink()
    for rel, probe in probes.items():
        target = OUT / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(render(probe))
    print(f"wrote {len(probes)} probes under {OUT}")


if __name__ == "__main__":
    main()
