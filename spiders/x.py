"""X (API v2): the account's Post timeline and each conversation's replies through recent search.

Requests (docs/platform-api.md, "X"), every one with an `Authorization: Bearer <token>` header:
    GET /2/users/:id/tweets?max_results=100&exclude=retweets&pagination_token=…   (the timeline,
        newest first, `meta.next_token` until the last page; it holds the account's replies too)
    GET /2/tweets/search/recent?query=conversation_id:<id>&max_results=100&next_token=…   (every
        reply in one post's conversation, at any depth)
    GET /2/tweets?ids=<id>   (the deletion sweep: a gone Post is a 200 whose `errors[]` has a
        `…/problems/resource-not-found` entry for that id; that, and only that, is a tombstone)
All three ask for the same `tweet.fields`, `expansions` (`author_id`, `attachments.media_keys`,
`referenced_tweets.id`) and `media.fields`, so a Post has the same shape wherever it is read.

Limits the platform sets (and the docs state): the timeline reaches back only to the account's
3,200 most recent Posts, and recent search only to the last 7 days. A reply older than 7 days that
an earlier run did not see is therefore out of reach of this puller (full-archive search,
`/2/tweets/search/all`, needs Pro access); runs at least weekly catch every reply. Retweets are left
out (`exclude=retweets`): like Bluesky reposts, they are someone else's words.

Edits. An edit makes a new Post id; `edit_history_tweet_ids` lists every version's id, oldest
first, and the endpoints return the latest version. Sunshine records all versions of a Post under
its ORIGINAL id (`edit_history_tweet_ids[0]`): an edit is a new version of the same record, as on
every other platform. A reply's `referenced_tweets[replied_to].id` names the version it answered;
the parser maps it to the original id through the edit histories of the Posts in the same payload
(`data[]` and the `referenced_tweets.id` expansion in `includes.tweets`). `created_at` of an
edited Post is when that version was made, so a record's creation time is the original id's own
time (a Snowflake id carries its creation millisecond). A lookup of an older version id is
answered with that version; the sweep then asks for the latest id it names.

Native-object rule (part of the archive format, docs/archive-format.md): the record object is the
Post object in `data[]` of the timeline, recent-search and lookup answers (not the expansions in
`includes`, which are copies), its native id is `edit_history_tweet_ids[0]` (the `id` when that
is absent), and these top-level keys are dropped:
    public_metrics, non_public_metrics, organic_metrics, promoted_metrics   (counters)
Everything else stays as received, `id` (the current version's) and `edit_history_tweet_ids`
included, so an edit always makes a new version.

Budgets the next stage needs: every request costs one call against its endpoint's 15-minute window;
each answer carries `x-rate-limit-limit`, `x-rate-limit-remaining` and `x-rate-limit-reset` (epoch
seconds), and a spent window is HTTP 429 with the same headers (`RATE_LIMIT_HEADERS`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from scrapy.http import Request

from archiver.model import MediaRef, ParsedRecord, Tombstone
from spiders.base import FEED_PRIORITY, ApiSpider, Outcome, PayloadError
from spiders.platform import NativeRule, Platform

PLATFORM = "x"
DEFAULT_BASE_URL = "https://api.x.com/2"
PAGE_SIZE = 100  # the maximum of both the timeline (5..100) and recent search (10..100)
TWEET_FIELDS = ("created_at,conversation_id,in_reply_to_user_id,referenced_tweets,author_id,attachments,"
                "entities,edit_history_tweet_ids,public_metrics")
EXPANSIONS = "attachments.media_keys,author_id,referenced_tweets.id"
MEDIA_FIELDS = "url,preview_image_url,type,alt_text"
USER_FIELDS = "username,name"
NOT_FOUND_TYPE = "https://api.twitter.com/2/problems/resource-not-found"
RATE_LIMIT_HEADERS = ("x-rate-limit-limit", "x-rate-limit-remaining", "x-rate-limit-reset")
CALL_COST = 1  # every v2 read counts one request against its endpoint's window
SNOWFLAKE_EPOCH_MS = 1_288_834_974_657  # Twitter's Snowflake epoch (2010-11-04T01:42:54.657Z)
VOLATILE = frozenset({"public_metrics", "non_public_metrics", "organic_metrics", "promoted_metrics"})
# The numeric user id: a @username can be renamed and given to someone else; the id cannot.
ACCOUNT = re.compile(r"[1-9][0-9]{0,19}")


def iter_raw_objects(payload: Any) -> Iterator[dict[str, Any]]:
    """Every Post in `data` (a list for timeline, search and `?ids=` lookup; an object for `/tweets/:id`)."""
    if not isinstance(payload, dict):
        return
    data = payload.get("data")
    if isinstance(data, list):
        yield from (item for item in data if isinstance(item, dict))
    elif isinstance(data, dict):
        yield data


def native_id_of(tweet: dict[str, Any]) -> str | None:
    """A Post is recorded under its original id: the first of its edit history, else its `id`."""
    history = tweet.get("edit_history_tweet_ids")
    if isinstance(history, list) and history and isinstance(history[0], str):
        return history[0]
    value = tweet.get("id")
    return value if isinstance(value, str) else None


NATIVE = NativeRule(volatile=VOLATILE, iter_raw_objects=iter_raw_objects, native_id_of=native_id_of)


def _dict(obj: Any, where: str) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise PayloadError(f"{where}: expected an object, got {type(obj).__name__}")
    return obj


def _list(obj: Any, where: str) -> list[Any]:
    if not isinstance(obj, list):
        raise PayloadError(f"{where}: expected a list, got {type(obj).__name__}")
    return obj


def _str(obj: dict[str, Any], key: str, where: str, *, required: bool = True) -> str | None:
    value = obj.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise PayloadError(f"{where}.{key}: expected a string, got {type(value).__name__}")
    return value


def snowflake_time(tweet_id: str) -> str | None:
    """The creation time a Snowflake id carries (`2022-10-07T22:42:12.637Z`), None for other ids."""
    if not tweet_id.isdigit() or int(tweet_id) < 1 << 22:
        return None
    ms = (int(tweet_id) >> 22) + SNOWFLAKE_EPOCH_MS
    try:
        moment = datetime.fromtimestamp(ms / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def edit_history(tweet: dict[str, Any], where: str) -> list[str]:
    """The Post's version ids, oldest first (just its `id` when the field was not returned)."""
    tweet_id = _str(tweet, "id", where)
    history = tweet.get("edit_history_tweet_ids")
    if history is None:
        return [tweet_id]  # type: ignore[list-item]
    history = _list(history, f"{where}.edit_history_tweet_ids")
    if not history:
        raise PayloadError(f"{where}.edit_history_tweet_ids: expected at least one id, got []")
    for index, value in enumerate(history):
        if not isinstance(value, str):
            raise PayloadError(f"{where}.edit_history_tweet_ids[{index}]: expected a string, got {type(value).__name__}")
    return history


