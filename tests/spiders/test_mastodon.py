"""Mastodon: parsers against the documented Status example and generated payloads, and the spider
against the simulator's Mastodon profile (pagination, public context limit, throttle, tokens)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from archiver.canonical import canonical_json
from infra.simulator.mastodon import MASTODON_ACCOUNT_ID, PUBLIC_DESCENDANTS, content_html
from spiders.base import PayloadError
from spiders.extract import find_native
from spiders.mastodon import (
    NATIVE,
    html_text,
    next_max_id,
    parse_context,
    parse_status,
    parse_statuses,
    truncated_below,
)
from tests.spiders.conftest import TOKEN_ENV, run_crawl, source_for

FIXTURES = Path(__file__).with_name("fixtures") / "mastodon"


def _status() -> dict:
    return json.loads((FIXTURES / "status.json").read_text(encoding="utf-8"))


def test_documented_status_example_parses() -> None:
    status = _status()
    record = parse_status(status, "1", "[0]", thread=None)
    assert record.native_id == "103270115826048975" and record.kind == "post"
    assert record.author == "Gargron" and record.author_is_department
    assert record.url == status["url"] and record.created_at == status["created_at"]
    # entities decoded, the link's hidden spans kept (the full URL), the docs' broken `</span}` tolerated
    assert record.text.startswith('"I lost my inheritance with one wrong digit on my sort code"\n\nhttps://www.')
    assert "theguardian.com/money/2019/dec/07/i-lost-my-193000" in record.text and "<" not in record.text
    assert not NATIVE.volatile & set(record.native)
    assert record.native["account"] == {"id": "1", "username": "Gargron", "acct": "Gargron",
                                        "url": "https://mastodon.social/@Gargron"}


def test_counters_viewer_state_card_and_account_counts_never_make_a_new_version() -> None:
    before = _status()
    after = _status()
    after.update(replies_count=99, favourites_count=0, favourited=True, card=None, pinned=True)
    after["account"]["statuses_count"] += 1
    after["account"]["display_name"] = "Eugen Rochko"
    same = parse_status(after, "1", "x", thread=None).native
    assert canonical_json(same) == canonical_json(parse_status(before, "1", "x", thread=None).native)
    edited = _status()
    edited.update(content="<p>corrected</p>", edited_at="2019-12-08T04:00:00.000Z")
    assert parse_status(edited, "1", "x", thread=None).native != same


def test_poll_votes_are_volatile_but_options_are_not() -> None:
    status = _status()
    status["poll"] = {"id": "34858", "expires_at": None, "expired": False, "multiple": False, "votes_count": 1,
                      "voters_count": 1, "voted": True, "own_votes": [],
                      "options": [{"title": "test 1", "votes_count": 1}], "emojis": []}
    native = NATIVE.native_object(status)
    assert native["poll"] == {"id": "34858", "expires_at": None, "multiple": False,
                              "options": [{"title": "test 1"}], "emojis": []}
    assert status["poll"]["votes_count"] == 1  # the raw payload is not mutated


def test_malformed_statuses_name_the_json_path() -> None:
    good = _status()
    with pytest.raises(PayloadError, match=r"response: expected a list, got dict"):
        parse_statuses({"error": "x"}, "1")
    broken = dict(good, id=5)
    with pytest.raises(PayloadError, match=r"\[1\]\.id: expected a string, got int"):
        parse_statuses([good, broken], "1")
    with pytest.raises(PayloadError, match=r"descendants\[0\]\.account: expected an object, got NoneType"):
        parse_context({"ancestors": [], "descendants": [dict(good, account=None)]}, "1", "root")
    with pytest.raises(PayloadError, match=r"\[0\]\.media_attachments\[0\]: expected an object"):
        parse_statuses([dict(good, media_attachments=["x"])], "1")


def test_reblogs_and_replies_are_not_feed_records() -> None:
    post, reply, boost = _status(), _status(), _status()
    reply.update(id="2", in_reply_to_id=post["id"])
    boost.update(id="3", reblog=_status())
    assert [r.native_id for r in parse_statuses([post, reply, boost], "1")] == [post["id"]]


def test_find_native_reextracts_from_each_payload_shape() -> None:
    status = _status()
    expected = NATIVE.native_object(status)
    for payload in ([status], {"ancestors": [status], "descendants": []}, status):
        assert find_native("mastodon", json.dumps(payload).encode(), status["id"]) == expected
    assert find_native("mastodon", b'{"error": "Record not found"}', status["id"]) is None


def test_link_header_next() -> None:
    link = (b'<https://mastodon.example/api/v1/accounts/1/statuses?limit=2&max_id=109406336446186031>; rel="next", '
            b'<https://mastodon.example/api/v1/accounts/1/statuses?limit=2&min_id=109408462939099398>; rel="prev"')
    assert next_max_id([link]) == "109406336446186031"
    assert next_max_id([link.split(b", ")[1]]) is None and next_max_id([]) is None


def test_truncated_context_names_statuses_missing_replies() -> None:
    payload = {"ancestors": [], "descendants": [
        {"id": "2", "in_reply_to_id": "1", "replies_count": 3},
        {"id": "3", "in_reply_to_id": "2", "replies_count": 0}]}
    assert truncated_below(payload, {"1": 1}) == ["2"]
    assert truncated_below(payload, {"1": 2}) == ["1", "2"]


_line = st.text(st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="\n\r"), min_size=1)
_paragraph = st.lists(_line, min_size=1, max_size=4).map("\n".join)
_texts = st.lists(_paragraph, min_size=1, max_size=4).map("\n\n".join)


@given(_texts)
def test_plain_text_survives_mastodon_html_exactly(text: str) -> None:
    """Mastodon's formatting of plain text (escape, <p>, <br />) and html_text are inverses."""
    assert html_text(content_html(text)) == text


