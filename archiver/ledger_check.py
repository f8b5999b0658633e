"""The ledger part of `sunshine verify`: the published log against itself and against the catalog.

Three questions, each answered with problems that name an object or a record:

1. Is the published log intact? `archiver.ledger.verify_log` recomputes every tile from the entry
   bundles and checks every kept checkpoint's signature, root and consistency.
2. Does a signed checkpoint cover everything the catalog says was published? A removed
   `ledger/checkpoint` (or all of them) would otherwise shrink the log silently.
3. Is every capture in the log, as itself? Each catalog version must have a ledger entry that
   describes exactly it, and the published entries must be the catalog's, byte for byte.

The trusted key is the ledger key file the config names (never created here). Without it, the
published `ledger/key` is used: that still catches damage, but not a log re-signed wholesale.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from archiver.catalog import Catalog
from archiver.config import Config
from archiver.errors import IntegrityError, StoreUnavailableError, SunshineError
from archiver.ledger import log as ledger_log
from archiver.ledger import tiles
from archiver.ledger.note import peek_checkpoint
from archiver.ledger.reader import LedgerObjectError, LogReader
from archiver.ledger_timestamps import check_ledger_timestamps
from archiver.ledger_witnesses import check_witnesses, needs_cosigning
from archiver.store import ObjectStore

CHECKPOINT_ACTION = "ledger:checkpoint"
MAX_PER_KIND = 20  # a removed bundle must not bury the report under 256 lines per bundle


def check_ledger(config: Config, store: ObjectStore, catalog: Catalog) -> tuple[int, list[str]]:
    """(ledger entries in the catalog, problems). Empty problems means the ledger holds."""
    problems: list[str] = []
    size = catalog.ledger_size()
    captures = catalog.count("versions")
    if size == 0 and captures == 0:
        return 0, problems
    problems += _capped(_captures_not_logged(catalog), "captures missing from the ledger")
    vkey = _trusted_key(config, store, problems)
    if vkey is not None:
        problems += ledger_log.verify_log(store, vkey, cosigned=needs_cosigning(config))
    try:
        signed = LogReader(store).size()
    except (StoreUnavailableError, IntegrityError):
        raise  # the store failed, the ledger did not: say so, not "unreadable"
    except (SunshineError, ValueError) as exc:  # unreadable; verify_log has named the object
        if not _names(problems, ledger_log.CHECKPOINT_KEY):
            problems.append(f"{ledger_log.CHECKPOINT_KEY}: cannot be read ({exc})")
        signed = 0
    problems += _coverage(catalog, store, signed, problems)
    problems += _kept_checkpoints(catalog, store, signed)
    if signed and not store.exists(ledger_log.KEY_KEY) and not _names(problems, ledger_log.KEY_KEY):
        problems.append(f"{ledger_log.KEY_KEY}: missing; verifiers fetch the log's public key there")
    problems += _capped(_entries_differ(catalog, store, signed), "published entries that differ")
    problems += _capped(check_ledger_timestamps(config, store, catalog), "checkpoint timestamps that fail")
    problems += _capped(check_witnesses(config, store, catalog, vkey), "witness problems")
    return size, problems


def _trusted_key(config: Config, store: ObjectStore, problems: list[str]) -> str | None:
    key_path = config.ledger_key_path
    if key_path.exists():
        try:
            return ledger_log.verifier_key(ledger_log.load_or_create_signer(key_path, config.ledger_name))
        except SunshineError as exc:
            problems.append(f"ledger key file: {exc}")
    try:
        return store.get(ledger_log.KEY_KEY).decode().strip()
    except KeyError:
        problems.append(f"{ledger_log.KEY_KEY}: missing, and there is no ledger key file at {key_path}; "
                        "the checkpoints cannot be checked")
        return None


def _coverage(catalog: Catalog, store: ObjectStore, signed: int, known: list[str]) -> list[str]:
    """Catalog entries that no signed checkpoint covers, in one line per cause."""
    problems = []
    publication = catalog.publication()
    if publication.unpublished:
        problems.append(f"ledger: {publication.unpublished} entries from index {publication.first_unpublished} "
                        "are not yet published (run `sunshine archive` again)")
    published = publication.published
    if published > signed:
        first = _describe(catalog, signed)
        if not store.exists(ledger_log.CHECKPOINT_KEY):
            if not _names(known, ledger_log.CHECKPOINT_KEY):
                problems.append(f"{ledger_log.CHECKPOINT_KEY}: missing, but the catalog has {published} "
                                f"published ledger entries (from {first})")
        else:
            problems.append(f"{ledger_log.CHECKPOINT_KEY}: signs {signed} entries but the catalog has "
                            f"{published} published; entries from {first} are in no signed checkpoint")
    return problems


def note_checkpoint(catalog: Catalog, checkpoint_text: str, at: str) -> None:
    """Record in the catalog's audit trail that a checkpoint was signed (size and root).

    The store alone cannot tell that an older `ledger/checkpoints/<size>` was removed; with this
    record `sunshine verify` names it. Idempotent per size. `LedgerPublisher.checkpoint` calls it.
    """
    body = peek_checkpoint(checkpoint_text)
    with catalog.transaction() as tx:
        catalog.audit_once(tx, at, "archiver", CHECKPOINT_ACTION, {"root": body.root.hex(), "size": body.size})


def _kept_checkpoints(catalog: Catalog, store: ObjectStore, signed: int) -> list[str]:
    """Every checkpoint the catalog saw signed is still kept, with the root it was signed with.

    Also each kept checkpoint's right-edge entry bundle: verifiers (Go's included) fetch exactly
    `tile/entries/<N>.p/<size % 256>` to check an entry against that checkpoint.
    """
    problems = []
    sizes: dict[int, str | None] = {}
    for details in catalog.audit_details(CHECKPOINT_ACTION):
        sizes[int(details["size"])] = details.get("root")
    for obj in store.list(ledger_log.CHECKPOINTS_PREFIX):
        tail = obj.key[len(ledger_log.CHECKPOINTS_PREFIX):]
        if tail.isdigit():
            sizes.setdefault(int(tail), None)
    reader = LogReader(store)
    for size, root in sorted(sizes.items()):
        key = f"{ledger_log.CHECKPOINTS_PREFIX}{size}"
        try:
            text = reader.read_kept_checkpoint(size)
            kept = peek_checkpoint(text) if text is not None else None
        except (StoreUnavailableError, IntegrityError):
            raise
        except SunshineError:
            continue  # verify_log names a checkpoint that does not parse or verify
        if kept is None:
            problems.append(f"{key}: missing, though the catalog records a checkpoint of size {size} signed")
            continue
        if root is not None and kept.root.hex() != root:
            problems.append(f"{key}: root {kept.root.hex()} is not the one the catalog recorded ({root})")
        if size % tiles.TILE_WIDTH and size <= signed:
            bundle = ledger_log.entries_key(size // tiles.TILE_WIDTH, size % tiles.TILE_WIDTH)
            if not store.exists(bundle):
                problems.append(f"{bundle}: entry bundle of checkpoint {key} is missing")
    return problems


def _captures_not_logged(catalog: Catalog) -> Iterator[str]:
    """Every catalog version whose ledger entry is missing or describes something else."""
    for logged in catalog.logged_captures():
        version = logged.version
        name = f"record {version.record_id} v{version.version}"
        if version.ledger_index is None:
            yield f"{name}: has no ledger index (the capture was never logged)"
        elif logged.entry is None:
            yield f"{name}: ledger entry {version.ledger_index} is missing from the catalog's ledger"
        else:
            expected = ledger_log.entry_for_capture(version.record_id, version.version, version.captured_at,
                                                    version.content_sha256, version.store_version_id)
            if logged.entry != expected:
                yield f"{name}: ledger entry {version.ledger_index} does not describe this capture"


def _entries_differ(catalog: Catalog, store: ObjectStore, signed: int) -> Iterator[str]:
    """Catalog entries under the signed size against the published bundles, one bundle read each."""
    bundle_index, published, reader = -1, None, LogReader(store)
    for index, entry in catalog.ledger_entries(below=signed):
        if index // tiles.TILE_WIDTH != bundle_index:
            bundle_index = index // tiles.TILE_WIDTH
            width = min(tiles.TILE_WIDTH, signed - bundle_index * tiles.TILE_WIDTH)
            key = ledger_log.entries_key(bundle_index, width)
            published = _bundle(reader, bundle_index, width)
            if published is None:
                yield f"{key}: cannot be read, so entries {bundle_index * tiles.TILE_WIDTH}-" \
                      f"{bundle_index * tiles.TILE_WIDTH + width - 1} are not provably in the log"
        if published is not None and published[index % tiles.TILE_WIDTH] != entry:
            yield f"{key}: {_describe(catalog, index)} differs from the catalog's"


def _bundle(reader: LogReader, index: int, width: int) -> list[bytes] | None:
    """The entries of bundle `index` at `width` (or cut from a wider one); None if unreadable."""
    try:
        entries = tiles.decode_entry_bundle(reader.read_entry_bundle(index, width))
    except (LedgerObjectError, ValueError):
        return None
    return entries if len(entries) == width else None


def _describe(catalog: Catalog, index: int) -> str:
    capture = catalog.capture_at(index)
    return f"entry {index}, record {capture[0]} v{capture[1]}" if capture else f"entry {index}"


def _names(problems: list[str], key: str) -> bool:
    return any(problem.startswith(f"{key}:") for problem in problems)


def _capped(problems: Iterable[str], what: str) -> list[str]:
    out: list[str] = []
    extra = 0
    for problem in problems:
        if len(out) < MAX_PER_KIND:
            out.append(problem)
        else:
            extra += 1
    if extra:
        out.append(f"... and {extra} more {what}")
    return out
