"""C2SP tlog-cosignature (Ed25519, `cosignature/v1`): witness signatures on our checkpoints.

https://c2sp.org/tlog-cosignature. A cosignature is a signed-note signature line on the checkpoint:

* cosigner key = vkey `name+<8 hex key id>+base64(0x04 || Ed25519 pubkey)`, key id =
  SHA-256(name || "\\n" || 0x04 || pubkey)[:4] (the signed-note key hash with algorithm 0x04);
* line = `— <name> base64(key id || u64 big-endian timestamp || Ed25519 signature)`;
* signed message = `cosignature/v1\\ntime <timestamp>\\n` + the whole checkpoint body.

Semantics (the spec's): at `timestamp` the witness had verified this checkpoint is consistent with
every earlier one it saw of this log, and it is the largest it saw. Pure functions, no I/O.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from archiver.ledger.note import NoteError, parse_checkpoint

ALG_COSIGNATURE_V1 = 0x04
SIG_PREFIX = "— "
_TIMESTAMPED_LEN = 4 + 8 + 64
_MAX_TIMESTAMP = 2**63 - 1


def cosigner_key_id(name: str, public_key: bytes) -> int:
    """SHA-256(name || "\\n" || 0x04 || pubkey)[:4] as a big-endian uint32."""
    digest = hashlib.sha256(name.encode() + b"\n" + bytes([ALG_COSIGNATURE_V1]) + public_key).digest()
    return int.from_bytes(digest[:4], "big")


@dataclass(frozen=True)
class CosignatureVerifier:
    """A witness's cosigning key, from its vkey."""

    name: str
    key_id: int
    public_key: bytes

    def key(self) -> str:
        encoded = base64.b64encode(bytes([ALG_COSIGNATURE_V1]) + self.public_key).decode()
        return f"{self.name}+{self.key_id:08x}+{encoded}"


def parse_cosigner_key(vkey: str) -> CosignatureVerifier:
    """A `CosignatureVerifier` from `name+id+base64(0x04 || pubkey)`; `NoteError` naming what is wrong."""
    parts = vkey.strip().split("+", 2)
    if len(parts) != 3 or not parts[0] or any(ch.isspace() for ch in parts[0]):
        raise NoteError(f"malformed witness key {vkey.strip()[:80]!r}: expected <name>+<key id>+<key>")
    name, id_text, encoded = parts
    if len(id_text) != 8 or any(ch not in "0123456789abcdef" for ch in id_text):
        raise NoteError(f"witness key {name}: key id {id_text!r} is not 8 lowercase hex digits")
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise NoteError(f"witness key {name}: not valid base64") from None
    if len(raw) != 33 or raw[0] != ALG_COSIGNATURE_V1:
        raise NoteError(f"witness key {name}: not a cosignature/v1 Ed25519 key (type 0x04, 32 bytes)")
    if cosigner_key_id(name, raw[1:]) != int(id_text, 16):
        raise NoteError(f"witness key {name}: key id does not match the key")
    return CosignatureVerifier(name, int(id_text, 16), raw[1:])


def cosigned_message(timestamp: int, checkpoint_text: str) -> bytes:
    """`cosignature/v1\\ntime T\\n` + the checkpoint body: what the witness signs."""
    parse_checkpoint(checkpoint_text)  # only checkpoints are cosigned
    return f"cosignature/v1\ntime {timestamp}\n{checkpoint_text}".encode()


def cosign(name: str, private_key: Ed25519PrivateKey, checkpoint_text: str, timestamp: int) -> str:
    """A cosignature line (what a witness returns); for tests and tools, the archive never cosigns."""
    public = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    signature = private_key.sign(cosigned_message(timestamp, checkpoint_text))
    blob = cosigner_key_id(name, public).to_bytes(4, "big") + timestamp.to_bytes(8, "big") + signature
    return f"{SIG_PREFIX}{name} {base64.b64encode(blob).decode()}\n"


def split_note(message: str) -> tuple[str, list[str]]:
    """A signed note's text (ending in a newline) and its signature lines (each ending in one)."""
    split = message.rfind("\n\n")
    if split < 0 or not message.endswith("\n"):
        raise NoteError("malformed note: no blank line before the signatures")
    return message[:split + 1], [line + "\n" for line in message[split + 2:-1].split("\n")]


def verify_line(verifier: CosignatureVerifier, checkpoint_text: str, line: str) -> int | None:
    """The timestamp of `line` if it is a valid cosignature by `verifier` on the checkpoint, else None
    (another key's line, a malformed one or a bad signature: callers ignore lines they cannot use)."""
    if not line.startswith(SIG_PREFIX) or not line.endswith("\n"):
        return None
    name, _, encoded = line[len(SIG_PREFIX):-1].partition(" ")
    if name != verifier.name:
        return None
    try:
        blob = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(blob) != _TIMESTAMPED_LEN or int.from_bytes(blob[:4], "big") != verifier.key_id:
        return None
    timestamp = int.from_bytes(blob[4:12], "big")
    if timestamp > _MAX_TIMESTAMP:
        return None
    try:
        Ed25519PublicKey.from_public_bytes(verifier.public_key).verify(
            blob[12:], cosigned_message(timestamp, checkpoint_text))
    except (InvalidSignature, NoteError):
        return None
    return timestamp


def add_cosignatures(message: str, lines: Sequence[str]) -> str:
    """The signed note with `lines` appended to its signatures (each once, in the order given)."""
    _, existing = split_note(message)
    new = [line for i, line in enumerate(lines) if line not in existing and line not in lines[:i]]
    return message + "".join(new)
