"""`sunshine verify-package FILE.zip`: a recipient checks a response package offline (DESIGN §6).

Nothing here trusts the sender or needs the network. In order:

1. the ZIP: every member's CRC, and names that stay inside the bag (no absolute paths or `..`);
2. the bag (RFC 8493, the `bagit` library): every payload file against `manifest-sha256.txt` and
   `manifest-sha512.txt`, the tag files against the tag manifests. The bag carries two algorithms,
   which is what lets a failure name the *changed* file: a file that disagrees with every manifest
   was changed; a manifest that alone disagrees with a file the other manifest vouches for was;
3. the log: `ledger/checkpoint`'s signature under `ledger/key`; every proof in `proofs.json`
   (C2SP tlog-proof, `archiver.ledger.proof`) against that same checkpoint, its entry naming the
   record, version and content hash `proofs.json` and `records.jsonl` say;
4. the records: each included version's raw JSON (`raw/...`) is canonical JSON whose SHA-256 is
   its `content_sha256`, the digest the proven ledger entry commits to.

The bag's manifests only show the package arrived as sent; steps 3-4 show its records are what the
department's public log committed to. The key is trusted only if its fingerprint (printed) matches
the one the department's portal publishes at `/ledger/key`, obtained separately.
"""

from __future__ import annotations

import json
import logging
import re
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import bagit

from archiver.canonical import canonical_json, sha256_hex
from archiver.errors import SunshineError
from archiver.ledger.note import NoteError, open_checkpoint, parse_verifier_key
from archiver.ledger.proof import TlogProofError, parse_tlog_proof, verify_tlog_proof

MAX_UNPACKED = 64 * 1024 ** 3  # refuse a ZIP that claims to unpack to more than this


@dataclass
class PackageReport:
    path: str
    key: str | None = None
    fingerprint: str | None = None
    origin: str | None = None
    size: int | None = None
    records: int = 0
    versions_checked: int = 0
    proofs_checked: int = 0
    files_checked: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and self.proofs_checked > 0

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "ok": self.ok}


def key_fingerprint(verifier_key: str) -> str:
    """`SHA256:<hex>` of the verifier key line (`name+hash+base64key`), as the portal shows it."""
    return "SHA256:" + sha256_hex(verifier_key.strip().encode())


def verify_package(path: Path) -> PackageReport:
    """Check the package at `path`; every problem names the file it is in."""
    path = Path(path)
    report = PackageReport(str(path))
    if not path.is_file():
        raise SunshineError(f"{path}: no such file")
    with tempfile.TemporaryDirectory(prefix="sunshine-verify-") as scratch:
        root = _unpack(path, Path(scratch), report)
        if root is None:
            return report
        _check_bag(root, report)
        _check_log(root / "data", report)
    return report


# ---------------------------------------------------------------------------------------------- zip