@given(st.text())
def test_html_text_never_returns_markup_from_tags(html: str) -> None:
    out = html_text(html)
    assert isinstance(out, str)
    assert "<p>" not in html_text(f"<p>{content_html(out)}</p>")


# -- against the simulator -------------------------------------------------------------------------

def _with_token(source):
    """The source with a token configured (Mastodon needs none for public statuses)."""
    return dataclasses.replace(source, token_env=TOKEN_ENV)


def test_feed_walks_three_pages_by_link_header(make_sim) -> None:
    sim = make_sim(seed=21, scale=3000)
    result = run_crawl(_with_token(source_for(sim, "mastodon")))
    feed = [c for c in result.captures if "/statuses?" in c.exchange.url]
    assert len(feed) >= 3 and result.errors == []
    assert sum("max_id=" in c.exchange.url for c in feed) == len(feed) - 1
    links = [dict(c.exchange.response_headers).get("Link", "") for c in feed]
    assert all('rel="next"' in link for link in links[:-1]) and 'rel="next"' not in links[-1]
    world = {r.native_id for r in sim.world.records() if r.platform == "mastodon"}
    assert sorted(r.native_id for r in result.records) == sorted(world)
    posts = {r.native_id for r in sim.world.records() if r.platform == "mastodon" and r.kind == "post"}
    assert {c.completes_thread for c in result.captures if c.completes_thread} == posts


def test_public_context_limit_continues_below_and_never_claims_a_cut_thread(make_sim) -> None:
    sim = make_sim(seed=21, scale=3000)
    records = [r for r in sim.world.records() if r.platform == "mastodon"]
    sizes = {p.native_id: sum(1 for r in records if r.thread_id == p.native_id) - 1
             for p in records if p.kind == "post"}
    big = {root for root, size in sizes.items() if size > PUBLIC_DESCENDANTS}
    assert big, "the seed has no thread past the public limit"
    result = run_crawl(source_for(sim, "mastodon"))
    assert result.errors == []
    contexts = [c for c in result.captures if "/context" in c.exchange.url]
    assert len(contexts) > len(sizes)  # statuses cut below were asked for their own context
    completed = {c.completes_thread for c in result.captures if c.completes_thread}
    assert completed == set(sizes) - big  # a thread cut at the public limit is never claimed complete
    got = {r.native_id for r in result.records}
    assert {r.native_id for r in records if r.thread_id not in big} <= got
    assert {r.native_id for r in records if r.thread_id in big} - got  # unreachable without a token


def test_mastodon_throttle_is_honoured(make_sim) -> None:
    sim = make_sim(seed=5, scale=200, rate_limit_every=3, retry_after=1)
    result = run_crawl(source_for(sim, "mastodon"))
    assert result.errors == [] and result.stats["sunshine_retry/count"] > 0
    assert {r.native_id for r in result.records} == {r.native_id for r in sim.world.records()
                                                     if r.platform == "mastodon"}


def test_rejected_token_stops_the_source_naming_it_and_the_variable(sim) -> None:
    source = source_for(sim, "mastodon")
    with_token = _with_token(source)
    wrong = run_crawl(with_token, token="revoked", known=frozenset({"1"}))
    [capture] = wrong.captures  # the feed failed: no threads, no deletion sweep
    assert capture.exchange.status == 401 and capture.records == ()
    assert "The access token is invalid" in capture.error
    assert TOKEN_ENV in capture.error and repr(source.name) in capture.error and "renew" in capture.error
    right = run_crawl(with_token, token="sim-token")
    assert right.errors == [] and ("Authorization", "REDACTED") in right.captures[0].exchange.request_headers
    assert MASTODON_ACCOUNT_ID in right.captures[0].exchange.url


def test_throttle_waits_until_x_ratelimit_reset() -> None:
    """Mastodon's 429 has no Retry-After: the wait comes from its ISO 8601 `X-RateLimit-Reset`."""
    from datetime import UTC, datetime

    from scrapy.http import Response

    from infra.simulator.mastodon import throttled
    from spiders.middlewares import server_delay

    reply = throttled(30, "/mastodon/api/v1/accounts/1/statuses")
    assert reply.status == 429 and json.loads(reply.body) == {"error": "Too many requests"}
    response = Response("https://mastodon.example/api/v1/x", status=429, headers=dict(reply.headers))
    now = datetime.now(UTC).timestamp()
    assert 28 <= server_delay(response, now) <= 30
    naive = Response("https://m.example/", status=429, headers={"X-RateLimit-Reset": "2026-01-01T00:00:10"})
    assert server_delay(naive, datetime(2026, 1, 1, tzinfo=UTC).timestamp()) == 10
    assert server_delay(Response("https://m.example/", status=429,
                                 headers={"X-RateLimit-Reset": "soon"}), now) is None
