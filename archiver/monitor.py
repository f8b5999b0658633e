"""`sunshine monitor`: follow a remote portal's log the way a Certificate Transparency monitor does.

It needs only the portal's URL and the log's verifier key (never the archive), and trusts nothing
the portal says that it cannot check:

1. the latest checkpoint (`/ledger/checkpoint`) must be signed by the key, for the key's origin, and
   (with a C2SP tlog-policy) cosigned by a quorum of witnesses;
2. it must agree with every checkpoint this monitor kept (same size, same root: else a *split view*)
   and extend the last one (a consistency proof from `/api/v1/proof/consistency`, checked here);
3. the new entries, read from the entry bundles (`/ledger/tile/entries/…`), are hashed into the
   tree this monitor keeps (its right edge, a "compact range"): the result must be the signed
   root, and any entry it had already seen must hash as before (else a *rewritten entry*);
4. every new capture entry's raw version (`/records/<id>/raw?version=N`) must hash to the entry's
   `content_sha256` (else the record's bytes *no longer match*), unless a logged disposition
   removed it or a logged redaction withholds it (the portal answers 451; `docs/redaction.md`). At most `Limits.max_raw` per run; the rest wait in the state for the next run.

State (`DIR`): `checkpoints/<size>` (every checkpoint seen and verified, as served), `leaves` (the
leaf hash of every entry, 32 bytes each, so any past root can be recomputed locally) and
`state.json` (origin, key, size, the right edge, disposed record ids, the redactions in force by record, raw checks
still pending).
The state advances only when a run finds nothing wrong, so a problem is reported again next run.
"""

from __future__ import annotations

import hashlib
import json
import os
import urllib.parse
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from archiver.durable import fsync_path
from archiver.errors import SunshineError
from archiver.ledger import merkle, tiles
from archiver.ledger.note import Checkpoint, NoteError, Verifier, open_checkpoint, parse_verifier_key
from archiver.ledger.policy import Policy, check_log_listed, evaluate
from archiver.ledger.proof import capture_fields
from archiver.monitor_http import Limits, PortalClient, PortalFetchError

STATE_FILE = "state.json"
LEAVES_FILE = "leaves"
CHECKPOINTS_DIR = "checkpoints"
HASH = merkle.HASH_SIZE
DISPOSAL_EVENTS = ("disposition",)  # entries whose `records` list leaves the public archive


@dataclass(frozen=True)
class Problem:
    """Something the portal's log or records got wrong. `kind` is one of: `bad-checkpoint`,
    `policy`, `split-view`, `inconsistent`, `rewritten-entry`, `bad-entries`, `raw-mismatch`,
    `raw-missing`, `unreachable`."""

    kind: str
    message: str
    index: int | None = None
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass
class Report:
    url: str
    origin: str | None = None
    previous_size: int = 0
    size: int = 0
    root: str | None = None
    entries_checked: int = 0
    raw_checked: int = 0
    raw_pending: int = 0
    disposed_skipped: int = 0
    redacted_skipped: int = 0  # raw versions a logged redaction withholds (the portal answers 451)
    requests: int = 0
    notes: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        return data


@dataclass
class State:
    origin: str
    key: str
    size: int = 0
    edge: list[bytes] = field(default_factory=list)  # the compact range of [0, size): see `extend`
    disposed: set[str] = field(default_factory=set)
    pending_raw: list[dict[str, Any]] = field(default_factory=list)
    redacted: dict[str, list[str]] = field(default_factory=dict)  # record id -> redaction ids in force


# ------------------------------------------------------------------------------------ the tree


