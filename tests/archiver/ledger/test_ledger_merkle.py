"""RFC 6962/9162 hashing and proofs: the published probes, the RFC test tree, and random trees."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archiver.ledger import merkle
from archiver.ledger.merkle import MemoryHashReader, ProofError

VECTORS = Path(__file__).resolve().parents[2] / "vectors"
PROBES = sorted((VECTORS / "merkle-probes").glob("**/*.json"))
TREE = json.loads((VECTORS / "tlog-vectors.json").read_text())["rfc6962_test_tree"]
LEAVES = [bytes.fromhex(h) for h in TREE["leaf_inputs_hex"]]


def test_probe_files_are_all_there():
    assert len(PROBES) == 262


@pytest.mark.parametrize("path", PROBES, ids=lambda p: str(p.relative_to(VECTORS / "merkle-probes")))
def test_transparency_dev_probe(path: Path):
    probe = json.loads(path.read_text())
    b64 = base64.b64decode
    proof = [b64(p) for p in probe["proof"] or []]
    if "leafIdx" in probe:
        def check():
            merkle.verify_inclusion(probe["leafIdx"], probe["treeSize"], b64(probe["leafHash"]), proof,
                                    b64(probe["root"]))
    else:
        def check():
            merkle.verify_consistency(probe["size1"], probe["size2"], b64(probe["root1"]),
                                      b64(probe["root2"]), proof)
    if probe["wantErr"]:
        with pytest.raises(ProofError):
            check()
    else:
        check()


def test_rfc6962_test_tree_leaf_hashes_and_roots():
    assert [merkle.leaf_hash(leaf).hex() for leaf in LEAVES] == TREE["leaf_hashes_hex"]
    reader = MemoryHashReader([merkle.leaf_hash(leaf) for leaf in LEAVES])
    for size, root_hex in TREE["roots_hex_by_size"].items():
        leaf_hashes = [merkle.leaf_hash(leaf) for leaf in LEAVES[:int(size)]]
        assert merkle.root_from_leaf_hashes(leaf_hashes).hex() == root_hex
        assert merkle.tree_hash(int(size), reader).hex() == root_hex


def test_go_tlog_hello_world_leaf_hash():
    assert base64.b64encode(merkle.leaf_hash(b"hello world")).decode() == "TszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBb0="


def test_every_proof_of_the_rfc_tree_verifies():
    leaf_hashes = [merkle.leaf_hash(leaf) for leaf in LEAVES]
    reader = MemoryHashReader(leaf_hashes)
    roots = {int(s): bytes.fromhex(h) for s, h in TREE["roots_hex_by_size"].items()}
    for size in range(1, 9):
        for index in range(size):
            proof = merkle.inclusion_proof(index, size, reader)
            merkle.verify_inclusion(index, size, leaf_hashes[index], proof, roots[size])
        for old in range(1, size + 1):
            proof = merkle.consistency_proof(old, size, reader)
            merkle.verify_consistency(old, size, roots[old], roots[size], proof)


def _flip(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[(bit // 8) % len(out)] ^= 1 << (bit % 8)
    return bytes(out)


@settings(max_examples=60, deadline=None)
@given(size=st.integers(1, 300), data=st.data())
def test_random_tree_inclusion(size: int, data):
    leaf_hashes = [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(size)]
    reader = MemoryHashReader(leaf_hashes)
    root = merkle.tree_hash(size, reader)
    assert root == merkle.root_from_leaf_hashes(leaf_hashes)
    index = data.draw(st.integers(0, size - 1))
    proof = merkle.inclusion_proof(index, size, reader)
    merkle.verify_inclusion(index, size, leaf_hashes[index], proof, root)
    bit = data.draw(st.integers(0, 255))
    with pytest.raises(ProofError):
        merkle.verify_inclusion(index, size, _flip(leaf_hashes[index], bit), proof, root)
    with pytest.raises(ProofError):
        merkle.verify_inclusion(index, size, leaf_hashes[index], proof, _flip(root, bit))
    if proof:
        at = data.draw(st.integers(0, len(proof) - 1))
        broken = [*proof[:at], _flip(proof[at], bit), *proof[at + 1:]]
        with pytest.raises(ProofError):
            merkle.verify_inclusion(index, size, leaf_hashes[index], broken, root)
        with pytest.raises(ProofError):
            merkle.verify_inclusion(index, size, leaf_hashes[index], proof[:-1], root)
    with pytest.raises(ProofError):
        merkle.verify_inclusion(index, size, leaf_hashes[index], [*proof, root], root)


@settings(max_examples=60, deadline=None)
@given(size=st.integers(2, 300), data=st.data())
def test_random_tree_consistency(size: int, data):
    leaf_hashes = [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(size)]
    reader = MemoryHashReader(leaf_hashes)
    old = data.draw(st.integers(1, size - 1))
    old_root, new_root = merkle.tree_hash(old, reader), merkle.tree_hash(size, reader)
    proof = merkle.consistency_proof(old, size, reader)
    merkle.verify_consistency(old, size, old_root, new_root, proof)
    bit = data.draw(st.integers(0, 255))
    with pytest.raises(ProofError):
        merkle.verify_consistency(old, size, _flip(old_root, bit), new_root, proof)
    with pytest.raises(ProofError):
        merkle.verify_consistency(old, size, old_root, _flip(new_root, bit), proof)
    at = data.draw(st.integers(0, len(proof) - 1))
    broken = [*proof[:at], _flip(proof[at], bit), *proof[at + 1:]]
    with pytest.raises(ProofError):
        merkle.verify_consistency(old, size, old_root, new_root, broken)


def test_wrong_length_hashes_are_rejected():
    leaf_hashes = [merkle.leaf_hash(bytes([i])) for i in range(5)]
    reader = MemoryHashReader(leaf_hashes)
    root = merkle.tree_hash(5, reader)
    proof = merkle.inclusion_proof(2, 5, reader)
    with pytest.raises(ProofError):
        merkle.verify_inclusion(2, 5, leaf_hashes[2][:31], proof, root)
    with pytest.raises(ProofError):
        merkle.verify_inclusion(2, 5, leaf_hashes[2], [proof[0] + b"\x00", *proof[1:]], root)
    with pytest.raises(ProofError):
        merkle.verify_consistency(0, 0, merkle.EMPTY_ROOT, merkle.EMPTY_ROOT, [])


def test_proof_arguments_out_of_range_are_value_errors():
    reader = MemoryHashReader([merkle.leaf_hash(b"x")])
    with pytest.raises(ValueError):
        merkle.inclusion_proof(1, 1, reader)
    with pytest.raises(ValueError):
        merkle.consistency_proof(0, 1, reader)
