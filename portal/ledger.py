"""The ledger area (DESIGN §5, §7): the transparency log as any standard verifier fetches it.

`/ledger/checkpoint`, `/ledger/checkpoints/<size>`, `/ledger/key` and `/ledger/tile/…` serve the
objects under `ledger/` in the store byte for byte (C2SP tlog-checkpoint, signed-note and
tlog-tiles), so Go's `sumdb/tlog` or any other client can audit the log without trusting us.
`/api/v1/proof/inclusion` and `/api/v1/proof/consistency` compute proofs from the tiles, and
`/verify` explains to a person how to check all of it. Everything comes from the object store
through one `LogReader` per app; the catalog is never opened.

Endpoints: `ledger.checkpoint`, `ledger.kept_checkpoint`, `ledger.key`, `ledger.tile`,
`ledger.inclusion_proof`, `ledger.consistency_proof`, `ledger.verify`.
"""

from __future__ import annotations

import re
import shlex
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, abort, current_app, jsonify, render_template, request

from archiver.errors import SunshineError
from archiver.ledger.note import NoteError, open_checkpoint, parse_verifier_key
from archiver.ledger.policy import evaluate
from archiver.ledger.proof import capture_fields
from archiver.ledger.reader import CHECKPOINTS_PREFIX, LedgerObjectError, LogReader, MissingTileError
from archiver.ledger.tiles import TILE_WIDTH, TileRef, parse_tile_path
from archiver.ledger.timestamp import TOKEN_SUFFIX, parse_timestamp_key, timestamp_key
from portal.backends import STORE_PART, BackendDown, store

bp = Blueprint("ledger", __name__)

TEXT = "text/plain; charset=utf-8"
LATEST_CACHE = "public, max-age=10"  # the one mutable object: a new checkpoint each run
IMMUTABLE_CACHE = "public, max-age=31536000, immutable"
PARTIAL_CACHE = "public, max-age=3600"  # never changes either, but may be replaced by its full tile
MAX_NUMBER_DIGITS = 18  # any tree size fits; longer strings are junk, not big numbers
_NUMBER = re.compile(r"^(0|[1-9][0-9]*)$")
_READER_LOCK = threading.Lock()


def reader() -> LogReader:
    """The app's `LogReader` over the guarded store: one per app so its tile cache is shared."""
    found = current_app.extensions.get("sunshine.ledger")
    if found is None:
        with _READER_LOCK:
            found = current_app.extensions.get("sunshine.ledger")
            if found is None:
                found = current_app.extensions["sunshine.ledger"] = LogReader(store())
    return found


def parse_number(value: str | None, name: str, *, required: bool = True) -> int | None:
    """A non-negative decimal integer query parameter; a 400 saying what is wrong otherwise."""
    if value is None or value == "":
        if required:
            abort(400, f"the {name} parameter is required (a non-negative whole number)")
        return None
    if len(value) > MAX_NUMBER_DIGITS or not _NUMBER.match(value):
        abort(400, f"{name} must be a non-negative whole number without leading zeros, got {value[:40]!r}")
    return int(value)


def _stored_text(read: Callable[[], str | None], missing: str) -> str:
    """A ledger object read through the app's `LogReader`; 404 if absent, 503 if damaged."""
    try:
        text = read()
    except LedgerObjectError as exc:
        raise BackendDown(STORE_PART, str(exc)) from None
    if text is None:
        abort(404, missing)
    return text


def _text(body: str, cache: str) -> Response:
    return Response(body, content_type=TEXT, headers={"Cache-Control": cache})


# ------------------------------------------------------------------------------------ raw objects

@bp.get("/ledger/checkpoint")
def checkpoint() -> Response:
    text = _stored_text(reader().read_checkpoint, "The ledger has no signed checkpoint yet.")
    return _text(text, LATEST_CACHE)


@bp.get("/ledger/checkpoints/<size>")
def kept_checkpoint(size: str) -> Response:
    """Every checkpoint ever signed (`ledger/checkpoints/<size>`): old roots for consistency proofs;
    and beside each, the RFC 3161 tokens that time-stamp it (`<size>.<tsa>.tsr`)."""
    if size.endswith(TOKEN_SUFFIX):
        return _timestamp_token(size)
    if len(size) > MAX_NUMBER_DIGITS or not _NUMBER.match(size):
        abort(404, "There is no checkpoint at this address.")
    text = _stored_text(lambda: reader().read_kept_checkpoint(int(size)), f"No checkpoint of size {size} was signed.")
    return _text(text, IMMUTABLE_CACHE)


def _timestamp_token(name: str) -> Response:
    """One stored time-stamp token, byte for byte, so anyone can run `openssl ts -verify` on it."""
    parsed = parse_timestamp_key(CHECKPOINTS_PREFIX + name) if len(name) <= 80 else None
    if parsed is None:
        abort(404, "There is no time-stamp token at this address.")
    try:
        token = store().get(timestamp_key(*parsed))
    except KeyError:
        abort(404, f"No time-stamp token {name} is kept.")
    return Response(token, content_type="application/timestamp-reply",
                    headers={"Cache-Control": IMMUTABLE_CACHE})


@bp.get("/ledger/key")
def key() -> Response:
    text = _stored_text(reader().read_key, "The ledger has no published key yet.")
    return _text(text, "public, max-age=3600")


@bp.get("/ledger/tile/<path:tile>")
def tile(tile: str) -> Response:
    """A hash tile or entry bundle at its C2SP path; only canonical tile paths are served."""
    try:
        ref = parse_tile_path("tile/" + tile)
    except ValueError:
        abort(404, "There is no tile at this address.")
    data = _tile_bytes(ref)
    cache = IMMUTABLE_CACHE if ref.width == TILE_WIDTH else PARTIAL_CACHE
    return Response(data, content_type="application/octet-stream", headers={"Cache-Control": cache})


