"""Mastodon: an account's statuses (`GET /api/v1/accounts/:id/statuses`) and each post's thread
(`GET /api/v1/statuses/:id/context`), per docs.joinmastodon.org (methods/accounts, methods/statuses).

The feed is walked newest first, `limit=40` (the documented maximum), `exclude_reblogs=true` (a
boost is someone else's status), following the `Link` header's `rel="next"` (only its `max_id` is
taken: the request is rebuilt on the configured base URL, so a token never follows a link to another
host). Mastodon sends no `next` link on a short page, so a page without one ends the walk.

The department's own replies appear in its feed, but a Status names only its parent
(`in_reply_to_id`), not its thread's root, so they are recorded from their thread's context. A feed
reply that no fetched thread holds (a reply in someone else's thread, or a skipped thread) is
fetched on its own at the end like the deletion sweep: `context` (its `ancestors[0]` is the root),
then `GET /api/v1/statuses/:id`.

Without a token a context answer holds at most 60 descendants, 20 levels deep (with a user token
4,096, unlimited depth: methods/statuses#context). So wherever a status in a context answer has
fewer replies there than its `replies_count`, that status's own context is fetched as well (once per
crawl); the thread completes when every such request answered. Replies cut below a status whose own
context was already fetched cannot be reached without a token (a context has no paging): the thread
is then not completed and a warning names the source and says to set `token_env`. `replies_count`
counts only public and unlisted replies, so an over-count costs one extra request, never a loop.

The record text is `content` (HTML) as plain text (`html_text`): paragraphs become blank lines,
`<br>` a newline, every tag dropped and every entity decoded, so the text holds no markup that could
be mistaken for ours; a non-empty `spoiler_text` (content warning) goes first, then a blank line.

Native-object rule (part of the archive format, docs/archive-format.md): the record object is the
`Status` (each item of the statuses array, every item of a context's `ancestors` and `descendants`,
or the body of `GET /api/v1/statuses/:id`); its native id is its `id`. Dropped top-level keys:
    replies_count, reblogs_count, favourites_count, quotes_count  (counters)
    favourited, reblogged, muted, bookmarked, pinned, filtered      (the token owner's own state)
    card       (the link preview the server fetches later, on its own schedule)
    and, as Mastodon notes, `text` only appears in delete answers.
Two nested objects are reduced, because they carry counters that change on every new status or vote:
    account  → only its identity: id, username, acct, url, uri (not display name, avatar, counts)
    poll     → without votes_count, voters_count, expired, voted, own_votes; each option without
               votes_count
Everything else (content, spoiler_text, visibility, edited_at, media_attachments, mentions, tags,
emojis, in_reply_to_*, uri, url, application, quote) stays as received. `edited_at` and `content`
change on an edit, so an edit is a new version.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

from scrapy.http import Request, Response

from archiver.model import MediaRef, ParsedRecord, Tombstone
from spiders.base import FEED_PRIORITY, ApiSpider, Outcome, PayloadError
from spiders.platform import NativeRule, Platform

PLATFORM = "mastodon"
DEFAULT_BASE_URL = "https://mastodon.social"
PAGE_SIZE = 40  # the documented maximum for account statuses
PUBLIC_DESCENDANTS = 60  # descendants a context holds without a token (4,096 with one)
VOLATILE = frozenset({
    "replies_count", "reblogs_count", "favourites_count", "quotes_count",
    "favourited", "reblogged", "muted", "bookmarked", "pinned", "filtered", "card",
})
ACCOUNT_IDENTITY = ("id", "username", "acct", "url", "uri")
POLL_VOLATILE = frozenset({"votes_count", "voters_count", "expired", "voted", "own_votes"})
NOT_FOUND = "Record not found"
# Mastodon ids are strings "cast from an integer"; the department's is looked up once with
# GET /api/v1/accounts/lookup?acct=<handle> (documented in docs/platform-api.md).
ACCOUNT = re.compile(r"[0-9]{1,20}")
logger = logging.getLogger(__name__)
_LINK = re.compile(r'<([^>]*)>\s*((?:;\s*[a-zA-Z]+\s*=\s*(?:"[^"]*"|[^;,]*)\s*)*)')


def iter_raw_objects(payload: Any) -> Iterator[dict[str, Any]]:
    """Every Status in an array of statuses, a Context (`ancestors`, `descendants`), or a lone Status."""
    if isinstance(payload, list):
        yield from (item for item in payload if isinstance(item, dict))
    elif isinstance(payload, dict):
        if "ancestors" in payload or "descendants" in payload:
            for key in ("ancestors", "descendants"):
                items = payload.get(key)
                if isinstance(items, list):
                    yield from (item for item in items if isinstance(item, dict))
        elif "id" in payload and "error" not in payload:
            yield payload


def native_id_of(status: dict[str, Any]) -> str | None:
    """A Status is recorded under its `id`."""
    value = status.get("id")
    return value if isinstance(value, str) else None


@dataclass(frozen=True)
class MastodonRule(NativeRule):
    """Mastodon's rule also reduces two nested objects (see the module docstring)."""

    def native_object(self, raw_obj: dict[str, Any]) -> dict[str, Any]:
        native = super().native_object(raw_obj)
        account = native.get("account")
        if isinstance(account, dict):
            native["account"] = {key: account[key] for key in ACCOUNT_IDENTITY if key in account}
        poll = native.get("poll")
        if isinstance(poll, dict):
            reduced = {key: value for key, value in poll.items() if key not in POLL_VOLATILE}
            if isinstance(reduced.get("options"), list):
                reduced["options"] = [{k: v for k, v in option.items() if k != "votes_count"}
                                      if isinstance(option, dict) else option for option in reduced["options"]]
            native["poll"] = reduced
        return native


