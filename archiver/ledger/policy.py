"""C2SP tlog-policy: which witnesses must cosign a checkpoint before it is the log's latest.

https://c2sp.org/tlog-policy. Lines (comments `#` and blank lines ignored, fields split on spaces
and tabs):

    log <vkey> [<url>]                  a log this policy accepts (ours must be one, if any are listed)
    witness <name> <vkey> [<url>]       a witness; the URL is its tlog-witness submission prefix
    group <name> all|any|<k> <name>...  met when k of its members are
    quorum <name>|none                  exactly one: what must be met

A group or the quorum names only witnesses and groups defined above it; each name is a member of
a group at most once. Parsing is pure; `evaluate` checks a signed checkpoint's cosignatures.
"""

from __future__ import annotations

from dataclasses import dataclass

from archiver.errors import SunshineError
from archiver.ledger.cosignature import CosignatureVerifier, parse_cosigner_key, split_note, verify_line
from archiver.ledger.note import NoteError, Verifier, parse_verifier_key

NONE = "none"
MAX_ITEMS = 32  # the spec recommends supporting at least 32 logs, witnesses and groups


class PolicyError(SunshineError):
    """The witness policy does not parse; the message names the source and the line."""


@dataclass(frozen=True)
class Witness:
    name: str
    verifier: CosignatureVerifier
    url: str | None


@dataclass(frozen=True)
class Group:
    name: str
    threshold: int
    members: tuple[str, ...]


@dataclass(frozen=True)
class Policy:
    logs: tuple[Verifier, ...]
    witnesses: tuple[Witness, ...]
    groups: tuple[Group, ...]
    quorum: str
    source: str = "witness policy"

    @property
    def needs_cosigning(self) -> bool:
        return self.quorum != NONE

    def met_by(self, cosigned: set[str]) -> bool:
        """Whether witnesses named in `cosigned` (policy names) meet the quorum."""
        return self._met(self.quorum, cosigned)

    def _met(self, name: str, cosigned: set[str]) -> bool:
        if name == NONE:
            return True
        group = next((g for g in self.groups if g.name == name), None)
        if group is None:
            return name in cosigned
        return sum(self._met(member, cosigned) for member in group.members) >= group.threshold

    def describe(self) -> str:
        """The quorum in words, for reports and the verify page."""
        return "no cosignatures required" if not self.needs_cosigning else self._words(self.quorum)

    def _words(self, name: str) -> str:
        group = next((g for g in self.groups if g.name == name), None)
        if group is None:
            return name
        inner = ", ".join(self._words(member) for member in group.members)
        return f"{group.threshold} of ({inner})"


def parse_policy(text: str, source: str = "witness policy") -> Policy:
    """A `Policy` from tlog-policy text; `PolicyError` naming `source` and the line otherwise."""
    logs: list[Verifier] = []
    witnesses: dict[str, Witness] = {}
    groups: dict[str, Group] = {}
    quorum: str | None = None
    used_as_member: set[str] = set()
    keys: set[bytes] = set()
    for number, raw in enumerate(text.split("\n"), 1):
        where = f"{source}, line {number}"
        if any(ord(ch) < 0x20 and ch not in "\t\r" or ord(ch) == 0x7F for ch in raw):
            raise PolicyError(f"{where}: control character (only tab and newline are allowed)")
        fields = raw.replace("\t", " ").rstrip("\r").split()
        if not fields or fields[0].startswith("#"):
            continue
        kind, args = fields[0], fields[1:]
        try:
            if kind == "log" and len(args) in (1, 2):
                log = parse_verifier_key(args[0])
                _unique(keys, log.public_key, where)
                logs.append(log)
            elif kind == "witness" and len(args) in (2, 3):
                name = args[0]
                _new_name(name, witnesses, groups, where)
                verifier = parse_cosigner_key(args[1])
                _unique(keys, verifier.public_key, where)
                witnesses[name] = Witness(name, verifier, args[2].rstrip("/") if len(args) == 3 else None)
            elif kind == "group" and len(args) >= 3:
                name, members = args[0], tuple(args[2:])
                _new_name(name, witnesses, groups, where)
                for member in members:
                    if member not in witnesses and member not in groups:
                        raise PolicyError(f"{where}: group member {member!r} is not defined above")
                    if member in used_as_member or members.count(member) > 1:
                        raise PolicyError(f"{where}: {member!r} is already a group member")
                used_as_member.update(members)
                groups[name] = Group(name, _threshold(args[1], len(members), where), members)
            elif kind == "quorum" and len(args) == 1:
                if quorum is not None:
                    raise PolicyError(f"{where}: a second quorum line (exactly one is allowed)")
                if args[0] != NONE and args[0] not in witnesses and args[0] not in groups:
                    raise PolicyError(f"{where}: quorum {args[0]!r} is not a witness or group defined above")
                quorum = args[0]
            else:
                raise PolicyError(f"{where}: expected `log <vkey> [url]`, `witness <name> <vkey> [url]`, "
                                  f"`group <name> all|any|<k> <name>...` or `quorum <name>`; got {raw.strip()[:80]!r}")
        except NoteError as exc:
            raise PolicyError(f"{where}: {exc}") from None
    if quorum is None:
        raise PolicyError(f"{source}: no `quorum` line (use `quorum none` to require no cosignatures)")
    if max(len(logs), len(witnesses), len(groups)) > MAX_ITEMS:
        raise PolicyError(f"{source}: more than {MAX_ITEMS} logs, witnesses or groups")
    return Policy(tuple(logs), tuple(witnesses.values()), tuple(groups.values()), quorum, source)


def _new_name(name: str, witnesses: dict, groups: dict, where: str) -> None:
    if name == NONE or name in witnesses or name in groups:
        raise PolicyError(f"{where}: the name {name!r} is reserved or already defined")


def _unique(keys: set[bytes], public_key: bytes, where: str) -> None:
    if public_key in keys:
        raise PolicyError(f"{where}: the same public key is listed twice")
    keys.add(public_key)


def _threshold(text: str, members: int, where: str) -> int:
    if text == "all":
        return members
    if text == "any":
        return 1
    if not text.isdigit() or (text.startswith("0")) or not 1 <= int(text) <= members:
        raise PolicyError(f"{where}: threshold {text!r} must be all, any or a number from 1 to {members}")
    return int(text)


@dataclass(frozen=True)
class Evaluation:
    """Which policy witnesses validly cosigned a checkpoint (name -> cosignature time), and the verdict."""

    cosigners: dict[str, int]
    met: bool


def evaluate(policy: Policy, message: str) -> Evaluation:
    """Check a signed checkpoint's cosignature lines against the policy (the log signature is
    checked elsewhere, with the log's key). Lines by unknown keys are ignored, as the spec says."""
    text, lines = split_note(message)
    cosigners: dict[str, int] = {}
    for witness in policy.witnesses:
        for line in lines:
            timestamp = verify_line(witness.verifier, text, line)
            if timestamp is not None:
                cosigners[witness.name] = max(timestamp, cosigners.get(witness.name, 0))
    return Evaluation(cosigners, policy.met_by(set(cosigners)))


def check_log_listed(policy: Policy, log_key: Verifier) -> None:
    """If the policy lists logs, this log's key must be one of them (else it is someone else's policy)."""
    if policy.logs and all(log.public_key != log_key.public_key or log.name != log_key.name
                           for log in policy.logs):
        raise PolicyError(f"{policy.source}: lists logs, but not this log's key {log_key.key()}")
