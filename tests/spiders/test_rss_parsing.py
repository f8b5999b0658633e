"""RSS/Atom parsers: the specifications' own examples, generated feeds, hostile XML, the native object."""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spiders import rss
from spiders.base import PayloadError
from spiders.extract import find_native

FIXTURES = Path(__file__).with_name("fixtures") / "rss"


def _parse(name: str, base: str = "http://example.org/feed") -> tuple[list, str | None]:
    return rss.parse_feed(rss.decode_feed((FIXTURES / name).read_bytes()), "http://example.org/feed", base)


def test_rfc4287_minimal_example():
    [record], following = _parse("rfc4287-minimal.atom")
    assert following is None
    assert record.native_id == "urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a"
    assert record.url == "http://example.org/2003/12/13/atom03"  # a link with no rel is the alternate
    assert record.text == "Some text." and record.author == "John Doe"  # the feed's author applies
    assert record.created_at == "2003-12-13T18:30:02Z" and record.kind == "post"


def test_rfc4287_extensive_example_xhtml_content_and_non_image_enclosure():
    [record], _ = _parse("rfc4287-extensive.atom")
    assert record.native_id == "tag:example.org,2003:3.2397"
    assert "[Update: The Atom draft is finished.]" in record.text and "<i>" not in record.text
    assert record.author == "Mark Pilgrim" and record.created_at == "2003-12-13T08:29:29-04:00"
    assert record.media == ()  # audio enclosures are not images
    assert record.native["tag"] == rss.ATOM + "entry"


def test_rssboard_sample_items_without_title_or_link():
    records, following = _parse("rssboard-sample-rss-2.xml")
    assert following is None and len(records) == 4
    assert records[0].native_id == "http://liftoff.msfc.nasa.gov/2003/06/03.html#item573"
    assert records[0].url == "http://liftoff.msfc.nasa.gov/news/2003/news-starcity.asp"
    assert records[0].created_at == "2003-06-03T09:39:21Z"  # RFC 822 made sortable
    assert records[1].url == records[1].native_id  # no <link>: the permalink guid is the page
    assert "Star City</a>" in records[0].text and records[0].author == "Liftoff News"


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*") if p.suffix != ".md"))
def test_find_native_reextracts_every_fixture_entry(name):
    body = (FIXTURES / name).read_bytes()
    records, _ = rss.parse_feed(rss.decode_feed(body), "f", "http://example.org/")
    for record in records:
        assert find_native("rss", body, record.native_id) == record.native


@pytest.mark.parametrize("body, path", [
    (b'<feed xmlns="http://www.w3.org/2005/Atom"><entry><title>t</title><updated>2005-01-01T00:00:00Z</updated>'
     b"</entry></feed>", "feed/entry[0]/id: expected text, got nothing"),
    (b'<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>x</id><id>y</id></entry></feed>',
     "feed/entry[0]/updated: expected text"),
    (b"<rss><channel><item><title>t</title></item></channel></rss>",
     "rss/channel/item[0]/guid: expected a guid or a link, got neither"),
    (b"<rss><channel><item><guid>g</guid><title/><pubDate>yesterday</pubDate></item></channel></rss>",
     "rss/channel/item[0]/pubDate: expected an RFC 822 date"),
    (b"<rss version='2.0'/>", "rss/channel: expected an element"),
    (b"<rss><channel><item><guid>g</guid></item></channel></rss>",
     "rss/channel/item[0]/title: expected a title or a description, got neither"),
    (b"<html><body>login</body></html>", "response: expected an <rss> or Atom <feed> root, got <html>"),
])
def test_malformed_feeds_name_the_element_path(body, path):
    with pytest.raises(PayloadError, match=path.replace("[", r"\[").replace("]", r"\]").replace("<", "<")):
        rss.parse_feed(rss.decode_feed(body), "f", "http://example.org/")


