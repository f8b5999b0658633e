"""RFC 3161 trusted timestamps of signed checkpoints: request, store beside the checkpoint, verify.

A checkpoint signed by the log's own key says nothing trustworthy about *when* it was signed: the
department could sign a different history today and claim it is years old. A time-stamping
authority (TSA, RFC 3161) outside the department signs "these bytes existed at time T"; the log
asks every configured TSA to stamp each kept checkpoint's exact bytes (SHA-256 message imprint)
and keeps the whole `TimeStampResp` (RFC 3161 §2.4.2) at

    ledger/checkpoints/<size>.<tsa name>.tsr

beside `ledger/checkpoints/<size>`, so anyone can check it with standard tools:
`openssl ts -verify -data <checkpoint> -in <token> -CAfile <tsa root>`. Because a checkpoint's
root commits to every earlier entry, one stamped checkpoint dates all the history before it.

A TSA that is down or answers badly never fails a publish: the next publish retries every kept
checkpoint still without that TSA's token (newest first, a bounded number each time). Every token
is verified (chain to the configured root, nonce, imprint) before it is stored, and again by
`sunshine verify`. This module knows the store and the TSAs, never the catalog (the portal may
import it); the catalog's record of stored tokens is `archiver.ledger_timestamps`.
"""

from __future__ import annotations

import hashlib
import re
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography import x509
from rfc3161_client import (
    HashAlgorithm,
    TimestampRequestBuilder,
    VerificationError,
    VerifierBuilder,
    decode_timestamp_response,
)
from rfc3161_client.verify import SHA256_OID

from archiver.errors import IntegrityError, StoreUnavailableError, SunshineError
from archiver.ledger.reader import CHECKPOINTS_PREFIX, kept_checkpoint_key
from archiver.store import ObjectStore

if TYPE_CHECKING:  # config imports the ledger package (policies), which imports this module via audit
    from archiver.config import TimestampAuthority

TOKEN_SUFFIX = ".tsr"
QUERY_TYPE = "application/timestamp-query"  # RFC 3161 §3.4
REPLY_TYPE = "application/timestamp-reply"
REQUEST_TIMEOUT = 15.0  # seconds; a TSA slower than this is treated as down and retried next publish
CATCH_UP = 8  # checkpoints without a token asked per TSA per publish: a new TSA never stalls a run
MAX_REPLY = 1 << 20  # a timestamp reply is a few KiB; anything near this is not one
_TOKEN_TAIL = re.compile(r"^(0|[1-9][0-9]*)\.([a-z0-9-]+)\.tsr$")


class TimestampError(SunshineError):
    """A TSA could not be reached, refused, or a token does not verify (the message says which)."""


def timestamp_key(size: int, authority: str) -> str:
    """Where the token of TSA `authority` for the checkpoint of `size` is kept."""
    return f"{kept_checkpoint_key(size)}.{authority}{TOKEN_SUFFIX}"


def parse_timestamp_key(key: str) -> tuple[int, str] | None:
    """(checkpoint size, TSA name) of a token key, or None for any other key."""
    if not key.startswith(CHECKPOINTS_PREFIX):
        return None
    match = _TOKEN_TAIL.match(key[len(CHECKPOINTS_PREFIX):])
    return (int(match.group(1)), match.group(2)) if match else None


def load_roots(ca_file: Path) -> list[x509.Certificate]:
    """The PEM certificates in a TSA's `ca_file`: the roots its tokens must chain to."""
    try:
        roots = x509.load_pem_x509_certificates(ca_file.read_bytes())
    except OSError as exc:
        raise TimestampError(f"{ca_file}: cannot read the TSA root certificates: {exc.strerror}") from None
    except ValueError as exc:
        raise TimestampError(f"{ca_file}: not PEM certificates: {exc}") from None
    return roots


@dataclass(frozen=True)
class VerifiedToken:
    gen_time: datetime  # when the TSA says the bytes existed
    serial_number: int


def verify_token(token: bytes, data: bytes, roots: Sequence[x509.Certificate], *,
                 nonce: int | None = None) -> VerifiedToken:
    """Check a `TimeStampResp` stamps exactly `data`: granted, SHA-256 imprint of `data`, signed by
    a time-stamping certificate (critical EKU id-kp-timeStamping) that chains to one of `roots` at
    the stamped time, and carrying `nonce` if one is given. `TimestampError` says what failed."""
    try:
        response = decode_timestamp_response(token)
        info = response.tst_info
    except ValueError as exc:
        raise TimestampError(f"not an RFC 3161 timestamp response ({exc})") from None
    imprint = info.message_imprint
    if imprint.hash_algorithm != x509.ObjectIdentifier(SHA256_OID):
        raise TimestampError(f"its message imprint uses {imprint.hash_algorithm.dotted_string}, not SHA-256")
    if imprint.message != hashlib.sha256(data).digest():
        raise TimestampError(f"it stamps SHA-256 {imprint.message.hex()}, not these bytes' "
                             f"{hashlib.sha256(data).hexdigest()}")
    builder = VerifierBuilder(nonce=nonce)
    for root in roots:
        builder = builder.add_root_certificate(root)
    try:
        builder.build().verify(response, imprint.message)
    except (VerificationError, ValueError) as exc:
        raise TimestampError(f"its signature or certificate chain does not verify ({exc})") from None
    return VerifiedToken(gen_time=info.gen_time, serial_number=info.serial_number)


