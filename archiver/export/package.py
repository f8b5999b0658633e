"""`sunshine export`: a public-records response package, a BagIt bag in a ZIP (DESIGN §6).

Layout inside the bag's `data/` (every path below is relative to it):

    package.json            what was asked (request or searches), when, by whom; counts
    records.jsonl           one record a line: the public record JSON (DESIGN §2) with each version's
                            `raw`, `proof` and `warc` paths in this package
    records.csv             one row per version, for spreadsheets
    raw/<record_id>/v<N>.json   each version's canonical native JSON, byte for byte (hashes to its
                            `content_sha256`)
    warc/<run>__<file>.warc.gz  the original HTTP exchanges the versions came from: only the needed
                            gzip members of each stored WARC file, so each file is itself a valid WARC
    media/<sha256><ext>     media blobs
    ledger/checkpoint, ledger/key   the one signed checkpoint every proof is against, and the log's key
    proofs/<index>.tlog-proof       each version's inclusion proof (C2SP tlog-proof, entry in `extra`)
    proofs.json             indexes the proofs: record, version, ledger index, content_sha256, files
    redactions.json         the redaction log: each redaction, its basis, and what was withheld
    report.html, report.pdf a readable report: every post with its whole thread, edits as diffs,
                            hidden and deleted items marked, capture times and hashes

Redacted content never leaves: a redacted record appears as its redacted document, its raw JSON and
every WARC exchange holding redacted text are withheld and listed with the basis (`export.redact`).
The ZIP is written beside `out` and renamed into place only when complete.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import mimetypes
import os
import tempfile
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bagit

from archiver.canonical import sha256_hex
from archiver.catalog import Catalog, RecordsRequest
from archiver.clock import utc_now
from archiver.errors import SunshineError
from archiver.export.redact import RedactionView
from archiver.export.report import write_report
from archiver.export.tables import write_csv, write_jsonl
from archiver.ledger.note import peek_checkpoint
from archiver.ledger.proof import format_tlog_proof, record_proof
from archiver.ledger.reader import LogReader
from archiver.model import RecordDoc
from archiver.readmodel import docs_from_catalog
from archiver.store import ObjectStore
from archiver.store.keys import blob_key

CHECKSUMS = ("sha256", "sha512")
SOFTWARE = "Sunshine archiver (sunshine export)"


@dataclass(frozen=True)
class PackageResult:
    path: Path
    records: int
    versions: int
    proofs: int
    unproven: int
    warc_files: int
    media: int
    withheld: int
    checkpoint_size: int


@dataclass
class _Built:
    """What the payload holds so far (paths relative to `data/`)."""

    root: Path
    lines: list[dict[str, Any]] = field(default_factory=list)
    proofs: list[dict[str, Any]] = field(default_factory=list)
    unproven: list[dict[str, Any]] = field(default_factory=list)
    withheld: list[dict[str, Any]] = field(default_factory=list)
    members: dict[str, set[tuple[int, int]]] = field(default_factory=dict)
    media: set[str] = field(default_factory=set)

    def write(self, relative: str, data: bytes) -> str:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return relative


def export_package(catalog: Catalog, store: ObjectStore, out: Path, record_ids: Sequence[str], *,
                   redactions: RedactionView, exported_by: str, request: RecordsRequest | None = None,
                   searches: Sequence[dict[str, Any]] = ()) -> PackageResult:
    """Write the response package of `record_ids` (whole threads are the caller's choice) to `out`."""
    out = Path(out)
    if not out.parent.is_dir():
        raise SunshineError(f"--out {out}: the folder {out.parent} does not exist")
    ids = catalog.undisposed_record_ids(record_ids)
    if not ids:
        raise SunshineError("nothing to export: no archived (undisposed) record is in scope")
    reader = LogReader(store)
    checkpoint, key = reader.read_checkpoint(), reader.read_key()
    if checkpoint is None or key is None:
        raise SunshineError("the ledger has no signed checkpoint yet; run `sunshine archive` or `sunshine sync` first")
    size = peek_checkpoint(checkpoint).size
    docs = sorted(docs_from_catalog(catalog, ids), key=lambda d: (d.thread_id, d.created_at, d.record_id))
    name = "sunshine-package-" + (request.number if request else utc_now().replace(":", ""))
    with tempfile.TemporaryDirectory(prefix=".export-", dir=out.parent) as scratch:
        bag_dir = Path(scratch) / name
        built = _Built(bag_dir)
        bag_dir.mkdir()
        built.write("ledger/checkpoint", checkpoint.encode())
        built.write("ledger/key", key.strip().encode() + b"\n")
        shown = [_add_record(built, store, reader, checkpoint, size, doc, redactions) for doc in docs]
        warc_files = _write_warcs(built, store, redactions.named)
        built.write("proofs.json", _json({"checkpoint": "ledger/checkpoint", "key": "ledger/key",
                                          "origin": peek_checkpoint(checkpoint).origin, "size": size,
                                          "proofs": built.proofs, "unproven": built.unproven}))
        write_jsonl(bag_dir / "records.jsonl", built.lines)
        write_csv(bag_dir / "records.csv", built.lines)
        built.write("redactions.json", _json({"redactions": list(redactions.log), "changes": list(redactions.changes),
                                              "withheld": built.withheld}))
        about = {"request": _request_json(request), "searches": list(searches), "exported_at": utc_now(),
                 "exported_by": exported_by, "records": len(shown), "checkpoint_size": size,
                 "software": SOFTWARE}
        built.write("package.json", _json(about))
        write_report(bag_dir, about, shown, built.lines, built.withheld, list(redactions.log))
        bagit.make_bag(str(bag_dir), _bag_info(request, len(shown)), checksums=list(CHECKSUMS))
        partial = out.with_name(out.name + ".partial")
        _zip(bag_dir, partial)
        os.replace(partial, out)
    versions = sum(len(line["versions"]) for line in built.lines)
    return PackageResult(out, len(shown), versions, len(built.proofs), len(built.unproven), warc_files,
                         len(built.media), len(built.withheld), size)


def _json(value: Any) -> bytes:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False).encode() + b"\n"


