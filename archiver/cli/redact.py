"""`sunshine redact add|remove|list`: withhold exempt details from the public (`archiver.redaction`)."""

from __future__ import annotations

import json
from dataclasses import asdict

import click

from archiver.catalog import Catalog
from archiver.cli.options import actor as _actor
from archiver.cli.options import config_option
from archiver.config import load_config
from archiver.publish import LedgerPublisher


@click.group()
def redact() -> None:
    """Redactions: the public sees "[redacted: basis]" while the original stays in the store.

    A redaction covers a whole record, every occurrence of a text span (ignoring case, in every
    version's text and the author) or the record's media, names a legal basis from the config's
    `[redaction] bases`, is logged in the audit trail and the ledger, and can be removed again.
    The search index is updated at once; the original exchanges holding the record are withheld.
    """


def _change(config_path, work) -> object:
    """Open the archive, make one change, publish its ledger event and sign a checkpoint."""
    from archiver.cli.wiring import open_search_index
    from archiver.run import open_archive_store

    config = load_config(config_path)
    catalog = Catalog(config.catalog_path)
    try:
        store = open_archive_store(config)
        index = open_search_index(config)
        try:
            result = work(config, catalog, store, index)
        finally:
            index.close()
        LedgerPublisher(catalog, store, config).checkpoint()
    finally:
        catalog.close()
    return result


@redact.command("add")
@config_option
@click.argument("record_id")
@click.option("--basis", required=True, help="The legal basis: one of the config's [redaction] bases.")
@click.option("--text", "span", default=None, help="Redact every occurrence of this text (ignoring case).")
@click.option("--media", "media_url", default=None, help="Redact this media URL of the record.")
@click.option("--all-media", is_flag=True, help="Redact all of the record's media.")
@click.option("--record", "whole", is_flag=True, help="Redact the whole record (text, author, media).")
@click.option("--note", default="", help="A note for the clerks (kept private, in the catalog).")
@click.option("--by", default=None, help="Who redacts (default: the current user).")
def redact_add(config_path, record_id, basis, span, media_url, all_media, whole, note, by) -> None:
    """Redact RECORD_ID: exactly one of --text, --media, --all-media or --record."""
    from archiver.errors import SunshineError
    from archiver.redaction import redact as do_redact

    chosen = [name for name, value in (("--text", span), ("--media", media_url), ("--all-media", all_media),
                                       ("--record", whole)) if value]
    if len(chosen) != 1:
        raise SunshineError("say what to redact with exactly one of --text, --media, --all-media or --record"
                            + (f" (got {', '.join(chosen)})" if chosen else ""))
    scope = "record" if whole else "text" if span else "media"
    target = span if span else media_url

    def work(config, catalog, store, index):
        return do_redact(catalog, store, record_id, basis=basis, by=_actor(by), bases=config.redaction_bases,
                         scope=scope, target=target, note=note, index=index)

    redaction = _change(config_path, work)
    click.echo(f"{redaction.redaction_id}: {record_id} redacted ({scope}; {redaction.basis})")


@redact.command("remove")
@config_option
@click.argument("redaction_id")
@click.option("--by", default=None, help="Who removes it (default: the current user).")
def redact_remove(config_path, redaction_id, by) -> None:
    """Remove a redaction: the public sees the record as captured again."""
    from archiver.redaction import unredact

    def work(config, catalog, store, index):
        return unredact(catalog, store, redaction_id, by=_actor(by), index=index)

    removed = _change(config_path, work)
    click.echo(f"{removed.redaction_id}: removed from {removed.record_id}")


@redact.command("list")
@config_option
@click.option("--all", "include_removed", is_flag=True, help="Include removed redactions.")
@click.option("--json", "as_json", is_flag=True, help="Print them as JSON (the redacted text included).")
def redact_list(config_path, include_removed, as_json) -> None:
    """List redactions (clerks only: the list names the redacted text)."""
    config = load_config(config_path)
    catalog = Catalog(config.catalog_path)
    try:
        items = catalog.redactions(include_removed=include_removed)
    finally:
        catalog.close()
    if as_json:
        click.echo(json.dumps([asdict(item) for item in items], indent=2))
        return
    if not items:
        click.echo("no redactions")
    for item in items:
        state = f"removed {item.removed_at} by {item.removed_by}" if item.removed_at else "active"
        what = item.scope + (f" {item.target!r}" if item.target else "")
        click.echo(f"{item.redaction_id}  {item.record_id}  {what}  {item.basis}  {state}  "
                   f"added {item.added_at} by {item.added_by}")
