"""Identifiers and timestamps in each platform's own format.

Bluesky ids follow the AT Protocol specs: record keys are TIDs (53-bit microsecond clock + 10-bit
clock id, base32-sortable), CIDs are CIDv1 base32 (`bafyrei…` for dag-cbor records, `bafkrei…` for
raw blobs) over a SHA-256 digest. Facebook ids are decimal strings joined with `_`. Everything is a
pure function of its inputs, so a seed reproduces the same ids byte for byte.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

_SORTABLE = "234567abcdefghijklmnopqrstuvwxyz"
_PAIRS = [first + second for first in _SORTABLE for second in _SORTABLE]  # 10 bits per lookup


def tid(micros: int, clock_id: int) -> str:
    """A 13-character TID: `micros` in the top 53 bits after a zero bit, `clock_id` in the low 10."""
    value = ((micros & ((1 << 53) - 1)) << 10) | (clock_id & 0x3FF)
    return _SORTABLE[value >> 60] + "".join(_PAIRS[(value >> shift) & 0x3FF] for shift in (50, 40, 30, 20, 10, 0))


_RFC4648 = "abcdefghijklmnopqrstuvwxyz234567"
_RFC_PAIRS = [first + second for first in _RFC4648 for second in _RFC4648]


def _b32(data: bytes) -> str:
    """Unpadded lowercase RFC 4648 base32 (what `base64.b32encode` gives, several times faster)."""
    bits = len(data) * 8
    chars = -(-bits // 5)
    value = int.from_bytes(data, "big") << (chars * 5 - bits)
    even = chars + chars % 2  # read two characters (10 bits) at a time; an odd count gets a leading "a"
    text = "".join(_RFC_PAIRS[(value >> shift) & 0x3FF] for shift in range((even - 2) * 5, -1, -10))
    return text[even - chars:]


def record_cid(*parts: object) -> str:
    """CIDv1 dag-cbor sha2-256 (`bafyrei…`) over a digest of `parts` (stands in for the record block)."""
    digest = hashlib.sha256(":".join(map(str, parts)).encode("utf-8", "surrogatepass")).digest()
    return "b" + _b32(b"\x01\x71\x12\x20" + digest)


def blob_cid(data: bytes) -> str:
    """CIDv1 raw sha2-256 (`bafkrei…`) of blob bytes, as Bluesky references images."""
    return "b" + _b32(b"\x01\x55\x12\x20" + hashlib.sha256(data).digest())


def plc_did(label: str) -> str:
    """A did:plc: 24 base32 characters derived from `label`."""
    return "did:plc:" + _b32(hashlib.sha256(label.encode("utf-8")).digest()[:15])


def digest_int(*parts: object) -> int:
    """A 64-bit integer derived from `parts`: the per-record randomness that does not depend on order."""
    data = ":".join(map(str, parts)).encode("utf-8")
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big")


def bluesky_time(ms: int) -> str:
    """`2026-01-05T14:03:00.000Z` (AT Protocol datetime, millisecond precision)."""
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def facebook_time(ms: int) -> str:
    """`2026-01-05T14:03:00+0000` (Graph API datetime, second precision)."""
    return datetime.fromtimestamp(ms // 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def rfc3339(ms: int) -> str:
    """`2026-01-05T14:03:00Z`, for the simulator's own control endpoints."""
    return datetime.fromtimestamp(ms // 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
