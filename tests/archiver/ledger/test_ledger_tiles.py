"""C2SP tlog-tiles paths and entry bundles."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from archiver.errors import SunshineError
from archiver.ledger import tiles
from archiver.ledger.tiles import TileRef

VECTORS = Path(__file__).resolve().parents[2] / "vectors"
PATHS = json.loads((VECTORS / "tlog-vectors.json").read_text())["tile_paths"]


def test_c2sp_tile_path_vectors():
    got = [tiles.tile_path(0, 1234067), tiles.tile_path(1, 0, 17), tiles.entries_path(5, 3)]
    assert got == [path for _, path in PATHS["c2sp"]]


def test_go_sumdb_paths_are_ours_with_the_height_element():
    ours = [path for _, path in PATHS["c2sp"]]
    go = [path for _, path in PATHS["go_sumdb_equivalent"]]
    assert [p.replace("tile/8/", "tile/").replace("tile/data/", "tile/entries/") for p in go] == ours


@pytest.mark.parametrize(("n", "text"), [(0, "000"), (7, "007"), (999, "999"), (1000, "x001/000"),
                                         (1234067, "x001/x234/067"), (10**9, "x001/x000/x000/000")])
def test_encode_index(n: int, text: str):
    assert tiles.encode_index(n) == text


def test_size_70000_has_the_tiles_the_spec_lists():
    refs = list(tiles.tiles_for_size(70000))
    level0 = [r for r in refs if r.level == 0]
    assert len([r for r in level0 if r.width == 256]) == 273
    assert [r.width for r in level0 if r.width < 256] == [112]
    assert [(r.index, r.width) for r in refs if r.level == 1] == [(0, 256), (1, 17)]
    assert [(r.index, r.width) for r in refs if r.level == 2] == [(0, 1)]
    assert [(r.level, r.index, r.width) for r in tiles.tiles_for_size(256)] == [(0, 0, 256), (1, 0, 1)]


@given(level=st.one_of(st.none(), st.integers(0, 63)), index=st.integers(0, 10**12), width=st.integers(1, 256))
@example(level=0, index=0, width=256)
@example(level=None, index=1000, width=256)
def test_tile_path_round_trips(level, index, width):
    ref = TileRef(level, index, width)
    assert tiles.parse_tile_path(ref.path) == ref


@pytest.mark.parametrize("path", ["tile/0/0", "tile/0/000.p/256", "tile/0/000.p/0", "tile/0/x000/001",
                                  "tile/01/000", "tile/entries/000.p/017", "tile/0/001/000", "tiles/0/000",
                                  "tile/0/000/", "tile/-1/000", "tile/0/x1234/000"])
def test_bad_tile_paths_are_rejected(path: str):
    with pytest.raises(ValueError):
        tiles.parse_tile_path(path)


@given(st.lists(st.binary(max_size=300), max_size=256))
def test_entry_bundle_round_trips(entries):
    data = tiles.encode_entry_bundle(entries)
    assert tiles.decode_entry_bundle(data) == entries
    assert len(data) == sum(2 + len(e) for e in entries)


def test_entry_bundle_format_and_limits():
    assert tiles.encode_entry_bundle([b"ab", b""]) == b"\x00\x02ab\x00\x00"
    tiles.encode_entry_bundle([b"x" * 65535])
    with pytest.raises(SunshineError):
        tiles.encode_entry_bundle([b"x" * 65536])
    with pytest.raises(ValueError):
        tiles.decode_entry_bundle(b"\x00\x05abc")
    with pytest.raises(ValueError):
        tiles.decode_entry_bundle(b"\x00")
