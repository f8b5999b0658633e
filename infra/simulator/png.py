"""Tiny valid PNG images, generated deterministically from a name.

Media must be real bytes (the archiver hashes and stores them) yet cost nothing to make, so each
image is a 16x16 RGB gradient whose colours come from the name's digest.
"""

from __future__ import annotations

import hashlib
import struct
import zlib

SIZE = 16


def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def make_png(name: str) -> bytes:
    """A 16x16 8-bit RGB PNG whose pixels are a function of `name` only."""
    seed = hashlib.sha256(name.encode("utf-8")).digest()
    red, green, blue = seed[0], seed[1], seed[2]
    rows = bytearray()
    for y in range(SIZE):
        rows.append(0)  # filter type: none
        for x in range(SIZE):
            rows += bytes(((red + 8 * x) & 0xFF, (green + 8 * y) & 0xFF, (blue + seed[3 + (x ^ y) % 16]) & 0xFF))
    header = struct.pack(">IIBBBBB", SIZE, SIZE, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(bytes(rows), 9))
        + _chunk(b"IEND", b"")
    )