def _request_json(request: RecordsRequest | None) -> dict[str, Any] | None:
    if request is None:
        return None
    return {name: value for name, value in request.as_json().items() if name not in ("closed_by", "saved_by")}


def _bag_info(request: RecordsRequest | None, records: int) -> dict[str, str]:
    info = {"Source-Organization": "Sunshine records archive", "Bag-Software-Agent": SOFTWARE,
            "External-Description": f"Public-records response package: {records} records with their versions, "
                                    "original captures and ledger inclusion proofs"}
    if request is not None:
        info["External-Identifier"] = request.number
    return info


def _add_record(built: _Built, store: ObjectStore, reader: LogReader, checkpoint: str, size: int,
                doc: RecordDoc, redactions: RedactionView) -> RecordDoc:
    """One record into the payload: raw JSON, proofs and WARC members of each version; its line."""
    shown = redactions.show(doc)
    versions = []
    for original, public in zip(doc.versions, shown.versions, strict=True):
        number, sha256 = original["version"], original["content_sha256"]
        withheld = public.get("withheld") or {}
        item = dict(public, raw=None, proof=None, warc=None)
        if withheld.get("raw"):
            built.withheld.append({"what": "raw", "record_id": doc.record_id, "version": number,
                                   "basis": "; ".join(withheld["raw"])})
        else:
            data = store.get(blob_key(sha256))
            if sha256_hex(data) != sha256:
                raise SunshineError(f"stored object {blob_key(sha256)} does not hash to its name; run `sunshine verify`")
            item["raw"] = built.write(f"raw/{doc.record_id}/v{number}.json", data)
        item["proof"] = _add_proof(built, reader, checkpoint, size, doc.record_id, number, sha256,
                                   original.get("ledger_index"), item["raw"])
        ref = original.get("warc_ref") or {}
        member = (ref.get("key"), ref.get("offset"), ref.get("length"))
        if withheld.get("capture"):
            built.withheld.append({"what": "warc", "record_id": doc.record_id, "version": number,
                                   "capture": f"{member[0]}#{member[1]}", "basis": "; ".join(withheld["capture"])})
        elif isinstance(member[0], str) and isinstance(member[1], int) and isinstance(member[2], int):
            built.members.setdefault(member[0], set()).add((member[1], member[2]))
            item["warc"] = {"file": _warc_name(member[0]), "store_key": member[0], "store_offset": member[1]}
        versions.append(item)
    media = []
    for item in shown.media:
        entry = dict(item, file=None)
        if item.get("redacted"):
            built.withheld.append({"what": "media", "record_id": doc.record_id, "basis": item["redacted"]})
        elif item.get("sha256"):
            entry["file"] = _add_media(built, store, item["sha256"], item.get("mime"))
        media.append(entry)
    built.lines.append({**shown.to_json(), "versions": versions, "media": media})
    return shown


