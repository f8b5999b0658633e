"""The transparency ledger (DESIGN §7): an RFC 6962 Merkle log published as C2SP tiles and signed
C2SP checkpoints. `merkle`, `tiles` and `note` are pure; `reader` is the one way anything reads the
published log; `log` writes and signs it (under `lock`'s one-publisher lock); `audit` checks it.
"""

from archiver.ledger.log import (
    LogReader,
    LogWriter,
    append_entries,
    entry_for_capture,
    entry_for_event,
    load_or_create_signer,
    published_size,
    sign_checkpoint,
    verifier_key,
    verify_log,
)
from archiver.ledger.merkle import ProofError, leaf_hash, node_hash, verify_consistency, verify_inclusion

__all__ = [
    "LogReader",
    "LogWriter",
    "ProofError",
    "append_entries",
    "entry_for_capture",
    "entry_for_event",
    "leaf_hash",
    "load_or_create_signer",
    "node_hash",
    "published_size",
    "sign_checkpoint",
    "verifier_key",
    "verify_consistency",
    "verify_inclusion",
    "verify_log",
]