def _unpack(path: Path, into: Path, report: PackageReport) -> Path | None:
    """Unpack the ZIP safely; the bag's folder (the one holding bagit.txt), or None."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        report.problems.append(f"{path.name}: not a readable ZIP ({exc})")
        return None
    with archive:
        infos = archive.infolist()
        if sum(info.file_size for info in infos) > MAX_UNPACKED:
            report.problems.append(f"{path.name}: claims to unpack to more than {MAX_UNPACKED} bytes; not unpacked")
            return None
        for info in infos:
            name = PurePosixPath(info.filename)
            if info.filename.startswith("/") or "\\" in info.filename or ".." in name.parts:
                report.problems.append(f"{info.filename}: a ZIP member outside the package; not unpacked")
                continue
            if info.is_dir():
                continue
            target = into.joinpath(*name.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                target.write_bytes(archive.read(info))
            except (zipfile.BadZipFile, OSError, ValueError) as exc:  # a CRC error names the member
                report.problems.append(f"{info.filename}: damaged in the ZIP ({exc})")
    found = sorted(into.rglob("bagit.txt"), key=lambda p: len(p.parts))
    if not found:
        report.problems.append(f"{path.name}: no bagit.txt; not a BagIt package")
        return None
    return found[0].parent


# ---------------------------------------------------------------------------------------------- bag

def _check_bag(root: Path, report: PackageReport) -> None:
    _check_manifest_lines(root, report)
    logging.getLogger("bagit").setLevel(logging.CRITICAL)  # its findings are reported below, once, by file
    try:
        bag = bagit.Bag(str(root))
        bag.validate()
        report.files_checked = len(bag.payload_entries())
    except bagit.BagValidationError as exc:
        report.problems.extend(_bag_problems(root, exc))
    except bagit.BagError as exc:
        report.problems.append(f"bagit.txt or bag-info.txt: not a valid bag ({exc})")
    except UnicodeDecodeError:
        for tag in sorted(root.glob("*.txt")):
            try:
                tag.read_bytes().decode("utf-8")
            except UnicodeDecodeError as exc:
                report.problems.append(f"{tag.name}: changed (not UTF-8 text: {exc.reason} at byte {exc.start})")


def _bag_problems(root: Path, exc: bagit.BagValidationError) -> list[str]:
    """Name the changed file: one that disagrees with every manifest listing it, else the manifest
    that alone disagrees (a changed line: its digest, or the file name it gives)."""
    mismatched: dict[str, list[str]] = {}
    problems = []
    for detail in exc.details or []:
        name = str(getattr(detail, "path", ""))
        listing, kinds = _algorithms_listing(root, name), _algorithms(root, name)
        if isinstance(detail, bagit.ChecksumMismatch):
            mismatched.setdefault(name, []).append(detail.algorithm)
        elif isinstance(detail, bagit.FileMissing):
            problems.extend([f"{name}: missing (listed in every manifest)"] if listing == kinds else
                            [f"{_manifest(name, a)}: changed (a line names {name!r}, which the other manifests "
                             "do not list and the bag does not hold)" for a in sorted(listing)])
        elif isinstance(detail, bagit.UnexpectedFile):
            problems.extend([f"{name}: not in the bag's manifests (added?)"] if not listing else
                            [f"{_manifest(name, a)}: changed (no line for {name}, which the other manifests list)"
                             for a in sorted(kinds - listing)])
        else:
            problems.append(f"{detail}")
    for name, algorithms in sorted(mismatched.items()):
        if set(algorithms) >= _algorithms_listing(root, name):
            problems.append(f"{name}: changed (its {', '.join(sorted(algorithms))} does not match the bag's manifests)")
        else:
            problems.extend(f"{_manifest(name, algorithm)}: changed (its line for {name} does not match the file, "
                            "which the other manifest vouches for)" for algorithm in sorted(algorithms))
    if not problems:
        problems.append(f"bag: {exc}")
    return problems


def _manifest(name: str, algorithm: str) -> str:
    return ("tagmanifest" if _is_tag_file(name) else "manifest") + f"-{algorithm}.txt"


def _algorithms(root: Path, name: str) -> set[str]:
    prefix = "tagmanifest-" if _is_tag_file(name) else "manifest-"
    return {path.stem.removeprefix(prefix) for path in root.glob(f"{prefix}*.txt")}


# The `bagit` library's lines: lower-case hex digest, two spaces (one in tag manifests), the path.
_MANIFEST_LINE = {"sha256": re.compile(r"^[0-9a-f]{64} {1,2}\S.*$"), "sha512": re.compile(r"^[0-9a-f]{128} {1,2}\S.*$")}


def _check_manifest_lines(root: Path, report: PackageReport) -> None:
    """RFC 8493 lets digests be upper or lower case; `sunshine export` writes lower case only, so
    any other form means the manifest was changed after it was written."""
    for manifest in sorted(root.glob("*manifest-*.txt")):
        pattern = _MANIFEST_LINE.get(manifest.stem.rpartition("-")[2])
        if pattern is None:
            continue
        for number, line in enumerate(manifest.read_bytes().decode("utf-8", "replace").split("\n"), start=1):
            if line and not pattern.match(line):
                report.problems.append(f"{manifest.name}: line {number} is not as `sunshine export` writes it "
                                       "(changed)")
                break


def _is_tag_file(name: str) -> bool:
    return not name.startswith("data/")


def _algorithms_listing(root: Path, name: str) -> set[str]:
    found = set()
    prefix = "tagmanifest-" if _is_tag_file(name) else "manifest-"
    for manifest in root.glob(f"{prefix}*.txt"):
        algorithm = manifest.stem.removeprefix(prefix)
        for line in manifest.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.partition(" ")[2].strip() == name:
                found.add(algorithm)
    return found


# ---------------------------------------------------------------------------------------------- log

def _read(data: Path, relative: str, report: PackageReport) -> bytes | None:
    path = data / relative
    if ".." in PurePosixPath(relative).parts or not path.is_file():
        report.problems.append(f"data/{relative}: missing")
        return None
    return path.read_bytes()


def _check_log(data: Path, report: PackageReport) -> None:
    index_bytes = _read(data, "proofs.json", report)
    if index_bytes is None:
        return
    try:
        index = json.loads(index_bytes)
        key_text = (_read(data, index["key"], report) or b"").decode()
        checkpoint = (_read(data, index["checkpoint"], report) or b"").decode()
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        report.problems.append(f"data/proofs.json: not a proof index ({exc})")
        return
    report.key, report.fingerprint = key_text.strip(), key_fingerprint(key_text)
    try:
        verifier = parse_verifier_key(key_text)
        opened = open_checkpoint(checkpoint, [verifier])
    except NoteError as exc:
        report.problems.append(f"data/{index['checkpoint']}: signature does not verify under data/{index['key']} ({exc})")
        return
    report.origin, report.size = opened.origin, opened.size
    proven: dict[tuple[str, int], str] = {}
    for item in index.get("proofs", []):
        digest = _check_proof(data, item, checkpoint, verifier, report)
        if digest is not None:
            proven[(item["record_id"], item["version"])] = digest
    _check_records(data, proven, report)


def _check_proof(data: Path, item: dict[str, Any], checkpoint: str, verifier, report: PackageReport) -> str | None:
    """One proof: verified against the package's checkpoint; the content digest its entry commits to."""
    name = f"data/{item.get('proof')}"
    text = _read(data, str(item.get("proof")), report)
    if text is None:
        return None
    try:
        proof = parse_tlog_proof(text.decode())
        if proof.checkpoint != checkpoint:
            raise TlogProofError("its checkpoint is not the package's data/ledger/checkpoint")
        verify_tlog_proof(proof, [verifier])
        entry = json.loads(proof.extra or b"{}")
    except (TlogProofError, UnicodeDecodeError, ValueError) as exc:
        report.problems.append(f"{name}: {exc}")
        return None
    if proof.index != item.get("ledger_index") or (entry.get("record_id"), entry.get("version")) != (
            item.get("record_id"), item.get("version")):
        report.problems.append(f"{name}: proves entry {proof.index} ({entry.get('record_id')} version "
                               f"{entry.get('version')}), not what data/proofs.json says")
        return None
    if entry.get("content_sha256") not in (None, item.get("content_sha256")):
        report.problems.append(f"{name}: the entry commits to content {entry.get('content_sha256')}, data/proofs.json "
                               f"says {item.get('content_sha256')}")
        return None
    report.proofs_checked += 1
    return str(item.get("content_sha256"))


