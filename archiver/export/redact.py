"""What a public package may not carry: the redaction state, from `archiver.redaction`.

Redacted content never leaves in a package. This module is the exporter's one door to the
redaction core: `package_redactions(catalog, record_ids)` returns a `RedactionView` whose `show(doc)`
is the public document (`archiver.redaction.apply_redactions`, exactly what the portal serves),
each version marked `withheld: {"raw": [bases], "capture": [bases]}` when its raw JSON or its
original WARC exchange must stay in the archive, and media replaced by placeholders. `log` is the
package's redaction log: each redaction in force with its legal basis (never the redacted text:
a text span's target *is* the redacted text) and every change to the records' redaction state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from archiver.catalog import Catalog
from archiver.model import RecordDoc
from archiver.redaction import active_redactions, apply_redactions, redaction_log, withheld_captures


@dataclass(frozen=True)
class RedactionView:
    """The redactions a package applies (see the module docstring)."""

    show: Callable[[RecordDoc], RecordDoc] = field(default=lambda doc: doc)
    log: tuple[dict[str, Any], ...] = ()
    changes: tuple[dict[str, Any], ...] = ()
    # (native id, record id, bases) of every redacted record: an exchange whose bytes name one is
    # withheld however it reached the package (a record also travels in pages it was not parsed from:
    # a feed page, a parent's inline replies), so redacted text never leaves in another capture.
    named: tuple[tuple[bytes, str, str], ...] = ()


NO_REDACTIONS = RedactionView()
PUBLIC_FIELDS = ("redaction_id", "record_id", "scope", "basis", "added_at", "added_by")


def package_redactions(catalog: Catalog, record_ids: Iterable[str] | None = None) -> RedactionView:
    """The redactions in force over the catalog, for a package of `record_ids` (all if None)."""
    active = active_redactions(catalog)
    withheld = {(item.warc_key, item.warc_offset): item.bases for item in withheld_captures(catalog, active)}

    def show(doc: RecordDoc) -> RecordDoc:
        return apply_redactions(doc, active.get(doc.record_id, []), withheld)

    ids = None if record_ids is None else set(record_ids)
    log = tuple({name: getattr(item, name) for name in PUBLIC_FIELDS}
                for record_id, items in sorted(active.items()) if ids is None or record_id in ids for item in items)
    changes = tuple(redaction_log(catalog, sorted(ids) if ids is not None else None))
    named = tuple((row["native_id"].encode(), row["record_id"],
                   "; ".join(sorted({item.basis for item in active[row["record_id"]]})))
                  for row in catalog.record_rows([record_id for record_id, items in active.items() if items])
                  if row["native_id"])
    return RedactionView(show, log, changes, named)
