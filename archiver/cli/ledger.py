"""`sunshine ledger …`: the transparency log from the command line (DESIGN §3, §7).

The same answers the portal gives, read from the object store the config names: the latest signed
checkpoint (`/ledger/checkpoint`), the verifier key (`/ledger/key`) and inclusion or consistency
proofs as the exact JSON of `/api/v1/proof/…`, so a script can use either interchangeably.
"""

from __future__ import annotations

import json

import click

from archiver.cli.options import config_option
from archiver.config import load_config
from archiver.errors import SunshineError


def _reader(config_path: str | None):
    from archiver.ledger.log import LogReader
    from archiver.run import open_archive_store

    return LogReader(open_archive_store(load_config(config_path)))


def proof_json(body: dict) -> str:
    """A proof as the API serialises it (Flask's compact JSON, keys in order)."""
    return json.dumps(body, separators=(",", ":"))


@click.group("ledger")
def ledger_group() -> None:
    """The public transparency log: its checkpoint, key and proofs."""


@ledger_group.command("checkpoint")
@config_option
def checkpoint(config_path: str | None) -> None:
    """Print the latest signed checkpoint (C2SP tlog-checkpoint in a signed note)."""
    click.echo(_reader(config_path).checkpoint(), nl=False)


@ledger_group.command("key")
@config_option
def key(config_path: str | None) -> None:
    """Print the log's public verifier key (name+hash+base64), as published in the store."""
    from archiver.ledger.log import KEY_KEY

    reader = _reader(config_path)
    try:
        text = reader.store.get(KEY_KEY).decode()
    except KeyError:
        raise SunshineError(f"{KEY_KEY} is not in the store yet; it is published with the first "
                            "checkpoint (run `sunshine archive`)") from None
    click.echo(text.strip())


@ledger_group.command("prove")
@config_option
@click.option("--index", type=click.IntRange(min=0), default=None, help="Inclusion proof of this entry.")
@click.option("--size", type=click.IntRange(min=1), default=None,
              help="…in the tree of this size (default: the latest checkpoint).")
@click.option("--old", type=click.IntRange(min=1), default=None, help="Consistency proof from this tree size…")
@click.option("--new", type=click.IntRange(min=1), default=None,
              help="…to this one (default: the latest checkpoint).")
def prove(config_path: str | None, index: int | None, size: int | None, old: int | None,
          new: int | None) -> None:
    """Print an inclusion proof (--index I [--size N]) or a consistency proof (--old M [--new N]).

    The JSON is exactly what /api/v1/proof/inclusion or /api/v1/proof/consistency returns.
    """
    inclusion = index is not None or size is not None
    consistency = old is not None or new is not None
    if inclusion == consistency:
        raise click.UsageError("give either --index I [--size N] or --old M [--new N]")
    if inclusion and index is None:
        raise click.UsageError("--size needs --index")
    if consistency and old is None:
        raise click.UsageError("--new needs --old")
    reader = _reader(config_path)
    latest = reader.size()
    if latest == 0:
        raise SunshineError("the ledger has no signed checkpoint yet; run `sunshine archive` first")
    try:
        if inclusion:
            body = reader.inclusion_json(index, latest if size is None else size)
        else:
            body = reader.consistency_json(old, latest if new is None else new)
    except ValueError as exc:
        raise SunshineError(f"{exc} (the latest checkpoint has {latest} entries)") from None
    click.echo(proof_json(body))
