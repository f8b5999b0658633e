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

Budgets: a throttling answer whose wait (`Retry-After`, a reset time, Graph's
`estimated_time_to_regain_access`) is longer than `SUNSHINE_PAUSE_AFTER` seconds, or that is still
throttled when retries run out, is not retried: the response is marked `BUDGET_SPENT` and the spider
pauses the source (the next run resumes). Before each download the spider is asked to `admit` the
request (a halted source, a spent daily quota: the request is dropped as deferred), and while a
usage header (`X-App-Usage`, `X-Business-Use-Case-Usage`) reports 90 % or more, or X's
`x-rate-limit-remaining` is 0 with a near reset, requests are spaced out until the window refills.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from typing import Any

from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request, Response
from scrapy.settings import BaseSettings
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet import defer, error
from twisted.internet.task import deferLater
from twisted.web.client import ResponseFailed

from archiver.clock import utc_now
from spiders.base import BUDGET_SPENT, DEFERRED, FETCHED_AT, ApiSpider

logger = logging.getLogger(__name__)

THROTTLE_CODES = frozenset({4, 17, 32, 613})
# Headers that say, as unix seconds, when a spent rate-limit window refills: Bluesky's
# `RateLimit-Reset`, X's `x-rate-limit-reset` (X sends no `Retry-After` with its 429).
EPOCH_RESET_HEADERS = (b"RateLimit-Reset", b"x-rate-limit-reset")
USAGE_HEADERS = (b"X-App-Usage", b"X-Business-Use-Case-Usage", b"X-Ad-Account-Usage")
SLOW_DOWN_PERCENT = 90  # usage at which requests are spaced out
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


def _numbers(value: Any) -> list[tuple[str, float]]:
    """Every (key, number) inside a usage header's JSON (Graph nests them per business id)."""
    if isinstance(value, dict):
        return [pair for key, item in value.items()
                for pair in ([(key, float(item))] if isinstance(item, int | float) and not isinstance(item, bool)
                             else _numbers(item))]
    if isinstance(value, list):
        return [pair for item in value for pair in _numbers(item)]
    return []


def graph_usage(response: Response) -> tuple[float | None, float | None]:
    """(highest usage percentage, longest `estimated_time_to_regain_access` in seconds) that Graph's
    usage headers report; None for what they do not say."""
    usage: float | None = None
    regain: float | None = None
    for name in USAGE_HEADERS:
        value = response.headers.get(name)
        if value is None:
            continue
        try:
            numbers = _numbers(json.loads(value))
        except ValueError:
            continue
        for key, number in numbers:
            if key == "estimated_time_to_regain_access":  # minutes
                regain = max(regain or 0.0, number * 60)
            elif key != "type":
                usage = max(usage or 0.0, number)
    return usage, regain


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
        self.pause_after = settings.getfloat("SUNSHINE_PAUSE_AFTER", 60.0)
        self.not_before = 0.0  # time.time() before which no request is sent (pacing)

    @classmethod
    def from_crawler(cls, crawler: Any) -> ApiRetryMiddleware:
        middleware = cls(crawler.settings)
        middleware.crawler = crawler
        return middleware

    async def process_request(self, request: Request) -> None:
        spider = getattr(self.crawler, "spider", None)
        if isinstance(spider, ApiSpider) and not spider.admit(request):
            request.meta[DEFERRED] = True
            raise IgnoreRequest(f"deferred: {spider.halted}")
        wait = self.not_before - time.time()
        if wait > 0:
            await self._sleep(min(wait, self.pause_after))

    async def process_response(self, request: Request, response: Response) -> Request | Response:
        request.meta[FETCHED_AT] = utc_now()
        self._pace(response)
        if request.meta.get("dont_retry"):
            return response
        # a spider may name its platform's own throttling error codes (Instagram adds 80002)
        codes = getattr(getattr(self.crawler, "spider", None), "throttle_codes", THROTTLE_CODES)
        throttled = response.status == 429 or graph_throttled(response, codes)
        if not throttled and response.status not in RETRY_STATUSES:
            return response
        server = None
        if throttled:
            server = server_delay(response, time.time())
            regain = graph_usage(response)[1]
            server = regain if server is None else server
            if server is not None and server > self.pause_after:
                request.meta[BUDGET_SPENT] = (f"rate limit spent (HTTP {response.status}): the platform asks to wait "
                                              f"{server:,.0f} s, longer than pause_after_seconds "
                                              f"({self.pause_after:,.0f} s); paused until the next run")
                return response
        retry = await self._retry(request, f"HTTP {response.status}", server)
        if retry is None and throttled:
            request.meta[BUDGET_SPENT] = (f"still throttled (HTTP {response.status}) after {self.max_retries} "
                                          "retries; paused until the next run")
        return retry or response

    def _pace(self, response: Response) -> None:
        """Space requests out while the platform reports a budget nearly spent."""
        now = time.time()
        remaining = _header_number(response, b"x-rate-limit-remaining")
        reset = _header_number(response, b"x-rate-limit-reset")
        if remaining is not None and remaining <= 0 and reset is not None and 0 < reset - now <= self.pause_after:
            self.not_before = max(self.not_before, reset)
        usage = graph_usage(response)[0]
        if usage is not None and usage >= SLOW_DOWN_PERCENT:
            self.not_before = max(self.not_before, now + self.max_delay)

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
            await self._sleep(delay)
        retry = request.replace(dont_filter=True)
        retry.meta["retry_times"] = attempt
        retry.meta.pop(FETCHED_AT, None)
        return retry

    @staticmethod
    async def _sleep(seconds: float) -> None:
        # the reactor Scrapy installed; importing it at module load would install the default one
        from twisted.internet import reactor

        await maybe_deferred_to_future(deferLater(reactor, seconds, lambda: None))
