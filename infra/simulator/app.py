"""Routing, token check, rate limiting, faults and the response cache: everything but the socket.

`SimulatorApp.handle(method, target, headers, body)` turns one request into a `Reply`, so tests can
drive it without HTTP and the server stays a thin loop. Answers are cached as bytes per (step,
request target): a world changes only in `advance()`, which empties the cache.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, unquote

from infra.simulator import bluesky, facebook
from infra.simulator.faults import Fault, FaultSet, apply_fault
from infra.simulator.wire import Reply, json_reply
from infra.simulator.world import BLUESKY, FACEBOOK, World

log = logging.getLogger(__name__)
CACHE_BUDGET = 64 * 1024 * 1024  # bytes of cached bodies per step before the cache starts over
RATE_LIMIT = 3000  # the RateLimit-Limit the Bluesky AppView advertises per 5 minutes


class SimulatorApp:
    """One simulated platform host: a `World` behind the Bluesky and Facebook API shapes."""

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
        self.requests: dict[str, int] = {BLUESKY: 0, FACEBOOK: 0}
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
        accounts = state["accounts"]
        accounts[BLUESKY]["base_url"] = f"{self.base_url}/bluesky"
        accounts[FACEBOOK]["base_url"] = f"{self.base_url}/facebook/v21.0"
        return state

    # ----- requests ---------------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: Mapping[str, str] | None = None,
               body: bytes = b"") -> Reply:
        """Answer one request; `target` is the path with its query string."""
        headers = headers or {}
        path = target.partition("?")[0]
        try:
            if path.startswith("/bluesky/") or path == "/bluesky":
                return self._platform(BLUESKY, method, target, headers)
            if path.startswith("/facebook/") or path == "/facebook":
                return self._platform(FACEBOOK, method, target, headers)
            if path.startswith("/media/"):
                return self._media(path)
            if path.startswith("/_sim/"):
                return self._control(method, path, body)
            return json_reply(404, {"error": "NotFound", "message": f"No route for {path}"})
        except Exception:  # a bug: answer 500 and keep serving, the traceback goes to the log
            log.exception("simulator failed on %s %s", method, target)
            return json_reply(500, {"error": "InternalServerError", "message": "Internal Server Error"})

    def _platform(self, platform: str, method: str, target: str, headers: Mapping[str, str]) -> Reply:
        with self._lock:
            self.requests[platform] += 1
            count = self.requests[platform]
        if self.rate_limit_every and count % self.rate_limit_every == 0:
            return self._rate_limited(platform, target)
        if method != "GET":
            return self._not_found(platform, target)
        fault = self.faults.take(platform, target)
        with self._lock:
            if self._cache_step != self.world.step:  # the world was advanced directly
                self._cache.clear()
                self._cache_bytes = 0
                self._cache_step = self.world.step
            # a header token is not part of the target, so such answers are neither cached nor reused
            keyed = platform == BLUESKY or _header_token(headers) is None
            reply = self._cache.get(target) if keyed else None
            if reply is None:
                reply = self._route(platform, target, headers)
                if keyed:
                    self._remember(target, reply)
        if fault is not None:
            reply = apply_fault(reply, fault)
        return reply

    def _remember(self, target: str, reply: Reply) -> None:
        if not reply.cacheable:
            return
        if self._cache_bytes + len(reply.body) > CACHE_BUDGET:
            self._cache.clear()
            self._cache_bytes = 0
        self._cache[target] = reply
        self._cache_bytes += len(reply.body)

    def _route(self, platform: str, target: str, headers: Mapping[str, str]) -> Reply:
        path, _, query = target.partition("?")
        multi = parse_qs(query, keep_blank_values=True)
        params = {key: values[0] for key, values in multi.items()}
        parts = [unquote(part) for part in path.split("/")[2:]]
        if platform == BLUESKY:
            if len(parts) != 2 or parts[0] != "xrpc":
                return bluesky.error(404, "NotFound", f"No route for {path}")
            return bluesky.handle(self.world, parts[1], params, multi.get("uris", []), self.base_url)
        if not parts or not parts[0].startswith("v"):
            return facebook.graph_error(f"Unknown path components: {path}", "OAuthException", 2500,
                                        trace=path)
        token = params.get("access_token") or _header_token(headers)
        if token != self.token:
            return facebook.invalid_token(path)
        return facebook.handle(self.world, parts[0], parts[1:], params, self.base_url)

    def _not_found(self, platform: str, target: str) -> Reply:
        if platform == BLUESKY:
            return bluesky.error(404, "MethodNotImplemented", "Method Not Implemented")
        return facebook.graph_error("Unsupported method", "OAuthException", 100, trace=target)

    def _rate_limited(self, platform: str, target: str) -> Reply:
        if platform == BLUESKY:
            reset = int(time.time()) + self.retry_after
            headers = (("RateLimit-Limit", str(RATE_LIMIT)), ("RateLimit-Remaining", "0"),
                       ("RateLimit-Reset", str(reset)), ("RateLimit-Policy", f"{RATE_LIMIT};w=300"),
                       ("Retry-After", str(self.retry_after)))
            reply = json_reply(429, {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}, headers)
        else:
            body = facebook.graph_error("(#4) Application request limit reached", "OAuthException", 4,
                                        trace=target, is_transient=True).body
            usage = json.dumps({"call_count": 100, "total_cputime": 10, "total_time": 10}, separators=(",", ":"))
            reply = Reply(400, body, headers=(("X-App-Usage", usage),))
        return Reply(reply.status, reply.body, reply.content_type, reply.headers, cacheable=False)

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


def _header_token(headers: Mapping[str, str]) -> str | None:
    value = headers.get("Authorization") or headers.get("authorization")
    if not value:
        return None
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() in ("bearer", "oauth") else None
