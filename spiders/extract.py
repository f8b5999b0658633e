"""A record's `native` object, re-derived from a payload through the platform's registered rule.

`content_sha256` of a record version is the sha256 of `canonical_json(native_object(...))`, and an
auditor must get the same bytes by re-extracting the object from the WARC response. The rule itself
(volatile keys, where record objects sit, the native id) is each platform's `NativeRule`, written in
its module `spiders/<platform>.py` and registered in `spiders/registry.py`; these functions only
dispatch to it by platform name, so the spiders and `verify` cannot disagree.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from spiders.platform import NativeRule
from spiders.registry import PLATFORMS


def rule(platform: str) -> NativeRule:
    """The native-object rule of a registered platform (ValueError for any other)."""
    spec = PLATFORMS.get(platform)
    if spec is None:
        raise ValueError(f"no native-object rule for platform {platform!r}")
    return spec.native


def native_object(platform: str, raw_obj: dict[str, Any]) -> dict[str, Any]:
    """The record's `native` object: `raw_obj` minus the platform's volatile top-level keys."""
    return rule(platform).native_object(raw_obj)


def iter_raw_objects(platform: str, payload: Any) -> Iterator[dict[str, Any]]:
    """Every record object a parsed API payload carries (malformed parts skipped)."""
    return rule(platform).iter_raw_objects(payload)


def native_id_of(platform: str, raw_obj: dict[str, Any]) -> str | None:
    """The native id a raw object is recorded under."""
    return rule(platform).native_id_of(raw_obj)


def find_native(platform: str, body: bytes, native_id: str) -> dict[str, Any] | None:
    """Re-extract a record's `native` object from an archived response body (for `sunshine verify`).

    Returns None when the body holds no object with that native id.
    """
    native = rule(platform)
    try:
        payload = native.decode(body)
    except ValueError:
        return None
    for raw in native.iter_raw_objects(payload):
        if native.native_id_of(raw) == native_id:
            return native.native_object(raw)
    return None
