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

Incremental runs (a `CrawlPlan`, built by the archive runner from the catalog): the feed is walked
newest first only until a page reaches items older than `plan.stop_before` (the older of the last
complete walk's newest item and the recent window's edge; `feed_page_oldest` is the hook that reads
a page's oldest time), and threads are fetched only for posts newer than that. `plan.revisit` names
older threads re-swept this run (the rotating slice; `revisit_requests` is the hook). `known` is then
only the window's and the slice's records, so memory does not grow with the archive.

Budgets: when the platform says a budget is spent (the retry middleware marks the response), when a
daily quota (`plan.quota_units`, each request costing `request_cost`) would be exceeded, or when the
credentials are refused (`token_rejected`), the source stops asking: requests not yet sent are
counted as deferred and dropped, `halted` says why, and the next run takes up what was left.

The request's headers are those Scrapy sent; secrets (the Graph `access_token` and Google `key` query
parameters, an `Authorization` or `X-goog-api-key` header) are redacted in the recorded exchange because captures are published.
Scrapy exposes no HTTP reason phrase, so `reason` is the standard phrase for the status.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from typing import Any, ClassVar

import scrapy
from scrapy import signals
from scrapy.exceptions import DontCloseSpider, IgnoreRequest
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


DEFERRED = "sunshine_deferred"  # request.meta key: refused by `admit` (the source halted)


def _too_large(limit: int) -> str:
    return f"skipped: larger than media_max_bytes ({limit:,} bytes)"


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

BUDGET_SPENT = "sunshine_budget_spent"  # request.meta key: why the platform's budget is spent (middleware)


@dataclass(frozen=True)
class CrawlPlan:
    """What one run asks of a source beyond a full walk (defaults: a full walk, nothing metered).

    `stop_before`: an RFC 3339 time; feed pages are not followed past one whose oldest item is older,
    and threads of posts older than it are not fetched (None: walk the whole feed). `revisit`: native
    ids of older thread roots (and of objects that failed last run) to re-sweep. `quota_units`: units
    the source may still spend today (None: unmetered). `media_max_bytes`: larger media are skipped.
    `media_known(url)`: whether a media URL's bytes are already stored (then it is not fetched again).
    `changed_after`: the newest item time the last complete walk saw (None: no walk completed); a
    listing that dates each entry's last change (a sitemap's `lastmod`) need not fetch an entry not
    changed after it.
    """

    stop_before: str | None = None
    changed_after: str | None = None
    revisit: tuple[str, ...] = ()
    quota_units: int | None = None
    media_max_bytes: int | None = None
    media_known: Callable[[str], bool] | None = None


