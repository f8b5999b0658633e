"""C2SP tlog-proof: one entry's inclusion proof and the checkpoint it leads to, as one text file.

https://c2sp.org/tlog-proof (files conventionally named `*.tlog-proof`):

    c2sp.org/tlog-proof@v1
    extra <base64 opaque data>          (optional)
    index <decimal, no leading zeros>
    <base64 hash>                       (zero or more: the RFC 6962 audit path, leaf side first)
    <empty line>
    <the signed checkpoint, verbatim, cosignatures and all>

The format carries no leaf data; the spec leaves room in `extra` for "additional data necessary to
reconstruct the record hash". Our leaves are small canonical-JSON entries (`record_id`, `version`,
`content_sha256`, …; DESIGN §7), so `extra` holds the entry itself: a verifier hashes it as a leaf
(SHA-256(0x00 || entry)), checks the proof against the signed root, then checks the entry names
the record and digest it cares about. The extra data is untrusted until that proof holds.

The portal's `/records/<id>/proof?version=N` and the records packages build proofs with
`record_proof`; `verify_tlog_proof` is the checker (the Go program in tests/go is the independent one).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from archiver.errors import SunshineError
from archiver.ledger import merkle
from archiver.ledger.note import Checkpoint, NoteError, Verifier, open_checkpoint, peek_checkpoint

HEADER = "c2sp.org/tlog-proof@v1"
MAX_PROOF_HASHES = 64  # a tree of 2**63 leaves needs 63; anything longer is junk


class TlogProofError(SunshineError):
    """A tlog-proof is malformed, or does not verify against the trusted key."""


@dataclass(frozen=True)
class TlogProof:
    index: int
    hashes: tuple[bytes, ...]
    checkpoint: str  # the signed note, verbatim
    extra: bytes | None = None


def format_tlog_proof(proof: TlogProof) -> str:
    """The proof as C2SP tlog-proof text (the checkpoint is copied byte for byte)."""
    if proof.index < 0:
        raise ValueError(f"negative entry index {proof.index}")
    lines = [HEADER]
    if proof.extra is not None:
        lines.append("extra " + base64.b64encode(proof.extra).decode())
    lines.append(f"index {proof.index}")
    lines.extend(base64.b64encode(h).decode() for h in proof.hashes)
    return "\n".join(lines) + "\n\n" + proof.checkpoint


def _b64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise TlogProofError(f"tlog-proof: {what} is not valid base64") from None


def parse_tlog_proof(text: str) -> TlogProof:
    """A `TlogProof` from its text; `TlogProofError` naming the line that is wrong."""
    head, sep, checkpoint = text.partition("\n\n")
    if not sep:
        raise TlogProofError("tlog-proof: no empty line before the checkpoint")
    lines = head.split("\n")
    if lines[0] != HEADER:
        raise TlogProofError(f"tlog-proof: first line must be {HEADER!r}, got {lines[0][:60]!r}")
    at, extra = 1, None
    if at < len(lines) and lines[at].startswith("extra "):
        extra = _b64(lines[at][len("extra "):], "the extra line")
        at += 1
    if at >= len(lines) or not lines[at].startswith("index "):
        raise TlogProofError("tlog-proof: missing the 'index N' line")
    digits = lines[at][len("index "):]
    if not digits.isascii() or not digits.isdigit() or (digits.startswith("0") and digits != "0") or len(digits) > 19:
        raise TlogProofError(f"tlog-proof: index {digits[:40]!r} is not a decimal without leading zeros")
    hash_lines = lines[at + 1:]
    if len(hash_lines) > MAX_PROOF_HASHES:
        raise TlogProofError(f"tlog-proof: {len(hash_lines)} proof hashes, more than any tree needs")
    hashes = []
    for number, line in enumerate(hash_lines, start=1):
        value = _b64(line, f"proof hash {number}")
        if len(value) != merkle.HASH_SIZE:
            raise TlogProofError(f"tlog-proof: proof hash {number} is not {merkle.HASH_SIZE} bytes")
        hashes.append(value)
    return TlogProof(int(digits), tuple(hashes), checkpoint, extra)


def verify_tlog_proof(proof: TlogProof, verifiers: Sequence[Verifier], *, entry: bytes | None = None,
                      origin: str | None = None) -> Checkpoint:
    """Check the checkpoint's signature and that the entry (`entry`, else the proof's extra data) is
    leaf `index` of the signed tree; the opened checkpoint. `TlogProofError` on any failure."""
    leaf_data = entry if entry is not None else proof.extra
    if leaf_data is None:
        raise TlogProofError("tlog-proof carries no entry (extra line) and none was given")
    try:
        checkpoint = open_checkpoint(proof.checkpoint, verifiers)
    except NoteError as exc:
        raise TlogProofError(f"tlog-proof checkpoint: {exc}") from None
    if origin is not None and checkpoint.origin != origin:
        raise TlogProofError(f"tlog-proof checkpoint is for log {checkpoint.origin!r}, not {origin!r}")
    try:
        merkle.verify_inclusion(proof.index, checkpoint.size, merkle.leaf_hash(leaf_data), proof.hashes,
                                checkpoint.root)
    except merkle.ProofError as exc:
        raise TlogProofError(f"tlog-proof of entry {proof.index} in {checkpoint.size}: {exc}") from None
    return checkpoint


def record_proof(read_entry, inclusion_proof, checkpoint: str, index: int) -> TlogProof:
    """The tlog-proof of entry `index` against the signed `checkpoint` (read once by the caller, so
    the proof and the checkpoint it carries are of the same tree): `read_entry(index, size)` and
    `inclusion_proof(index, size)` are a `LogReader`'s. `ValueError` if the checkpoint does not
    include `index` yet."""
    size = peek_checkpoint(checkpoint).size
    if not 0 <= index < size:
        raise ValueError(f"entry {index} is not in the signed checkpoint yet (size {size})")
    return TlogProof(index, tuple(inclusion_proof(index, size)), checkpoint, read_entry(index, size))


def capture_fields(entry: bytes) -> dict[str, Any] | None:
    """The fields of a capture entry (record_id, version, content_sha256, …), or None if `entry` is
    not one: the one reading of a capture entry for the portal, the monitor and proof checkers."""
    try:
        fields = json.loads(entry)
    except ValueError:
        return None
    if not isinstance(fields, dict) or fields.get("type") != "capture":
        return None
    if not all(isinstance(fields.get(name), kind) and not isinstance(fields.get(name), bool) for name, kind in
               (("record_id", str), ("version", int), ("content_sha256", str))):
        return None
    return fields
