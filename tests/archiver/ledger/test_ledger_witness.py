"""Witness cosigning against a real, independent witness (litewitness, filippo.io/torchwood) on 127.0.0.1.

Each test registers its own log origin with the session's witness (or runs a private witness it
can stop), publishes through `LedgerPublisher` exactly as an archive run does, and checks what the
store holds, what `verify` says, and (for the cosigned checkpoint) what Go's note package says.
"""

from __future__ import annotations

import itertools
import shutil
import subprocess
from pathlib import Path

import pytest

from archiver.catalog import Catalog
from archiver.clock import utc_now
from archiver.config import load_config
from archiver.ledger import log as ledger_log
from archiver.ledger import merkle
from archiver.ledger.cosignature import split_note
from archiver.ledger.log import LogReader
from archiver.ledger.note import open_checkpoint, parse_verifier_key, peek_checkpoint
from archiver.ledger.policy import evaluate, parse_policy
from archiver.ledger.witness import cosign_with
from archiver.ledger_check import check_ledger
from archiver.ledger_events import log_event
from archiver.publish import LedgerPublisher
from archiver.store.local import LocalStore
from infra import witness_server

_origins = itertools.count()


class Archive:
    """A small archive whose ledger holds clerk events, with a witness policy in its config."""

    def __init__(self, root: Path, origin: str, policy: str, key_from: Path | None = None) -> None:
        root.mkdir(parents=True, exist_ok=True)
        (root / "witnesses.policy").write_text(policy)
        (root / "sunshine.toml").write_text(
            f'[storage]\npath = "store"\n[catalog]\npath = "catalog.sqlite"\n[search]\npath = "search.sqlite"\n'
            f'[ledger]\nname = "{origin}"\nkey_path = "ledger.key"\nwitness_policy = "witnesses.policy"\n')
        if key_from is not None:  # the same log key: a department showing two histories
            shutil.copy(key_from, root / "ledger.key")
        self.root, self.origin = root, origin
        self.config = load_config(root / "sunshine.toml")
        self.catalog = Catalog(self.config.catalog_path)
        self.store = LocalStore(root / "store")
        self.publisher = LedgerPublisher(self.catalog, self.store, self.config)
        self.vkey = ledger_log.verifier_key(self.publisher.signer)

    def add(self, count: int, tag: str = "a") -> None:
        for n in range(count):
            log_event(self.catalog, "hold", {"hold_id": f"{tag}{n}", "record_ids": [f"r-{tag}-{n}"]}, utc_now())

    def latest(self) -> str | None:
        return LogReader(self.store).read_checkpoint()

    def problems(self) -> list[str]:
        return check_ledger(self.config, self.store, self.catalog)[1]


def policy_for(*witnesses: witness_server.WitnessInstance) -> str:
    lines = [f"witness w{i} {w.vkey} {w.url}" for i, w in enumerate(witnesses)]
    return "\n".join(lines) + f"\ngroup all-of-them all {' '.join(f'w{i}' for i in range(len(witnesses)))}" \
        "\nquorum all-of-them\n"


def new_origin() -> str:
    return f"witness-test.example/log-{next(_origins)}"


@pytest.fixture
def registered(witness, tmp_path):
    """An archive whose log the session's witness knows."""
    archive = Archive(tmp_path / "archive", new_origin(), policy_for(witness))
    witness.add_log(archive.origin, archive.vkey)
    yield archive
    archive.catalog.close()


