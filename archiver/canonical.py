"""Canonical JSON and the hashes taken over it.

`content_sha256` of a record version is the sha256 of `canonical_json(native_object)`. Auditors must
be able to recompute it from the original HTTP response, so there is exactly one serialisation:
sorted keys, UTF-8, no insignificant whitespace, non-ASCII kept as UTF-8. A lone surrogate (a
hostile payload can carry `"\\ud800"`) cannot be UTF-8 encoded, so it stays the JSON escape
`\\ud800`: the text is still valid JSON, parses back to the same string, and nothing is dropped.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

_SURROGATE = re.compile("[\ud800-\udfff]")


def canonical_json(value: Any) -> bytes:
    """Serialise `value` canonically (sorted keys, compact separators, UTF-8)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    text = _SURROGATE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)
    return text.encode("utf-8")


def sha256_hex(data: bytes) -> str:
    """Hex sha256 of `data`: the one digest used for payloads, blobs and records."""
    return hashlib.sha256(data).hexdigest()
