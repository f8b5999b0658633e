"""The one ledger reader and the writer around it: store failures keep their type, partial tiles are
cut from wider ones in one place with a bounded number of reads, and a stored checkpoint is never
replaced by a smaller one."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from archiver.errors import IntegrityError, StoreUnavailableError, SunshineError
from archiver.ledger import log, merkle, note, tiles
from archiver.ledger.log import LogReader, LogWriter
from archiver.store.local import LocalStore

ORIGIN = "reader-test.example/log"


def entries(start: int, stop: int) -> list[bytes]:
    return [log.entry_for_capture(f"rec-{i}", 1, "2026-01-01T00:00:00Z", f"{i:064x}") for i in range(start, stop)]


class WrappedStore:
    """A store that runs `before(method, key)` ahead of each call: to fail, count or interleave."""

    def __init__(self, inner: LocalStore, before: Callable[[str, str], None]) -> None:
        self.inner, self.before = inner, before

    def __getattr__(self, method: str):
        target = getattr(self.inner, method)

        def call(*args, **kwargs):
            self.before(method, str(args[0]) if args else "")
            return target(*args, **kwargs)

        return call


def failing(error: type[Exception], method: str, key_part: str) -> Callable[[str, str], None]:
    def before(called: str, key: str) -> None:
        if called == method and key_part in key:
            raise error(f"simulated {error.__name__} on {called} {key}")
    return before


@pytest.fixture
def signer(tmp_path: Path) -> note.Signer:
    return log.load_or_create_signer(tmp_path / "keys" / "ledger.key", ORIGIN)


@pytest.fixture
def published(tmp_path: Path, signer) -> LocalStore:
    """A log of 300 entries (one full bundle, partial tiles), signed."""
    store = LocalStore(tmp_path / "store")
    log.append_entries(store, 0, entries(0, 300))
    log.sign_checkpoint(store, signer, ORIGIN)
    return store


# ------------------------------------------------------------------------------ store failures

OPERATIONS = {
    # a fresh writer (a new process) re-reads the right edge's tiles before it continues
    "resume": ("get", "tile/0/", lambda store, signer: LogWriter(store).append(300, entries(300, 310))),
    "publish": ("put", "tile/", lambda store, signer: LogWriter(store).append(300, entries(300, 310))),
    "sign": ("get", "tile/0/", lambda store, signer: log.sign_checkpoint(store, signer, ORIGIN)),
    "prove": ("get", "tile/0/", lambda store, signer: LogReader(store).inclusion_proof(3, 300)),
    "entry": ("get", "tile/entries/", lambda store, signer: LogReader(store).entry(3)),
    "audit": ("get", "tile/0/", lambda store, signer: log.verify_log(store, log.verifier_key(signer))),
}


@pytest.mark.parametrize("error", [StoreUnavailableError, IntegrityError])
@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_store_failures_propagate_with_their_own_type(published, signer, error, operation):
    method, key_part, run = OPERATIONS[operation]
    with pytest.raises(SunshineError) as raised:
        run(WrappedStore(published, failing(error, method, key_part)), signer)
    assert type(raised.value) is error, f"{operation}: {type(raised.value).__name__}: {raised.value}"


def test_a_writer_continues_after_the_store_comes_back(published, signer):
    """The failed publish left no half state in the writer: the same call succeeds afterwards."""
    down = {"on": True}

    def before(method: str, key: str) -> None:
        if down["on"] and method == "put":
            raise StoreUnavailableError("simulated outage")

    store = WrappedStore(published, before)
    writer = LogWriter(store)
    with pytest.raises(StoreUnavailableError):
        writer.append(300, entries(300, 310))
    down["on"] = False
    writer.append(300, entries(300, 310))
    log.sign_checkpoint(store, signer, ORIGIN)
    assert LogReader(published).entry(309) == entries(309, 310)[0]


def test_a_publish_interrupted_between_tiles_and_bundles_is_resumed_with_every_tile_stored(published, signer):
    """A crash after the tiles of 300..800 but before most bundles leaves the log at 512, whose
    level-1 tile (width 2) was never written (only width 3). Signing 512 then must store that tile,
    so a verifier fetching exactly `tile/1/000.p/2` gets it with the reader's bounded reads."""
    def crash(method: str, key: str) -> None:
        if method == "put" and key.startswith("ledger/tile/entries/") and key != "ledger/tile/entries/001":
            raise StoreUnavailableError("simulated crash before the last bundles")

    with pytest.raises(StoreUnavailableError):
        LogWriter(WrappedStore(published, crash)).append(300, entries(300, 800))
    assert not published.exists("ledger/tile/1/000.p/2") and published.exists("ledger/tile/1/000.p/3")
    fresh = LocalStore(published.root)  # a new process: no writer state cached
    text = log.sign_checkpoint(fresh, signer, ORIGIN)
    assert note.parse_checkpoint(note.open_note(text, [signer.verifier()]).text).size == 512
    assert LogReader(fresh).read_tile(1, 0, 2) == published.get("ledger/tile/1/000.p/3")[:64]
    assert published.exists("ledger/tile/1/000.p/2")
    problems = log.verify_log(fresh, log.verifier_key(signer))
    assert all("beyond the end of the log" in problem for problem in problems), problems  # the crash's leftovers


