import subprocess
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from archiver.model import HttpExchange
from archiver.warc import WarcBatch, iter_records, read_exchange


def make_exchange(body: bytes, status: int = 200, reason: str = "OK") -> HttpExchange:
    return HttpExchange("http://127.0.0.1:1/xrpc/app.bsky.feed.getAuthorFeed?actor=a&cursor=x", "GET",
                        (("Accept", "application/json"), ("Authorization", "REDACTED")), status, reason,
                        (("Content-Type", "application/json"),) if status else (), body, "2026-01-02T03:04:05Z")


@settings(max_examples=40)
@given(st.lists(st.binary(max_size=2000), min_size=1, max_size=5))
def test_each_range_holds_exactly_its_exchange(bodies):
    batch = WarcBatch("t.warc.gz")
    ranges = [batch.add(make_exchange(body)) for body in bodies]
    data = batch.getvalue()
    for body, member in zip(bodies, ranges, strict=True):
        stored = read_exchange(data[member.offset:member.offset + member.length])
        assert stored.body == body
        assert stored.status == 200
        assert stored.warc_date == "2026-01-02T03:04:05Z"
    kinds = [record.rec_type for record in iter_records(data)]
    assert kinds == ["response", "request"] * len(bodies)


def test_batch_passes_warcio_check_including_a_failed_attempt(tmp_path):
    batch = WarcBatch("t.warc.gz")
    batch.add(make_exchange(b'{"feed": []}'))
    failed = batch.add(make_exchange(b"", status=0, reason="no response: ConnectionRefusedError"))
    batch.add(make_exchange(b"\x00\xff binary", status=500, reason="Internal Server Error"))
    path = tmp_path / "t.warc.gz"
    path.write_bytes(batch.getvalue())
    check = subprocess.run([sys.executable, "-m", "warcio.cli", "check", "-v", str(path)],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    member = batch.getvalue()[failed.offset:failed.offset + failed.length]
    assert [record.rec_type for record in iter_records(member)] == ["request"]


def test_warcio_check_catches_a_changed_byte(tmp_path):
    import gzip

    batch = WarcBatch("t.warc.gz")
    batch.add(make_exchange(b'{"text": "original words"}'))
    raw = gzip.decompress(batch.getvalue()).replace(b"original", b"0riginal")
    path = tmp_path / "t.warc.gz"
    path.write_bytes(gzip.compress(raw))
    check = subprocess.run([sys.executable, "-m", "warcio.cli", "check", str(path)], capture_output=True)
    assert check.returncode != 0
