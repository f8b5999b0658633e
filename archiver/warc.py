"""WARC files: every HTTP exchange kept byte-for-byte (warcio), one gzip member per WARC record.

A batch of exchanges becomes one WARC object in the store. Each exchange is a response record
followed by its request record (linked by WARC-Concurrent-To); a version's `warc_ref` is the byte
range of that pair, so the portal and auditors can fetch and parse exactly one exchange with a
range read. warcio computes the standard WARC-Block-Digest and WARC-Payload-Digest as it writes;
we have it use SHA-256 (labelled `sha256:<BASE32>`, as WARC 1.1 §5.8/5.9 allow and warcio's checker
and cdxj-indexer read) instead of its default SHA-1, which is broken for collisions and should not
vouch for evidence meant to last decades. WARC files written earlier carry SHA-1 digests; every
reader takes either, because the label names the algorithm.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.utils import Digester
from warcio.warcwriter import WARCWriter

from archiver.model import HttpExchange

SOFTWARE = "Sunshine archiver (warcio)"


DIGEST_ALGORITHM = "sha256"


class _Sha256WarcWriter(WARCWriter):
    """warcio's writer with SHA-256 block and payload digests (its digest hook is this one method)."""

    @staticmethod
    def _create_digester() -> Digester:
        return Digester(DIGEST_ALGORITHM)


@dataclass(frozen=True)
class MemberRange:
    offset: int
    length: int


class WarcBatch:
    """An in-memory gzip WARC file being built for one store object."""

    def __init__(self, filename: str, *, record_id=lambda: f"<urn:uuid:{uuid.uuid4()}>") -> None:
        self.buffer = io.BytesIO()
        self.writer = _Sha256WarcWriter(self.buffer, gzip=True, warc_version="1.1")
        self.record_id = record_id
        self.exchanges = 0
        info = self.writer.create_warcinfo_record(filename, {"software": SOFTWARE, "format": "WARC File Format 1.1"})
        self.writer.write_record(info)

    @property
    def size(self) -> int:
        return self.buffer.tell()

    def add(self, exchange: HttpExchange) -> MemberRange:
        """Append the response and request records of `exchange`; return their byte range."""
        start = self.buffer.tell()
        response_id = self.record_id()
        date = exchange.fetched_at
        if exchange.status == 0:  # no response at all (connection refused, timeout): keep the attempt
            self._write_failed_attempt(exchange, response_id)
            self.exchanges += 1
            return MemberRange(start, self.buffer.tell() - start)
        http_headers = StatusAndHeaders(
            f"{exchange.status} {exchange.reason}".strip(), list(exchange.response_headers), protocol="HTTP/1.1"
        )
        response = self.writer.create_warc_record(
            exchange.url, "response", payload=io.BytesIO(exchange.body), http_headers=http_headers,
            warc_headers_dict={"WARC-Date": date, "WARC-Record-ID": response_id},
        )
        self.writer.write_record(response)
        self._write_request(exchange, response_id)
        self.exchanges += 1
        return MemberRange(start, self.buffer.tell() - start)

    def _write_request(self, exchange: HttpExchange, concurrent_to: str) -> None:
        path = _request_target(exchange.url)
        request_headers = StatusAndHeaders(f"{exchange.method} {path} HTTP/1.1", list(exchange.request_headers),
                                           is_http_request=True)
        request = self.writer.create_warc_record(
            exchange.url, "request", payload=io.BytesIO(b""), http_headers=request_headers,
            warc_headers_dict={"WARC-Date": exchange.fetched_at, "WARC-Record-ID": self.record_id(),
                               "WARC-Concurrent-To": concurrent_to},
        )
        self.writer.write_record(request)

    def _write_failed_attempt(self, exchange: HttpExchange, record_id: str) -> None:
        """A request that got no response: a WARC metadata record saying why, then the request."""
        note = f"no HTTP response: {exchange.reason}\n".encode("utf-8", "backslashreplace")
        metadata = self.writer.create_warc_record(
            exchange.url, "metadata", payload=io.BytesIO(note),
            warc_headers_dict={"WARC-Date": exchange.fetched_at, "WARC-Record-ID": record_id,
                               "Content-Type": "text/plain; charset=utf-8"},
        )
        self.writer.write_record(metadata)
        self._write_request(exchange, record_id)

    def getvalue(self) -> bytes:
        return self.buffer.getvalue()


def _request_target(url: str) -> str:
    after_scheme = url.split("://", 1)[-1]
    slash = after_scheme.find("/")
    return after_scheme[slash:] if slash >= 0 else "/"


@dataclass(frozen=True)
class StoredExchange:
    rec_type: str
    url: str
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    warc_date: str


def read_exchange(member_bytes: bytes) -> StoredExchange:
    """Parse the response record at the start of a `warc_ref` byte range (what the portal serves)."""
    for record in iter_records(member_bytes):
        if record.rec_type == "response":
            return record
    raise ValueError("no WARC response record in that range")


def iter_records(warc_bytes: bytes) -> Iterator[StoredExchange]:
    for record in ArchiveIterator(io.BytesIO(warc_bytes)):
        if record.rec_type not in ("response", "request"):
            continue
        body = record.raw_stream.read()  # the payload exactly as sent, no transfer/content decoding
        http = record.http_headers
        status = int(http.get_statuscode()) if record.rec_type == "response" and http else 0
        yield StoredExchange(
            rec_type=record.rec_type,
            url=record.rec_headers.get_header("WARC-Target-URI"),
            status=status,
            headers=list(http.headers) if http else [],
            body=body,
            warc_date=record.rec_headers.get_header("WARC-Date"),
        )
