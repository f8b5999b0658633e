"""Clerk accounts: roles, argon2 password hashes, lockout, and the audit of every clerk action.

Roles (DESIGN §3): a **clerk** searches, answers records requests, places and releases holds,
redacts and exports; a **records manager** does all that and approves disposition runs; an
**auditor** reads everything and changes nothing.

Passwords are never stored or logged: the catalog keeps only the argon2id hash (`argon2-cffi`'s
defaults, RFC 9106's second recommended parameter set), and a hash made under weaker parameters is
replaced at the next successful login. Lockout: `MAX_FAILURES` wrong passwords in a row lock the
account for `LOCKOUT_MINUTES`; while locked even the right password is refused (and not checked,
so a locked account tells a guesser nothing). An unknown name costs the same hashing time as a
known one, and the answer never says which of the two was wrong. Resetting a password or disabling
an account raises its session epoch, which ends every session signed in before.

Every clerk action is written to the audit trail (who, what, when, and from where: the client
address) and, unless it is only a sign-in, to the ledger as a `clerk` event, which carries who,
what and when but never the address (the ledger is public).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from archiver.catalog import Catalog, Transaction, UserRow
from archiver.clock import utc_now
from archiver.errors import SunshineError
from archiver.ledger_events import append_event

CLERK, RECORDS_MANAGER, AUDITOR = "clerk", "records-manager", "auditor"
ROLES = (CLERK, RECORDS_MANAGER, AUDITOR)
# What each role may change; an auditor may change nothing (reading needs only a sign-in).
PERMISSIONS: dict[str, frozenset[str]] = {
    CLERK: frozenset({"act"}),
    RECORDS_MANAGER: frozenset({"act", "approve-disposition"}),
    AUDITOR: frozenset(),
}
MAX_FAILURES = 5
LOCKOUT_MINUTES = 15
MIN_PASSWORD_CHARS = 12
MAX_PASSWORD_CHARS = 1024  # hashing cost grows with length: a megabyte "password" is an attack
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_HASHER = PasswordHasher()
# Checked against when the name is unknown, so both answers take the same time.
_DUMMY_HASH = _HASHER.hash("not a password of anyone: equalises timing")
_STAMP = "%Y-%m-%dT%H:%M:%SZ"


class LoginRefused(SunshineError):
    """Wrong name or password, a disabled or locked account: one message for all, on purpose."""

    def __init__(self) -> None:
        super().__init__("wrong user name or password, or the account is disabled or locked")


@dataclass(frozen=True)
class User:
    """A signed-in clerk as the pages see it (no hash)."""

    username: str
    role: str
    session_epoch: int

    def may(self, permission: str) -> bool:
        return permission in PERMISSIONS.get(self.role, frozenset())


def _public(row: UserRow) -> User:
    return User(row.username, row.role, row.session_epoch)


def check_username(username: str) -> str:
    if not _USERNAME.match(username):
        raise SunshineError(f"user name {username!r}: expected 1 to 64 lowercase letters, digits, '.', '_' "
                            "or '-', starting with a letter or digit")
    return username


def check_role(role: str) -> str:
    role = role.replace("_", "-")
    if role not in ROLES:
        raise SunshineError(f"role {role!r}: expected one of {', '.join(ROLES)}")
    return role


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_CHARS:
        raise SunshineError(f"password too short: at least {MIN_PASSWORD_CHARS} characters")
    if len(password) > MAX_PASSWORD_CHARS:
        raise SunshineError(f"password too long: at most {MAX_PASSWORD_CHARS} characters")
    return password


def hash_password(password: str) -> str:
    return _HASHER.hash(check_password(password))


def _user_or_fail(catalog: Catalog, username: str) -> UserRow:
    row = catalog.user(username)
    if row is None:
        raise SunshineError(f"no user {username!r} (see `sunshine users list`)")
    return row


def add_user(catalog: Catalog, username: str, role: str, password: str, by: str) -> User:
    """A new account; the action is audited and logged in the ledger."""
    check_username(username)
    role = check_role(role)
    digest = hash_password(password)
    if catalog.user(username) is not None:
        raise SunshineError(f"user {username!r} already exists (use `sunshine users reset-password`)")
    now = utc_now()
    with catalog.transaction() as tx:
        catalog.add_user(tx, username, role, digest, now, by)
        record_action(catalog, tx, by, "users.add", {"username": username, "role": role}, client=None, at=now)
    return User(username, role, 0)


def reset_password(catalog: Catalog, username: str, password: str, by: str) -> None:
    """A new password; it also unlocks the account and ends its sessions."""
    _user_or_fail(catalog, username)
    digest = hash_password(password)
    now = utc_now()
    with catalog.transaction() as tx:
        catalog.set_password_hash(tx, username, digest, now)
        record_action(catalog, tx, by, "users.reset-password", {"username": username}, client=None, at=now)


def set_disabled(catalog: Catalog, username: str, disabled: bool, by: str) -> None:
    """Disable (ending its sessions at once) or enable an account."""
    _user_or_fail(catalog, username)
    now = utc_now()
    with catalog.transaction() as tx:
        catalog.set_disabled(tx, username, disabled)
        record_action(catalog, tx, by, "users.disable" if disabled else "users.enable", {"username": username},
                      client=None, at=now)


def list_users(catalog: Catalog) -> list[UserRow]:
    return catalog.users()


def _locked(row: UserRow, now: datetime) -> bool:
    return row.locked_until is not None and datetime.strptime(row.locked_until, _STAMP).replace(tzinfo=UTC) > now


def authenticate(catalog: Catalog, username: str, password: str, client: str | None,
                 now: datetime | None = None) -> User:
    """The user if the password is right and the account usable, else `LoginRefused`.

    Each attempt is audited with the client address (`clerk.login`, `clerk.login-refused` with the
    reason, which only the audit trail sees). The `MAX_FAILURES`-th wrong password in a row locks
    the account for `LOCKOUT_MINUTES`; a failure after a lock has run out starts the count again.
    """
    now = now or datetime.now(UTC)
    stamp = now.strftime(_STAMP)
    row = catalog.user(username) if _USERNAME.match(username or "") else None
    if row is None or len(password) > MAX_PASSWORD_CHARS:
        _verify(_DUMMY_HASH, password[:MAX_PASSWORD_CHARS])
        _refuse(catalog, username, client, stamp, "unknown user" if row is None else "password too long")
    if row.disabled:
        _verify(_DUMMY_HASH, password)
        _refuse(catalog, username, client, stamp, "account disabled")
    if _locked(row, now):
        _refuse(catalog, username, client, stamp, f"account locked until {row.locked_until}")
    if not _verify(row.password_hash, password):
        failures = 1 if row.locked_until is not None else row.failed_logins + 1
        locked_until = (now + timedelta(minutes=LOCKOUT_MINUTES)).strftime(_STAMP) if failures >= MAX_FAILURES else None
        with catalog.transaction() as tx:
            catalog.note_failed_login(tx, username, failures, locked_until)
            catalog.audit(tx, stamp, username, "clerk.login-refused",
                          {"reason": "wrong password", "failures": failures, "client": client,
                           **({"locked_until": locked_until} if locked_until else {})})
        raise LoginRefused()
    with catalog.transaction() as tx:
        catalog.note_login(tx, username, stamp)
        if _HASHER.check_needs_rehash(row.password_hash):
            catalog.rehash_password(tx, username, _HASHER.hash(password))
        catalog.audit(tx, stamp, username, "clerk.login", {"client": client, "role": row.role})
    return _public(row)


def _verify(digest: str, password: str) -> bool:
    try:
        return _HASHER.verify(digest, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _refuse(catalog: Catalog, username: str, client: str | None, stamp: str, reason: str):
    with catalog.transaction() as tx:
        catalog.audit(tx, stamp, username[:64], "clerk.login-refused", {"reason": reason, "client": client})
    raise LoginRefused()


def session_user(catalog: Catalog, username: str, session_epoch: int) -> User | None:
    """The user a session belongs to, if the account is still enabled and the session not ended."""
    row = catalog.user(username)
    if row is None or row.disabled or row.session_epoch != session_epoch:
        return None
    return _public(row)


def record_action(catalog: Catalog, tx: Transaction, who: str, action: str, details: dict[str, Any], *,
                  client: str | None, at: str | None = None, ledger: bool = True) -> int | None:
    """Audit one clerk action (who, what, when, from where) inside the caller's transaction and,
    with `ledger`, log it as a `clerk` ledger event (who, what, when: never the address). The
    ledger index, if logged; publish it afterwards (`LedgerPublisher.checkpoint`)."""
    at = at or utc_now()
    index = None
    if ledger:
        index = append_event(tx, "clerk", {"action": action, "by": who, "at": at, **details})
    catalog.audit(tx, at, who, f"clerk.{action}",
                  {**details, "client": client, **({"ledger_index": index} if index is not None else {})})
    return index
