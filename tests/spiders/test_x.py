"""X: parsers against real payloads and generated ones, the edit model, the profile's shapes, tokens."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scrapy.http import HtmlResponse

from archiver.config import SourceConfig
from infra.simulator.app import SimulatorApp
from infra.simulator.world import World
from infra.simulator.x import X_USER_ID, version_id
from spiders.base import PayloadError
from spiders.extract import find_native
from spiders.middlewares import server_delay
from spiders.x import NATIVE, VOLATILE, XSpider, not_found_ids, parse_page, snowflake_time
from tests.spiders.conftest import TOKEN_ENV, run_crawl, source_for

FIXTURES = Path(__file__).with_name("fixtures") / "x"
ACCOUNT = "2244994945"


def _fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_bytes())


@pytest.mark.parametrize("name", ["tweepy_users_tweets.json", "tweepy_search_recent.json",
                                  "tweepy_tweets_lookup.json", "docs_example_reply.json"])
def test_real_payloads_parse_and_natives_reextract(name: str) -> None:
    payload = _fixture(name)
    records = parse_page(payload, ACCOUNT)
    assert [r.native_id for r in records] == [t["id"] for t in payload["data"]]
    body = (FIXTURES / name).read_bytes()
    for record, tweet in zip(records, payload["data"], strict=True):
        assert record.text == tweet["text"]
        assert record.created_at == tweet.get("created_at", snowflake_time(tweet["id"]))
        assert not VOLATILE & set(record.native)
        assert find_native("x", body, record.native_id) == record.native


def test_documented_reply_example_is_a_reply_in_its_conversation() -> None:
    [record] = parse_page(_fixture("docs_example_reply.json"), ACCOUNT)
    assert record.kind == "reply" and record.parent_native_id == "1304102743196356610"
    assert record.thread_native_id == "1304102743196356610"
    assert record.author == "TwitterDev" and record.author_is_department
    assert record.url == "https://x.com/TwitterDev/status/1307025659294674945"


def test_snowflake_time_agrees_with_created_at_of_a_real_post() -> None:
    # the search fixture's texts carry the time each Post was made (to the microsecond)
    for tweet in _fixture("tweepy_search_recent.json")["data"]:
        stamp = tweet["text"].split(" tweepy")[0]  # "2022-10-07 22:42:12.637103"
        assert snowflake_time(tweet["id"])[:19] == stamp[:19].replace(" ", "T")  # type: ignore[index]


def test_deleted_post_lookup_is_recognised() -> None:
    assert not_found_ids(_fixture("documented_lookup_not_found.json")) == {"1228393702244134912"}
    assert not_found_ids({"errors": [{"type": "https://api.twitter.com/2/problems/not-authorized-for-resource",
                                      "resource_type": "tweet", "value": "1"}]}) == set()


ids = st.integers(min_value=1 << 32, max_value=(1 << 62)).map(str)
extra = st.dictionaries(st.sampled_from(["lang", "source", "possibly_sensitive", "entities", "geo", "withheld",
                                         "edit_controls", "note_tweet"]),
                        st.none() | st.booleans() | st.text(max_size=5), max_size=3)


@st.composite
def tweets(draw: Any) -> dict[str, Any]:
    history = draw(st.lists(ids, min_size=1, max_size=4, unique=True))
    tweet: dict[str, Any] = {"id": history[-1], "text": draw(st.text()), **draw(extra)}
    if draw(st.booleans()):
        tweet["edit_history_tweet_ids"] = history
    else:
        tweet["id"] = history[0]
    for key in draw(st.sets(st.sampled_from(sorted(VOLATILE)))):
        tweet[key] = {"like_count": draw(st.integers(0, 10**6))}
    if draw(st.booleans()):
        tweet["created_at"] = "2024-05-01T10:00:00.000Z"
    if draw(st.booleans()):
        tweet["author_id"] = draw(st.sampled_from([ACCOUNT, "99"]))
    if draw(st.booleans()):
        root = draw(ids)
        tweet["conversation_id"] = root
        tweet["referenced_tweets"] = [{"type": "replied_to", "id": draw(ids)}]
    return tweet


@given(st.lists(tweets(), max_size=5, unique_by=lambda t: (t.get("edit_history_tweet_ids") or [t["id"]])[0]))
def test_generated_pages_parse_under_the_original_id(items: list[dict[str, Any]]) -> None:
    payload = {"data": items, "meta": {"result_count": len(items)}}
    records = parse_page(payload, ACCOUNT)
    body = json.dumps(payload).encode()
    for record, tweet in zip(records, items, strict=True):
        assert record.native_id == (tweet.get("edit_history_tweet_ids") or [tweet["id"]])[0]
        assert record.native == {k: v for k, v in tweet.items() if k not in VOLATILE}
        assert record.kind == ("reply" if "referenced_tweets" in tweet else "post")
        assert record.author_is_department == (tweet.get("author_id") == ACCOUNT)
        assert find_native("x", body, record.native_id) == record.native


BREAKS = [("text", 5, "data[0].text: expected a string, got int"),
          ("id", None, "data[0].id: expected a string, got NoneType"),
          ("edit_history_tweet_ids", "1", "data[0].edit_history_tweet_ids: expected a list, got str"),
          ("referenced_tweets", [{"type": "replied_to", "id": 7}], "data[0].referenced_tweets[0].id: expected a string"),
          ("created_at", 1.5, "data[0].created_at: expected a string, got float"),
          ("attachments", [], "data[0].attachments: expected an object, got list")]


@pytest.mark.parametrize(("key", "value", "message"), BREAKS)
@given(tweet=tweets())
def test_malformed_posts_are_refused_naming_the_json_path(tweet: dict[str, Any], key: str, value: Any,
                                                          message: str) -> None:
    tweet = {**tweet, key: value}
    if key == "id":
        tweet.pop("edit_history_tweet_ids", None)
    with pytest.raises(PayloadError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_page({"data": [tweet]}, ACCOUNT)


def test_malformed_page_shapes_are_refused() -> None:
    with pytest.raises(PayloadError, match=r"response.data: expected a list, got str"):
        parse_page({"data": "x"}, ACCOUNT)
    with pytest.raises(PayloadError, match=r"response: expected an object, got list"):
        parse_page([], ACCOUNT)
    assert parse_page({"meta": {"result_count": 0}}, ACCOUNT) == []


def test_a_reply_to_an_edited_post_names_the_original_through_the_expansion() -> None:
    original, edited = "1600000000000000000", "1600000000999999999"
    payload = {
        "data": [{"id": "1600000001000000000", "text": "@SpringfieldPD thanks",
                  "edit_history_tweet_ids": ["1600000001000000000"], "conversation_id": original,
                  "referenced_tweets": [{"type": "replied_to", "id": edited}], "author_id": "5"}],
        "includes": {"tweets": [{"id": edited, "text": "v2", "edit_history_tweet_ids": [original, edited]}]},
    }
    [record] = parse_page(payload, ACCOUNT)
    assert record.parent_native_id == original and record.thread_native_id == original
    edited_post = {"id": edited, "text": "v2", "edit_history_tweet_ids": [original, edited],
                   "created_at": "2025-01-01T00:00:00.000Z"}
    [post] = parse_page({"data": [edited_post]}, ACCOUNT)
    assert post.native_id == original and post.created_at == snowflake_time(original)
    assert NATIVE.native_id_of(edited_post) == original


def test_lookup_answered_with_an_older_version_asks_for_the_latest() -> None:
    spider = XSpider(source=SourceConfig(name="spd-x", platform="x", account=ACCOUNT, token_env=None,
                                         base_url="http://127.0.0.1:1/x/2"))
    old = {"id": "1600000000000000000", "text": "v1",
           "edit_history_tweet_ids": ["1600000000000000000", "1600000000999999999"]}
    outcome = spider.on_lookup({"data": [old]}, {"native_id": old["id"], "version_id": old["id"]})
    assert outcome.records == [] and [r.url.split("ids=")[1].split("&")[0] for r in outcome.requests] == \
        ["1600000000999999999"]
    latest = {**old, "id": "1600000000999999999", "text": "v2"}
    outcome = spider.on_lookup({"data": [latest]}, {"native_id": old["id"], "version_id": latest["id"]})
    assert [r.text for r in outcome.records] == ["v2"]
    gone = spider.on_lookup(_fixture("documented_lookup_not_found.json"),
                            {"native_id": "1228393702244134912", "version_id": "1228393702244134912"})
    assert [t.native_id for t in gone.tombstones] == ["1228393702244134912"]


def test_retry_waits_until_x_rate_limit_reset() -> None:
    response = HtmlResponse("https://api.x.com/2/tweets", status=429,
                            headers={"x-rate-limit-reset": "1000", "x-rate-limit-remaining": "0"})
    assert server_delay(response, now=997.5) == 2.5


# ----- the simulator profile's shapes -----------------------------------------------------------

@pytest.fixture(scope="module")
def app() -> SimulatorApp:
    return SimulatorApp(World(seed=2, scale=1500), base_url="http://sim")


def _get(app: SimulatorApp, target: str, token: str = "sim-token") -> tuple[int, Any, dict[str, str]]:
    reply = app.handle("GET", target, {"Authorization": f"Bearer {token}"})
    return reply.status, json.loads(reply.body), dict(reply.headers)


def test_timeline_pages_cover_the_department_newest_first(app: SimulatorApp) -> None:
    seen: list[str] = []
    pages, token = 0, ""
    while True:
        target = f"/x/2/users/{X_USER_ID}/tweets?max_results=5&tweet.fields=created_at,author_id"
        status, body, headers = _get(app, target + (f"&pagination_token={token}" if token else ""))
        assert status == 200 and headers["x-rate-limit-limit"].isdigit() and "x-rate-limit-reset" in headers
        assert body["meta"]["result_count"] == len(body["data"]) <= 5
        seen += [t["id"] for t in body["data"]]
        pages += 1
        token = body["meta"].get("next_token", "")
        if not token:
            break
    feed = [n for n in app.world.feed("x")[0]]
    assert pages >= 3 and seen == [version_id(app.world, n, n.version) for n in feed]


def test_profile_errors_have_the_documented_shapes(app: SimulatorApp) -> None:
    status, body, _ = _get(app, f"/x/2/users/{X_USER_ID}/tweets", token="expired")
    assert (status, body) == (401, {"title": "Unauthorized", "detail": "Unauthorized", "type": "about:blank",
                                    "status": 401})
    status, body, _ = _get(app, f"/x/2/users/{X_USER_ID}/tweets?max_results=1000")
    assert status == 400 and body["title"] == "Invalid Request" and "max_results" in body["errors"][0]["parameters"]
    status, body, _ = _get(app, "/x/2/tweets?ids=1234567890123")
    assert status == 200 and not_found_ids(body) == {"1234567890123"} and "data" not in body
    throttled = SimulatorApp(World(seed=2, scale=50), base_url="http://sim", rate_limit_every=1)
    reply = throttled.handle("GET", "/x/2/tweets?ids=1", {"Authorization": "Bearer sim-token"})
    headers = dict(reply.headers)
    assert reply.status == 429 and json.loads(reply.body)["title"] == "Too Many Requests"
    assert headers["x-rate-limit-remaining"] == "0" and int(headers["x-rate-limit-reset"]) > 0
    assert "Retry-After" not in headers


def test_edit_gives_a_new_id_and_keeps_the_original_first(app: SimulatorApp) -> None:
    world = World(seed=4, scale=300)
    sim = SimulatorApp(world, base_url="http://sim")
    edited: list[str] = []
    while not edited:
        edited = [ref.native_id for ref in sim.advance().edited if ref.platform == "x"]
    status, body, _ = _get(sim, f"/x/2/tweets?ids={edited[0]}&tweet.fields=edit_history_tweet_ids")
    [tweet] = body["data"]
    assert tweet["edit_history_tweet_ids"][0] == edited[0] != tweet["id"] == tweet["edit_history_tweet_ids"][-1]


def test_expired_token_stops_the_source_with_one_line_naming_the_variable(sim) -> None:
    result = run_crawl(source_for(sim, "x"), token="expired", known=frozenset({"1"}))
    [capture] = result.captures  # no sweep, no further pages after the refused first request
    assert capture.exchange.status == 401 and capture.records == ()
    assert "HTTP 401 Unauthorized" in capture.error and TOKEN_ENV in capture.error
    assert "\n" not in capture.error
    unnamed = run_crawl(source_for(sim, "x", token_env=None))
    assert "has no token_env" in unnamed.errors[0].error and "spd-x" in unnamed.errors[0].error
