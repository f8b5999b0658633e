"""C2SP signed-note and tlog-checkpoint against Go's test vectors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from archiver.ledger import note
from archiver.ledger.note import NoteError

VECTORS = Path(__file__).resolve().parents[2] / "vectors"
DATA = json.loads((VECTORS / "tlog-vectors.json").read_text())
PETER, ENOCH, C2SP_EXAMPLE, BAD = DATA["signed_note"]


def test_signing_reproduces_go_signed_note_byte_for_byte():
    signer = note.parse_signer_key(PETER["skey"])
    assert signer.verifier().key() == PETER["vkey"]
    assert note.sign_note(PETER["text"], [signer]) == PETER["signed_note"]
    assert note.signer_key(signer) == PETER["skey"]


def test_open_with_either_key_of_a_doubly_signed_note():
    both = PETER["signed_note"] + ENOCH["signature_line"]
    peter, enoch = note.parse_verifier_key(PETER["vkey"]), note.parse_verifier_key(ENOCH["vkey"])
    opened = note.open_note(both, [peter])
    assert opened.text == PETER["text"]
    assert [s.name for s in opened.verified] == ["PeterNeumann"]
    assert [s.name for s in opened.unverified] == ["EnochRoot"]
    assert [s.name for s in note.open_note(both, [enoch]).verified] == ["EnochRoot"]
    assert len(note.open_note(both, [peter, enoch]).verified) == 2


def test_c2sp_example_note_verifies():
    opened = note.open_note(C2SP_EXAMPLE["signed_note"], [note.parse_verifier_key(C2SP_EXAMPLE["vkey"])])
    assert opened.text == "This is an example message.\n"


@pytest.mark.parametrize("vkey", BAD["bad_vkeys"])
def test_bad_verifier_keys_are_rejected(vkey: str):
    with pytest.raises(NoteError):
        note.parse_verifier_key(vkey)


def test_tampered_or_untrusted_notes_do_not_open():
    peter = note.parse_verifier_key(PETER["vkey"])
    tampered = PETER["signed_note"].replace("answer", "Answer")
    with pytest.raises(NoteError, match="invalid signature"):
        note.open_note(tampered, [peter])
    with pytest.raises(NoteError, match="no signature by a trusted key"):
        note.open_note(PETER["signed_note"], [note.parse_verifier_key(ENOCH["vkey"])])
    with pytest.raises(NoteError):
        note.open_note(PETER["text"], [peter])


def test_checkpoint_generated_here_opens_and_parses():
    vector = DATA["checkpoint_generated_here"]
    opened = note.open_note(vector["checkpoint"], [note.parse_verifier_key(vector["vkey"])])
    checkpoint = note.parse_checkpoint(opened.text)
    assert (checkpoint.origin, checkpoint.size) == ("PeterNeumann", 8)
    assert checkpoint.root.hex() == DATA["rfc6962_test_tree"]["roots_hex_by_size"]["8"]
    signer = note.parse_signer_key(PETER["skey"])
    body = note.format_checkpoint("PeterNeumann", 8, checkpoint.root)
    assert note.sign_note(body, [signer]) == vector["checkpoint"]


def test_generated_keys_round_trip():
    signer = note.generate_signer("example.org/log")
    again = note.parse_signer_key(note.signer_key(signer))
    assert again.verifier() == signer.verifier()
    assert note.parse_verifier_key(signer.verifier().key()) == signer.verifier()
    with pytest.raises(NoteError):
        note.generate_signer("bad name")


@pytest.mark.parametrize("body", ["o\n8\n", "o\n08\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n",
                                  "o\n8\nXcnaea==\n", "\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n",
                                  "o\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg="])
def test_malformed_checkpoints_are_rejected(body: str):
    with pytest.raises(NoteError):
        note.parse_checkpoint(body)
