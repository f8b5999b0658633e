"""A forger's rewrite of one archived exchange, for tests of `verify --deep`.

It replaces the response of the exchange at a version's `warc_ref` with another body, re-recorded
by our own WARC writer (so the WARC's digests are valid), stores the WARC again and updates the
catalog to match: the object's hash and size, this range's length and every later range's offset.
Plain `verify` then has nothing to object to (every object hashes to its catalog row, every WARC
digest holds, the ledger is untouched); only re-deriving content from the response can tell.
"""

from __future__ import annotations

from archiver.canonical import sha256_hex
from archiver.catalog import Catalog
from archiver.model import HttpExchange, WarcRef
from archiver.store import ObjectStore
from archiver.warc import WarcBatch, iter_records


def replace_response_body(store: ObjectStore, catalog: Catalog, ref: WarcRef, body: bytes) -> None:
    """Rewrite the exchange at `ref` with `body` as its response body, consistently everywhere
    plain `verify` looks."""
    data = store.get(ref.key)
    response, request = list(iter_records(data[ref.offset:ref.offset + ref.length]))[:2]
    batch = WarcBatch("tampered.warc.gz")
    member = batch.add(HttpExchange(response.url, "GET", tuple(request.headers), response.status, "OK",
                                    tuple(response.headers), body, response.warc_date))
    rewritten = batch.getvalue()[member.offset:member.offset + member.length]
    new_data = data[:ref.offset] + rewritten + data[ref.offset + ref.length:]
    store.put(ref.key, new_data, replace=True)
    delta = len(rewritten) - ref.length
    db = catalog.db
    db.execute("UPDATE objects SET sha256 = ?, size = ? WHERE key = ?", (sha256_hex(new_data), len(new_data), ref.key))
    db.execute("UPDATE versions SET warc_length = ? WHERE warc_key = ? AND warc_offset = ?",
               (len(rewritten), ref.key, ref.offset))
    db.execute("UPDATE versions SET warc_offset = warc_offset + ? WHERE warc_key = ? AND warc_offset > ?",
               (delta, ref.key, ref.offset))