def original_ids(payload: dict[str, Any]) -> dict[str, str]:
    """Every version id named in a payload's Posts (`data` and `includes.tweets`) → its original id."""
    tweets: list[Any] = []
    data = payload.get("data")
    tweets.extend(data if isinstance(data, list) else [data])
    includes = payload.get("includes")
    if isinstance(includes, dict) and isinstance(includes.get("tweets"), list):
        tweets.extend(includes["tweets"])
    aliases: dict[str, str] = {}
    for tweet in tweets:
        history = tweet.get("edit_history_tweet_ids") if isinstance(tweet, dict) else None
        if isinstance(history, list) and history and all(isinstance(h, str) for h in history):
            aliases.update((version, history[0]) for version in history)
    return aliases


def _includes(payload: dict[str, Any], key: str, id_key: str) -> dict[str, dict[str, Any]]:
    includes = payload.get("includes")
    items = includes.get(key) if isinstance(includes, dict) else None
    if not isinstance(items, list):
        return {}
    return {item[id_key]: item for item in items if isinstance(item, dict) and isinstance(item.get(id_key), str)}


def _replied_to(tweet: dict[str, Any], where: str) -> str | None:
    refs = tweet.get("referenced_tweets")
    if refs is None:
        return None
    for index, ref in enumerate(_list(refs, f"{where}.referenced_tweets")):
        ref = _dict(ref, f"{where}.referenced_tweets[{index}]")
        if _str(ref, "type", f"{where}.referenced_tweets[{index}]") == "replied_to":
            return _str(ref, "id", f"{where}.referenced_tweets[{index}]")
    return None


def _media(tweet: dict[str, Any], media: dict[str, dict[str, Any]], where: str) -> tuple[MediaRef, ...]:
    """Photos' `url`, and videos' and GIFs' `preview_image_url`, through `attachments.media_keys`."""
    attachments = tweet.get("attachments")
    if attachments is None:
        return ()
    keys = _dict(attachments, f"{where}.attachments").get("media_keys") or []
    refs = []
    for key in _list(keys, f"{where}.attachments.media_keys"):
        item = media.get(key) if isinstance(key, str) else None
        if item is None:
            continue  # not expanded (or withheld): the Post still records its media_keys
        url = item.get("url") if isinstance(item.get("url"), str) else item.get("preview_image_url")
        if isinstance(url, str):
            refs.append(MediaRef(url=url, mime=None))
    return tuple(refs)