def _tile_bytes(ref: TileRef) -> bytes:
    """The stored tile, or a missing partial tile cut from a wider one by the app's `LogReader`.

    Clients that do not fall back themselves (Go's `TileHashReader`) still get their bytes, and a
    request costs a bounded number of store reads: the reader tries the full tile and the width
    the latest checkpoint gives this tile, never a listing of the store.
    """
    try:
        if ref.level is None:
            return reader().read_entry_bundle(ref.index, ref.width)
        return reader().read_tile(ref.level, ref.index, ref.width)
    except MissingTileError:
        abort(404, "This tile has not been published.")
    except LedgerObjectError as exc:
        raise BackendDown(STORE_PART, str(exc)) from None


# ------------------------------------------------------------------------------------ proofs

def _proof(build, *args: int) -> dict[str, Any]:
    """Run a `LogReader` proof: a bad size or index is a 400, a damaged log a 503."""
    try:
        return build(*args)
    except ValueError as exc:
        abort(400, str(exc))
    except SunshineError as exc:
        raise BackendDown(STORE_PART, str(exc)) from None


def _latest_size() -> int:
    try:
        size = reader().size()
    except SunshineError as exc:  # a checkpoint that does not parse: the log is damaged, not the request
        raise BackendDown(STORE_PART, str(exc)) from None
    if size == 0:
        abort(404, "The ledger has no signed checkpoint yet.")
    return size


@bp.get("/api/v1/proof/inclusion")
def inclusion_proof() -> Response:
    """`{"index", "size", "leaf_hash", "proof": [hex…], "root"}` for leaf `index` in tree `size`."""
    return _proof_response(reader().inclusion_json, parse_number(request.args.get("index"), "index"),
                           parse_number(request.args.get("size"), "size", required=False))


@bp.get("/api/v1/proof/consistency")
def consistency_proof() -> Response:
    """`{"old", "new", "proof": [hex…]}`: the tree of size `old` is a prefix of the one of size `new`."""
    return _proof_response(reader().consistency_json, parse_number(request.args.get("old"), "old"),
                           parse_number(request.args.get("new"), "new", required=False))


def _proof_response(compute: Callable[..., dict[str, Any]], first: int, size: int | None) -> Response:
    """A proof against tree `size`, or the latest checkpoint's when none is named; a proof for a
    named size never changes, so only that one may be cached for good."""
    response = jsonify(_proof(compute, first, size if size is not None else _latest_size()))
    response.headers["Cache-Control"] = IMMUTABLE_CACHE if size is not None else LATEST_CACHE
    return response


# ------------------------------------------------------------------------------------ the page

@bp.app_template_filter("shell_quote")
def shell_quote(value: object) -> str:
    """A value as one shell word, so copy-pasted commands cannot be split or injected (Host header)."""
    return shlex.quote(str(value))


@bp.get("/verify")
def verify() -> str:
    """How to verify this archive: the key, the latest checkpoint, commands; `?index=I` a proof."""
    index = parse_number(request.args.get("index"), "index", required=False)
    log = _log_state()
    proof = _page_proof(index, log["size"]) if index is not None else None
    return render_template("verify.html", log=log, proof=proof, index=index,
                           base=request.host_url.rstrip("/"))


def _log_state() -> dict[str, Any]:
    """What the page shows about the log; a checkpoint that does not verify is said so, loudly."""
    state: dict[str, Any] = {"key": None, "checkpoint": None, "size": 0, "origin": None, "root_hex": None,
                             "problem": None, "witnesses": None}
    try:
        vkey, text = reader().read_key(), reader().read_checkpoint()
    except LedgerObjectError as exc:
        state["problem"] = f"The ledger cannot be read: {exc}"
        return state
    state.update(key=vkey.strip() if vkey else None, checkpoint=text)
    if text is None:
        return state
    if not state["key"]:
        state["problem"] = "The ledger's public key (ledger/key) is missing, so the checkpoint cannot be checked."
        return state
    try:
        body = open_checkpoint(text, [parse_verifier_key(state["key"])])
    except NoteError as exc:
        state["problem"] = f"The latest checkpoint does not verify with the published key: {exc}"
        return state
    state.update(size=body.size, origin=body.origin, root_hex=body.root.hex(), witnesses=_witnesses(text))
    if state["witnesses"] and not state["witnesses"]["met"]:
        state["problem"] = (f"The latest checkpoint is not cosigned as the witness policy requires "
                            f"({state['witnesses']['quorum']}).")
    return state


def _witnesses(text: str) -> dict[str, Any] | None:
    """The witness policy and who cosigned the checkpoint (name, key, when), for the page; None
    without a policy that asks for cosignatures."""
    policy = current_app.extensions["sunshine.config"].witness_policy
    if policy is None or not policy.needs_cosigning:
        return None
    result = evaluate(policy, text)
    rows = [{"name": w.name, "key": w.verifier.key(),
             "cosigned_at": (datetime.fromtimestamp(result.cosigners[w.name], UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
                             if w.name in result.cosigners else None)} for w in policy.witnesses]
    return {"quorum": policy.describe(), "met": result.met, "rows": rows}


def _page_proof(index: int, size: int) -> dict[str, Any]:
    if size == 0:
        abort(404, "The ledger has no signed checkpoint yet, so there is nothing to prove.")
    body = _proof(reader().inclusion_json, index, size)
    try:
        entry = reader().entry(index, size)
    except SunshineError as exc:
        raise BackendDown(STORE_PART, str(exc)) from None
    return {**body, "entry_hex": entry.hex(), "entry_text": entry.decode("utf-8", "replace"),
            "capture": capture_fields(entry)}