def _check_records(data: Path, proven: dict[tuple[str, int], str], report: PackageReport) -> None:
    lines = _read(data, "records.jsonl", report)
    if lines is None:
        return
    for number, line in enumerate(lines.decode("utf-8", errors="replace").splitlines(), start=1):
        try:
            record = json.loads(line)
            versions = record["versions"]
        except (ValueError, KeyError, TypeError):
            report.problems.append(f"data/records.jsonl line {number}: not a record")
            continue
        report.records += 1
        for version in versions:
            _check_version(data, record["record_id"], version, proven, report)


def _check_version(data: Path, record_id: str, version: dict[str, Any], proven: dict[tuple[str, int], str],
                   report: PackageReport) -> None:
    number, digest = version.get("version"), version.get("content_sha256")
    where = f"{record_id} version {number}"
    if version.get("proof") and proven.get((record_id, number)) != digest:
        report.problems.append(f"data/records.jsonl: {where} has no verified proof for content {digest}")
    raw_name = version.get("raw")
    if not raw_name:
        return
    raw = _read(data, raw_name, report)
    if raw is None:
        return
    if sha256_hex(raw) != digest:
        report.problems.append(f"data/{raw_name}: hashes to {sha256_hex(raw)}, not {where}'s content_sha256 {digest}")
        return
    try:
        canonical = canonical_json(json.loads(raw))
    except ValueError:
        canonical = b""
    if canonical != raw:
        report.problems.append(f"data/{raw_name}: not canonical JSON")
        return
    report.versions_checked += 1
