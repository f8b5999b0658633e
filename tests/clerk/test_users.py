"""Clerk accounts (`archiver.users`, `sunshine users`): argon2 hashes, lockout numbers, roles."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from archiver.catalog import Catalog
from archiver.errors import SunshineError
from archiver.users import (
    LOCKOUT_MINUTES,
    MAX_FAILURES,
    LoginRefused,
    add_user,
    authenticate,
    check_role,
    reset_password,
)
from tests.clerk.conftest import sunshine

PASSWORD = "a long enough password"


@pytest.fixture
def catalog(tmp_path: Path):
    with Catalog(tmp_path / "catalog.sqlite") as opened:
        yield opened


def test_lockout_lasts_its_documented_minutes_then_the_right_password_works(catalog) -> None:
    add_user(catalog, "clara", "clerk", PASSWORD, "admin")
    start = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    for attempt in range(MAX_FAILURES):
        with pytest.raises(LoginRefused):
            authenticate(catalog, "clara", f"wrong {attempt}", "10.0.0.9", now=start)
    assert catalog.user("clara").locked_until == (start + timedelta(minutes=LOCKOUT_MINUTES)).strftime("%Y-%m-%dT%H:%M:%SZ")
    with pytest.raises(LoginRefused):  # locked: even the right password
        authenticate(catalog, "clara", PASSWORD, "10.0.0.9", now=start + timedelta(minutes=LOCKOUT_MINUTES - 1))
    user = authenticate(catalog, "clara", PASSWORD, "10.0.0.9", now=start + timedelta(minutes=LOCKOUT_MINUTES, seconds=1))
    assert user.username == "clara" and catalog.user("clara").failed_logins == 0


def test_fewer_failures_than_the_limit_do_not_lock_and_a_success_resets_the_count(catalog) -> None:
    add_user(catalog, "clara", "clerk", PASSWORD, "admin")
    for _ in range(2):
        for attempt in range(MAX_FAILURES - 1):
            with pytest.raises(LoginRefused):
                authenticate(catalog, "clara", f"wrong {attempt}", None)
        authenticate(catalog, "clara", PASSWORD, None)
    assert catalog.user("clara").locked_until is None


def test_accounts_refuse_bad_names_roles_short_passwords_and_duplicates(catalog) -> None:
    with pytest.raises(SunshineError, match="user name"):
        add_user(catalog, "Clara Smith", "clerk", PASSWORD, "admin")
    with pytest.raises(SunshineError, match="role"):
        check_role("admin")
    with pytest.raises(SunshineError, match="at least 12"):
        add_user(catalog, "clara", "clerk", "short", "admin")
    add_user(catalog, "clara", "records_manager", PASSWORD, "admin")
    assert catalog.user("clara").role == "records-manager"
    with pytest.raises(SunshineError, match="already exists"):
        add_user(catalog, "clara", "clerk", PASSWORD, "admin")
    with pytest.raises(SunshineError, match="no user"):
        reset_password(catalog, "nobody", PASSWORD, "admin")


def test_users_cli_reads_the_password_from_stdin_and_never_prints_a_hash(tmp_path: Path) -> None:
    config = tmp_path / "sunshine.toml"
    config.write_text('[department]\nname = "Springfield"\n')
    added = sunshine("users", "add", "manny", "--role", "records-manager", "--password-stdin", "-c", str(config),
                     stdin=PASSWORD + "\n")
    assert added.returncode == 0, added.stderr
    short = sunshine("users", "add", "bob", "--role", "auditor", "--password-stdin", "-c", str(config), stdin="x\n")
    assert short.returncode == 2 and "at least 12 characters" in short.stderr and "Traceback" not in short.stderr
    listed = sunshine("users", "list", "--json", "-c", str(config))
    assert json.loads(listed.stdout)[0]["username"] == "manny" and "$argon2" not in listed.stdout
    assert PASSWORD not in added.stdout + added.stderr + listed.stdout
    assert sunshine("users", "disable", "manny", "-c", str(config)).returncode == 0
    assert "disabled" in sunshine("users", "list", "-c", str(config)).stdout