NATIVE = MastodonRule(volatile=VOLATILE, iter_raw_objects=iter_raw_objects, native_id_of=native_id_of)


# -- HTML content → plain text -------------------------------------------------------------------

_BLOCKS = frozenset({"p", "div", "blockquote", "pre", "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6"})
_SKIPPED = frozenset({"script", "style", "template"})


class _TextCollector(HTMLParser):
    """Text of Mastodon's sanitized HTML: blocks apart by a blank line, `<br>` a newline."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.pending_break = False
        self.skipping = 0

    def _text(self, text: str) -> None:
        if self.pending_break and self.parts:
            self.parts.append("\n\n")
        self.pending_break = False
        self.parts.append(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self.skipping += 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag in _BLOCKS:
            self.pending_break = True

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self.skipping = max(self.skipping - 1, 0)
        elif tag in _BLOCKS:
            self.pending_break = True

    def handle_data(self, data: str) -> None:
        if self.skipping:
            return
        if "\n" in data:  # source newlines are layout, not text (Mastodon's own HTML has none)
            if not data.strip():
                return
            data = data.replace("\r\n", " ").replace("\n", " ")
        self._text(data)


def html_text(content: str) -> str:
    """Mastodon `content` HTML as plain text (the inverse of Mastodon's plain-text formatting)."""
    if "<" not in content and "&" not in content:
        return content
    collector = _TextCollector()
    collector.feed(content)
    collector.close()
    return "".join(collector.parts)


# -- pure parsers ---------------------------------------------------------------------------------

def _dict(obj: Any, where: str) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise PayloadError(f"{where}: expected an object, got {type(obj).__name__}")
    return obj


def _list(obj: Any, where: str) -> list[Any]:
    if not isinstance(obj, list):
        raise PayloadError(f"{where}: expected a list, got {type(obj).__name__}")
    return obj


def _str(obj: dict[str, Any], key: str, where: str, *, nullable: bool = False) -> str | None:
    value = obj.get(key)
    if value is None and nullable:
        return None
    if not isinstance(value, str):
        raise PayloadError(f"{where}.{key}: expected a string, got {type(value).__name__}")
    return value


def _req(obj: dict[str, Any], key: str, where: str) -> str:
    value = _str(obj, key, where)
    assert value is not None  # _str without nullable never returns None
    return value


def _media(status: dict[str, Any], where: str) -> tuple[MediaRef, ...]:
    """Each attachment's `url` (the server's copy; null for remote media it has not fetched)."""
    attachments = status.get("media_attachments")
    if attachments is None:
        return ()
    refs = []
    for index, item in enumerate(_list(attachments, f"{where}.media_attachments")):
        item = _dict(item, f"{where}.media_attachments[{index}]")
        url = item.get("url")
        if isinstance(url, str) and url:
            refs.append(MediaRef(url=url, mime=None))
    return tuple(refs)


def parse_status(status: Any, account_id: str, where: str, *, thread: str | None) -> ParsedRecord:
    """One Status → a ParsedRecord; `thread` is its root's id (None: the status is a root)."""
    status = _dict(status, where)
    native_id = _req(status, "id", where)
    created_at = _req(status, "created_at", where)
    content = _req(status, "content", where)
    spoiler = _str(status, "spoiler_text", where, nullable=True) or ""
    parent = _str(status, "in_reply_to_id", where, nullable=True)
    author = _dict(status.get("account"), f"{where}.account")
    author_id = _req(author, "id", f"{where}.account")
    acct = _str(author, "acct", f"{where}.account", nullable=True) or author_id
    url = _str(status, "url", where, nullable=True) or _req(status, "uri", where)
    text = html_text(content)
    if spoiler:
        text = f"{spoiler}\n\n{text}"
    return ParsedRecord(
        platform=PLATFORM, account=account_id, kind="post" if parent is None else "reply",
        native_id=native_id, native=NATIVE.native_object(status), url=url, author=acct,
        author_is_department=author_id == account_id, created_at=created_at, text=text,
        parent_native_id=parent, thread_native_id=native_id if parent is None else thread,
        media=_media(status, where),
    )


def is_reblog(status: Any) -> bool:
    return isinstance(status, dict) and status.get("reblog") is not None


def parse_statuses(payload: Any, account_id: str) -> list[ParsedRecord]:
    """An account's statuses page → its posts (thread roots); its replies come from their threads."""
    records = []
    for index, item in enumerate(_list(payload, "response")):
        if is_reblog(item):
            continue
        record = parse_status(item, account_id, f"[{index}]", thread=None)
        if record.kind == "post":
            records.append(record)
    return records


def feed_replies(payload: Any, skip: Callable[[Any], bool] = lambda created_at: False) -> list[str]:
    """Ids of the replies on a statuses page (malformed items skipped: the parser reports them),
    but those whose `created_at` `skip` says to leave."""
    if not isinstance(payload, list):
        return []
    return [item["id"] for item in payload if isinstance(item, dict) and not is_reblog(item)
            and isinstance(item.get("id"), str) and item.get("in_reply_to_id") is not None
            and not skip(item.get("created_at"))]


def parse_context(payload: Any, account_id: str, root: str) -> list[ParsedRecord]:
    """A Context's `descendants` → replies in thread `root` (ancestors are not this thread's news)."""
    context = _dict(payload, "response")
    _list(context.get("ancestors", []), "response.ancestors")
    return [parse_status(item, account_id, f"descendants[{index}]", thread=root)
            for index, item in enumerate(_list(context.get("descendants"), "response.descendants"))]


def context_root(payload: Any, native_id: str) -> str:
    """The thread root of `native_id` from its Context: the first ancestor, else itself."""
    ancestors = _list(_dict(payload, "response").get("ancestors"), "response.ancestors")
    if not ancestors:
        return native_id
    return _req(_dict(ancestors[0], "ancestors[0]"), "id", "ancestors[0]")


def truncated_below(payload: Any, counts: dict[str, int]) -> list[str]:
    """Statuses whose replies in this Context are fewer than their `replies_count` (public limit hit).

    `counts` holds known `replies_count`s (the requested status's, from where it was seen).
    """
    descendants = payload.get("descendants") if isinstance(payload, dict) else None
    if not isinstance(descendants, list):
        return []
    counts = dict(counts)
    seen: dict[str, int] = {}
    for item in descendants:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            continue
        if isinstance(item.get("replies_count"), int):
            counts[item["id"]] = item["replies_count"]
        parent = item.get("in_reply_to_id")
        if isinstance(parent, str):
            seen[parent] = seen.get(parent, 0) + 1
    return [status_id for status_id, count in counts.items() if count > seen.get(status_id, 0)]


def next_max_id(link_headers: list[bytes]) -> str | None:
    """`max_id` of the `rel="next"` link in `Link` headers (RFC 8288), or None on the last page."""
    for raw in link_headers:
        for match in _LINK.finditer(raw.decode("latin-1")):
            if re.search(r';\s*rel\s*=\s*"?(?:[^";,]*\s)?next(?:\s[^";,]*)?"?', match.group(2)):
                values = parse_qs(urlsplit(match.group(1)).query).get("max_id")
                if values and values[0]:
                    return values[0]
    return None


def replies_count(status: Any) -> int:
    value = status.get("replies_count") if isinstance(status, dict) else None
    return value if isinstance(value, int) else 0


# -- the spider ------------------------------------------------------------------------------------

class MastodonSpider(ApiSpider):
    """Pulls one Mastodon account: statuses pages, context per post (completed past the public
    limit), media, feed replies outside fetched threads, deletion sweep."""

    name = "mastodon"
    platform = PLATFORM
    default_base_url = DEFAULT_BASE_URL

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._feed_replies: set[str] = set()
        self._contexts: set[str] = set()  # statuses whose context was requested this crawl
        self._pending: dict[str, int] = {}  # thread root → context requests not yet answered
        self._thread_ids: dict[str, set[str]] = {}  # thread root → statuses whose context was asked
        self._orphans_fetched = False
        self._incomplete: set[str] = set()  # threads cut by the public context limit

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> MastodonSpider:
        from scrapy import signals

        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider._fetch_orphan_replies, signal=signals.spider_idle)
        return spider  # type: ignore[return-value]

    def _on_api_response(self, response: Response, handler: Any, ctx: dict[str, Any]) -> Iterator[Any]:
        # The next page is named in the `Link` header, which the payload handlers cannot see.
        if ctx.get("feed"):
            ctx = {**ctx, "next_max_id": next_max_id(response.headers.getlist(b"Link"))}
        yield from super()._on_api_response(response, handler, ctx)

    def _headers(self) -> dict[str, str] | None:
        token = self.source.token()
        return {"Authorization": f"Bearer {token}"} if token else None

    def _url(self, path: str, params: dict[str, Any] | None = None) -> str:
        query = f"?{urlencode(params)}" if params else ""
        return f"{self.base_url}/api/v1/{path}{query}"

    def feed_request(self, max_id: str | None = None) -> Request:
        params: dict[str, Any] = {"limit": PAGE_SIZE, "exclude_reblogs": "true"}
        if max_id:
            params["max_id"] = max_id
        return self.api_request(self._url(f"accounts/{quote(self.account, safe='')}/statuses", params),
                                self.on_feed, {"feed": True, "max_id": max_id}, priority=FEED_PRIORITY,
                                headers=self._headers())

    def context_request(self, status_id: str, root: str, known_count: int) -> Request:
        """The context of `status_id` inside thread `root` (the root's own, or a continuation)."""
        self._contexts.add(status_id)
        self._pending[root] = self._pending.get(root, 0) + 1
        self._thread_ids.setdefault(root, set()).add(status_id)
        return self.api_request(self._url(f"statuses/{quote(status_id, safe='')}/context"), self.on_context,
                                {"native_id": status_id, "thread": root, "count": known_count},
                                headers=self._headers())

    def object_request(self, native_id: str) -> Request:
        """One status on its own: its context first (for the thread root), then the status."""
        return self.api_request(self._url(f"statuses/{quote(native_id, safe='')}/context"), self.on_lookup,
                                {"native_id": native_id}, headers=self._headers())

    def status_request(self, native_id: str, root: str) -> Request:
        return self.api_request(self._url(f"statuses/{quote(native_id, safe='')}"), self.on_status,
                                {"native_id": native_id, "root": root}, headers=self._headers())

    def first_requests(self) -> list[Request]:
        return [self.feed_request()]

    def revisit_requests(self, native_id: str) -> list[Request]:
        """An older post: the status itself (edits), then its context with its `replies_count`."""
        request = self.status_request(native_id, native_id)
        request.cb_kwargs["ctx"]["revisit"] = True
        return [request]

    def on_feed(self, payload: Any, ctx: dict[str, Any]) -> Outcome:
        records = parse_statuses(payload, self.account)
        # a reply older than the plan's mark was seen by the last complete walk (its thread is the
        # rotating revisit's): only newer ones are fetched on their own
        self._feed_replies.update(feed_replies(payload, self.older_than_plan))
        by_id = {item.get("id"): item for item in payload if isinstance(item, dict)}
        outcome = Outcome(records=records, requests=self.salvage(payload, ctx))
        outcome.requests.extend(self.context_request(r.native_id, r.native_id, replies_count(by_id[r.native_id]))
                                for r in records if r.native_id not in self.skip_threads)
        return outcome

    def salvage(self, payload: Any, ctx: dict[str, Any]) -> list[Request]:
        if not ctx.get("feed"):
            return []
        max_id = ctx.get("next_max_id")
        if max_id and max_id != ctx.get("max_id"):
            return [self.feed_request(max_id)]
        self.feed_done()
        return []

    def on_context(self, payload: Any, ctx: dict[str, Any]) -> Outcome:
        root = ctx["thread"]
        records = parse_context(payload, self.account, root)
        short = truncated_below(payload, {ctx["native_id"]: ctx["count"]})
        if ctx["native_id"] in short and root not in self._incomplete:
            # Its own context was cut: the rest of its replies cannot be reached without a token.
            self._incomplete.add(root)
            logger.warning("%s: thread %s has more replies than Mastodon shows without a token (%d); set "
                           "token_env to a token with read:statuses to archive all of them",
                           self.source.name, root, PUBLIC_DESCENDANTS)
        requests = [self.context_request(status_id, root, 0) for status_id in short
                    if status_id not in self._contexts]
        self._pending[root] -= 1
        done = not self._pending[root] and not (self._thread_ids[root] & self.broken) \
            and root not in self._incomplete
        return Outcome(records=records, requests=requests, completes_thread=root if done else None)

    def on_lookup(self, payload: Any, ctx: dict[str, Any]) -> Outcome:
        native_id = ctx["native_id"]
        return Outcome(requests=[self.status_request(native_id, context_root(payload, native_id))])

    def on_status(self, payload: Any, ctx: dict[str, Any]) -> Outcome:
        native_id = ctx["native_id"]
        record = parse_status(payload, self.account, "response", thread=ctx["root"])
        if record.native_id != native_id:
            raise PayloadError(f"response.id: expected {native_id!r}, got {record.native_id!r}")
        requests = []
        if ctx.get("revisit"):
            requests.append(self.context_request(native_id, native_id, replies_count(payload)))
        return Outcome(records=[record], requests=requests)

    def _fetch_orphan_replies(self, spider: Any) -> None:
        """Once the feed walk is complete: the department's feed replies no thread brought in."""
        from scrapy.exceptions import DontCloseSpider

        if spider is not self or self._orphans_fetched or not self._feed_complete or self._feed_failed:
            return
        self._orphans_fetched = True
        orphans = sorted(self._feed_replies - self._emitted - self.known)  # known ones: the sweep asks
        if not orphans:
            return
        for native_id in orphans:
            self.crawler.engine.crawl(self.object_request(native_id))
        raise DontCloseSpider

    def http_error(self, status: int, payload: Any, ctx: dict[str, Any]) -> Outcome:
        error = payload.get("error") if isinstance(payload, dict) else None
        if status == 404 and error == NOT_FOUND and "native_id" in ctx:
            if ctx.get("thread"):
                self._pending[ctx["thread"]] -= 1
            return Outcome(tombstones=[Tombstone(PLATFORM, ctx["native_id"])])
        if ctx.get("thread"):
            self._pending[ctx["thread"]] -= 1
        text = f"HTTP {status}" + (f" {error}" if isinstance(error, str) else "")
        if status in (401, 403):
            if not self.source.token_env:
                text += (f"; source {self.source.name!r} sent no token and this server requires one: set "
                         "token_env to the environment variable that holds an access token with read:statuses")
            elif not self.source.token():
                text += (f"; source {self.source.name!r}: environment variable {self.source.token_env} "
                         "is not set")
            else:
                text += (f"; source {self.source.name!r}: the token in environment variable "
                         f"{self.source.token_env} was rejected (renew it)")
        return Outcome(error=text)


SPEC = Platform(
    name=PLATFORM, spider=MastodonSpider, native=NATIVE,
    account_pattern=ACCOUNT,
    account_description="a numeric Mastodon account id (109348211234567890; GET /api/v1/accounts/lookup?acct="
                        "<handle> gives it), not the @handle",
    token_required=False, token_description="an access token with read:statuses (optional: lifts the "
                                            "public 60-reply limit on thread context)",
)
