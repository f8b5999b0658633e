"""What a handler returns, and the one JSON encoder every response body goes through."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class Reply:
    """An HTTP response before it is written: status, body bytes, content type, extra headers."""

    status: int
    body: bytes
    content_type: str = "application/json; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()
    cacheable: bool = True  # False for answers that depend on more than (step, request)


def encode_json(value: Any) -> bytes:
    """UTF-8 JSON like the platforms send; a lone surrogate goes out as its escape (`\\ud800`).

    A lone surrogate cannot be UTF-8 encoded, and the escape is still valid JSON that parses back to
    the same string, which is what a real API does with such text.
    """
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text).encode("utf-8")


def json_reply(status: int, value: Any, headers: tuple[tuple[str, str], ...] = ()) -> Reply:
    return Reply(status, encode_json(value), headers=headers)