def request_token(authority: TimestampAuthority, data: bytes, *, timeout: float = REQUEST_TIMEOUT) -> bytes:
    """Ask `authority` to stamp `data` (RFC 3161 over HTTP, §3.4) and return its verified reply."""
    roots = load_roots(authority.ca_file)  # before asking: a wrong path is the clerk's to fix now
    query = (TimestampRequestBuilder().data(data).hash_algorithm(HashAlgorithm.SHA256)
             .nonce(nonce=True).cert_request(cert_request=True).build())
    http_request = urllib.request.Request(authority.url, data=query.as_bytes(), method="POST",
                                          headers={"Content-Type": QUERY_TYPE, "Accept": REPLY_TYPE})
    try:
        with urllib.request.urlopen(http_request, timeout=timeout) as reply:  # noqa: S310 - config's http(s) URL
            body = reply.read(MAX_REPLY + 1)
    except urllib.error.HTTPError as exc:
        raise TimestampError(f"{authority.url}: answered HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise TimestampError(f"{authority.url}: cannot be reached ({reason})") from None
    if len(body) > MAX_REPLY:
        raise TimestampError(f"{authority.url}: answered more than {MAX_REPLY} bytes")
    try:
        verify_token(body, data, roots, nonce=query.nonce)
    except TimestampError as exc:
        raise TimestampError(f"{authority.url}: reply refused: {exc}") from None
    return body


@dataclass(frozen=True)
class TimestampRun:
    """What one publish's timestamping did: tokens stored (key, SHA-256 of the token), failures."""

    stored: tuple[tuple[str, str], ...]
    failed: tuple[str, ...]


def timestamp_checkpoints(store: ObjectStore, authorities: Sequence[TimestampAuthority], *,
                          catch_up: int = CATCH_UP, timeout: float = REQUEST_TIMEOUT) -> TimestampRun:
    """Ask each TSA to stamp the kept checkpoints it has no token for yet, newest first.

    At most `catch_up` requests per TSA; a TSA's first failure ends its turn (it is down or
    refusing, and the next publish tries again). Store failures are raised, never recorded.
    """
    if not authorities:
        return TimestampRun((), ())
    sizes: set[int] = set()
    have: set[tuple[int, str]] = set()
    for obj in store.list(CHECKPOINTS_PREFIX):
        tail = obj.key[len(CHECKPOINTS_PREFIX):]
        if tail.isdigit():
            sizes.add(int(tail))
        elif (parsed := parse_timestamp_key(obj.key)) is not None:
            have.add(parsed)
    stored: list[tuple[str, str]] = []
    failed: list[str] = []
    for authority in authorities:
        missing = sorted((size for size in sizes if (size, authority.name) not in have), reverse=True)
        for size in missing[:catch_up]:
            checkpoint = store.get(kept_checkpoint_key(size))
            try:
                token = request_token(authority, checkpoint, timeout=timeout)
            except TimestampError as exc:
                failed.append(f"{kept_checkpoint_key(size)}: no timestamp from {authority.name}: {exc}")
                break
            key = timestamp_key(size, authority.name)
            if _put_once(store, key, token):
                stored.append((key, hashlib.sha256(token).hexdigest()))
    return TimestampRun(tuple(stored), tuple(failed))


def _put_once(store: ObjectStore, key: str, token: bytes) -> bool:
    """Store a token unless another publisher stored one for the same checkpoint meanwhile."""
    try:
        store.put(key, token)
    except (StoreUnavailableError, IntegrityError):
        raise
    except SunshineError:
        if store.exists(key):
            return False  # a token is write-once: the other publisher's is as good as ours
        raise
    return True


def check_timestamps(store: ObjectStore, authorities: Sequence[TimestampAuthority]) -> list[str]:
    """Problems with the stored tokens, each naming the checkpoint: every token must be from a
    configured TSA, stamp its checkpoint's exact bytes and chain to that TSA's configured root."""
    problems: list[str] = []
    by_name = {authority.name: authority for authority in authorities}
    roots: dict[str, list[x509.Certificate]] = {}
    for obj in store.list(CHECKPOINTS_PREFIX):
        parsed = parse_timestamp_key(obj.key)
        if parsed is None:
            continue
        size, name = parsed
        checkpoint_key = kept_checkpoint_key(size)
        authority = by_name.get(name)
        if authority is None:
            problems.append(f"{checkpoint_key}: timestamp {obj.key} is from {name!r}, which is not in "
                            "[[ledger.timestamp_authorities]]; keep that TSA configured so its chain can be checked")
            continue
        if name not in roots:
            try:
                roots[name] = load_roots(authority.ca_file)
            except TimestampError as exc:
                problems.append(f"ledger.timestamp_authorities {name}: {exc}")
                roots[name] = []
        if not roots[name]:
            continue  # the unreadable ca_file is named once above
        try:
            checkpoint = store.get(checkpoint_key)
        except KeyError:
            problems.append(f"{checkpoint_key}: missing, though timestamp {obj.key} stamps it")
            continue
        try:
            verify_token(store.get(obj.key), checkpoint, roots[name])
        except TimestampError as exc:
            problems.append(f"{checkpoint_key}: timestamp {obj.key} from {name} does not verify: {exc}")
    return problems
