"""Broken answers on purpose, so the archiver's failed-capture handling can be tested.

A `Fault` names which requests it hits (a substring of the request target, optionally one platform)
and how many times (`count`, None = every match). The server applies the first live fault that
matches to the answer it would have sent. Kinds:

- `truncated_json`: the body cut in half (unparseable JSON), status 200.
- `missing_id`: the first post/comment in the payload loses its `id` (Facebook) or `uri` (Bluesky).
- `wrong_types`: the first post/comment gets a number for its text, null for its time, a number id.
- `server_error`: HTTP 500 with an HTML body.
- `empty_body`: status 200, `Content-Length: 0`.
- `html`: status 200 with an HTML page instead of JSON (a proxy or captive portal).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, replace
from typing import Any

from infra.simulator.wire import Reply, encode_json

FAULT_KINDS = ("truncated_json", "missing_id", "wrong_types", "server_error", "empty_body", "html")


@dataclass(frozen=True)
class Fault:
    kind: str
    path_contains: str = ""  # substring of the request target (path and query string)
    count: int | None = 1  # matching requests to break; None = all of them
    platform: str | None = None  # "bluesky" | "facebook" | None for any

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {', '.join(FAULT_KINDS)}")


def _first_item(doc: Any) -> dict[str, Any] | None:
    """The first post/comment object in a Bluesky or Facebook payload."""
    if not isinstance(doc, dict):
        return None
    if isinstance(doc.get("data"), list):
        return doc["data"][0] if doc["data"] else None
    if isinstance(doc.get("feed"), list):
        return doc["feed"][0]["post"] if doc["feed"] else None
    if isinstance(doc.get("thread"), dict):
        return doc["thread"].get("post")
    if isinstance(doc.get("posts"), list):
        return doc["posts"][0] if doc["posts"] else None
    return doc if "id" in doc else None


def _mutate(reply: Reply, kind: str) -> Reply:
    try:
        doc = json.loads(reply.body)
    except ValueError:
        return reply
    item = _first_item(doc)
    if item is None:
        return reply
    if kind == "missing_id":
        item.pop("id", None)
        item.pop("uri", None)
    else:
        if "id" in item:
            item["id"] = 12345
            item["message"] = 12345
            item["created_time"] = None
        if isinstance(item.get("record"), dict):
            item["record"]["text"] = 12345
            item["record"]["createdAt"] = None
            item["uri"] = 12345
    return replace(reply, body=encode_json(doc), cacheable=False)


def apply_fault(reply: Reply, kind: str) -> Reply:
    """`reply` broken the way `kind` says."""
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
    return _mutate(reply, kind)


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