def instant(text: str | None) -> float | None:
    """An RFC 3339 / ISO 8601 time (naive = UTC) or RFC 2822 date as unix seconds; None if neither."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        try:
            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


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
                 skip_threads: Iterable[str] = frozenset(), plan: CrawlPlan | None = None, **kwargs: Any) -> None:
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
        # native ids the platform listed as existing without this crawl fetching them (a sitemap entry
        # unchanged since the last walk): not asked for again by the deletion sweep
        self.present: set[str] = set()
        self.plan = plan or CrawlPlan()
        self._stop_before = instant(self.plan.stop_before)
        self.newest_seen: str | None = None  # newest created_at on a feed page this crawl
        self._newest_instant: float | None = None
        self.halted: str | None = None  # why the source stopped asking (budget spent, token refused)
        self.token_refused = False
        self.deferred = 0  # requests not sent because the source halted
        self.units_used = 0  # quota units spent this crawl (`request_cost`)

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

    def feed_page_oldest(self, payload: Any, ctx: dict[str, Any], outcome: Outcome) -> str | None:
        """The creation time of the oldest item on a feed page (None: this page tells nothing).

        Default: the oldest `created_at` among the page's records. A platform whose feed pages carry
        no records (YouTube's playlist pages list video ids) reads the time from the payload.
        """
        times = [(instant(record.created_at), record.created_at) for record in outcome.records]
        known = [pair for pair in times if pair[0] is not None]
        return min(known)[1] if known else None

    def revisit_requests(self, native_id: str) -> list[Request]:
        """Requests re-sweeping the thread rooted at `native_id` (an older post in the rotating slice).

        Default: the object alone (edits and deletion); a platform with threads returns its thread
        request(s) so late replies are caught too.
        """
        return [self.object_request(native_id)]

    def request_cost(self, request: Request) -> int:
        """Units of a daily quota this request spends (YouTube: list calls 1, search 100); default 0."""
        return 0

    def budget_spent(self, status: int, payload: Any) -> str | None:
        """Why an error answer means a budget is spent (then the source pauses), else None.

        Default None: throttling answers are the retry middleware's; a platform whose quota answer is
        not a throttle (YouTube's 403 `quotaExceeded`) says so here.
        """
        return None

    def token_rejected(self, status: int, payload: Any) -> bool:
        """Whether an answer says the credentials were refused (expired, revoked): the source stops."""
        return status == 401

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
        for request in self._initial_requests():
            yield request

    def start_requests(self) -> Iterator[Request]:  # Scrapy < 2.13 calls this instead of start()
        yield from self._initial_requests()

    def _initial_requests(self) -> Iterator[Request]:
        yield from self.first_requests()
        for native_id in self.plan.revisit:
            if native_id not in self.skip_threads:
                yield from self.revisit_requests(native_id)

    # -- budgets -------------------------------------------------------------------------------

    def halt(self, reason: str) -> None:
        """Stop asking the platform (the first reason is kept); requests not yet sent are deferred."""
        if self.halted is None:
            self.halted = reason
            logger.info("%s: %s", self.source.name, reason)  # the run summary's line for the source says it

    def admit(self, request: Request) -> bool:
        """Whether `request` may be sent now (the retry middleware asks before each download)."""
        if self.halted is not None:
            self.deferred += 1
            return False
        cost = self.request_cost(request)
        if self.plan.quota_units is not None and self.units_used + cost > self.plan.quota_units:
            self.deferred += 1
            self.halt(f"its daily quota of units is spent ({self.units_used} used by this run); "
                      "the rest waits for the next run")
            return False
        self.units_used += cost
        return True

    def _on_api_response(self, response: Response, handler: Handler, ctx: dict[str, Any]) -> Iterator[Any]:
        payload: Any = None
        spent = response.meta.get(BUDGET_SPENT)
        if spent:
            self.deferred += 1
            self.halt(spent)
            yield self._capture(exchange_of(response), Outcome())
            return
        try:
            payload = self.decode_payload(response.body, ctx)
        except ValueError as exc:  # includes UnicodeDecodeError
            kind = self.payload_format
            outcome = Outcome(error=f"HTTP {response.status}: response is not valid {kind} ({exc})"
                              if response.status == 200 else f"HTTP {response.status} {_phrase(response.status)} (body is not {kind})")
        else:
            spent = self.budget_spent(response.status, payload) if response.status != 200 else None
            if spent is not None:
                self.deferred += 1
                self.halt(spent)
                yield self._capture(exchange_of(response), Outcome())
                return
            if response.status != 200 and self.token_rejected(response.status, payload) and self.token_refused:
                # a request already in flight when the first refusal stopped the source: that one's
                # failed capture and the source's summary line say it; this exchange is just kept
                self._note_failure(ctx)
                yield self._capture(exchange_of(response), Outcome())
                return
            if response.status != 200:
                outcome = self.http_error(response.status, payload, ctx)
                if self.token_rejected(response.status, payload):
                    self.token_refused = True
                    where = (f"renew the token in environment variable {self.source.token_env}"
                             if self.source.token_env else "name a token's environment variable in token_env")
                    self.halt(f"the platform refused the credentials (HTTP {response.status}); {where}")
            else:
                outcome = self._run_handler(handler, payload, ctx)
                if ctx.get("feed") and outcome.error is None:
                    self._feed_page(payload, ctx, outcome, handler)
        if outcome.error is not None:
            self._note_failure(ctx)
            if payload is not None and response.status == 200:
                outcome.requests.extend(self._safe_salvage(payload, ctx))
            outcome.records.clear()
        yield self._capture(exchange_of(response), outcome)
        yield from outcome.requests

    def _feed_page(self, payload: Any, ctx: dict[str, Any], outcome: Outcome, handler: Handler) -> None:
        """Note the feed's newest item; past `plan.stop_before`, stop paging and skip old threads.

        A follow-up request with the page's own handler is the next page (any other feed request, such
        as YouTube's videos.list for the ids on a playlist page, belongs to this page and stays).
        """
        for record in outcome.records:
            self.note_seen(record.created_at)
        if self._stop_before is None:
            return
        old = {record.native_id for record in outcome.records if self.older_than_plan(record.created_at)}
        oldest = instant(self.feed_page_oldest(payload, ctx, outcome))
        kept = []
        for request in outcome.requests:
            request_ctx = request.cb_kwargs.get("ctx") or {}
            if request_ctx.get("native_id") in old and not request_ctx.get("feed"):
                continue  # an older post's thread: the rotating revisit rechecks it
            if oldest is not None and oldest < self._stop_before and request_ctx.get("feed") \
                    and request.cb_kwargs.get("handler") == handler:
                continue  # the next feed page: everything below was seen by the last complete walk
            kept.append(request)
        outcome.requests[:] = kept
        if oldest is not None and oldest < self._stop_before:
            self.feed_done()

    def note_seen(self, created_at: str | None) -> None:
        """Count an item the feed walk saw towards `newest_seen` (the next walk's high-water mark).

        The base notes every record on a feed page; a platform whose feed lists items without
        records (a website's sitemaps) calls this for what it lists.
        """
        moment = instant(created_at)
        if moment is not None and (self._newest_instant is None or moment > self._newest_instant):
            self._newest_instant, self.newest_seen = moment, created_at

    def older_than_plan(self, created_at: str | None) -> bool:
        """Whether an item is older than `plan.stop_before` (seen by the last complete walk, outside
        the recent window): its thread is left to the rotating revisit. False without a plan or time."""
        moment = instant(created_at)
        return self._stop_before is not None and moment is not None and moment < self._stop_before

    def unchanged(self, modified: str | None) -> bool:
        """Whether an entry last modified at `modified` is unchanged since the last complete walk
        (`plan.changed_after`). False without a plan or a parseable time: then it is fetched."""
        moment, mark = instant(modified), instant(self.plan.changed_after)
        return moment is not None and mark is not None and moment <= mark

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
        known = self.plan.media_known
        for record in fresh:
            for ref in record.media:
                if ref.url not in self._media_requested:
                    self._media_requested.add(ref.url)
                    if known is None or not known(ref.url):  # stored once, however often it appears
                        outcome.requests.append(self._media_request(ref))
        return Capture(
            source=self.source.name, exchange=exchange, records=tuple(fresh),
            tombstones=tuple(outcome.tombstones), error=outcome.error,
            completes_thread=outcome.completes_thread,
        )

    def _on_failure(self, failure: Failure) -> Iterator[Capture]:
        request: Request = failure.request  # type: ignore[attr-defined]
        if failure.check(IgnoreRequest) and request.meta.get(DEFERRED):
            return  # not sent: the source halted (counted in `deferred`); the next run asks again
        ref = request.cb_kwargs.get("ref")
        if isinstance(ref, MediaRef):
            yield self._media_failure(request, failure, ref)
            return
        self._note_failure(request.cb_kwargs.get("ctx") or {})
        error = f"no response after retries: {failure.type.__name__}: {failure.getErrorMessage()}"
        yield Capture(source=self.source.name, exchange=failed_exchange(request, failure), error=error)

    # -- media ---------------------------------------------------------------------------------

    def _media_request(self, ref: MediaRef) -> Request:
        # Redirects are followed for media (CDNs redirect); every other status reaches the callback.
        meta: dict[str, Any] = {"handle_httpstatus_list": list(range(400, 600))}
        if self.plan.media_max_bytes is not None:
            meta["download_maxsize"] = self.plan.media_max_bytes  # Scrapy cancels a larger download
        return Request(ref.url, callback=self._on_media, errback=self._on_failure, priority=MEDIA_PRIORITY,
                       meta=meta, cb_kwargs={"ref": ref})

    def _on_media(self, response: Response, ref: MediaRef) -> Iterator[Capture]:
        exchange = exchange_of(response)
        if response.status != 200:
            reason = f"failed: HTTP {response.status}"
            yield Capture(source=self.source.name, exchange=exchange, error=f"media {ref.url}: HTTP {response.status}",
                          media_problems=((ref.url, reason),))
            return
        limit = self.plan.media_max_bytes
        if limit is not None and len(response.body) > limit:  # a server that sent no Content-Length
            yield Capture(source=self.source.name, exchange=replace(exchange, body=b""),
                          media_problems=((ref.url, _too_large(limit)),))
            return
        content_type = response.headers.get(b"Content-Type")
        mime = (content_type.decode("latin-1").split(";")[0].strip() if content_type else "") \
            or ref.mime or "application/octet-stream"
        yield Capture(source=self.source.name, exchange=exchange,
                      media=(MediaBlob(url=ref.url, mime=mime, data=response.body),))

    def _media_failure(self, request: Request, failure: Failure, ref: MediaRef) -> Capture:
        """A media download that got no usable response: skipped when over the size limit (Scrapy
        cancels it, which is not a failed capture), else failed, the reason recorded either way."""
        exchange = failed_exchange(request, failure)
        limit = self.plan.media_max_bytes
        if limit is not None and "larger than download max size" in failure.getErrorMessage():
            return Capture(source=self.source.name, exchange=exchange, media_problems=((ref.url, _too_large(limit)),))
        reason = f"failed: no response: {failure.type.__name__}: {failure.getErrorMessage()}"
        return Capture(source=self.source.name, exchange=exchange, error=f"media {ref.url}: {reason}",
                       media_problems=((ref.url, reason),))

    # -- feed bookkeeping and the deletion sweep -----------------------------------------------

    def feed_done(self) -> None:
        """Called by a platform when the last feed page parsed: the walk saw the whole feed."""
        self._feed_complete = True

    @property
    def walk_complete(self) -> bool:
        """The feed walk reached its end (or `plan.stop_before`) with every page parsed."""
        return self._feed_complete and not self._feed_failed

    def _on_idle(self, spider: scrapy.Spider) -> None:
        if spider is not self or self._swept:
            return
        self._swept = True
        if self.halted is not None:
            return  # a paused or stopped source sweeps on the run that completes its walk
        if not self._feed_complete or self._feed_failed:
            if self.known:
                logger.warning("%s: feed walk incomplete, deletion sweep skipped this run", self.source.name)
            return
        missing = sorted(self.known - self._emitted - self.present)
        if not missing:
            return
        engine = self.crawler.engine
        for native_id in missing:
            engine.crawl(self.object_request(native_id))
        raise DontCloseSpider