def extend(edge: list[bytes], size: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """The compact range of [0, size + len(leaf_hashes)) from that of [0, size): the hashes of the
    maximal complete subtrees, largest first (one per set bit of the size, RFC 9162 §2.1.1's split).
    Appending a leaf merges it with as many right-edge subtrees as the size has trailing 1 bits."""
    edge = list(edge)
    for leaf in leaf_hashes:
        node, n = leaf, size
        while n & 1:
            node = merkle.node_hash(edge.pop(), node)
            n >>= 1
        edge.append(node)
        size += 1
    return edge


def edge_root(edge: Sequence[bytes]) -> bytes:
    return merkle.fold_subtrees(edge) if edge else merkle.EMPTY_ROOT


# ------------------------------------------------------------------------------------ state


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    fsync_path(tmp)
    os.replace(tmp, path)
    fsync_path(path.parent)


def load_state(folder: Path, origin: str, key: str) -> State:
    path = folder / STATE_FILE
    if not path.exists():
        return State(origin, key)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        state = State(data["origin"], data["key"], int(data["size"]),
                      [bytes.fromhex(h) for h in data["edge"]], set(data.get("disposed", [])),
                      list(data.get("pending_raw", [])),
                      {str(k): list(v) for k, v in dict(data.get("redacted", {})).items()})
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SunshineError(f"{path}: not a monitor state file ({exc})") from None
    if (state.origin, state.key) != (origin, key):
        raise SunshineError(f"{folder} follows the log {state.origin!r} with key {state.key}; "
                            f"use another --state folder for {origin!r}")
    leaves = folder / LEAVES_FILE
    if not leaves.exists() or leaves.stat().st_size < state.size * HASH:
        raise SunshineError(f"{leaves} holds fewer than the {state.size} leaf hashes {path} counts")
    if edge_root(state.edge) != _root_from_leaves(folder, state.size):
        raise SunshineError(f"{folder}: {STATE_FILE} and {LEAVES_FILE} disagree; the state is damaged")
    return state


def save_state(folder: Path, state: State, new_leaves: Sequence[bytes], checkpoint: Checkpoint, note: str) -> None:
    """Leaves first, then the kept checkpoint, then `state.json` (which makes them count)."""
    folder.mkdir(parents=True, exist_ok=True)
    leaves = folder / LEAVES_FILE
    with open(leaves, "ab") as out:
        out.truncate(state.size * HASH)  # drop leaves a crashed run appended past the saved size
        out.write(b"".join(new_leaves))
    fsync_path(leaves)
    kept = folder / CHECKPOINTS_DIR
    kept.mkdir(exist_ok=True)
    if not (kept / str(checkpoint.size)).exists():
        _write(kept / str(checkpoint.size), note.encode())
    state.size = checkpoint.size
    _write(folder / STATE_FILE, json.dumps({
        "origin": state.origin, "key": state.key, "size": state.size, "edge": [h.hex() for h in state.edge],
        "disposed": sorted(state.disposed), "pending_raw": state.pending_raw,
        "redacted": state.redacted}, indent=1).encode())


def read_leaves(folder: Path, start: int, stop: int) -> list[bytes]:
    with open(folder / LEAVES_FILE, "rb") as data:
        data.seek(start * HASH)
        blob = data.read((stop - start) * HASH)
    return [blob[i:i + HASH] for i in range(0, len(blob), HASH)]


def _root_from_leaves(folder: Path, size: int) -> bytes:
    return edge_root(extend([], 0, read_leaves(folder, 0, size))) if size else merkle.EMPTY_ROOT


def kept_checkpoints(folder: Path, verifier: Verifier) -> dict[int, tuple[Checkpoint, str]]:
    """The checkpoints a state folder kept, re-verified (a file edited by hand is not evidence)."""
    out = {}
    for path in sorted((folder / CHECKPOINTS_DIR).glob("*")) if (folder / CHECKPOINTS_DIR).is_dir() else []:
        if not path.name.isdigit():
            continue
        note = path.read_text(encoding="utf-8")
        try:
            checkpoint = open_checkpoint(note, [verifier])
        except NoteError:
            continue
        out[checkpoint.size] = (checkpoint, note)
    return out


# ------------------------------------------------------------------------------------ one run


def follow(url: str, key: str, state_dir: Path, *, policy: Policy | None = None, peers: Sequence[Path] = (),
           limits: Limits | None = None, client: PortalClient | None = None) -> Report:
    """One monitoring run against the portal at `url`; the report (never raises for what the
    portal got wrong, only for what the user can fix: a bad key, URL, policy or state folder)."""
    verifier = _parse_key(key)
    if policy is not None:
        check_log_listed(policy, verifier)
    limits = limits or Limits()
    client = client or PortalClient(url, limits)
    state = load_state(state_dir, verifier.name, verifier.key())
    report = Report(url=client.base, origin=verifier.name, previous_size=state.size, size=state.size)
    try:
        _run(client, verifier, state, state_dir, policy, peers, limits, report)
    except PortalFetchError as exc:
        report.problems.append(Problem("unreachable", str(exc), evidence={"url": exc.url, "status": exc.status}))
    report.requests = client.requests
    return report


def _parse_key(key: str) -> Verifier:
    try:
        return parse_verifier_key(key)
    except NoteError as exc:
        raise SunshineError(f"--key: {exc}") from None


def _run(client: PortalClient, verifier: Verifier, state: State, folder: Path, policy: Policy | None,
         peers: Sequence[Path], limits: Limits, report: Report) -> None:
    note = client.text("/ledger/checkpoint")
    try:
        checkpoint = open_checkpoint(note, [verifier])
    except NoteError as exc:
        report.problems.append(Problem("bad-checkpoint", f"the latest checkpoint does not verify with the key: {exc}",
                                       evidence={"checkpoint": note}))
        return
    if checkpoint.origin != verifier.name:
        report.problems.append(Problem("bad-checkpoint", f"the checkpoint is for log {checkpoint.origin!r}, "
                                       f"not {verifier.name!r}", evidence={"checkpoint": note}))
        return
    report.size, report.root = checkpoint.size, checkpoint.root.hex()
    if policy is not None:
        _check_policy(policy, note, report)
    kept = kept_checkpoints(folder, verifier)
    for peer in peers:
        _compare_peer(peer, verifier, kept, folder, state, report)
    if not _agrees_with_kept(checkpoint, note, kept, folder, state, report):
        return
    if checkpoint.size < state.size:
        report.notes.append(f"the portal serves checkpoint {checkpoint.size}, older than the {state.size} "
                            "this monitor saw; it agrees with it (a stale cache?)")
        _check_raw(client, state, limits, report)
        if state.size in kept:  # the state stays at the newest checkpoint seen, never goes back
            _save_if_ok(folder, state, [], *kept[state.size], report)
        return
    new_leaves: list[bytes] = []
    if checkpoint.size > state.size:
        if not _consistent(client, state, checkpoint, folder, report):
            return
        new_leaves = _read_new_entries(client, state, checkpoint, folder, limits, report)
        if new_leaves is None:
            return
    _check_raw(client, state, limits, report)
    _save_if_ok(folder, state, new_leaves, checkpoint, note, report)


def _save_if_ok(folder: Path, state: State, new_leaves: list[bytes], checkpoint: Checkpoint, note: str,
                report: Report) -> None:
    if report.ok:
        save_state(folder, state, new_leaves, checkpoint, note)


def _agrees_with_kept(checkpoint: Checkpoint, note: str, kept: dict[int, tuple[Checkpoint, str]],
                      folder: Path, state: State, report: Report) -> bool:
    """A checkpoint of a size this monitor kept must have its root; one of a smaller size must be
    the root of the leaves this monitor saw. Otherwise two histories exist: a split view."""
    seen = kept.get(checkpoint.size)
    if seen is not None and seen[0].root != checkpoint.root:
        report.problems.append(Problem(
            "split-view", f"two different checkpoints of size {checkpoint.size}: the one kept in {folder} "
            "and the one the portal serves now", evidence={"kept": seen[1], "served": note}))
        return False
    if seen is None and 0 < checkpoint.size <= state.size and \
            _root_from_leaves(folder, checkpoint.size) != checkpoint.root:
        report.problems.append(Problem(
            "split-view", f"the portal's checkpoint of size {checkpoint.size} has a root other than the tree "
            "this monitor followed to that size", evidence={"served": note}))
        return False
    return True


def _compare_peer(peer: Path, verifier: Verifier, kept: dict[int, tuple[Checkpoint, str]], folder: Path,
                  state: State, report: Report) -> None:
    """Another monitor's kept checkpoints (another client, another network) against ours."""
    for size, (theirs, their_note) in sorted(kept_checkpoints(peer, verifier).items()):
        ours = kept.get(size)
        if ours is not None and ours[0].root != theirs.root:
            report.problems.append(Problem(
                "split-view", f"{peer} kept a checkpoint of size {size} other than the one {folder} kept",
                evidence={"ours": ours[1], "theirs": their_note}))
        elif ours is None and 0 < size <= state.size and _root_from_leaves(folder, size) != theirs.root:
            report.problems.append(Problem(
                "split-view", f"{peer} kept a checkpoint of size {size} whose root is not that of the tree "
                f"{folder} followed", evidence={"theirs": their_note}))


def _consistent(client: PortalClient, state: State, checkpoint: Checkpoint, folder: Path,
                report: Report) -> bool:
    """The portal's consistency proof from the size this monitor knows to the new one, checked."""
    if state.size == 0:
        return True
    body = client.get(f"/api/v1/proof/consistency?old={state.size}&new={checkpoint.size}")
    try:
        proof = [bytes.fromhex(h) for h in json.loads(body)["proof"]]
        merkle.verify_consistency(state.size, checkpoint.size, edge_root(state.edge), checkpoint.root, proof)
    except (ValueError, KeyError, TypeError, merkle.ProofError) as exc:
        report.problems.append(Problem(
            "inconsistent", f"checkpoint {checkpoint.size} does not extend the tree of size {state.size} this "
            f"monitor saw ({exc}): the log's history was rewritten", evidence={"old_size": state.size}))
        return False
    return True


def _check_policy(policy: Policy, note: str, report: Report) -> None:
    """The checkpoint's cosignatures must meet the C2SP tlog-policy (witnesses saw this history too)."""
    evaluation = evaluate(policy, note)
    report.notes.append("cosigned by " + (", ".join(sorted(evaluation.cosigners)) or "no policy witness"))
    if not evaluation.met:
        report.problems.append(Problem(
            "policy", f"the checkpoint's cosignatures ({', '.join(sorted(evaluation.cosigners)) or 'none'}) "
            f"do not meet the policy: {policy.describe()}", evidence={"checkpoint": note}))


def _read_new_entries(client: PortalClient, state: State, checkpoint: Checkpoint, folder: Path,
                      limits: Limits, report: Report) -> list[bytes] | None:
    """Read entries [state.size, checkpoint.size) from the bundles and hash them onto the kept right
    edge; the new leaf hashes, or None after reporting why they cannot be trusted."""
    old, new = state.size, checkpoint.size
    if new - old > limits.max_entries:
        raise SunshineError(f"the log grew by {new - old:,} entries, more than --max-entries "
                            f"{limits.max_entries:,}; raise the limit to follow it")
    kept_leaves = read_leaves(folder, (old // tiles.TILE_WIDTH) * tiles.TILE_WIDTH, old) if old else []
    new_leaves: list[bytes] = []
    for bundle in range(old // tiles.TILE_WIDTH, (new - 1) // tiles.TILE_WIDTH + 1):
        width = tiles.tile_width(new, 0, bundle)
        path = "/ledger/" + tiles.entries_path(bundle, width)
        try:
            entries = tiles.decode_entry_bundle(client.get(path))
        except ValueError as exc:
            report.problems.append(Problem("bad-entries", f"{path} is damaged: {exc}"))
            return None
        if len(entries) != width:
            report.problems.append(Problem("bad-entries", f"{path} holds {len(entries)} entries, not {width}"))
            return None
        for offset, entry in enumerate(entries):
            index = bundle * tiles.TILE_WIDTH + offset
            leaf = merkle.leaf_hash(entry)
            if index < old:
                if leaf != kept_leaves[index - (old // tiles.TILE_WIDTH) * tiles.TILE_WIDTH]:
                    report.problems.append(Problem(
                        "rewritten-entry", f"entry {index} is not the entry this monitor saw before",
                        index, {"entry": entry.decode("utf-8", "replace")}))
                continue
            new_leaves.append(leaf)
            _note_entry(state, index, entry)
        report.entries_checked += width
    if not report.ok:
        return None
    edge = extend(state.edge, old, new_leaves)
    if edge_root(edge) != checkpoint.root:
        _locate_bad_entries(client, old, new, new_leaves, report)
        return None
    state.edge = edge
    return new_leaves


def _note_entry(state: State, index: int, entry: bytes) -> None:
    """Remember what a new entry asks of the monitor: a capture's raw bytes to re-hash, a disposal."""
    fields = capture_fields(entry)
    if fields is not None:
        state.pending_raw.append({"index": index, "record_id": fields["record_id"], "version": fields["version"],
                                  "content_sha256": fields["content_sha256"]})
        return
    try:
        event = json.loads(entry)
    except ValueError:
        return
    if isinstance(event, dict) and event.get("type") in DISPOSAL_EVENTS and isinstance(event.get("records"), list):
        state.disposed.update(r for r in event["records"] if isinstance(r, str))
    if isinstance(event, dict) and event.get("type") == "redaction" and isinstance(event.get("record_id"), str):
        active = set(state.redacted.get(event["record_id"], []))
        if event.get("action") == "add":
            active.add(str(event.get("redaction_id")))
        else:
            active.discard(str(event.get("redaction_id")))
        if active:
            state.redacted[event["record_id"]] = sorted(active)
        else:
            state.redacted.pop(event["record_id"], None)


def _locate_bad_entries(client: PortalClient, old: int, new: int, new_leaves: list[bytes], report: Report) -> None:
    """The entries do not hash to the signed root: find which disagree with the leaf hashes the
    hash tiles hold (the tiles are what the signed root was computed from)."""
    found = False
    for tile in range(old // tiles.TILE_WIDTH, (new - 1) // tiles.TILE_WIDTH + 1):
        width = tiles.tile_width(new, 0, tile)
        data = client.get("/ledger/" + tiles.tile_path(0, tile, width))
        for offset in range(width):
            index = tile * tiles.TILE_WIDTH + offset
            if index < old:
                continue
            if data[offset * HASH:(offset + 1) * HASH] != new_leaves[index - old]:
                found = True
                report.problems.append(Problem(
                    "rewritten-entry", f"entry {index} in the entry bundle does not hash to the leaf hash the "
                    "signed tree holds: it was changed after it was logged", index))
    if not found:
        report.problems.append(Problem(
            "bad-entries", f"entries {old}..{new - 1} do not hash to the root of checkpoint {new}"))


def _check_raw(client: PortalClient, state: State, limits: Limits, report: Report) -> None:
    """Re-hash up to `limits.max_raw` pending raw versions against their capture entries."""
    batch, state.pending_raw = state.pending_raw[:limits.max_raw], state.pending_raw[limits.max_raw:]
    for item in batch:
        record_id, version = item["record_id"], item["version"]
        if record_id in state.disposed:
            report.disposed_skipped += 1
            continue
        if record_id in state.redacted:
            report.redacted_skipped += 1
            continue
        path = f"/records/{urllib.parse.quote(record_id, safe='')}/raw?version={version}"
        data = client.get(path, missing_ok=True)
        report.raw_checked += 1
        if data is None:
            report.problems.append(Problem(
                "raw-missing", f"{record_id} version {version} (entry {item['index']}) is logged but the portal "
                "does not serve it, and no logged disposition removed it", item["index"], dict(item)))
            continue
        actual = hashlib.sha256(data).hexdigest()
        if actual != item["content_sha256"]:
            report.problems.append(Problem(
                "raw-mismatch", f"{record_id} version {version}: the portal's bytes hash to {actual}, the ledger "
                f"entry {item['index']} to {item['content_sha256']}", item["index"], {**item, "actual": actual}))
    report.raw_pending = len(state.pending_raw)