def parse_tweet(tweet: Any, account: str, where: str, *, aliases: dict[str, str],
                users: dict[str, dict[str, Any]], media: dict[str, dict[str, Any]],
                default_author: str | None = None) -> ParsedRecord:
    """One Post object → a ParsedRecord (raises PayloadError naming the bad field).

    `aliases` maps version ids to original ids (`original_ids`); `users` and `media` are the
    payload's expansions by id / media_key; `default_author` is the author when `author_id` was not
    returned (the timeline's own user).
    """
    tweet = _dict(tweet, where)
    history = edit_history(tweet, where)
    native_id = history[0]
    text = _str(tweet, "text", where)
    created = _str(tweet, "created_at", where, required=False)
    if created is None or len(history) > 1:
        created = snowflake_time(native_id) or created
    if created is None:
        raise PayloadError(f"{where}.created_at: missing, and the id {native_id!r} carries no time")
    author_id = _str(tweet, "author_id", where, required=False) or default_author or ""
    user = users.get(author_id, {})
    username = user.get("username") if isinstance(user.get("username"), str) else None
    conversation = _str(tweet, "conversation_id", where, required=False)
    replied = _replied_to(tweet, where)
    if replied is not None:
        kind, parent = "reply", aliases.get(replied, replied)
        thread = aliases.get(conversation, conversation) if conversation else parent
    else:
        kind, parent, thread = "post", None, native_id
    url = f"https://x.com/{username}/status/{native_id}" if username else f"https://x.com/i/web/status/{native_id}"
    return ParsedRecord(
        platform=PLATFORM, account=account, kind=kind, native_id=native_id,
        native=NATIVE.native_object(tweet), url=url, author=username or author_id,
        author_is_department=author_id == account, created_at=created, text=text,  # type: ignore[arg-type]
        parent_native_id=parent, thread_native_id=thread, media=_media(tweet, media, where),
    )


def parse_page(payload: Any, account: str, *, default_author: str | None = None) -> list[ParsedRecord]:
    """A timeline, recent-search or lookup answer → its Posts (`data` absent when there are none)."""
    payload = _dict(payload, "response")
    data = payload.get("data")
    if data is None:
        return []
    items = [data] if isinstance(data, dict) else _list(data, "response.data")
    aliases = original_ids(payload)
    users = _includes(payload, "users", "id")
    media = _includes(payload, "media", "media_key")
    where = "data" if isinstance(data, dict) else None
    return [parse_tweet(item, account, where or f"data[{index}]", aliases=aliases, users=users, media=media,
                        default_author=default_author)
            for index, item in enumerate(items)]


def next_token(payload: Any) -> str | None:
    """`meta.next_token`, absent on the last page."""
    meta = payload.get("meta") if isinstance(payload, dict) else None
    token = meta.get("next_token") if isinstance(meta, dict) else None
    return token if isinstance(token, str) and token else None


def not_found_ids(payload: Any) -> set[str]:
    """The ids a lookup answer's `errors[]` reports as `resource-not-found` Posts (deleted ones)."""
    errors = payload.get("errors") if isinstance(payload, dict) else None
    found = set()
    for error in errors if isinstance(errors, list) else ():
        if (isinstance(error, dict) and error.get("type") == NOT_FOUND_TYPE
                and error.get("resource_type") == "tweet" and isinstance(error.get("value"), str)):
            found.add(error["value"])
    return found


def problem_text(payload: Any) -> str:
    """`title: detail` of a problem answer (`{"title","detail","type","status"}`), or its first error."""
    if not isinstance(payload, dict):
        return ""
    if isinstance(payload.get("title"), str):
        detail = payload.get("detail")
        return f"{payload['title']}: {detail}" if isinstance(detail, str) and detail != payload["title"] \
            else payload["title"]
    errors = payload.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        first = errors[0]
        return str(first.get("detail") or first.get("message") or first.get("title") or "")
    return ""