@pytest.mark.parametrize("body", [
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
    b"<rss><channel><item><guid>&lol2;</guid></item></channel></rss>",  # billion laughs, shortened
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><rss>&x;</rss>',  # XXE
    b"<!doctype html><html><body>Please log in</body></html>",  # an HTML page is not XML
    b'<feed xmlns="http://www.w3.org/2005/Atom"><entry>',  # truncated
])
def test_hostile_or_broken_xml_is_refused_with_valueerror(body):
    with pytest.raises(ValueError):
        rss.decode_feed(body)
    assert find_native("rss", body, "anything") is None


_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\ufffe\uffff",
                              codec="utf-8").filter(lambda c: c in "\t\n\r" or ord(c) >= 0x20), max_size=40)


def _xml_text(value: str) -> str:
    return escape(value, {"\r": "&#13;"})


@settings(max_examples=60, deadline=None)
@given(entries=st.lists(st.tuples(_TEXT, _TEXT, st.booleans(), st.booleans()), max_size=5), atom=st.booleans(),
       extra=_TEXT)
def test_generated_feeds_roundtrip_text_ids_and_native(entries, atom, extra):
    """Any text survives; unknown extension elements and missing optional fields are accepted."""
    parts = []
    for index, (title, body, with_content, with_extension) in enumerate(entries):
        ext = f'<x:extra xmlns:x="urn:x" a={quoteattr(extra)}>{_xml_text(extra)}</x:extra>' if with_extension else ""
        if atom:
            content = f'<content type="text">{_xml_text(body)}</content>' if with_content else ""
            parts.append(f"<entry><id>urn:e:{index}</id><title>{_xml_text(title)}</title>"
                         f"<updated>2026-01-0{index + 1}T00:00:00Z</updated>{ext}{content}</entry>")
        else:
            description = f"<description>{_xml_text(body)}</description>" if with_content else ""
            parts.append(f"<item><title>{_xml_text(title)}</title><guid isPermaLink='false'>urn:e:{index}</guid>"
                         f"{ext}{description}</item>")
    if atom:
        doc = '<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>' + "".join(parts) + "</feed>"
    else:
        doc = "<rss version='2.0'><channel><title>t</title>" + "".join(parts) + "</channel></rss>"
    body = doc.encode("utf-8")
    records, _ = rss.parse_feed(rss.decode_feed(body), "f", "http://example.org/")
    assert [r.native_id for r in records] == [f"urn:e:{i}" for i in range(len(entries))]
    for record, (title, text, with_content, _) in zip(records, entries, strict=True):
        assert record.text == (text if with_content else title)
        assert find_native("rss", body, record.native_id) == record.native


def test_volatile_comment_counters_are_not_part_of_the_native_object():
    def feed(count: int, text: str) -> bytes:
        return (f'<rss xmlns:slash="http://purl.org/rss/1.0/modules/slash/"><channel><item><guid>g</guid>'
                f"<description>{text}</description><slash:comments>{count}</slash:comments></item></channel></rss>"
                ).encode()
    [one], _ = rss.parse_feed(rss.decode_feed(feed(1, "a")), "f", "http://e/")
    [two], _ = rss.parse_feed(rss.decode_feed(feed(9, "a")), "f", "http://e/")
    [edited], _ = rss.parse_feed(rss.decode_feed(feed(9, "b")), "f", "http://e/")
    assert one.native == two.native != edited.native


def test_next_link_rfc5005_in_atom_and_in_rss_channel():
    atom = (b'<feed xmlns="http://www.w3.org/2005/Atom"><link rel="self" href="/f"/>'
            b'<link rel="next" href="f?page=2"/></feed>')
    assert rss.parse_feed(rss.decode_feed(atom), "f", "http://e/news/f")[1] == "http://e/news/f?page=2"
    channel = (b'<rss xmlns:atom="http://www.w3.org/2005/Atom"><channel>'
               b'<atom:link rel="next" href="http://e/rss?p=3"/></channel></rss>')
    assert rss.parse_feed(rss.decode_feed(channel), "f", "http://e/")[1] == "http://e/rss?p=3"
