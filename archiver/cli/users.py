"""`sunshine users add|disable|enable|reset-password|list`: clerk accounts (DESIGN §3).

A password is typed at a hidden prompt (twice) or read from standard input with
`--password-stdin` (scripts, tests); it never appears on the command line, where `ps` and the
shell history would show it, and is never printed.
"""

from __future__ import annotations

import json
import sys

import click

from archiver.catalog import Catalog
from archiver.cli.options import actor as _actor
from archiver.cli.options import config_option
from archiver.config import load_config
from archiver.publish import LedgerPublisher
from archiver.users import ROLES

_stdin_option = click.option("--password-stdin", is_flag=True,
                             help="Read the password from the first line of standard input instead of a prompt.")
_by_option = click.option("--by", default=None, help="Who makes the change (default: the current user).")


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("password", hide_input=True, confirmation_prompt=True)


def _with_catalog(config_path, action) -> None:
    """Run `action(catalog)` on the configured catalog, then publish the ledger events it logged."""
    config = load_config(config_path)
    catalog = Catalog(config.catalog_path)
    try:
        action(catalog)
        if catalog.unpublished_ledger()[1]:
            from archiver.run import open_archive_store

            LedgerPublisher(catalog, open_archive_store(config), config).checkpoint()
    finally:
        catalog.close()


@click.group()
def users() -> None:
    """Clerk accounts for the clerk pages (`sunshine serve-clerk`).

    Roles: clerk (search, requests, holds, redactions, packages), records-manager (a clerk who also
    approves disposition runs), auditor (reads everything, changes nothing). Passwords are stored
    only as argon2 hashes; 5 wrong passwords in a row lock an account for 15 minutes.
    """


@users.command("add")
@config_option
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), required=True, help="What the account may do.")
@_stdin_option
@_by_option
def users_add(config_path, username, role, password_stdin, by) -> None:
    """Add an account."""
    from archiver.users import add_user

    password = _password(password_stdin)
    _with_catalog(config_path, lambda catalog: add_user(catalog, username, role, password, _actor(by)))
    click.echo(f"{username}: added ({role})")


@users.command("reset-password")
@config_option
@click.argument("username")
@_stdin_option
@_by_option
def users_reset(config_path, username, password_stdin, by) -> None:
    """Set a new password; this also unlocks the account and signs out its sessions."""
    from archiver.users import reset_password

    password = _password(password_stdin)
    _with_catalog(config_path, lambda catalog: reset_password(catalog, username, password, _actor(by)))
    click.echo(f"{username}: password reset")


@users.command("disable")
@config_option
@click.argument("username")
@_by_option
def users_disable(config_path, username, by) -> None:
    """Disable an account (its sessions end at once; its history stays)."""
    from archiver.users import set_disabled

    _with_catalog(config_path, lambda catalog: set_disabled(catalog, username, True, _actor(by)))
    click.echo(f"{username}: disabled")


@users.command("enable")
@config_option
@click.argument("username")
@_by_option
def users_enable(config_path, username, by) -> None:
    """Enable a disabled account again."""
    from archiver.users import set_disabled

    _with_catalog(config_path, lambda catalog: set_disabled(catalog, username, False, _actor(by)))
    click.echo(f"{username}: enabled")


@users.command("list")
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print the accounts as JSON.")
def users_list(config_path, as_json) -> None:
    """List accounts (never their hashes)."""
    from archiver.users import list_users

    config = load_config(config_path)
    with Catalog(config.catalog_path) as catalog:
        rows = list_users(catalog)
    shown = [{"username": row.username, "role": row.role, "disabled": row.disabled,
              "locked_until": row.locked_until, "failed_logins": row.failed_logins,
              "created_at": row.created_at, "last_login_at": row.last_login_at} for row in rows]
    if as_json:
        click.echo(json.dumps(shown, indent=2))
        return
    if not shown:
        click.echo("no users (add one with `sunshine users add NAME --role clerk`)")
    for user in shown:
        state = "disabled" if user["disabled"] else (f"locked until {user['locked_until']}"
                                                     if user["locked_until"] else "active")
        click.echo(f"{user['username']}  {user['role']}  {state}  last login {user['last_login_at'] or 'never'}")
