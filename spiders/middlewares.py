"""Retries with backoff for API pulling, replacing Scrapy's RetryMiddleware.

Retried: HTTP 429 (Bluesky rate limit; waits `Retry-After`, else until `RateLimit-Reset`), Graph API
throttling (HTTP 4xx whose body has `error.code` 4, 17, 32 or 613, or another code the running
spider's `throttle_codes` names), HTTP 5xx/408, and connection errors and timeouts. Waits grow
exponentially and are capped (`SUNSHINE_RETRY_MAX_DELAY`, a few seconds) so a hostile or confused
`Retry-After` cannot stall a run. When retries run out the last response (or the failure) reaches
the spider, which records it as an error Capture: nothing is dropped silently. Bluesky `NotFound`
and Graph code 100 are answers, not failures: never retried.

The middleware also stamps each response's arrival time on its request (`FETCHED_AT`), the
closest point to the wire a Scrapy component sees.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from typing import Any

from scrapy.http import Request, Response
from scrapy.settings import BaseSettings
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet import defer, error
from twisted.internet.task import deferLater
from twisted.web.client import ResponseFailed

from archiver.clock import utc_now
from spiders.base import FETCHED_AT

logger = logging.getLogger(__name__)

THROTTLE_CODES = frozenset({4, 17, 32, 613})
# Headers that say, as unix seconds, when a spent rate-limit window refills: Bluesky's
# `RateLimit-Reset`, X's `x-rate-limit-reset` (X sends no `Retry-After` with its 429).
EPOCH_RESET_HEADERS = (b"RateLimit-Reset", b"x-rate-limit-reset")
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504, 522, 524})
RETRY_EXCEPTIONS: tuple[type[BaseException], ...] = (
    defer.TimeoutError, error.TimeoutError, error.DNSLookupError, error.ConnectionRefusedError,
    error.ConnectionDone, error.ConnectError, error.ConnectionLost, error.TCPTimedOutError,
    ResponseFailed, OSError,
)


def graph_throttled(response: Response, codes: frozenset[int] = THROTTLE_CODES) -> bool:
    """A Graph API throttling answer (HTTP 4xx whose JSON body carries one of `codes`)."""
    if response.status < 400 or response.status >= 500 or b'"code"' not in response.body:
        return False
    try:
        code = json.loads(response.body)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return False
    return code in codes


def _header_number(response: Response, name: bytes) -> float | None:
    value = response.headers.get(name)
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def server_delay(response: Response, now: float) -> float | None:
    """The wait the server asked for: `Retry-After` seconds, else `EPOCH_RESET_HEADERS` unix time, else
    `X-RateLimit-Reset` as an ISO 8601 time."""
    retry_after = _header_number(response, b"Retry-After")
    if retry_after is not None:
        return max(retry_after, 0.0)
    for name in EPOCH_RESET_HEADERS:
        reset = _header_number(response, name)
        if reset is not None:
            return max(reset - now, 0.0)
    reset = _header_datetime(response, b"X-RateLimit-Reset")  # Mastodon: an ISO 8601 time
    if reset is not None:
        return max(reset - now, 0.0)
    return None


def _header_datetime(response: Response, name: bytes) -> float | None:
    """An ISO 8601 header value as unix seconds (a naive time is UTC), or None."""
    value = response.headers.get(name)
    try:
        moment = datetime.fromisoformat(value.decode("latin-1")) if value is not None else None
    except ValueError:
        return None
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def backoff_delay(attempt: int, base: float, cap: float, server: float | None = None) -> float:
    """Seconds to wait before retry number `attempt` (1-based): the server's ask, else exponential."""
    wanted = server if server is not None else base * (2 ** (attempt - 1))
    return min(max(wanted, 0.0), cap)


class ApiRetryMiddleware:
    """Downloader middleware: retry throttled/failed API requests after a capped backoff."""

    def __init__(self, settings: BaseSettings) -> None:
        self.max_retries = settings.getint("SUNSHINE_RETRY_TIMES", 5)
        self.base_delay = settings.getfloat("SUNSHINE_RETRY_BASE_DELAY", 0.5)
        self.max_delay = settings.getfloat("SUNSHINE_RETRY_MAX_DELAY", 5.0)

    @classmethod
    def from_crawler(cls, crawler: Any) -> ApiRetryMiddleware:
        middleware = cls(crawler.settings)
        middleware.crawler = crawler
        return middleware

    async def process_response(self, request: Request, response: Response) -> Request | Response:
        request.meta[FETCHED_AT] = utc_now()
        if request.meta.get("dont_retry"):
            return response
        # a spider may name its platform's own throttling error codes (Instagram adds 80002)
        codes = getattr(getattr(self.crawler, "spider", None), "throttle_codes", THROTTLE_CODES)
        throttled = response.status == 429 or graph_throttled(response, codes)
        if not throttled and response.status not in RETRY_STATUSES:
            return response
        server = server_delay(response, time.time()) if throttled else None
        retry = await self._retry(request, f"HTTP {response.status}", server)
        return retry or response

    async def process_exception(self, request: Request, exception: Exception) -> Request | None:
        if request.meta.get("dont_retry") or not isinstance(exception, RETRY_EXCEPTIONS):
            return None
        return await self._retry(request, type(exception).__name__, None)

    async def _retry(self, request: Request, reason: str, server: float | None) -> Request | None:
        attempt = request.meta.get("retry_times", 0) + 1
        stats = self.crawler.stats
        if attempt > self.max_retries:
            stats.inc_value("sunshine_retry/max_reached")
            logger.warning("gave up on %s after %d retries: %s", request.url.split("?")[0], attempt - 1, reason)
            return None
        delay = backoff_delay(attempt, self.base_delay, self.max_delay, server)
        stats.inc_value("sunshine_retry/count")
        if delay > 0:
            # the reactor Scrapy installed; importing it at module load would install the default one
            from twisted.internet import reactor

            await maybe_deferred_to_future(deferLater(reactor, delay, lambda: None))
        retry = request.replace(dont_filter=True)
        retry.meta["retry_times"] = attempt
        retry.meta.pop(FETCHED_AT, None)
        return retry
