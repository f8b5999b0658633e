"""Response headers, the read-only rule and the per-client rate limits, for every request.

Every request but `RATE_EXEMPT_ENDPOINTS` spends a token of the client's general bucket
(`RATE_LIMIT_PER_MINUTE`, `RATE_LIMIT_BURST`). A costly view also spends one of a stricter bucket
named with `@limited_by(name)`: `downloads` (CSV and JSON Lines files of up to 10,000 results) has
`DOWNLOAD_RATE_LIMIT_PER_MINUTE` (default 6) and `DOWNLOAD_RATE_LIMIT_BURST` (default 3). Either
refusing is a 429 with `Retry-After`. `RATE_LIMIT_PER_MINUTE = 0` turns every limit off; a bucket's
own per-minute setting of 0 turns off only that one.

The portal shows hostile text (anyone can reply to a department post), so the page policy is the
strictest that still works without inline code: no inline script or style, nothing from other
origins, no framing. Captured HTTP responses are served under an even stricter sandboxing policy
(see `CAPTURE_CSP`), because they are other people's bytes served from our origin.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from flask import Flask, abort, current_app, request
from werkzeug.wrappers import Response

CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data:; script-src 'self'; "
       "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
CAPTURE_CSP = "default-src 'none'; sandbox; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
}
HSTS = "max-age=31536000; includeSubDomains"
READ_METHODS = frozenset({"GET", "HEAD"})
WRITABLE_BLUEPRINTS = frozenset({"clerk"})  # the only area allowed to accept writes (later)
RATE_EXEMPT_ENDPOINTS = frozenset({"static", "public.healthz"})
DOWNLOADS = "downloads"
# bucket name -> (per-minute setting, default; burst setting, default)
BUCKET_SETTINGS = {DOWNLOADS: (("DOWNLOAD_RATE_LIMIT_PER_MINUTE", 6), ("DOWNLOAD_RATE_LIMIT_BURST", 3))}
View = TypeVar("View", bound=Callable[..., object])


class TokenBucket:
    """Per-key token buckets: `rate` tokens a second, up to `burst`; thread-safe, in-process.

    One bucket per client IP. Stale buckets are dropped when the table grows, so a scan from many
    addresses cannot grow memory without bound.
    """

    MAX_KEYS = 10_000

    def __init__(self, per_minute: float, burst: int, clock=time.monotonic) -> None:
        self.rate = per_minute / 60.0
        self.burst = max(1, int(burst))
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """Spend one token for `key`; 0.0 if allowed, else the seconds until one is available."""
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                self._prune(now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.rate

    def _prune(self, now: float) -> None:
        if len(self._buckets) <= self.MAX_KEYS:
            return
        full_after = self.burst / self.rate
        for key, (_, last) in list(self._buckets.items()):
            if now - last >= full_after:
                del self._buckets[key]


class RateLimited(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"rate limited; retry after {retry_after}s")
        self.retry_after = retry_after


def limited_by(bucket: str) -> Callable[[View], View]:
    """Mark a view as also spending a token of the named stricter bucket (see `BUCKET_SETTINGS`)."""
    if bucket not in BUCKET_SETTINGS:
        raise ValueError(f"no rate-limit bucket named {bucket!r}; known: {', '.join(BUCKET_SETTINGS)}")

    def mark(view: View) -> View:
        view.rate_bucket = bucket  # type: ignore[attr-defined]
        return view

    return mark


def init_app(app: Flask) -> None:
    per_minute = float(app.config.get("RATE_LIMIT_PER_MINUTE") or 0)
    bucket = TokenBucket(per_minute, int(app.config.get("RATE_LIMIT_BURST") or 1)) if per_minute > 0 else None
    app.extensions["sunshine.ratelimit"] = bucket
    strict: dict[str, TokenBucket] = {}
    for name, ((rate_key, rate_default), (burst_key, burst_default)) in BUCKET_SETTINGS.items():
        rate = float(app.config.get(rate_key, rate_default) or 0)
        if bucket is not None and rate > 0:
            strict[name] = TokenBucket(rate, int(app.config.get(burst_key, burst_default) or 1))
    app.extensions["sunshine.ratelimit.buckets"] = strict
    app.before_request(_read_only)
    app.before_request(_rate_limit)
    app.after_request(_headers)


def _read_only() -> None:
    if request.method not in READ_METHODS and request.blueprint not in WRITABLE_BLUEPRINTS:
        abort(405, valid_methods=sorted(READ_METHODS))


def _rate_limit() -> None:
    bucket: TokenBucket | None = current_app.extensions.get("sunshine.ratelimit")
    if bucket is None or request.endpoint in RATE_EXEMPT_ENDPOINTS:
        return
    # Behind a proxy, deploy with werkzeug's ProxyFix so remote_addr is the client, not the proxy.
    client = request.remote_addr or "unknown"
    wait = bucket.take(client)
    view = current_app.view_functions.get(request.endpoint or "")
    strict = current_app.extensions["sunshine.ratelimit.buckets"].get(getattr(view, "rate_bucket", None))
    if wait <= 0 and strict is not None:
        wait = strict.take(client)
    if wait > 0:
        raise RateLimited(max(1, math.ceil(wait)))


def _headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CSP)
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    return response
