"""A small real archive for the portal tests: a `LocalStore` with canonical JSON blobs and gzip WARC
members written with warcio, and a `SqliteIndex` filled with the matching `RecordDoc`s.

`ArchiveBuilder` writes what the archiver would: per version, the canonical native JSON under
`blob_key(content_sha256)` and the HTTP exchange (request + response members) in a WARC file whose
byte range is the version's `warc_ref`. A deleted version's `content_sha256` is the digest of a
canonical tombstone object that is stored too.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from archiver.canonical import canonical_json, sha256_hex
from archiver.config import load_config
from archiver.model import RecordDoc, make_record_id
from archiver.store.keys import blob_key, warc_key
from archiver.store.local import LocalStore

DEPARTMENT = "Springfield Police Department"
HOSTILE = "<script>alert('owned')</script> thanks for the arrest update & <b>bold</b>"
RTL = "\u202egnirts desrever\u202c after override"


@dataclass
class Exchange:
    url: str
    body: bytes
    content_type: str = "application/json; charset=utf-8"
    status: int = 200


@dataclass
class ArchiveBuilder:
    root: Path
    store: LocalStore = field(init=False)
    docs: list[RecordDoc] = field(default_factory=list)
    _warc: io.BytesIO = field(default_factory=io.BytesIO)
    _warc_key: str = warc_key("run-1", "test", 1)
    _ledger: int = 0
    exchanges: dict[tuple[str, int], Exchange] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.store = LocalStore(self.root / "store")

    def _write_exchange(self, exchange: Exchange, when: str) -> dict[str, Any]:
        writer = WARCWriter(self._warc, gzip=True)
        offset = self._warc.tell()
        request_headers = StatusAndHeaders("GET / HTTP/1.1", [("Host", "api.example"), ("Accept", "*/*")],
                                           is_http_request=True)
        reason = "OK" if exchange.status == 200 else "Not Found"
        response_headers = StatusAndHeaders(
            f"{exchange.status} {reason}",
            [("Content-Type", exchange.content_type), ("Content-Length", str(len(exchange.body)))],
            protocol="HTTP/1.1")
        date = {"WARC-Date": when}
        writer.write_record(writer.create_warc_record(
            exchange.url, "request", payload=io.BytesIO(b""), http_headers=request_headers,
            warc_headers_dict=date))
        writer.write_record(writer.create_warc_record(
            exchange.url, "response", payload=io.BytesIO(exchange.body), http_headers=response_headers,
            warc_headers_dict=date))
        return {"key": self._warc_key, "offset": offset, "length": self._warc.tell() - offset}

    def add(self, native_id: str, texts: list[str], *, platform: str = "bluesky", account: str = "spd",
            kind: str = "post", author: str = "Springfield PD", author_is_department: bool = True,
            created_at: str = "2026-03-01T10:00:00Z", parent_id: str | None = None,
            thread_id: str | None = None, statuses: list[str] | None = None,
            media: tuple[dict[str, Any], ...] = ()) -> RecordDoc:
        """A record with one version per text; `statuses` defaults to active then edited."""
        record_id = make_record_id(platform, native_id)
        statuses = statuses or ["active"] + ["edited"] * (len(texts) - 1)
        versions = []
        last_text = ""
        for number, (text, status) in enumerate(zip(texts, statuses, strict=True), start=1):
            when = f"2026-03-{number + 1:02d}T12:00:00Z"
            url = f"https://api.example/{platform}/{native_id}?v={number}"
            if status == "deleted":
                native = {"deleted": True, "native_id": native_id, "platform": platform}
                exchange = Exchange(url, b'{"error":"not found"}', status=404)
                text = ""
            else:
                native = {"id": native_id, "text": text, "author": author, "rev": number}
                # The page as the platform sent it (not canonical): the object sits inside it.
                exchange = Exchange(url, b'{"data": [' + canonical_json(native) + b'], "meta": {"page": 1}}')
                last_text = text
            blob = canonical_json(native)
            sha256 = sha256_hex(blob)
            self.store.put(blob_key(sha256), blob)
            ref = self._write_exchange(exchange, when)
            self.exchanges[(record_id, number)] = exchange
            versions.append({"version": number, "captured_at": when, "status": status,
                             "content_sha256": sha256, "warc_ref": ref, "ledger_index": self._ledger,
                             "text": text})
            self._ledger += 1
        doc = RecordDoc(
            record_id=record_id, platform=platform, account=account, kind=kind, native_id=native_id,
            url=f"https://{platform}.example/{native_id}", author=author,
            author_is_department=author_is_department, created_at=created_at, text=last_text,
            parent_id=parent_id, thread_id=thread_id or record_id, status=versions[-1]["status"],
            sha256=versions[-1]["content_sha256"], ledger_index=versions[-1]["ledger_index"],
            media=media, versions=tuple(versions))
        self.docs.append(doc)
        return doc

    def finish(self) -> None:
        self.store.put(self._warc_key, self._warc.getvalue())


def open_sqlite_index(path: Path):
    from indexer.sqlite_fts import SqliteIndex

    return SqliteIndex(path)


def build_standard(builder: ArchiveBuilder) -> dict[str, RecordDoc]:
    """The archive most tests read: a thread with edits, hostile replies, deletions, many posts."""
    post = builder.add("3kparade", ["Road closure on Main Street tonight for the parade",
                                    "Road closure on Main Street tonight for the holiday parade"],
                       created_at="2026-03-10T09:00:00Z")
    hostile = builder.add("3kreply1", [HOSTILE], kind="reply", author="resident <img src=x>",
                          author_is_department=False, parent_id=post.record_id, thread_id=post.record_id,
                          created_at="2026-03-10T10:00:00Z", account="spd")
    rtl = builder.add("3kreply2", [RTL, ""], kind="reply", author="\u202eevil",
                      author_is_department=False, parent_id=hostile.record_id, thread_id=post.record_id,
                      created_at="2026-03-10T11:00:00Z", statuses=["active", "deleted"])
    hidden = builder.add("3kreply3", ["buy cheap parade tickets", "buy cheap parade tickets"],
                         kind="reply", author="spammer", author_is_department=False,
                         parent_id=post.record_id, thread_id=post.record_id,
                         created_at="2026-03-10T12:00:00Z", statuses=["active", "hidden"])
    meeting = builder.add("109876", ["Community meeting on Thursday about the arrest statistics"],
                          platform="mastodon", account="spd@police.example",
                          created_at="2026-04-02T18:00:00Z",
                          media=({"url": "javascript:alert(1)", "sha256": "ab" * 32, "mime": "image/png"},))
    for number in range(25):
        builder.add(f"bulletin-{number}", [f"Weekly bulletin number {number} about traffic safety"],
                    platform="rss", account="https://police.example/feed",
                    created_at=f"2026-02-{number + 1:02d}T08:00:00Z")
    big = builder.add("bigpost", ["big " + "lorem ipsum " * 90_000], platform="facebook", account="123")
    return {"post": post, "hostile": hostile, "rtl": rtl, "hidden": hidden, "meeting": meeting, "big": big}


@dataclass
class Archive:
    root: Path
    config_path: Path
    builder: ArchiveBuilder
    records: dict[str, RecordDoc]


def write_config(root: Path) -> Path:
    path = root / "sunshine.toml"
    path.write_text(f'[department]\nname = "{DEPARTMENT}"\n[storage]\npath = "store"\n'
                    f'[search]\npath = "search.sqlite"\n', encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Archive]:
    root = tmp_path_factory.mktemp("archive")
    builder = ArchiveBuilder(root)
    records = build_standard(builder)
    builder.finish()
    index = open_sqlite_index(root / "search.sqlite")
    index.rebuild(builder.docs)
    index.close()
    yield Archive(root, write_config(root), builder, records)


@pytest.fixture(scope="session")
def app(archive: Archive):
    from portal import create_app

    return create_app(load_config(archive.config_path), settings={"RATE_LIMIT_PER_MINUTE": 0})


@pytest.fixture()
def client(app):
    return app.test_client()