def _add_proof(built: _Built, reader: LogReader, checkpoint: str, size: int, record_id: str, number: int,
               sha256: str, ledger_index: Any, raw: str | None) -> str | None:
    about = {"record_id": record_id, "version": number, "content_sha256": sha256, "ledger_index": ledger_index}
    if not isinstance(ledger_index, int) or not 0 <= ledger_index < size:
        built.unproven.append({**about, "reason": "not yet in a signed checkpoint"})
        return None
    proof = record_proof(reader.entry, reader.inclusion_proof, checkpoint, ledger_index)
    entry = json.loads(proof.extra or b"{}")
    if (entry.get("record_id"), entry.get("version")) != (record_id, number):
        raise SunshineError(f"ledger entry {ledger_index} is not the capture of {record_id} version {number}; "
                            "the catalog and the ledger disagree (run `sunshine verify`)")
    path = built.write(f"proofs/{ledger_index}.tlog-proof", format_tlog_proof(proof).encode())
    built.proofs.append({**about, "proof": path, "raw": raw})
    return path


def _add_media(built: _Built, store: ObjectStore, sha256: str, mime: str | None) -> str | None:
    extension = mimetypes.guess_extension(mime or "") or ""
    relative = f"media/{sha256}{extension}"
    if sha256 not in built.media:
        try:
            data = store.get(blob_key(sha256))
        except KeyError:
            return None
        built.write(relative, data)
        built.media.add(sha256)
    return relative


def _warc_name(key: str) -> str:
    """`warc/<run>/<source>-<seq>.warc.gz` -> `warc/<run>__<source>-<seq>.warc.gz` (one folder)."""
    inner = key.removeprefix("warc/")
    return "warc/" + inner.replace("/", "__")


def _write_warcs(built: _Built, store: ObjectStore, named: Sequence[tuple[bytes, str, str]] = ()) -> int:
    """Each stored WARC file's needed exchanges, in their original order, as one smaller WARC file.

    An exchange is a run of whole gzip members (response, request), so the concatenation is a valid
    `.warc.gz`; the members are byte for byte the stored ones (their digests still hold). An exchange
    whose bytes name a redacted record (`named`) is withheld and listed, whichever record brought it."""
    written = 0
    for key, ranges in sorted(built.members.items()):
        kept = []
        for offset, length in sorted(ranges):
            data = store.get_range(key, offset, length)
            if len(data) != length:
                raise SunshineError(f"capture {key}#{offset}: wanted {length} bytes, the store returned {len(data)}")
            found = _names_redacted(data, named)
            if found is not None:
                built.withheld.append({"what": "warc", "record_id": found[1], "capture": f"{key}#{offset}",
                                       "basis": found[2]})
                continue
            kept.append(data)
        if not kept:
            continue
        path = built.root / _warc_name(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as out:
            for data in kept:
                out.write(data)
        written += 1
    return written


def _names_redacted(member: bytes, named: Sequence[tuple[bytes, str, str]]) -> tuple[bytes, str, str] | None:
    """The first redacted record an exchange's (decompressed) bytes name, or None."""
    if not named:
        return None
    try:
        data = gzip.decompress(member)
    except (OSError, EOFError, zlib.error):
        data = member  # not gzip: search the bytes as stored
    return next((item for item in named if item[0] in data), None)


def _zip(bag_dir: Path, target: Path) -> None:
    """The bag as a ZIP with the bag's folder at its top (the usual way to ship a bag)."""
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(bag_dir.rglob("*")):
            if path.is_file():
                archive.write(path, f"{bag_dir.name}/{path.relative_to(bag_dir).as_posix()}")


def package_digest(path: Path) -> str:
    """The SHA-256 of a written package, to quote in a cover letter."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()



def record_export(catalog: Catalog, result: PackageResult, request: RecordsRequest | None, exported_by: str, *,
                  log_event=None) -> None:
    """Note a written package in the audit trail and the ledger (its SHA-256: what was handed over)."""
    now = utc_now()
    fields = {"action": "export", "at": now, "by": exported_by, "request": request.number if request else None,
              "records": result.records, "versions": result.versions, "withheld": result.withheld,
              "package_sha256": package_digest(result.path), "checkpoint_size": result.checkpoint_size}
    with catalog.transaction() as tx:
        catalog.audit(tx, now, exported_by, "package.export", {**fields, "file": result.path.name})
        if log_event is not None:
            log_event(tx, "package", fields)