class XSpider(ApiSpider):
    """Pulls one X account: timeline pages, recent search per conversation, media, deletion sweep."""

    name = "x"
    platform = PLATFORM
    default_base_url = DEFAULT_BASE_URL

    def api_request(self, *args: Any, **kwargs: Any) -> Request:
        token = self.source.token()
        if token:
            kwargs["headers"] = {**(kwargs.get("headers") or {}), "Authorization": f"Bearer {token}"}
        return super().api_request(*args, **kwargs)

    def _url(self, path: str, params: dict[str, Any]) -> str:
        fields = {"tweet.fields": TWEET_FIELDS, "expansions": EXPANSIONS, "media.fields": MEDIA_FIELDS,
                  "user.fields": USER_FIELDS}
        return f"{self.base_url}/{path}?{urlencode({**params, **fields}, safe=',:')}"

    def feed_request(self, token: str | None = None) -> Request:
        params: dict[str, Any] = {"max_results": PAGE_SIZE, "exclude": "retweets"}
        if token:
            params["pagination_token"] = token
        return self.api_request(self._url(f"users/{self.account}/tweets", params), self.on_feed,
                                {"feed": True, "token": token}, priority=FEED_PRIORITY)

    def conversation_request(self, post_id: str, token: str | None = None) -> Request:
        params: dict[str, Any] = {"query": f"conversation_id:{post_id}", "max_results": PAGE_SIZE}
        if token:
            params["next_token"] = token
        return self.api_request(self._url("tweets/search/recent", params), self.on_conversation,
                                {"native_id": post_id, "post_id": post_id, "token": token})

    def object_request(self, native_id: str) -> Request:
        return self.lookup_request(native_id, native_id)

    def lookup_request(self, native_id: str, version_id: str) -> Request:
        return self.api_request(self._url("tweets", {"ids": version_id}), self.on_lookup,
                                {"native_id": native_id, "version_id": version_id})

    def first_requests(self) -> list[Request]:
        return [self.feed_request()]

    def revisit_requests(self, native_id: str) -> list[Request]:
        """An older post (its latest edit) and its conversation."""
        return [self.object_request(native_id), self.conversation_request(native_id)]

    def on_feed(self, payload: Any, ctx: dict[str, Any]) -> Outcome:
        records = parse_page(payload, self.account, default_author=self.account)
        outcome = Outcome(records=records, requests=self.salvage(payload, ctx))
        outcome.requests.extend(self.conversation_request(record.native_id) for record in records
                                if record.kind == "post" and record.native_id not in self.skip_threads)
        return outcome

    def salvage(self, payload: Any, ctx: dict[str, Any]) -> list[Request]:
        token = next_token(payload)
        if ctx.get("feed") and token and token != ctx.get("token"):
            return [self.feed_request(token)]
        if ctx.get("feed"):
            self.feed_done()
        elif "post_id" in ctx and token and token != ctx.get("token"):
            return [self.conversation_request(ctx["post_id"], token)]
        return []

    def on_conversation(self, payload: Any, ctx: dict[str, Any]) -> Outcome:
        post_id = ctx["post_id"]
        records = parse_page(payload, self.account)
        for record in records:
            if record.native_id != post_id and record.thread_native_id != post_id:
                raise PayloadError(f"data: {record.native_id} is not in conversation {post_id}")
        requests = self.salvage(payload, ctx)
        return Outcome(records=records, requests=requests,
                       completes_thread=None if requests or post_id in self.broken else post_id)

    def on_lookup(self, payload: Any, ctx: dict[str, Any]) -> Outcome:
        native_id, version_id = ctx["native_id"], ctx["version_id"]
        records = [r for r in parse_page(payload, self.account) if r.native_id == native_id]
        if not records:
            if version_id in not_found_ids(payload):
                return Outcome(tombstones=[Tombstone(PLATFORM, native_id)])
            problem = problem_text(payload)
            raise PayloadError(f"data: no Post {version_id}" + (f" ({problem})" if problem else ""))
        latest = records[0].native.get("edit_history_tweet_ids", [version_id])[-1]
        if latest != records[0].native.get("id") and latest != version_id:
            return Outcome(requests=[self.lookup_request(native_id, latest)])  # an older version answered
        return Outcome(records=records)

    def http_error(self, status: int, payload: Any, ctx: dict[str, Any]) -> Outcome:
        problem = problem_text(payload)
        text = f"HTTP {status}" + (f" {problem}" if problem else "")
        if status == 429:
            text += " (rate limit spent; x-rate-limit-reset says when it refills)"
        if status in (401, 403):
            if not self.source.token_env:
                text += f"; source {self.source.name!r} has no token_env: name the environment variable " \
                        "that holds the X API bearer token"
            elif not self.source.token():
                text += f"; no bearer token: environment variable {self.source.token_env} is not set"
            else:
                text += f"; the token in environment variable {self.source.token_env} was rejected"
        return Outcome(error=text)


SPEC = Platform(
    name=PLATFORM, spider=XSpider, native=NATIVE,
    account_pattern=ACCOUNT, account_description="a numeric X user id (1381985123456789504), not the @username",
    token_required=True, token_description="an X API bearer token (app-only or user context)",
)
