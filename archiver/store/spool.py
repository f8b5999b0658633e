"""Nothing lost when S3 is away: a local spool in front of the remote store.

Every `put` lands in the spool first (fsynced and re-hashed, like the local store), then goes to the
remote store with a few bounded retries; a `put_many` batch goes to the remote first and is spooled
(durably, as a whole) only if the remote stays away. If the remote stays away, the capture is kept in the spool
and the put returns a `SpooledPutResult`, so an archive run can finish with everything safe on disk
and exit non-zero saying how much is waiting. `drain` (the start of the next run, `sunshine sync`)
uploads what is waiting; the remote store's "same bytes, nothing to do" rule makes an upload that is
repeated after a crash count once.

After the remote has failed, further puts go straight to the spool for `cooldown` seconds instead of
each waiting out its own retries: a run with thousands of captures still finishes promptly.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, NamedTuple

from archiver.canonical import sha256_hex
from archiver.durable import fsync_folders, fsync_path, make_folder
from archiver.errors import IntegrityError, StoreUnavailableError, SunshineError
from archiver.store import ObjectStore, PutItem, PutResult, StoredObject

# Worth trying again later: the server is away, or the bytes were damaged on the way and refused.
RETRYABLE = (StoreUnavailableError, IntegrityError, OSError)


@dataclass(frozen=True)
class SpooledPutResult(PutResult):
    """Stored safely in the local spool, not yet in the remote store (`version_id` is None)."""

    spooled: bool = True


class DrainResult(NamedTuple):
    uploaded: list[PutResult]  # what reached the remote store now, in spool order
    pending: list[str]  # keys still waiting in the spool


class DrainError(SunshineError):
    """Some spooled objects could not be uploaded for good; `result` is what the drain did meanwhile
    (the caller still records the version ids of what was uploaded)."""

    def __init__(self, message: str, result: DrainResult) -> None:
        super().__init__(message)
        self.result = result


@dataclass(frozen=True)
class _Entry:
    key: str
    sha256: str
    size: int
    retain_days: int | None
    replace: bool
    spooled_at: int


class SpoolingStore:
    """An `ObjectStore` that never loses a put to an unreachable remote store."""

    def __init__(self, remote: ObjectStore, spool_dir: Path, *, retry_seconds: float = 3.0,
                 first_delay: float = 0.25, cooldown: float = 30.0,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.remote = remote
        self.spool_dir = Path(spool_dir)
        self.retry_seconds = retry_seconds
        self.first_delay = first_delay
        self.cooldown = cooldown
        self._sleep = sleep
        self._clock = clock
        self._offline_until = float("-inf")
        self._lock = threading.RLock()

    # -- the spool on disk ----------------------------------------------------------------------

    def _paths(self, key: str) -> tuple[Path, Path]:
        name = hashlib.sha256(key.encode("utf-8")).hexdigest()
        return self.spool_dir / f"{name}.data", self.spool_dir / f"{name}.json"

    def _entry(self, key: str) -> _Entry | None:
        """The entry waiting under `key`; `SunshineError` if its files are there but unreadable."""
        _data_path, meta_path = self._paths(key)
        if not meta_path.exists():
            return None
        entry = _read_entry(meta_path)
        if isinstance(entry, str):
            raise SunshineError(entry)
        return entry

    def _spool(self, key: str, data: bytes, retain_days: int | None, replace: bool, *,
               durable: bool = True) -> _Entry:
        """Write data, then its description, each fsynced and renamed into place; the spool folder
        is fsynced too, unless the caller does that once for a whole batch (`put_many`)."""
        fsync_folders(make_folder(self.spool_dir))
        data_path, meta_path = self._paths(key)
        entry = _Entry(key, sha256_hex(data), len(data), retain_days, replace, time.time_ns())
        _write_file(data_path, data)
        stored = sha256_hex(data_path.read_bytes())
        if stored != entry.sha256:
            raise IntegrityError(f"spool file {data_path}: read back sha256 {stored}, wrote {entry.sha256}")
        _write_file(meta_path, json.dumps(entry.__dict__).encode("utf-8"))
        if durable:
            fsync_path(self.spool_dir)
        return entry

    def _unspool(self, key: str, *, durable: bool = True) -> None:
        data_path, meta_path = self._paths(key)
        meta_path.unlink(missing_ok=True)  # description first: a data file alone is not pending
        data_path.unlink(missing_ok=True)
        if durable:
            fsync_path(self.spool_dir)

    def _unspool_all(self, entries: list[_Entry]) -> None:
        for entry in entries:
            self._unspool(entry.key, durable=False)
        if entries:
            fsync_path(self.spool_dir)

    def _spooled_bytes(self, entry: _Entry) -> bytes:
        data_path, _ = self._paths(entry.key)
        data = data_path.read_bytes()
        if sha256_hex(data) != entry.sha256:
            raise IntegrityError(f"spool file {data_path} for object {entry.key} is damaged: sha256 "
                                 f"{sha256_hex(data)}, expected {entry.sha256}; it was not uploaded")
        return data

    def _entries(self) -> tuple[list[_Entry], list[str]]:
        """The entries waiting, oldest first, and a sentence for each one that cannot be read.

        An unreadable entry may be the only copy of an object, so it is never skipped: it counts
        as pending (the run does not finish clean) and `drain` names it. A data file without its
        description is not an entry: `_spool` writes the description last and `_unspool` removes
        it first, so such a file was never confirmed or is already uploaded.
        """
        if not self.spool_dir.is_dir():
            return [], []
        entries, unreadable = [], []
        for meta_path in sorted(self.spool_dir.glob("*.json")):
            entry = _read_entry(meta_path)
            if isinstance(entry, str):
                unreadable.append(entry)
            else:
                entries.append(entry)
        return sorted(entries, key=lambda entry: (entry.spooled_at, entry.key)), unreadable

    # -- writes ---------------------------------------------------------------------------------

    def put(self, key: str, data: bytes, *, retain_days: int | None = None,
            replace: bool = False) -> PutResult:
        entry = self._admit(key, data, retain_days, replace)
        return self._forward([entry], lambda: [self.remote.put(key, data, retain_days=retain_days,
                                                               replace=replace)])[0]

    def put_many(self, items: Sequence[PutItem]) -> list[PutResult]:
        """Hand the batch to the remote store's `put_many` (same retries as `put`); spool it only if
        the remote stays away.

        Why not spool first, as `put` does: creating two small files per object cost as much as the
        upload itself, and buys nothing here. Until `put_many` returns, the caller has recorded none
        of the batch, so a crash meanwhile loses nothing a later run would not capture again; once the
        remote has verified a write, that copy is the safe one. If the remote stays away, the whole
        batch is written to the spool and made durable (one filesystem sync) before this returns
        `SpooledPutResult`s, including for any the remote took before failing: `drain` finds those
        already there and counts them once.
        """
        if not items:
            return []
        with self._lock:
            for item in items:  # a different object waiting under the same key is refused as in `put`
                waiting = self._entry(item.key)
                if waiting is not None and waiting.sha256 != sha256_hex(item.data):
                    raise SunshineError(f"object {item.key} already exists with different content; not overwritten")
        results = self._forward_batch(items)
        if results is not None:
            return results
        entries = [self._admit(item.key, item.data, item.retain_days, False, durable=False) for item in items]
        fsync_path(self.spool_dir)  # every file was fsynced; one folder fsync makes all their names durable
        return [self._spooled(entry) for entry in entries]

    def _forward_batch(self, items: Sequence[PutItem]) -> list[PutResult] | None:
        """The remote's results for the batch, or None if it stayed away (nothing spooled yet)."""
        if self._clock() < self._offline_until:
            return None
        delay, deadline = self.first_delay, self._clock() + self.retry_seconds
        while True:
            try:
                results = self.remote.put_many(items)
            except RETRYABLE:
                if self._clock() + delay > deadline:
                    self._offline_until = self._clock() + self.cooldown
                    return None
                self._sleep(delay)
                delay *= 2
                continue
            with self._lock:  # an older copy of the same object waiting in the spool is now uploaded
                self._unspool_all([entry for item in items if (entry := self._entry(item.key)) is not None])
            return results

    def _admit(self, key: str, data: bytes, retain_days: int | None, replace: bool, *,
               durable: bool = True) -> _Entry:
        with self._lock:
            waiting = self._entry(key)
            if waiting is not None and waiting.sha256 != sha256_hex(data) and not replace:
                raise SunshineError(f"object {key} already exists with different content; not overwritten")
            return self._spool(key, data, retain_days, replace, durable=durable)

    def _forward(self, entries: list[_Entry], upload: Callable[[], list[PutResult]]) -> list[PutResult]:
        """Try the remote with doubling delays within `retry_seconds`; spooled results if it stays away."""
        if self._clock() < self._offline_until:
            return [self._spooled(entry) for entry in entries]
        delay, deadline = self.first_delay, self._clock() + self.retry_seconds
        while True:
            try:
                results = upload()
            except RETRYABLE:
                if self._clock() + delay > deadline:
                    self._offline_until = self._clock() + self.cooldown
                    return [self._spooled(entry) for entry in entries]
                self._sleep(delay)
                delay *= 2
                continue
            except BaseException:
                with self._lock:  # refused for good (e.g. would overwrite): not ours to keep
                    self._unspool_all(entries)
                raise
            with self._lock:
                self._unspool_all(entries)
            return results

    def _spooled(self, entry: _Entry) -> SpooledPutResult:
        return SpooledPutResult(entry.key, entry.sha256, entry.size)

    def pending(self) -> list[str]:
        """Keys waiting in the spool, in the order they were written, then a sentence naming each
        spool entry that cannot be read (it may hold an object S3 does not have yet)."""
        entries, unreadable = self._entries()
        return [entry.key for entry in entries] + unreadable

    def drain(self) -> DrainResult:
        """Upload what the spool holds, oldest first; stop at the first sign the remote is still away.

        An object that cannot be uploaded for good (the remote holds different bytes under its key, or
        the spool file is damaged or unreadable) stays in the spool and is named in the
        `SunshineError` raised after everything else was uploaded.
        """
        uploaded: list[PutResult] = []
        with self._lock:
            entries, conflicts = self._entries()
            for entry in entries:
                try:
                    data = self._spooled_bytes(entry)
                except IntegrityError as exc:
                    conflicts.append(str(exc))
                    continue
                try:
                    result = self.remote.put(entry.key, data, retain_days=entry.retain_days,
                                             replace=entry.replace)
                except RETRYABLE:
                    self._offline_until = self._clock() + self.cooldown
                    break
                except SunshineError as exc:
                    conflicts.append(f"{entry.key} ({exc})")
                    continue
                self._unspool(entry.key)
                uploaded.append(result)
            else:
                self._offline_until = float("-inf")
            pending = self.pending()
        if conflicts:
            raise DrainError(f"{len(conflicts)} spooled object(s) in {self.spool_dir} were refused by the "
                             f"store and kept: {'; '.join(conflicts)}", DrainResult(uploaded, pending))
        return DrainResult(uploaded, pending)

    def delete(self, key: str, *, version_id: str | None = None) -> None:
        with self._lock:
            was_spooled = version_id is None and self._entry(key) is not None
            if was_spooled:
                self._unspool(key)
        try:
            self.remote.delete(key, version_id=version_id)
        except KeyError:
            if not was_spooled:
                raise

    # -- reads: spooled objects are served from the spool ----------------------------------------

    def get(self, key: str, *, version_id: str | None = None) -> bytes:
        entry = self._entry(key) if version_id is None else None
        if entry is not None:
            return self._spooled_bytes(entry)
        return self.remote.get(key, version_id=version_id)

    def get_range(self, key: str, offset: int, length: int, *, version_id: str | None = None) -> bytes:
        if version_id is None and self._entry(key) is not None:
            return self.get(key)[offset:offset + max(length, 0)]
        return self.remote.get_range(key, offset, length, version_id=version_id)

    def open(self, key: str, *, version_id: str | None = None) -> BinaryIO:
        if version_id is None and (entry := self._entry(key)) is not None:
            return io.BytesIO(self._spooled_bytes(entry))
        return self.remote.open(key, version_id=version_id)

    def exists(self, key: str) -> bool:
        return self._entry(key) is not None or self.remote.exists(key)

    def list(self, prefix: str = "") -> Iterator[StoredObject]:
        spooled = {entry.key: entry.size for entry in self._entries()[0] if entry.key.startswith(prefix)}
        remote = {item.key: item for item in self.remote.list(prefix)}
        for key in sorted(spooled.keys() | remote.keys()):
            yield StoredObject(key, spooled[key]) if key in spooled else remote[key]

    def ping(self) -> None:
        self.remote.ping()


def _write_file(path: Path, data: bytes) -> None:
    """Write `data` to `path` atomically, its bytes fsynced (the caller fsyncs the folder)."""
    tmp = path.with_name(f".tmp-{path.name}")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _read_entry(meta_path: Path) -> _Entry | str:
    """A spool entry from its description file, or a sentence saying why it cannot be used."""
    data_path = meta_path.with_suffix(".data")
    fix = (f"it may be the only copy of an object not yet in the store: repair or upload it by hand, "
           f"then remove {meta_path.name} from the spool")
    try:
        entry = _Entry(**json.loads(meta_path.read_text("utf-8")))
        if not isinstance(entry.key, str) or not isinstance(entry.sha256, str):
            raise TypeError("key and sha256 must be strings")
    except (OSError, ValueError, TypeError) as exc:
        return f"spool entry {meta_path} cannot be read ({exc}); {fix}"
    if not data_path.is_file():
        return f"spool entry {meta_path} for object {entry.key}: its data file {data_path.name} is missing; {fix}"
    return entry


