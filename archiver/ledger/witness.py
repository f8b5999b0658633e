"""The C2SP tlog-witness client: ask each witness to cosign a checkpoint (`add-checkpoint`).

https://c2sp.org/tlog-witness. Request body: `old <size>\\n`, the consistency proof from that size
(one base64 hash a line), a blank line, then the signed checkpoint. The answers:

* 200: cosignature lines; only those that verify with the policy's key for that witness are kept;
* 409 (`text/x.tlog.size`): the witness's latest size differs from `old`. If it is smaller than
  ours we retry once from it, with the proof from that size; if it is ours (the same size with
  another root) or larger, the witness has seen a history we did not sign: a fork, reported;
* 404: the witness does not know this log (not registered); 403: no signature verified with
  the key it has for this log (some witnesses, litewitness among them, answer 403 for both);
* 422: the consistency proof failed: the witness's view of the log is not ours (a fork).

The client never raises for a witness's answer: each witness gets a `WitnessResult` saying what
happened, so a policy may still be met by the others.
"""

from __future__ import annotations

import base64
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

from archiver.ledger.cosignature import split_note, verify_line
from archiver.ledger.note import peek_checkpoint
from archiver.ledger.policy import Policy, Witness

TIMEOUT = 10.0
MAX_PROOF_LINES = 63
SIZE_CONTENT_TYPE = "text/x.tlog.size"

ProofSource = Callable[[int, int], list[bytes]]  # (old, new) -> consistency proof hashes


@dataclass(frozen=True)
class WitnessResult:
    """One witness's answer: `lines` (valid cosignatures) or `problem` (why not); `fork` if it saw
    a history other than ours."""

    name: str
    lines: tuple[str, ...] = ()
    problem: str | None = None
    fork: bool = False
    witness_size: int | None = None


class _Conflict(Exception):
    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


class _Refused(Exception):
    def __init__(self, status: int, body: str) -> None:
        super().__init__(status)
        self.status, self.body = status, body


def request_body(old: int, proof: list[bytes], checkpoint_note: str) -> bytes:
    """The add-checkpoint body: old size line, proof lines, blank line, signed checkpoint."""
    if len(proof) > MAX_PROOF_LINES:
        raise ValueError(f"a consistency proof of {len(proof)} hashes is over the spec's {MAX_PROOF_LINES}")
    lines = [f"old {old}\n", *(base64.b64encode(h).decode() + "\n" for h in proof), "\n"]
    return ("".join(lines) + checkpoint_note).encode()


def _post(url: str, body: bytes, timeout: float) -> str:
    request = urllib.request.Request(f"{url}/add-checkpoint", data=body, method="POST",
                                     headers={"Content-Type": "text/plain; charset=utf-8"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.read(64 * 1024).decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        text = exc.read(4096).decode("utf-8", "replace")
        if exc.code == 409:
            first = text.strip().split("\n")[0] if text.strip() else ""
            if first.isdigit():
                raise _Conflict(int(first)) from None
        raise _Refused(exc.code, text.strip()[:200]) from None


def cosign_with(witness: Witness, checkpoint_note: str, old: int, proofs: ProofSource,
                *, timeout: float = TIMEOUT) -> WitnessResult:
    """Ask one witness to cosign `checkpoint_note`, starting from its last known size `old`."""
    name = witness.name
    if not witness.url:
        return WitnessResult(name, problem=f"witness {name} has no URL in the policy, so it cannot be asked")
    size = peek_checkpoint(checkpoint_note).size
    tried: set[int] = set()
    old = min(old, size)
    while True:
        tried.add(old)
        proof = proofs(old, size) if 0 < old < size else []
        try:
            answer = _post(witness.url, request_body(old, proof, checkpoint_note), timeout)
        except _Conflict as conflict:
            if conflict.size > size:
                return WitnessResult(name, fork=True, witness_size=conflict.size, problem=(
                    f"witness {name} has already cosigned size {conflict.size} of this log, larger than "
                    f"this checkpoint ({size}): it was shown a history this archive does not have (a fork), "
                    "or this log was rolled back"))
            if conflict.size in tried:
                return WitnessResult(name, fork=True, witness_size=conflict.size, problem=(
                    f"witness {name} refused: it holds another checkpoint of size {conflict.size} of this "
                    "log (a fork: two different histories were signed)"))
            old = conflict.size
            continue
        except _Refused as refused:
            return _refusal(name, refused, old, size)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            return WitnessResult(name, problem=f"witness {name} at {witness.url} is unreachable ({reason})")
        return _accepted(witness, checkpoint_note, answer, old)


def _refusal(name: str, refused: _Refused, old: int, size: int) -> WitnessResult:
    status, body = refused.status, refused.body
    if status == 422:
        return WitnessResult(name, fork=True, witness_size=old, problem=(
            f"witness {name} refused: this checkpoint (size {size}) is not consistent with the one of size "
            f"{old} it cosigned before (a fork: it saw another history of this log)"))
    if status == 404 or (status == 403 and "unknown log" in body):
        return WitnessResult(name, problem=f"witness {name} does not know this log (404): register the "
                                           "log's origin and key with its operator")
    if status == 403:
        return WitnessResult(name, problem=f"witness {name} refused the log's signature (403: {body}); "
                                           "it does not have this log's current key, or not this log at all")
    return WitnessResult(name, problem=f"witness {name} answered HTTP {status}: {body}")


def _accepted(witness: Witness, checkpoint_note: str, answer: str, old: int) -> WitnessResult:
    text, _ = split_note(checkpoint_note)
    lines = [line + "\n" for line in answer.split("\n") if line]
    valid = tuple(line for line in lines if verify_line(witness.verifier, text, line) is not None)
    if not valid:
        return WitnessResult(witness.name, witness_size=old, problem=(
            f"witness {witness.name} answered without a cosignature that verifies with its key in the policy"))
    return WitnessResult(witness.name, lines=valid)


def cosign_all(policy: Policy, checkpoint_note: str, last_sizes: Callable[[Witness], int],
               proofs: ProofSource, *, timeout: float = TIMEOUT) -> list[WitnessResult]:
    """Ask every witness in the policy, in order; `last_sizes` guesses where each one stands."""
    return [cosign_with(witness, checkpoint_note, last_sizes(witness), proofs, timeout=timeout)
            for witness in policy.witnesses]
