"""The committed Merkle probes are exactly what merkle_probes.py writes, and rest on the published roots."""

from __future__ import annotations

import base64
import json

import merkle_probes


def test_committed_probes_match_the_generator():
    made = merkle_probes.all_probes()
    on_disk = {p.relative_to(merkle_probes.OUT).as_posix(): p.read_text()
               for p in merkle_probes.OUT.glob("**/*.json")}
    assert sorted(on_disk) == sorted(made), "run: python3 tests/vectors/merkle_probes.py"
    assert all(on_disk[rel] == merkle_probes.render(probe) for rel, probe in made.items())


def test_happy_paths_use_the_published_roots_and_only_they_are_valid():
    published = {base64.b64encode(bytes.fromhex(h)).decode()
                 for h in merkle_probes.TREE["roots_hex_by_size"].values()}
    probes = merkle_probes.all_probes()
    valid = {rel for rel, probe in probes.items() if not probe["wantErr"]}
    assert valid == {rel for rel in probes if rel.endswith("/happy-path.json")}
    for rel in valid:
        probe = probes[rel]
        roots = [probe["root"]] if "root" in probe else [probe["root1"], probe["root2"]]
        assert set(roots) <= published, rel


def test_the_independent_tree_hash_matches_rfc_definitions_on_the_published_tree():
    tree = json.loads((merkle_probes.HERE / "tlog-vectors.json").read_text())["rfc6962_test_tree"]
    assert [h.hex() for h in merkle_probes.LEAVES] == tree["leaf_hashes_hex"]
