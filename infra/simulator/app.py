"""Routing, rate limiting, faults and the response cache: everything but the socket.

`SimulatorApp.handle(method, target, headers, body)` turns one request into a `Reply`, so tests can
drive it without HTTP and the server stays a thin loop. A platform request goes to the profile
whose prefix starts its path (`profiles.PROFILES`); the profile checks tokens and answers. Answers are cached as bytes per (step,
request target): a world changes only in `advance()`, which empties the cache.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, unquote

from infra.simulator.faults import Fault, FaultSet, apply_fault
from infra.simulator.profile import Profile, Route
from infra.simulator.wire import Reply, json_reply
from infra.simulator.world import World

log = logging.getLogger(__name__)
CACHE_BUDGET = 64 * 1024 * 1024  # bytes of cached bodies per step before the cache starts over


class SimulatorApp:
    """One simulated platform host: a `World` behind every profiled platform's API shapes."""

    def __init__(self, world: World, *, base_url: str, token: str = "sim-token",
                 rate_limit_every: int | None = None, faults: list[Fault] | None = None,
                 retry_after: int = 1) -> None:
        if rate_limit_every is not None and rate_limit_every < 1:
            raise ValueError("rate_limit_every must be a positive integer or None")
        self.world = world
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.rate_limit_every = rate_limit_every
        self.retry_after = retry_after
        self.faults = FaultSet(faults)
        self.requests: dict[str, int] = {platform: 0 for platform in world.profiles}
        self._lock = threading.RLock()
        self._cache: dict[str, Reply] = {}
        self._cache_step = world.step
        self._cache_bytes = 0

    # ----- control ----------------------------------------------------------------------------

    def advance(self) -> Any:
        with self._lock:
            change = self.world.advance()
            self._cache.clear()
            self._cache_bytes = 0
            self._cache_step = self.world.step
            return change

    def state(self) -> dict[str, Any]:
        with self._lock:
            state = self.world.state()
        for name, account in state["accounts"].items():
            account["base_url"] = self.api_base_url(name)
        return state

    def api_base_url(self, platform: str) -> str:
        """What a source's `base_url` is for `platform` on this server."""
        return f"{self.base_url}{self.world.profiles[platform].api_path}"

    # ----- requests ---------------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: Mapping[str, str] | None = None,
               body: bytes = b"") -> Reply:
        """Answer one request; `target` is the path with its query string."""
        headers = headers or {}
        path = target.partition("?")[0]
        try:
            for profile in self.world.profiles.values():
                if profile.owns(path):
                    return self._platform(profile, method, target, headers)
            if path.startswith("/media/"):
                return self._media(path)
            if path.startswith("/_sim/"):
                return self._control(method, path, body)
            return json_reply(404, {"error": "NotFound", "message": f"No route for {path}"})
        except Exception:  # a bug: answer 500 and keep serving, the traceback goes to the log
            log.exception("simulator failed on %s %s", method, target)
            return json_reply(500, {"error": "InternalServerError", "message": "Internal Server Error"})

    def _platform(self, profile: Profile, method: str, target: str, headers: Mapping[str, str]) -> Reply:
        with self._lock:
            self.requests[profile.name] += 1
            count = self.requests[profile.name]
        if self.rate_limit_every and count % self.rate_limit_every == 0:
            reply = profile.throttled(self.retry_after, target)
            return Reply(reply.status, reply.body, reply.content_type, reply.headers, cacheable=False)
        if method != "GET":
            return profile.unsupported_method(target)
        fault = self.faults.take(profile.name, target)
        with self._lock:
            if self._cache_step != self.world.step:  # the world was advanced directly
                self._cache.clear()
                self._cache_bytes = 0
                self._cache_step = self.world.step
            # a header token is not part of the target, so such answers are neither cached nor reused
            keyed = not _has_authorization(headers)
            reply = self._cache.get(target) if keyed else None
            if reply is None:
                reply = self._route(profile, method, target, headers)
                if keyed:
                    self._remember(target, reply)
        if fault is not None:
            reply = apply_fault(reply, fault, profile.first_record)
        return reply

    def _remember(self, target: str, reply: Reply) -> None:
        if not reply.cacheable:
            return
        if self._cache_bytes + len(reply.body) > CACHE_BUDGET:
            self._cache.clear()
            self._cache_bytes = 0
        self._cache[target] = reply
        self._cache_bytes += len(reply.body)

    def _route(self, profile: Profile, method: str, target: str, headers: Mapping[str, str]) -> Reply:
        path, _, query = target.partition("?")
        multi = parse_qs(query, keep_blank_values=True)
        params = {key: values[0] for key, values in multi.items()}
        parts = [unquote(part) for part in path[len(profile.prefix):].split("/")[1:]]
        route = Route(method=method, target=target, path=path, parts=parts, params=params, multi=multi,
                      headers=headers, base_url=self.base_url, token=self.token)
        return profile.handle(self.world, route)

    def _media(self, path: str) -> Reply:
        name = path[len("/media/"):]
        data = self.world.media_png(name[:-4]) if name.endswith(".png") else None
        if data is None:
            return json_reply(404, {"error": "NotFound", "message": f"No media {name}"})
        return Reply(200, data, "image/png", (("Cache-Control", "public, max-age=31536000, immutable"),))

    def _control(self, method: str, path: str, body: bytes) -> Reply:
        if path == "/_sim/state" and method == "GET":
            return json_reply(200, self.state())
        if path == "/_sim/advance" and method == "POST":
            change = self.advance()
            return json_reply(200, {"step": change.step, "now": change.now,
                                    "changes": {"new": len(change.new), "edited": len(change.edited),
                                                "deleted": len(change.deleted), "hidden": len(change.hidden)}})
        if path == "/_sim/faults" and method == "POST":
            try:
                spec = json.loads(body or b"{}")
                self.faults.add(Fault(**spec))
            except (ValueError, TypeError) as exc:
                return json_reply(400, {"error": "InvalidRequest", "message": f"bad fault: {exc}"})
            return json_reply(200, {"ok": True})
        if path == "/_sim/faults" and method == "DELETE":
            self.faults.clear()
            return json_reply(200, {"ok": True})
        return json_reply(404, {"error": "NotFound", "message": f"No route for {method} {path}"})


CREDENTIAL_HEADERS = ("Authorization", "authorization", "X-Goog-Api-Key", "X-goog-api-key", "x-goog-api-key")


def _has_authorization(headers: Mapping[str, str]) -> bool:
    """A header token (`Authorization`, Google's `X-goog-api-key`) is not part of the target, so such
    answers are neither cached nor reused."""
    return any(headers.get(name) for name in CREDENTIAL_HEADERS)
