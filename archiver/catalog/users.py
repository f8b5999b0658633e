"""Clerk accounts in the catalog: role, argon2 hash (never a password), lockout state, session epoch.

The rules (hashing, lockout numbers, roles) are `archiver.users`'; this module only stores them.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from archiver.catalog.rows import Rows, Transaction


@dataclass(frozen=True)
class UserRow:
    username: str
    role: str
    password_hash: str
    disabled: bool
    failed_logins: int
    locked_until: str | None
    session_epoch: int
    created_at: str
    created_by: str
    password_changed_at: str
    last_login_at: str | None


def _user(row: sqlite3.Row) -> UserRow:
    return UserRow(row["username"], row["role"], row["password_hash"], bool(row["disabled"]), row["failed_logins"],
                   row["locked_until"], row["session_epoch"], row["created_at"], row["created_by"],
                   row["password_changed_at"], row["last_login_at"])


class UserRows(Rows):
    def user(self, username: str) -> UserRow | None:
        row = self.db.execute("SELECT * FROM users WHERE username = ?", (username,)).fetchone()
        return _user(row) if row else None

    def users(self) -> list[UserRow]:
        return [_user(row) for row in self.db.execute("SELECT * FROM users ORDER BY username")]

    def add_user(self, tx: Transaction, username: str, role: str, password_hash: str, at: str, by: str) -> None:
        tx.execute("INSERT INTO users(username, role, password_hash, created_at, created_by, password_changed_at)"
                   " VALUES (?, ?, ?, ?, ?, ?)", (username, role, password_hash, at, by, at))

    def set_password_hash(self, tx: Transaction, username: str, password_hash: str, at: str) -> None:
        """A new hash clears the lockout and ends every session signed in with the old password."""
        tx.execute("UPDATE users SET password_hash = ?, password_changed_at = ?, failed_logins = 0,"
                   " locked_until = NULL, session_epoch = session_epoch + 1 WHERE username = ?",
                   (password_hash, at, username))

    def rehash_password(self, tx: Transaction, username: str, password_hash: str) -> None:
        """The same password under stronger argon2 parameters (sessions stay valid)."""
        tx.execute("UPDATE users SET password_hash = ? WHERE username = ?", (password_hash, username))

    def set_disabled(self, tx: Transaction, username: str, disabled: bool) -> None:
        tx.execute("UPDATE users SET disabled = ?, session_epoch = session_epoch + 1 WHERE username = ?",
                   (int(disabled), username))

    def note_failed_login(self, tx: Transaction, username: str, failures: int, locked_until: str | None) -> None:
        tx.execute("UPDATE users SET failed_logins = ?, locked_until = ? WHERE username = ?",
                   (failures, locked_until, username))

    def note_login(self, tx: Transaction, username: str, at: str) -> None:
        tx.execute("UPDATE users SET failed_logins = 0, locked_until = NULL, last_login_at = ? WHERE username = ?",
                   (at, username))
