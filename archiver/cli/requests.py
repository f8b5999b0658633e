"""`sunshine request add|close|list|show`: public-records requests (`archiver.requests`)."""

from __future__ import annotations

import json

import click

from archiver.catalog import Catalog
from archiver.cli.options import actor as _actor
from archiver.cli.options import config_option
from archiver.config import load_config
from archiver.ledger_events import append_event
from archiver.publish import LedgerPublisher


@click.group("request")
def request_group() -> None:
    """Public-records requests: what was asked, the records it covers, and a hold keeping them.

    Saving a request resolves its search to records (whole threads unless --no-threads) once, keeps
    that list with it, and places a "pending request" hold on them; closing it releases the hold.
    `sunshine export --request N` packages exactly those records.
    """


@request_group.command("add")
@config_option
@click.option("--number", required=True, help="The request's number, e.g. PRR-2026-017.")
@click.option("--description", required=True, help="What was asked for (no requester identity needed).")
@click.option("--received", required=True, help="Date received, YYYY-MM-DD.")
@click.option("--due", default=None, help="Date due, YYYY-MM-DD.")
@click.option("--record", "record_ids", multiple=True, help="A record id (repeatable).")
@click.option("--q", "text", default=None, help="Records whose text matches (same matching as the portal).")
@click.option("--platform", default=None, help="Records of this platform.")
@click.option("--account", default=None, help="Records of this account.")
@click.option("--from", "date_from", default=None, help="Created on or after YYYY-MM-DD.")
@click.option("--to", "date_to", default=None, help="Created on or before YYYY-MM-DD.")
@click.option("--no-threads", is_flag=True, help="Only the matching records, not their whole threads.")
@click.option("--by", default=None, help="Who saves the request (default: the current user).")
def request_add(config_path, number, description, received, due, record_ids, text, platform, account, date_from,
                date_to, no_threads, by) -> None:
    """Save a request and hold its records."""
    from archiver.cli.wiring import hold_text_matcher, open_search_index
    from archiver.holds import HoldCriteria
    from archiver.requests import save_request
    from archiver.run import open_archive_store

    config = load_config(config_path)
    criteria = HoldCriteria(tuple(record_ids), text, platform, account, date_from, date_to, not no_threads)
    catalog = Catalog(config.catalog_path)
    try:
        store = open_archive_store(config)
        index = open_search_index(config) if text else None
        try:
            matcher = hold_text_matcher(index) if index is not None else None
            saved = save_request(catalog, store, number, description, received, due, [criteria], _actor(by),
                                 text_matches=matcher, log_event=append_event)
        finally:
            if index is not None:
                index.close()
        LedgerPublisher(catalog, store, config).checkpoint()
    finally:
        catalog.close()
    click.echo(f"request {saved.number}: {saved.record_count} records held by {saved.hold_id}")


@request_group.command("close")
@config_option
@click.argument("number")
@click.option("--by", default=None, help="Who closes the request (default: the current user).")
def request_close(config_path, number, by) -> None:
    """Close a request and release its hold."""
    from archiver.requests import close_request
    from archiver.run import open_archive_store

    config = load_config(config_path)
    catalog = Catalog(config.catalog_path)
    try:
        store = open_archive_store(config)
        closed = close_request(catalog, store, number, _actor(by), log_event=append_event)
        LedgerPublisher(catalog, store, config).checkpoint()
    finally:
        catalog.close()
    click.echo(f"request {closed.number}: closed; hold {closed.hold_id} released")


@request_group.command("list")
@config_option
@click.option("--all", "include_closed", is_flag=True, help="Include closed requests.")
@click.option("--json", "as_json", is_flag=True, help="Print the requests as JSON.")
def request_list(config_path, include_closed, as_json) -> None:
    """List requests (open ones unless --all)."""
    from archiver.requests import list_requests

    config = load_config(config_path)
    with Catalog(config.catalog_path) as catalog:
        found = list_requests(catalog, include_closed)
    if as_json:
        click.echo(json.dumps([item.as_json() for item in found], indent=2))
        return
    if not found:
        click.echo("no requests")
    for item in found:
        click.echo(f"{item.number}  {item.status}  received {item.received}  due {item.due or '-'}  "
                   f"{item.record_count} records  {item.description}")


@request_group.command("show")
@config_option
@click.argument("number")
@click.option("--json", "as_json", is_flag=True, help="Print the request and its record ids as JSON.")
def request_show(config_path, number, as_json) -> None:
    """Show a request and the records it resolved to."""
    from archiver.requests import get_request, request_record_ids

    config = load_config(config_path)
    with Catalog(config.catalog_path) as catalog:
        found = get_request(catalog, number)
        record_ids = request_record_ids(catalog, number)
    if as_json:
        click.echo(json.dumps({**found.as_json(), "records": record_ids}, indent=2))
        return
    click.echo(f"request {found.number} ({found.status}): {found.description}")
    click.echo(f"received {found.received}, due {found.due or '-'}; saved {found.saved_at} by {found.saved_by}"
               + (f"; closed {found.closed_at} by {found.closed_by}" if found.closed_at else ""))
    click.echo(f"hold {found.hold_id}; searches {json.dumps(list(found.searches))}")
    for record_id in record_ids:
        click.echo(record_id)
