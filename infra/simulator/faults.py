"""Broken answers on purpose, so the archiver's failed-capture handling can be tested.

A `Fault` names which requests it hits (a substring of the request target, optionally one platform)
and how many times (`count`, None = every match). The server applies the first live fault that
matches to the answer it would have sent. Kinds:

- `truncated_json`: the body cut in half (unparseable JSON), status 200.
- `missing_id`: the first record of a JSON answer loses its native id (Facebook's `id`, Bluesky's
  `uri`, ...): where the record sits and what its fields are called is the platform profile's
  `first_record` (profile.py), whatever the answer's shape (a page, a thread, a list, one object).
- `wrong_types`: that record gets a number for its id and text and null for its time.
- `server_error`: HTTP 500 with an HTML body.
- `empty_body`: status 200, `Content-Length: 0`.
- `html`: status 200 with an HTML page instead of JSON (a proxy or captive portal).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from infra.simulator.profile import RecordFields
from infra.simulator.wire import Reply, encode_json

FirstRecord = Callable[[Any], RecordFields | None]

FAULT_KINDS = ("truncated_json", "missing_id", "wrong_types", "server_error", "empty_body", "html")


@dataclass(frozen=True)
class Fault:
    kind: str
    path_contains: str = ""  # substring of the request target (path and query string)
    count: int | None = 1  # matching requests to break; None = all of them
    platform: str | None = None  # a profile's name, None for any

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {', '.join(FAULT_KINDS)}")


def _parent(obj: dict[str, Any], path: str) -> tuple[dict[str, Any] | None, str]:
    """The dict holding the last key of a dotted `path` in `obj` (None if the way is not all dicts)."""
    *way, key = path.split(".")
    holder: Any = obj
    for step in way:
        holder = holder.get(step) if isinstance(holder, dict) else None
    return (holder if isinstance(holder, dict) else None), key


def _mutate(reply: Reply, kind: str, first_record: FirstRecord | None) -> Reply:
    try:
        doc = json.loads(reply.body)
    except ValueError:
        return reply
    fields = first_record(doc) if first_record is not None else None
    if fields is None:
        return reply
    if kind == "missing_id":
        holder, key = _parent(fields.obj, fields.id)
        if holder is not None:
            holder.pop(key, None)
    else:
        for path, value in ((fields.id, 12345), (fields.text, 12345), (fields.time, None)):
            holder, key = _parent(fields.obj, path)
            if holder is not None:
                holder[key] = value
    return replace(reply, body=encode_json(doc), cacheable=False)


def apply_fault(reply: Reply, kind: str, first_record: FirstRecord | None = None) -> Reply:
    """`reply` broken the way `kind` says; `missing_id` and `wrong_types` break the record the
    platform profile's `first_record` finds (an answer without one is left as it is)."""
    if kind == "truncated_json":
        return replace(reply, body=reply.body[: len(reply.body) // 2], cacheable=False)
    if kind == "server_error":
        return Reply(500, b"<html><body><h1>500 Internal Server Error</h1></body></html>",
                     "text/html; charset=utf-8", cacheable=False)
    if kind == "empty_body":
        return replace(reply, body=b"", cacheable=False)
    if kind == "html":
        return Reply(200, b"<!doctype html><html><body>Please log in to continue.</body></html>",
                     "text/html; charset=utf-8", cacheable=False)
    return _mutate(reply, kind, first_record)


class FaultSet:
    """The live faults of one server (thread-safe; a fault with count 0 is dropped)."""

    def __init__(self, faults: list[Fault] | None = None) -> None:
        self._lock = threading.Lock()
        self._faults: list[list[Any]] = [[fault, fault.count] for fault in faults or ()]

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append([fault, fault.count])

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, platform: str, target: str) -> str | None:
        """The kind of the first fault matching this request, consuming one of its uses."""
        with self._lock:
            for entry in self._faults:
                fault, remaining = entry
                if (fault.platform in (None, platform)) and fault.path_contains in target:
                    if remaining is not None:
                        entry[1] = remaining - 1
                        if entry[1] <= 0:
                            self._faults.remove(entry)
                    return fault.kind
        return None
