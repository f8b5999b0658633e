"""Publishing the catalog's write-ahead ledger entries as the public log (tiles + checkpoints).

The catalog is the ledger's write-ahead record: entries are committed there together with the
versions they describe, then published here. Publishing is idempotent, so after a crash the next
run republishes whatever the catalog holds that the store does not.
"""

from __future__ import annotations

from archiver.catalog import Catalog
from archiver.config import Config
from archiver.store import ObjectStore


class LedgerPublisher:
    def __init__(self, catalog: Catalog, store: ObjectStore, config: Config) -> None:
        from archiver.ledger import log as ledger_log

        self._log = ledger_log
        self.catalog = catalog
        self.store = store
        self.origin = config.ledger_name
        self.signer = ledger_log.load_or_create_signer(config.ledger_key_path, config.ledger_name)
        self.writer = None

    def publish_pending(self) -> int:
        start, entries = self.catalog.unpublished_ledger()
        if not entries:
            return 0
        self._log.append_entries(self.store, start, entries)
        with self.catalog.transaction() as conn:
            conn.execute("UPDATE ledger SET published = 1 WHERE idx >= ? AND idx < ?", (start, start + len(entries)))
        return len(entries)

    def checkpoint(self) -> str:
        """Sign a checkpoint of everything published, and note it in the catalog's audit trail so
        `verify` can tell if a kept checkpoint later disappears from the store."""
        from archiver.clock import utc_now
        from archiver.ledger_check import note_checkpoint

        self.publish_pending()
        text = self._log.sign_checkpoint(self.store, self.signer, self.origin)
        note_checkpoint(self.catalog, text, utc_now())
        return text
