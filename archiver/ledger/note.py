"""C2SP signed-note with Ed25519, and C2SP tlog-checkpoint bodies.

https://c2sp.org/signed-note and https://c2sp.org/tlog-checkpoint, byte-compatible with Go's
`golang.org/x/mod/sumdb/note`:

* key hash = SHA-256(name || 0x0A || 0x01 || pubkey)[:4], a big-endian uint32;
* verifier key = `name+<8 hex key hash>+base64(0x01 || pubkey)`;
* signer key = `PRIVATE+KEY+name+<8 hex key hash>+base64(0x01 || seed)`;
* a signed note is `text` (ending in a newline), a blank line, then one line per signature:
  `— <name> base64(key hash || Ed25519 signature over text)`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from archiver.errors import SunshineError

ALG_ED25519 = 0x01
_SIG_PREFIX = "— "
_MAX_SIGNATURES = 100


class NoteError(SunshineError):
    """A note, key or checkpoint is malformed, or no trusted signature verified."""


def _valid_name(name: str) -> bool:
    return bool(name) and "+" not in name and not any(ch.isspace() for ch in name) and name.isprintable()


def key_hash(name: str, public_key: bytes) -> int:
    """SHA-256(name || "\\n" || 0x01 || pubkey)[:4] as a big-endian uint32 (C2SP signed-note)."""
    digest = hashlib.sha256(name.encode() + b"\n" + bytes([ALG_ED25519]) + public_key).digest()
    return int.from_bytes(digest[:4], "big")


def _b64decode(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise NoteError(f"{what}: not valid base64") from None


@dataclass(frozen=True)
class Verifier:
    name: str
    key_hash: int
    public_key: bytes

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except InvalidSignature:
            return False
        return True

    def key(self) -> str:
        """The verifier key string `name+hash+base64(0x01 || pubkey)`."""
        encoded = base64.b64encode(bytes([ALG_ED25519]) + self.public_key).decode()
        return f"{self.name}+{self.key_hash:08x}+{encoded}"


@dataclass(frozen=True)
class Signer:
    name: str
    key_hash: int
    private_key: Ed25519PrivateKey = field(repr=False, compare=False)

    def sign(self, message: bytes) -> bytes:
        return self.private_key.sign(message)

    @property
    def public_key(self) -> bytes:
        return self.private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    def verifier(self) -> Verifier:
        return Verifier(self.name, self.key_hash, self.public_key)


def _seed(private_key: Ed25519PrivateKey) -> bytes:
    return private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())


def generate_signer(name: str) -> Signer:
    """A new random Ed25519 signer called `name`."""
    if not _valid_name(name):
        raise NoteError(f"invalid key name {name!r}: it must be non-empty, without spaces or '+'")
    private_key = Ed25519PrivateKey.generate()
    public = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return Signer(name, key_hash(name, public), private_key)


def signer_key(signer: Signer) -> str:
    """The signer key string `PRIVATE+KEY+name+hash+base64(0x01 || seed)` (a secret)."""
    encoded = base64.b64encode(bytes([ALG_ED25519]) + _seed(signer.private_key)).decode()
    return f"PRIVATE+KEY+{signer.name}+{signer.key_hash:08x}+{encoded}"


def _parse_key_hash(text: str, what: str) -> int:
    if len(text) != 8 or any(ch not in "0123456789abcdef" for ch in text):
        raise NoteError(f"{what}: key hash {text!r} is not 8 lowercase hex digits")
    return int(text, 16)


def parse_signer_key(skey: str) -> Signer:
    """A `Signer` from `PRIVATE+KEY+name+hash+base64(0x01 || seed)`; `NoteError` if malformed."""
    parts = skey.strip().split("+", 4)
    if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"] or not _valid_name(parts[2]):
        raise NoteError("malformed signer key: expected PRIVATE+KEY+<name>+<hash>+<key>")
    name, expected_hash = parts[2], _parse_key_hash(parts[3], "signer key")
    raw = _b64decode(parts[4], "signer key")
    if len(raw) != 33 or raw[0] != ALG_ED25519:
        raise NoteError("signer key: not an Ed25519 key")
    private_key = Ed25519PrivateKey.from_private_bytes(raw[1:])
    signer = Signer(name, expected_hash, private_key)
    if key_hash(name, signer.public_key) != expected_hash:
        raise NoteError("signer key: key hash does not match the key")
    return signer


def parse_verifier_key(vkey: str) -> Verifier:
    """A `Verifier` from `name+hash+base64(0x01 || pubkey)`; `NoteError` if malformed."""
    parts = vkey.strip().split("+", 2)
    if len(parts) != 3 or not _valid_name(parts[0]):
        raise NoteError("malformed verifier key: expected <name>+<hash>+<key>")
    name, expected_hash = parts[0], _parse_key_hash(parts[1], "verifier key")
    raw = _b64decode(parts[2], "verifier key")
    if len(raw) != 33 or raw[0] != ALG_ED25519:
        raise NoteError("verifier key: not an Ed25519 key (wrong length or algorithm)")
    if key_hash(name, raw[1:]) != expected_hash:
        raise NoteError("verifier key: key hash does not match the key")
    return Verifier(name, expected_hash, raw[1:])


def _check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise NoteError("note text must end in a newline")
    if "\n\n" in text:
        raise NoteError("note text must not contain a blank line")
    if any(ord(ch) < 0x20 and ch != "\n" for ch in text):
        raise NoteError("note text must not contain control characters")


def sign_note(text: str, signers: Sequence[Signer]) -> str:
    """`text` followed by a blank line and one signature line per signer."""
    _check_text(text)
    message = text.encode()
    lines = []
    for signer in signers:
        blob = signer.key_hash.to_bytes(4, "big") + signer.sign(message)
        lines.append(f"{_SIG_PREFIX}{signer.name} {base64.b64encode(blob).decode()}\n")
    return text + "\n" + "".join(lines)


@dataclass(frozen=True)
class Signature:
    name: str
    key_hash: int
    base64: str


@dataclass(frozen=True)
class Note:
    text: str
    verified: tuple[Signature, ...]
    unverified: tuple[Signature, ...]


def open_note(message: str, verifiers: Sequence[Verifier]) -> Note:
    """Parse a signed note and check its signatures against the trusted `verifiers` (Go's `note.Open`).

    A signature by an unknown key is kept as unverified; a bad signature by a known key, or no
    verified signature at all, raises `NoteError`.
    """
    split = message.rfind("\n\n")
    if split < 0:
        raise NoteError("malformed note: no blank line before the signatures")
    text, sig_block = message[:split + 1], message[split + 2:]
    _check_text(text)
    if not sig_block.endswith("\n"):
        raise NoteError("malformed note: signature block must end in a newline")
    known = {(v.name, v.key_hash): v for v in verifiers}
    verified, unverified, seen = [], [], set()
    lines = sig_block[:-1].split("\n")
    if len(lines) > _MAX_SIGNATURES:
        raise NoteError("note has too many signatures")
    for line in lines:
        if not line.startswith(_SIG_PREFIX):
            raise NoteError(f"malformed signature line: {line!r}")
        name, _, encoded = line[len(_SIG_PREFIX):].partition(" ")
        if not _valid_name(name) or not encoded or " " in encoded:
            raise NoteError(f"malformed signature line: {line!r}")
        blob = _b64decode(encoded, "signature")
        if len(blob) < 5:
            raise NoteError(f"malformed signature line: {line!r}")
        signature = Signature(name, int.from_bytes(blob[:4], "big"), encoded)
        verifier = known.get((name, signature.key_hash))
        if verifier is None:
            unverified.append(signature)
            continue
        if (name, signature.key_hash) in seen:
            continue
        if not verifier.verify(text.encode(), blob[4:]):
            raise NoteError(f"invalid signature by {name}+{signature.key_hash:08x}")
        seen.add((name, signature.key_hash))
        verified.append(signature)
    if not verified:
        raise NoteError("note has no signature by a trusted key")
    return Note(text, tuple(verified), tuple(unverified))


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()


def format_checkpoint(origin: str, size: int, root: bytes, extensions: Sequence[str] = ()) -> str:
    """The checkpoint body `<origin>\\n<size>\\n<base64 root>\\n[extension lines]` (C2SP tlog-checkpoint)."""
    if not origin or "\n" in origin:
        raise NoteError(f"invalid checkpoint origin {origin!r}")
    if size < 0 or len(root) != 32:
        raise NoteError("checkpoint needs a non-negative size and a 32-byte root")
    body = f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n"
    return body + "".join(f"{line}\n" for line in extensions)


def parse_checkpoint(text: str) -> Checkpoint:
    """The origin, size and root of a checkpoint body (the text of an opened note)."""
    lines = text.split("\n")
    if len(lines) < 4 or lines[-1] != "":
        raise NoteError("malformed checkpoint: expected origin, size and root lines")
    origin, size_text, root_text = lines[0], lines[1], lines[2]
    if not origin:
        raise NoteError("malformed checkpoint: empty origin")
    if not size_text.isdigit() or (size_text.startswith("0") and size_text != "0"):
        raise NoteError(f"malformed checkpoint: size {size_text!r}")
    root = _b64decode(root_text, "checkpoint root")
    if len(root) != 32:
        raise NoteError("malformed checkpoint: root is not 32 bytes")
    return Checkpoint(origin, int(size_text), root, tuple(lines[3:-1]))


def peek_checkpoint(message: str) -> Checkpoint:
    """The checkpoint in a signed note, signatures *not* checked: for notes this log signed itself
    and only needs the size or root of (the catalog's audit trail, the latest size). Anything that
    trusts the root must use `open_checkpoint`. `NoteError` if it does not parse."""
    split = message.rfind("\n\n")
    return parse_checkpoint(message[:split + 1] if split >= 0 else message)


def open_checkpoint(message: str, verifiers: Sequence[Verifier]) -> Checkpoint:
    """The checkpoint in a signed note whose signature by one of `verifiers` checks; `NoteError` if not."""
    return parse_checkpoint(open_note(message, verifiers).text)
