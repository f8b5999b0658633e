"""The catalog's side of checkpoint timestamps (`archiver.ledger.timestamp`): what was stored, what failed.

The store alone cannot tell that a token was removed or swapped; so each stored token is noted in
the catalog's audit trail (`ledger:timestamp`, with its SHA-256), and `sunshine verify` names a
noted token that is missing or no longer the same bytes. A TSA that failed is noted too
(`ledger:timestamp-failed`), so a clerk can see when and why a checkpoint went unstamped.
"""

from __future__ import annotations

import hashlib
import logging

from archiver.catalog import Catalog
from archiver.clock import utc_now
from archiver.config import Config
from archiver.ledger.timestamp import TimestampRun, check_timestamps, timestamp_checkpoints
from archiver.store import ObjectStore

TIMESTAMP_ACTION = "ledger:timestamp"
FAILED_ACTION = "ledger:timestamp-failed"
log = logging.getLogger(__name__)


def stamp_checkpoints(catalog: Catalog, store: ObjectStore, config: Config) -> TimestampRun:
    """Timestamp what is unstamped and note the outcome; a TSA that is down never raises."""
    run = timestamp_checkpoints(store, config.timestamp_authorities)
    at = utc_now()
    if run.stored or run.failed:
        with catalog.transaction() as tx:
            for key, token_sha256 in run.stored:
                catalog.audit_once(tx, at, "archiver", TIMESTAMP_ACTION, {"key": key, "sha256": token_sha256})
            for failure in run.failed:
                catalog.audit(tx, at, "archiver", FAILED_ACTION, {"problem": failure})
    for failure in run.failed:
        log.warning("%s (retried at the next publish)", failure)
    return run


def check_ledger_timestamps(config: Config, store: ObjectStore, catalog: Catalog) -> list[str]:
    """`verify`'s timestamp problems: every stored token checked, every noted token still there."""
    problems = check_timestamps(store, config.timestamp_authorities)
    for details in catalog.audit_details(TIMESTAMP_ACTION):
        key = details["key"]
        try:
            token = store.get(key)
        except KeyError:
            problems.append(f"{key}: missing, though the catalog records this timestamp stored")
            continue
        if hashlib.sha256(token).hexdigest() != details["sha256"]:
            problems.append(f"{key}: not the timestamp the catalog recorded stored (SHA-256 "
                            f"{details['sha256']})")
    return problems
