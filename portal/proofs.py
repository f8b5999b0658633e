"""Per-record proofs (DESIGN §5): `/records/<record_id>/proof?version=N` as a C2SP tlog-proof.

One file a person can keep with the record's raw bytes and check offline with standard tools: the
version's ledger entry (the `extra` line), its inclusion proof and the latest signed checkpoint, cosignatures
included (`archiver.ledger.proof` builds it; the Go program in tests/go checks it independently).
The proof is against the latest checkpoint, read once, so it changes as the log grows; each one
stays valid because every checkpoint it names is kept at `/ledger/checkpoints/<size>`.

Endpoint: `proofs.record_proof`.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, request

from archiver.errors import SunshineError
from archiver.ledger.note import NoteError
from archiver.ledger.proof import capture_fields, format_tlog_proof, record_proof
from portal import archive
from portal.backends import STORE_PART, BackendDown, index
from portal.ledger import LATEST_CACHE, TEXT, reader

bp = Blueprint("proofs", __name__)
MAX_RECORD_ID = 300


@bp.get("/records/<record_id>/proof")
def record_proof_file(record_id: str) -> Response:
    doc = index().get(record_id) if len(record_id) <= MAX_RECORD_ID else None
    if doc is None:
        abort(404, f"There is no record with the id {record_id[:MAX_RECORD_ID]!r} in this archive.")
    try:
        version = archive.pick_version(doc, request.args.get("version"))
    except ValueError as exc:
        abort(400, str(exc))
    except archive.NotStored as exc:
        abort(404, str(exc))
    number, ledger_index = version.get("version"), version.get("ledger_index")
    if not isinstance(ledger_index, int):
        abort(404, f"Version {number} of this record has no ledger entry yet.")
    try:
        checkpoint = reader().read_checkpoint()
        if checkpoint is None:
            abort(404, "The ledger has no signed checkpoint yet.")
        proof = record_proof(reader().entry, reader().inclusion_proof, checkpoint, ledger_index)
    except ValueError:  # the version is logged but its entry is not yet under a signed checkpoint
        abort(404, f"Version {number} of this record is not in a signed checkpoint yet; try again after "
                   "the next archiving run.")
    except (SunshineError, NoteError) as exc:
        raise BackendDown(STORE_PART, str(exc)) from None
    fields = capture_fields(proof.extra or b"")
    if fields is None or (fields["record_id"], fields["version"], fields["content_sha256"]) != (
            doc.record_id, number, version.get("content_sha256")):
        # The read model points at an entry that is not this version's capture: never hand out a
        # proof of something else. The index is damaged or stale (`sunshine reindex`).
        raise BackendDown(STORE_PART, f"ledger entry {ledger_index} is not the capture of "
                                      f"{doc.record_id} version {number}")
    filename = f"{doc.record_id}-v{number}.tlog-proof"
    return Response(format_tlog_proof(proof), content_type=TEXT,
                    headers={"Cache-Control": LATEST_CACHE,
                             "Content-Disposition": f'inline; filename="{filename}"'})
