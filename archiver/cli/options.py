"""The options every command shares, defined once."""

from __future__ import annotations

import getpass

import click

CONFIG_HELP = "Config file (default ./sunshine.toml, or $SUNSHINE_CONFIG)."


def config_option(func):
    """`-c/--config FILE`, the same on every command (DESIGN §3)."""
    return click.option("-c", "--config", "config_path", type=click.Path(dir_okay=False), default=None,
                        help=CONFIG_HELP)(func)


def actor(by: str | None) -> str:
    """Who a clerk action is recorded as: `--by`, else the logged-in user."""
    return by or getpass.getuser()
