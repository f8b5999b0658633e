"""Witness cosigning of the log's checkpoints (C2SP tlog-witness), and what `verify` checks of it.

With a witness policy (`[ledger] witness_policy`, C2SP tlog-policy) whose quorum is not `none`, the
store tells the two kinds of checkpoint apart by where they are:

* `ledger/checkpoints/<size>`: every checkpoint exactly as the log signed it (immutable, as before);
* `ledger/checkpoint`: the latest checkpoint that met the policy: the same note with the witnesses'
  cosignature lines appended. It is replaced only by a larger checkpoint that meets the policy.

So a kept checkpoint larger than `ledger/checkpoint` is one still waiting for cosignatures: it was
refused, or a witness was down. Each publish signs a new checkpoint and asks again, so the log
moves on as soon as the witnesses do. The portal and every verifier only ever see `ledger/checkpoint`.

A witness that refuses because it saw another history (a fork) is logged as an error and recorded in
the catalog's audit trail (`ledger:witness-refused`), which `sunshine verify` reports.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from archiver.catalog import Catalog
from archiver.clock import utc_now
from archiver.config import Config
from archiver.errors import IntegrityError, StoreUnavailableError, SunshineError
from archiver.ledger import merkle
from archiver.ledger.cosignature import add_cosignatures, split_note, verify_line
from archiver.ledger.lock import publish_lock
from archiver.ledger.note import NoteError, Signer, open_checkpoint, parse_verifier_key, peek_checkpoint
from archiver.ledger.policy import Policy, PolicyError, Witness, check_log_listed, evaluate
from archiver.ledger.reader import CHECKPOINT_KEY, CHECKPOINTS_PREFIX, LogReader
from archiver.ledger.witness import WitnessResult, cosign_all
from archiver.store import ObjectStore

log = logging.getLogger(__name__)

REFUSED_ACTION = "ledger:witness-refused"


@dataclass(frozen=True)
class CosignOutcome:
    """The checkpoint as it now stands (cosigned lines appended), whether it became the latest, and
    each witness's answer."""

    text: str
    published: bool
    results: tuple[WitnessResult, ...]


def needs_cosigning(config: Config) -> bool:
    return config.witness_policy is not None and config.witness_policy.needs_cosigning


def cosign_and_publish(catalog: Catalog, store: ObjectStore, signer: Signer, policy: Policy,
                       kept_text: str, lock_path: Path) -> CosignOutcome:
    """Ask the policy's witnesses to cosign `kept_text` (already kept at `ledger/checkpoints/<size>`)
    and, if the policy is met, make it `ledger/checkpoint` under the publish lock.

    The witnesses are asked outside the lock: a witness that is slow or down must not hold up
    another publisher. The latest is then replaced only by a larger (or the same) size.
    """
    try:
        check_log_listed(policy, signer.verifier())
    except PolicyError as exc:
        raise SunshineError(str(exc)) from None
    reader = LogReader(store)
    current = reader.read_checkpoint()
    size = peek_checkpoint(kept_text).size

    def last_size(witness: Witness) -> int:
        """Where the witness stands, as far as our latest checkpoint says: it cosigned that one."""
        if current is None:
            return 0
        text, lines = split_note(current)
        if any(verify_line(witness.verifier, text, line) is not None for line in lines):
            return peek_checkpoint(current).size
        return 0

    def proofs(old: int, new: int) -> list[bytes]:
        return merkle.consistency_proof(old, new, reader.hashes(new))

    results = tuple(cosign_all(policy, kept_text, last_size, proofs))
    cosigned = add_cosignatures(kept_text, [line for result in results for line in result.lines])
    _report(catalog, policy, kept_text, results)
    if not evaluate(policy, cosigned).met:
        log.warning("ledger checkpoint of size %d is kept at %s%d but not published: the witness policy (%s) "
                    "is not met; the next publish asks again", size, CHECKPOINTS_PREFIX, size, policy.describe())
        return CosignOutcome(cosigned, False, results)
    with publish_lock(lock_path):
        latest = reader.read_checkpoint()
        if latest is not None and peek_checkpoint(latest).size > size:
            return CosignOutcome(cosigned, False, results)  # a larger one was published meanwhile
        store.put(CHECKPOINT_KEY, cosigned.encode(), replace=True)
    return CosignOutcome(cosigned, True, results)


def _report(catalog: Catalog, policy: Policy, kept_text: str, results: tuple[WitnessResult, ...]) -> None:
    checkpoint = peek_checkpoint(kept_text)
    for result in results:
        if result.problem is None:
            continue
        if not result.fork:
            log.warning("%s", result.problem)
            continue
        log.error("SPLIT VIEW: %s", result.problem)
        details = {"witness": result.name, "size": checkpoint.size, "root": checkpoint.root.hex(),
                   "witness_size": result.witness_size, "problem": result.problem}
        with catalog.transaction() as tx:
            catalog.audit_once(tx, utc_now(), "archiver", REFUSED_ACTION, details)


# ---------------------------------------------------------------------------------------- verify

def check_witnesses(config: Config, store: ObjectStore, catalog: Catalog, log_key: str | None) -> list[str]:
    """`sunshine verify`: the latest checkpoint meets the witness policy, no newer one is stuck
    waiting for cosignatures, and no witness ever reported a fork."""
    policy = config.witness_policy
    if policy is None or not policy.needs_cosigning:
        return []
    problems: list[str] = []
    reader = LogReader(store)
    try:
        latest = reader.read_checkpoint()
        latest_size = -1
        if latest is not None:
            latest_size = peek_checkpoint(latest).size
            problems += _latest_problems(policy, latest, log_key)
        kept = [int(obj.key[len(CHECKPOINTS_PREFIX):]) for obj in store.list(CHECKPOINTS_PREFIX)
                if obj.key[len(CHECKPOINTS_PREFIX):].isdigit()]
    except (StoreUnavailableError, IntegrityError):
        raise
    except (SunshineError, NoteError):
        return problems  # an unreadable checkpoint is named by the log audit
    newest = max(kept, default=-1)
    if newest > latest_size:
        where = f"stays at size {latest_size}" if latest is not None else "has not been published"
        problems.append(f"{CHECKPOINTS_PREFIX}{newest}: signed but the witness policy is not met ({policy.describe()}); "
                        f"{CHECKPOINT_KEY} {where} until it is (the next publish asks the witnesses again)")
    for details in catalog.audit_details(REFUSED_ACTION):
        problems.append(f"witness {details.get('witness')}: refused the checkpoint of size {details.get('size')} "
                        f"(root {details.get('root')}) as a fork: {details.get('problem')}")
    return problems


def _latest_problems(policy: Policy, latest: str, log_key: str | None) -> list[str]:
    if log_key is not None:
        try:
            open_checkpoint(latest, [parse_verifier_key(log_key)])
        except NoteError:
            return []  # the log audit names a checkpoint that does not verify
    result = evaluate(policy, latest)
    if result.met:
        return []
    names = ", ".join(sorted(result.cosigners)) or "no witness"
    return [f"{CHECKPOINT_KEY}: cosigned by {names}, which does not meet the witness policy ({policy.describe()})"]