def test_a_checkpoint_cosigned_by_the_witness_is_published_and_verifies(registered, witness, ledgerverify):
    archive = registered
    archive.add(3)
    first = archive.publisher.checkpoint()
    assert archive.latest() == first
    kept = LogReader(archive.store).read_kept_checkpoint(3)
    assert first.startswith(kept) and first != kept  # the log's note, plus the witness's line
    assert evaluate(archive.config.witness_policy, first).met
    archive.add(300, "b")  # past a full tile: the witness checks a real consistency proof 3 -> 303
    second = archive.publisher.checkpoint()
    assert peek_checkpoint(second).size == 303 and archive.latest() == second
    assert evaluate(archive.config.witness_policy, second).met
    assert archive.problems() == []
    result = subprocess.run([str(ledgerverify), "-ledger", str(archive.store.root / "ledger"), "-key", archive.vkey,
                             "-witness", witness.vkey, "-tiles"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert f"ok cosignature witness={witness.name}" in result.stdout


def test_go_refuses_a_checkpoint_without_the_witness_or_with_a_forged_cosignature(registered, witness,
                                                                                  ledgerverify, tmp_path):
    archive = registered
    archive.add(2)
    cosigned = archive.publisher.checkpoint()
    text, lines = split_note(cosigned)
    path = tmp_path / "checkpoint"
    args = [str(ledgerverify), "-ledger", str(archive.store.root / "ledger"), "-key", archive.vkey,
            "-witness", witness.vkey, "-checkpoint", str(path)]
    path.write_text(text + "\n" + lines[0])  # the log's signature alone
    result = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "not cosigned by witness" in result.stderr
    forged = lines[1][:-10] + ("A" if lines[1][-10] != "A" else "B") + lines[1][-9:]
    path.write_text(text + "\n" + lines[0] + forged)
    result = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "cosigned checkpoint" in result.stderr


def test_a_witness_that_is_down_keeps_the_checkpoint_pending_until_it_is_back(tmp_path):
    instance = witness_server.launch(tmp_path / "private-witness")
    archive = Archive(tmp_path / "archive", new_origin(), policy_for(instance))
    try:
        instance.add_log(archive.origin, archive.vkey)
        archive.add(2)
        archive.publisher.checkpoint()
        witness_server.terminate(instance, remove_data=False)
        archive.add(5, "b")
        pending = archive.publisher.checkpoint()
        assert peek_checkpoint(pending).size == 7
        assert peek_checkpoint(archive.latest()).size == 2  # the portal keeps showing the cosigned one
        assert LogReader(archive.store).read_kept_checkpoint(7) == pending  # kept as signed
        problems = archive.problems()
        assert any(p.startswith("ledger/checkpoints/7: signed but the witness policy is not met") for p in problems)
        port = int(instance.url.rsplit(":", 1)[1])
        instance = witness_server.launch(Path(instance.data_dir), port=port)  # the same witness, back
        archive.publisher.checkpoint()  # nothing new to log: the pending checkpoint is asked again
        assert peek_checkpoint(archive.latest()).size == 7
        assert evaluate(archive.config.witness_policy, archive.latest()).met
        assert archive.problems() == []
    finally:
        witness_server.terminate(instance)
        archive.catalog.close()


@pytest.mark.parametrize("other_size", [4, 9], ids=["same-size", "larger"])
def test_a_witness_that_saw_another_history_refuses_and_verify_reports_it(witness, tmp_path, other_size):
    origin = new_origin()
    honest = Archive(tmp_path / "honest", origin, policy_for(witness))
    witness.add_log(origin, honest.vkey)
    honest.add(4)
    honest.publisher.checkpoint()
    # The same department (same key, same origin) signs another history for someone else.
    forked = Archive(tmp_path / "forked", origin, policy_for(witness), key_from=tmp_path / "honest" / "ledger.key")
    try:
        forked.add(other_size, "x")
        text = forked.publisher.checkpoint()
        assert open_checkpoint(text, [parse_verifier_key(forked.vkey)]).size == other_size  # validly signed...
        assert forked.latest() is None  # ...but never published: no witness would cosign it
        problems = forked.problems()
        assert any(p.startswith("witness w0: refused the checkpoint of size") and "fork" in p for p in problems)
        assert any("witness policy is not met" in p for p in problems)
    finally:
        honest.catalog.close()
        forked.catalog.close()
    # the witness still stands by the honest history
    assert evaluate(honest.config.witness_policy, honest.latest()).met


def test_a_stale_guess_gets_409_and_is_retried_from_the_witness_size(registered, witness):
    archive = registered
    archive.add(6)
    archive.publisher.checkpoint()  # the witness is at size 6 now
    archive.add(4, "b")
    start, entries = archive.catalog.unpublished_ledger()
    ledger_log.append_entries(archive.store, start, entries)
    archive.catalog.mark_published(start, len(entries))
    note = ledger_log.sign_checkpoint(archive.store, archive.publisher.signer, archive.origin, latest=False)
    reader = LogReader(archive.store)
    result = cosign_with(archive.config.witness_policy.witnesses[0], note, 0,  # we claim it never saw us
                         lambda old, new: merkle.consistency_proof(old, new, reader.hashes(new)))
    assert result.problem is None and len(result.lines) == 1


def test_an_unknown_log_is_named_not_a_fork(witness, tmp_path):
    archive = Archive(tmp_path / "archive", new_origin(), policy_for(witness))  # never registered
    try:
        archive.add(1)
        archive.publisher.checkpoint()
        assert archive.latest() is None
        problems = archive.problems()
        assert not any("fork" in p for p in problems)
        assert any("witness policy is not met" in p for p in problems)
        policy = parse_policy(policy_for(witness))
        note = LogReader(archive.store).read_kept_checkpoint(1)
        result = cosign_with(policy.witnesses[0], note, 0, lambda old, new: [])
        assert "does not know this log" in result.problem and not result.fork
    finally:
        archive.catalog.close()

