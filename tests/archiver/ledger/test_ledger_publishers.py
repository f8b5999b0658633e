"""Two real processes publishing the same ledger at once: the public checkpoint only grows.

An archive run and a clerk's `sunshine hold add` both publish the catalog's pending entries and
sign a checkpoint. Each worker here is a separate Python process doing exactly that in a loop
(log an event, `LedgerPublisher.checkpoint()`), while this process watches `ledger/checkpoint`.
Every worker's store also journals each checkpoint it writes, in the order written. Whatever the
interleaving, every checkpoint seen must verify, be at least as large as the one before and be
consistent with it (a consistency proof from the tiles, checked with `merkle.verify_consistency`).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from archiver.catalog import Catalog
from archiver.config import load_config
from archiver.ledger import merkle
from archiver.ledger.log import CHECKPOINT_KEY, KEY_KEY, LogReader
from archiver.ledger.note import Checkpoint, open_note, parse_checkpoint, parse_verifier_key
from archiver.store.local import LocalStore

ORIGIN = "publishers-test.example/log"
WORKERS = 2
ROUNDS = 60
REPO = Path(__file__).resolve().parents[3]
JOURNAL = "checkpoints.journal"
START = "start"  # created once every worker is up, so their loops overlap instead of taking turns


def write_config(root: Path) -> Path:
    path = root / "sunshine.toml"
    path.write_text(f'[storage]\npath = "store"\n[catalog]\npath = "catalog.sqlite"\n'
                    f'[ledger]\nname = "{ORIGIN}"\nkey_path = "keys/ledger.key"\n'
                    f'[search]\npath = "search.sqlite"\n', encoding="utf-8")
    return path


class JournallingStore(LocalStore):
    """A `LocalStore` that appends every `ledger/checkpoint` it writes to a journal file, right
    after the write (one `O_APPEND` write a line, so lines from two processes never mix)."""

    def __init__(self, root: Path, journal: Path) -> None:
        super().__init__(root)
        self.journal = journal

    def put(self, key: str, data: bytes, **kwargs):
        result = super().put(key, data, **kwargs)
        if key == CHECKPOINT_KEY:
            fd = os.open(self.journal, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, data.hex().encode() + b"\n")
            finally:
                os.close(fd)
        return result


def worker(root: Path, name: str, rounds: int) -> None:
    """One publisher process: `rounds` times, log a clerk event and sign a checkpoint over it."""
    from archiver.ledger_events import log_event
    from archiver.publish import LedgerPublisher

    config = load_config(root / "sunshine.toml")  # written once by the test: rewriting it here raced
    catalog = Catalog(config.catalog_path)
    store = JournallingStore(root / "store", root / JOURNAL)
    publisher = LedgerPublisher(catalog, store, config)
    (root / f"ready-{name}").touch()
    while not (root / START).exists():
        time.sleep(0.001)
    for round_number in range(rounds):
        log_event(catalog, "hold", {"worker": name, "round": round_number}, "2026-01-01T00:00:00Z")
        publisher.checkpoint()
    catalog.close()


def check_growth(store: LocalStore, checkpoints: list[Checkpoint]) -> None:
    """Each checkpoint is at least as large as the one before it and consistent with it."""
    reader = LogReader(store)
    for old, new in zip(checkpoints, checkpoints[1:], strict=False):
        assert new.size >= old.size, f"checkpoint moved backwards from {old.size} to {new.size}"
        if old.size:
            proof = reader.consistency_proof(old.size, new.size)
            merkle.verify_consistency(old.size, new.size, old.root, new.root, proof)


def test_two_processes_publishing_at_once_only_grow_the_checkpoint(tmp_path: Path):
    config = load_config(write_config(tmp_path))
    Catalog(config.catalog_path).close()  # schema created once, before the race
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    workers = [subprocess.Popen([sys.executable, __file__, str(tmp_path), f"w{n}", str(ROUNDS)],
                                cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
               for n in range(WORKERS)]
    store = LocalStore(tmp_path / "store")
    deadline = time.monotonic() + 60
    while not all((tmp_path / f"ready-w{n}").exists() for n in range(WORKERS)) and time.monotonic() < deadline:
        if any(proc.poll() is not None for proc in workers):
            break  # a worker died while starting; its output says why below
        time.sleep(0.005)
    (tmp_path / START).touch()
    observed: list[str] = []
    while any(proc.poll() is None for proc in workers):
        try:
            text = store.get(CHECKPOINT_KEY).decode()
        except KeyError:
            continue
        if not observed or observed[-1] != text:
            observed.append(text)
        time.sleep(0.001)
    outputs = [proc.communicate()[0].decode(errors="replace") for proc in workers]
    assert [proc.returncode for proc in workers] == [0] * WORKERS, "\n".join(outputs)

    verifier = parse_verifier_key(store.get(KEY_KEY).decode().strip())
    journal = [bytes.fromhex(line).decode() for line in (tmp_path / JOURNAL).read_text().split()]
    assert len(journal) == WORKERS * ROUNDS
    for texts in (journal, observed):
        check_growth(store, [parse_checkpoint(open_note(text, [verifier]).text) for text in texts])
    catalog = Catalog(config.catalog_path)
    try:
        expected = catalog.ledger_size()
    finally:
        catalog.close()
    assert expected == WORKERS * ROUNDS
    final = parse_checkpoint(open_note(store.get(CHECKPOINT_KEY).decode(), [verifier]).text)
    assert final.size == expected, "the last checkpoint written is not the largest"


def test_two_publishers_creating_the_key_file_at_once_share_one_key(tmp_path: Path, monkeypatch):
    """The first archive run and a clerk's command may both find no key file: the one that loses
    the race uses the winner's key (it used to fail on the file the other had just created, or
    read it half-written)."""
    from archiver.ledger import log, note

    path = tmp_path / "keys" / "ledger.key"
    winner = note.generate_signer(ORIGIN)
    real_generate = note.generate_signer

    def generate_while_another_process_wins(name: str) -> note.Signer:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(note.signer_key(winner) + "\n")
        return real_generate(name)

    monkeypatch.setattr(log, "generate_signer", generate_while_another_process_wins)
    signer = log.load_or_create_signer(path, ORIGIN)
    assert log.verifier_key(signer) == log.verifier_key(winner)
    assert [entry.name for entry in path.parent.iterdir()] == [path.name]  # no temporary file left


if __name__ == "__main__":
    worker(Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]))
