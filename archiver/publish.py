"""Publishing the catalog's write-ahead ledger entries as the public log (tiles + checkpoints).

The catalog is the ledger's write-ahead record: entries are committed there together with the
versions they describe, then published here. Publishing is idempotent, so after a crash the next
run republishes whatever the catalog holds that the store does not.

Publishing holds the publish lock beside the catalog (`archiver.ledger.lock`), from reading the
unpublished entries to replacing `ledger/checkpoint`, so an archive run and a clerk's command
publishing at the same moment take turns and the checkpoint only ever grows.
"""

from __future__ import annotations

from archiver.catalog import Catalog
from archiver.clock import utc_now
from archiver.config import Config
from archiver.ledger import log as ledger_log
from archiver.ledger.lock import lock_path_for, publish_lock
from archiver.ledger_check import note_checkpoint
from archiver.ledger_timestamps import stamp_checkpoints
from archiver.ledger_witnesses import cosign_and_publish, needs_cosigning
from archiver.store import ObjectStore


class LedgerPublisher:
    def __init__(self, catalog: Catalog, store: ObjectStore, config: Config) -> None:
        self.catalog = catalog
        self.store = store
        self.origin = config.ledger_name
        self.signer = ledger_log.load_or_create_signer(config.ledger_key_path, config.ledger_name)
        self.lock_path = lock_path_for(catalog.path)
        self.config = config

    def publish_pending(self) -> int:
        """Publish the catalog's unpublished entries as tiles; how many were published."""
        with publish_lock(self.lock_path):
            return self._publish_pending()

    def checkpoint(self) -> str:
        """Publish, sign a checkpoint of everything published, and note it in the catalog's audit
        trail so `verify` can tell if a kept checkpoint later disappears from the store."""
        with publish_lock(self.lock_path):
            self._publish_pending()
            text = ledger_log.sign_checkpoint(self.store, self.signer, self.origin,
                                              latest=not needs_cosigning(self.config))
        note_checkpoint(self.catalog, text, utc_now())
        if needs_cosigning(self.config):  # published as the latest only once cosigned per the policy
            text = cosign_and_publish(self.catalog, self.store, self.signer, self.config.witness_policy,
                                      text, self.lock_path).text
        # RFC 3161 timestamps, outside the lock (a slow TSA must not hold up other publishers); a
        # TSA that is down is noted and retried at the next publish, never failing this one.
        stamp_checkpoints(self.catalog, self.store, self.config)
        return text

    def _publish_pending(self) -> int:
        # Read under the lock: what another publisher finished meanwhile is no longer pending.
        start, entries = self.catalog.unpublished_ledger()
        if not entries:
            return 0
        ledger_log.append_entries(self.store, start, entries)
        self.catalog.mark_published(start, len(entries))
        return len(entries)
