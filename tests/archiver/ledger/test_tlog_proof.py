"""C2SP tlog-proof (archiver.ledger.proof): the spec's example parses, proofs round-trip, verify
at every index of trees of many sizes, and any flipped byte, wrong key or other entry is refused."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archiver.ledger import merkle
from archiver.ledger.note import format_checkpoint, generate_signer, sign_note
from archiver.ledger.proof import (
    HEADER,
    TlogProof,
    TlogProofError,
    capture_fields,
    format_tlog_proof,
    parse_tlog_proof,
    record_proof,
    verify_tlog_proof,
)

ORIGIN = "proof-test.example/log"
SIGNER = generate_signer(ORIGIN)
VERIFIERS = [SIGNER.verifier()]

# The example in c2sp.org/tlog-proof (signatures elided there, so it only parses).
SPEC_EXAMPLE = """c2sp.org/tlog-proof@v1
extra YWdlLXYxLjIuMS1kYXJ3aW4tYXJtNjQudGFyLmd6kYXJ3aW4tYXJ
index 73894
gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=
B95lDa8R83lS8n0eG+o0buTxRKQTYFi//1U8anccXmA=
EKNzoDWG8LGC0Yp9o+sv3qllpMP9uHQ9B20KNL+Q1zs=
RoopEkOdqkYqMB4MJXrbt/hMjOxsVn0IrWjpz1ZMMes=
AHCioX9nLjsrse6YhjRRmk1WUEirVOLLRoOQ6vfO5vk=

example.com/fancylog
109482
sFodV/vSp5O8n9a8QpW6PRY97tfOSW5bsc2Xl/EQi08=

— example.com/fancylog hI2DJw[...]1roloI=
"""


def make_log(size: int) -> tuple[list[bytes], merkle.MemoryHashReader, str]:
    entries = [f'{{"type":"capture","record_id":"r-{i}","version":1,"content_sha256":"{i:064x}"}}'.encode()
               for i in range(size)]
    hashes = merkle.MemoryHashReader([merkle.leaf_hash(e) for e in entries])
    root = merkle.tree_hash(size, hashes)
    return entries, hashes, sign_note(format_checkpoint(ORIGIN, size, root), [SIGNER])


def build(entries, hashes, checkpoint, index) -> TlogProof:
    return record_proof(lambda i, size: entries[i], lambda i, size: merkle.inclusion_proof(i, size, hashes),
                        checkpoint, index)


def test_the_spec_example_parses_and_formats_back_byte_for_byte() -> None:
    proof = parse_tlog_proof(SPEC_EXAMPLE)
    assert proof.index == 73894 and len(proof.hashes) == 5
    assert proof.extra is not None and proof.checkpoint.startswith("example.com/fancylog\n109482\n")
    assert format_tlog_proof(proof) == SPEC_EXAMPLE


@settings(max_examples=60, deadline=None)
@given(size=st.integers(1, 300), data=st.data())
def test_every_proof_round_trips_and_verifies(size: int, data) -> None:
    entries, hashes, checkpoint = make_log(size)
    index = data.draw(st.integers(0, size - 1))
    text = format_tlog_proof(build(entries, hashes, checkpoint, index))
    assert text.startswith(HEADER + "\nextra ")
    parsed = parse_tlog_proof(text)
    assert format_tlog_proof(parsed) == text
    opened = verify_tlog_proof(parsed, VERIFIERS, origin=ORIGIN)
    assert (opened.size, parsed.index, parsed.extra) == (size, index, entries[index])
    assert capture_fields(parsed.extra)["record_id"] == f"r-{index}"


@settings(max_examples=60, deadline=None)
@given(size=st.integers(2, 200), data=st.data())
def test_a_flipped_bit_in_a_proof_hash_or_the_entry_is_refused(size: int, data) -> None:
    entries, hashes, checkpoint = make_log(size)
    proof = build(entries, hashes, checkpoint, data.draw(st.integers(0, size - 1)))
    which = data.draw(st.integers(0, len(proof.hashes)))  # the last choice flips the entry instead
    bit = data.draw(st.integers(0, 7))
    if which < len(proof.hashes):
        altered = bytearray(proof.hashes[which])
        altered[data.draw(st.integers(0, 31))] ^= 1 << bit
        proof = TlogProof(proof.index, (*proof.hashes[:which], bytes(altered), *proof.hashes[which + 1:]),
                          proof.checkpoint, proof.extra)
    else:
        extra = bytearray(proof.extra)
        extra[data.draw(st.integers(0, len(extra) - 1))] ^= 1 << bit
        proof = TlogProof(proof.index, proof.hashes, proof.checkpoint, bytes(extra))
    with pytest.raises(TlogProofError, match="tlog-proof of entry"):
        verify_tlog_proof(parse_tlog_proof(format_tlog_proof(proof)), VERIFIERS)


def test_another_index_a_wrong_key_and_a_wrong_origin_are_refused() -> None:
    entries, hashes, checkpoint = make_log(40)
    proof = build(entries, hashes, checkpoint, 7)
    with pytest.raises(TlogProofError, match="tlog-proof of entry 8"):
        verify_tlog_proof(TlogProof(8, proof.hashes, proof.checkpoint, proof.extra), VERIFIERS)
    with pytest.raises(TlogProofError, match="no signature by a trusted key"):
        verify_tlog_proof(proof, [generate_signer(ORIGIN).verifier()])
    with pytest.raises(TlogProofError, match="not 'other.example/log'"):
        verify_tlog_proof(proof, VERIFIERS, origin="other.example/log")
    with pytest.raises(TlogProofError, match="tlog-proof of entry 7"):
        verify_tlog_proof(proof, VERIFIERS, entry=entries[8])


def test_an_index_beyond_the_checkpoint_has_no_proof() -> None:
    entries, hashes, checkpoint = make_log(5)
    with pytest.raises(ValueError, match="not in the signed checkpoint yet"):
        build(entries, hashes, checkpoint, 5)


@pytest.mark.parametrize(("text", "message"), [
    ("c2sp.org/tlog-proof@v2\nindex 0\n\ncp\n", "first line"),
    ("c2sp.org/tlog-proof@v1\nindex 01\n\ncp\n", "leading zeros"),
    ("c2sp.org/tlog-proof@v1\nindex -1\n\ncp\n", "leading zeros"),
    ("c2sp.org/tlog-proof@v1\nextra !!\nindex 0\n\ncp\n", "extra line is not valid base64"),
    ("c2sp.org/tlog-proof@v1\nextra AA==\n\ncp\n", "missing the 'index N' line"),
    ("c2sp.org/tlog-proof@v1\nindex 3\nAAAA\n\ncp\n", "proof hash 1 is not 32 bytes"),
    ("c2sp.org/tlog-proof@v1\nindex 3\n", "no empty line"),
    ("c2sp.org/tlog-proof@v1\nindex 3\n" + ("A" * 43 + "=\n") * 65 + "\ncp\n", "more than any tree needs"),
])
def test_malformed_proofs_name_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(TlogProofError, match=message):
        parse_tlog_proof(text)
