"""What every API puller shares: exchanges, captures, error handling, and the deletion sweep.

A platform spider only says which URLs to fetch and how one JSON payload becomes records; this base
turns every response (or failure) into exactly one `Capture`, so nothing the platform sent is lost:

* a 200 with a parseable payload → a Capture with the records (each native id at most once per
  crawl: a department reply seen in the feed and again in its thread is recorded once);
* anything else → a Capture with `error` saying what was wrong (HTTP error, invalid JSON, wrong
  shape, no response at all), except the platform's documented "object does not exist" answer to a
  request for one object, which is a `Tombstone`;
* when the crawl goes idle after a complete feed walk, every `known` native id not seen in this
  crawl is requested on its own (the deletion sweep) so deletions are confirmed, not guessed.

The request's headers are those Scrapy sent; secrets (the Graph `access_token` and Google `key` query
parameters, an `Authorization` or `X-goog-api-key` header) are redacted in the recorded exchange because captures are published.
Scrapy exposes no HTTP reason phrase, so `reason` is the standard phrase for the status.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, ClassVar

import scrapy
from scrapy import signals
from scrapy.exceptions import DontCloseSpider
from scrapy.http import Request, Response
from twisted.python.failure import Failure

from archiver.clock import utc_now
from archiver.config import SourceConfig
from archiver.model import Capture, HttpExchange, MediaBlob, MediaRef, ParsedRecord, Tombstone

logger = logging.getLogger(__name__)

FETCHED_AT = "sunshine_fetched_at"  # request.meta key the retry middleware stamps on arrival
REDACTED = "REDACTED"
# `access_token` (Graph, OAuth) and `key` (Google API keys) carry secrets when a URL has them
_TOKEN_PARAM = re.compile(r"(?<=[?&]access_token=)[^&#]*|(?<=[?&]key=)[^&#]*")
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-goog-api-key"})

FEED_PRIORITY = 10  # keep the feed walk moving ahead of the thread fetches it spawns
THREAD_PRIORITY = 0
MEDIA_PRIORITY = -10


class PayloadError(ValueError):
    """The payload does not have the documented shape; the message says where and what."""


@dataclass
class Outcome:
    """What one response yielded, before it becomes a Capture."""

    records: list[ParsedRecord] = field(default_factory=list)
    tombstones: list[Tombstone] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    completes_thread: str | None = None
    error: str | None = None


Handler = Callable[[Any, dict[str, Any]], Outcome]


def redact_url(url: str) -> str:
    """The URL with any `access_token` or `key` query value replaced, so captures never carry a token."""
    return _TOKEN_PARAM.sub(REDACTED, url) if "access_token=" in url or "key=" in url else url


def _header_pairs(headers: Any) -> tuple[tuple[str, str], ...]:
    pairs: list[tuple[str, str]] = []
    for name, values in headers.items():
        key = name.decode("latin-1") if isinstance(name, bytes) else str(name)
        secret = key.lower() in _SECRET_HEADERS
        for value in values:
            text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
            pairs.append((key, REDACTED if secret else text))
    return tuple(pairs)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def exchange_of(response: Response) -> HttpExchange:
    """The byte-exact exchange behind a response (body untouched, secrets redacted)."""
    request = response.request
    assert request is not None  # Scrapy always sets it on downloaded responses
    return HttpExchange(
        url=redact_url(response.url),
        method=request.method,
        request_headers=_header_pairs(request.headers),
        status=response.status,
        reason=_phrase(response.status),
        response_headers=_header_pairs(response.headers),
        body=response.body,
        fetched_at=request.meta.get(FETCHED_AT) or utc_now(),
    )


def failed_exchange(request: Request, failure: Failure) -> HttpExchange:
    """An exchange with no response (status 0, empty body): the request and why it failed."""
    return HttpExchange(
        url=redact_url(request.url),
        method=request.method,
        request_headers=_header_pairs(request.headers),
        status=0,
        reason=f"no response: {failure.type.__name__}",
        response_headers=(),
        body=b"",
        fetched_at=utc_now(),
    )


class ApiSpider(scrapy.Spider):
    """Base for the API pullers; see the module docstring for the capture rules."""

    platform: ClassVar[str]
    default_base_url: ClassVar[str]
    payload_format: ClassVar[str] = "JSON"  # what `decode_payload` reads, for error messages

    def __init__(self, source: SourceConfig, known: Iterable[str] = frozenset(),
                 skip_threads: Iterable[str] = frozenset(), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if source.platform != self.platform:
            raise ValueError(f"source {source.name!r} is a {source.platform} source, not {self.platform}")
        self.source = source
        self.account = source.account
        self.base_url = (source.base_url or self.default_base_url).rstrip("/")
        self.known = frozenset(known)
        self.skip_threads = frozenset(skip_threads)
        self._emitted: set[str] = set()  # native ids already put in a Capture this crawl
        self._media_requested: set[str] = set()
        self._feed_complete = False
        self._feed_failed = False
        self._swept = False
        self.broken: set[str] = set()  # native ids whose object/thread request failed this crawl

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> ApiSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider._on_idle, signal=signals.spider_idle)
        return spider

    # -- what a platform spider provides -------------------------------------------------------

    def first_requests(self) -> list[Request]:
        raise NotImplementedError

    def object_request(self, native_id: str) -> Request:
        """A request for one object by native id (the deletion sweep)."""
        raise NotImplementedError

    def http_error(self, status: int, payload: Any, ctx: dict[str, Any]) -> Outcome:
        """A non-200 answer: a tombstone for a documented not-found, else an error naming it."""
        raise NotImplementedError

    def salvage(self, payload: Any, ctx: dict[str, Any]) -> list[Request]:
        """Follow-up requests that can still be made from a payload whose records failed to parse."""
        return []

    def decode_payload(self, body: bytes, ctx: dict[str, Any]) -> Any:
        """The payload a response body carries; ValueError when it is not `payload_format`.

        JSON for the social APIs; a platform whose answers are another format (XML feeds, HTML pages)
        overrides this, and its `NativeRule.decode` reads archived bodies the same way.
        """
        return json.loads(body)

    # -- request plumbing ----------------------------------------------------------------------

    def api_request(self, url: str, handler: Handler, ctx: dict[str, Any] | None = None, *,
                    priority: int = THREAD_PRIORITY, headers: dict[str, str] | None = None) -> Request:
        return Request(
            url, callback=self._on_api_response, errback=self._on_failure, priority=priority,
            headers=headers, meta={"handle_httpstatus_all": True},
            cb_kwargs={"handler": handler, "ctx": ctx or {}},
        )

    async def start(self) -> Any:
        for request in self.first_requests():
            yield request

    def start_requests(self) -> Iterator[Request]:  # Scrapy < 2.13 calls this instead of start()
        yield from self.first_requests()

    def _on_api_response(self, response: Response, handler: Handler, ctx: dict[str, Any]) -> Iterator[Any]:
        payload: Any = None
        try:
            payload = self.decode_payload(response.body, ctx)
        except ValueError as exc:  # includes UnicodeDecodeError
            kind = self.payload_format
            outcome = Outcome(error=f"HTTP {response.status}: response is not valid {kind} ({exc})"
                              if response.status == 200 else f"HTTP {response.status} {_phrase(response.status)} (body is not {kind})")
        else:
            if response.status != 200:
                outcome = self.http_error(response.status, payload, ctx)
            else:
                outcome = self._run_handler(handler, payload, ctx)
        if outcome.error is not None:
            self._note_failure(ctx)
            if payload is not None and response.status == 200:
                outcome.requests.extend(self._safe_salvage(payload, ctx))
            outcome.records.clear()
        yield self._capture(exchange_of(response), outcome)
        yield from outcome.requests

    def _note_failure(self, ctx: dict[str, Any]) -> None:
        if ctx.get("feed"):
            self._feed_failed = True
        if ctx.get("native_id"):
            self.broken.add(ctx["native_id"])

    def _run_handler(self, handler: Handler, payload: Any, ctx: dict[str, Any]) -> Outcome:
        try:
            return handler(payload, ctx)
        except PayloadError as exc:
            return Outcome(error=f"unexpected payload: {exc}")
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            return Outcome(error=f"unexpected payload shape: {type(exc).__name__}: {exc}")

    def _safe_salvage(self, payload: Any, ctx: dict[str, Any]) -> list[Request]:
        try:
            return self.salvage(payload, ctx)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError):
            return []

    def _capture(self, exchange: HttpExchange, outcome: Outcome) -> Capture:
        fresh = []
        for record in outcome.records:
            if record.native_id not in self._emitted:
                self._emitted.add(record.native_id)
                fresh.append(record)
        for record in fresh:
            for ref in record.media:
                if ref.url not in self._media_requested:
                    self._media_requested.add(ref.url)
                    outcome.requests.append(self._media_request(ref))
        return Capture(
            source=self.source.name, exchange=exchange, records=tuple(fresh),
            tombstones=tuple(outcome.tombstones), error=outcome.error,
            completes_thread=outcome.completes_thread,
        )

    def _on_failure(self, failure: Failure) -> Iterator[Capture]:
        request: Request = failure.request  # type: ignore[attr-defined]
        self._note_failure(request.cb_kwargs.get("ctx") or {})
        error = f"no response after retries: {failure.type.__name__}: {failure.getErrorMessage()}"
        yield Capture(source=self.source.name, exchange=failed_exchange(request, failure), error=error)

    # -- media ---------------------------------------------------------------------------------

    def _media_request(self, ref: MediaRef) -> Request:
        # Redirects are followed for media (CDNs redirect); every other status reaches the callback.
        return Request(
            ref.url, callback=self._on_media, errback=self._on_failure, priority=MEDIA_PRIORITY,
            meta={"handle_httpstatus_list": list(range(400, 600))}, cb_kwargs={"ref": ref},
        )

    def _on_media(self, response: Response, ref: MediaRef) -> Iterator[Capture]:
        exchange = exchange_of(response)
        if response.status != 200:
            yield Capture(source=self.source.name, exchange=exchange,
                          error=f"media {ref.url}: HTTP {response.status}")
            return
        content_type = response.headers.get(b"Content-Type")
        mime = (content_type.decode("latin-1").split(";")[0].strip() if content_type else "") \
            or ref.mime or "application/octet-stream"
        yield Capture(source=self.source.name, exchange=exchange,
                      media=(MediaBlob(url=ref.url, mime=mime, data=response.body),))

    # -- feed bookkeeping and the deletion sweep -----------------------------------------------

    def feed_done(self) -> None:
        """Called by a platform when the last feed page parsed: the walk saw the whole feed."""
        self._feed_complete = True

    def _on_idle(self, spider: scrapy.Spider) -> None:
        if spider is not self or self._swept:
            return
        self._swept = True
        if not self._feed_complete or self._feed_failed:
            if self.known:
                logger.warning("%s: feed walk incomplete, deletion sweep skipped this run", self.source.name)
            return
        missing = sorted(self.known - self._emitted)
        if not missing:
            return
        engine = self.crawler.engine
        for native_id in missing:
            engine.crawl(self.object_request(native_id))
        raise DontCloseSpider