# ------------------------------------------------------------------------------ never backwards

def test_a_checkpoint_is_never_replaced_by_a_smaller_one(published, signer):
    """A publisher that signs 310 while another one signs 320 meanwhile (between this one's read of
    the stored checkpoint and its write) must refuse, leaving the larger checkpoint in place."""
    log.append_entries(published, 300, entries(300, 310))
    raced = {"done": False}

    def before(method: str, key: str) -> None:
        if method == "put" and key.startswith("ledger/checkpoints/") and not raced["done"]:
            raced["done"] = True  # the other publisher, on the raw store
            log.append_entries(published, 310, entries(310, 320))
            log.sign_checkpoint(published, signer, ORIGIN)

    with pytest.raises(SunshineError, match="backwards"):
        log.sign_checkpoint(WrappedStore(published, before), signer, ORIGIN)
    stored = note.parse_checkpoint(note.open_note(published.get("ledger/checkpoint").decode(),
                                                  [signer.verifier()]).text)
    assert raced["done"] and stored.size == 320


# ------------------------------------------------------------------------------ one reader

hash_lists = st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=tiles.TILE_WIDTH)


@given(hash_lists, st.data())
def test_a_partial_hash_tile_is_the_prefix_of_any_wider_one(hashes, data):
    width = data.draw(st.integers(1, len(hashes)))
    assert tiles.cut_tile(b"".join(hashes), 0, width) == b"".join(hashes[:width])
    with pytest.raises(ValueError):
        tiles.cut_tile(b"".join(hashes[:width - 1]), 0, width)


@given(st.lists(st.binary(max_size=70), min_size=1, max_size=tiles.TILE_WIDTH), st.data())
def test_a_partial_entry_bundle_is_cut_from_any_wider_one(bundle, data):
    width = data.draw(st.integers(1, len(bundle)))
    encoded = tiles.encode_entry_bundle(bundle)
    assert tiles.cut_tile(encoded, None, width) == tiles.encode_entry_bundle(bundle[:width])
    assert encoded.startswith(tiles.cut_tile(encoded, None, width))
    with pytest.raises(ValueError):
        tiles.cut_tile(encoded, None, len(bundle) + 1)


@given(st.integers(0, 40), st.integers(0, 2**40))
def test_hash_location_names_the_tile_row_and_position_of_a_node(level, n):
    at = tiles.hash_location(level, n)
    per_tile = tiles.TILE_WIDTH >> at.row
    assert at.tile_level * tiles.TILE_HEIGHT + at.row == level and 0 <= at.row < tiles.TILE_HEIGHT
    assert at.tile_index * per_tile + at.position == n and 0 <= at.position < per_tile


@given(st.integers(1, 70_000))
def test_every_node_hash_read_from_tiles_is_the_subtree_root(size):
    """`hash_location` agrees with the tiles the writer stores, at every level of a big tree."""
    leaves = [merkle.leaf_hash(b"%d" % i) for i in range(size)]
    levels = [b"".join(leaves)]
    while len(levels[-1]) >= 64:
        row = levels[-1]
        levels.append(b"".join(merkle.node_hash(row[i:i + 32], row[i + 32:i + 64]) for i in range(0, len(row) - 32, 64)))
    stored = {}
    for ref in tiles.tiles_for_size(size):
        row = levels[ref.level * tiles.TILE_HEIGHT]
        stored[ref.path] = row[ref.index * tiles.TILE_WIDTH * 32:(ref.index * tiles.TILE_WIDTH + ref.width) * 32]

    class TileStore:
        def get(self, key: str) -> bytes:
            try:
                return stored[key.removeprefix("ledger/")]
            except KeyError:
                raise KeyError(key) from None

    hashes = LogReader(TileStore()).hashes(size)
    for level in range(len(levels)):
        count = size >> level
        for n in {0, count // 2, count - 1}:
            assert hashes.read_hashes([(level, n)]) == [levels[level][n * 32:(n + 1) * 32]]


def test_a_missing_partial_tile_costs_a_bounded_number_of_reads(published, signer):
    """A public request for a partial tile never lists the store or probes every width."""
    calls: list[tuple[str, str]] = []
    published.delete("ledger/tile/0/001.p/44")  # the latest checkpoint's tile: cut from nothing
    reader = LogReader(WrappedStore(published, lambda method, key: calls.append((method, key))))
    with pytest.raises(SunshineError, match="missing"):
        reader.read_tile(0, 1, 30)
    assert all(method == "get" for method, _ in calls) and len(calls) <= 4, calls
    calls.clear()
    log.append_entries(published, 300, entries(300, 320))
    log.sign_checkpoint(published, signer, ORIGIN)  # tile 0/001 is now 64 wide, 0/001.p/30 never was
    assert reader.read_tile(0, 1, 30) == published.get("ledger/tile/0/001.p/64")[:30 * 32]
    assert all(method == "get" for method, _ in calls) and len(calls) <= 4, calls
