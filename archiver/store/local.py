"""The embedded object store: a folder, one file per key.

Writes go to a temporary file in the same folder, are fsynced and renamed into place, the folder is
fsynced (so the new name survives a power cut), then the file is read back and re-hashed; only a
matching hash makes the write count. That is the local equivalent of S3's server-side checksum.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

from archiver.canonical import sha256_hex
from archiver.durable import fsync_folders, make_folder
from archiver.errors import IntegrityError, SunshineError
from archiver.store import PutItem, PutResult, StoredObject

WRITE_THREADS = 8


class LocalStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        parts = key.split("/")
        if not key or key.startswith("/") or any(part in ("", ".", "..") for part in parts):
            raise ValueError(f"invalid object key: {key!r}")
        return self.root.joinpath(*parts)

    def put(self, key: str, data: bytes, *, retain_days: int | None = None,
            replace: bool = False) -> PutResult:
        folders = self._write(key, data, replace=replace)
        if folders is None:
            return PutResult(key, sha256_hex(data), len(data))
        fsync_folders(folders)
        return self._confirm(key, data)

    def put_many(self, items: Sequence[PutItem]) -> list[PutResult]:
        """Write every file (each fsynced), then fsync each folder they landed in once, then verify.

        The writes run on a few threads: fsyncs issued together share the filesystem's journal
        commits, so a batch costs a fraction of one fsync after another. Folders are fsynced once per
        batch, not once per file. The catalog records the batch only after this returns.
        """
        if len(items) > 1:
            with ThreadPoolExecutor(max_workers=WRITE_THREADS) as pool:
                written = list(pool.map(lambda item: self._write(item.key, item.data, replace=False), items))
        else:
            written = [self._write(item.key, item.data, replace=False) for item in items]
        fsync_folders(folder for folders in written if folders is not None for folder in folders)
        return [self._confirm(item.key, item.data) if folders is not None
                else PutResult(item.key, sha256_hex(item.data), len(item.data))
                for item, folders in zip(items, written, strict=True)]

    def _write(self, key: str, data: bytes, *, replace: bool) -> list[Path] | None:
        """Write `data` atomically (its bytes fsynced); the folders to fsync to make its name durable,
        or None if an identical object is already there."""
        path = self._path(key)
        if path.exists() and not replace:
            if sha256_hex(path.read_bytes()) != sha256_hex(data):
                raise SunshineError(f"object {key} already exists with different content; not overwritten")
            return None
        folders = [path.parent, *make_folder(path.parent)]
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return folders

    def _confirm(self, key: str, data: bytes) -> PutResult:
        expected = sha256_hex(data)
        stored = sha256_hex(self._path(key).read_bytes())
        if stored != expected:
            raise IntegrityError(f"object {key}: read back sha256 {stored}, wrote {expected}")
        return PutResult(key, expected, len(data))

    def get(self, key: str, *, version_id: str | None = None) -> bytes:
        try:
            return self._path(key).read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise KeyError(key) from None

    def get_range(self, key: str, offset: int, length: int, *, version_id: str | None = None) -> bytes:
        with self.open(key) as handle:
            handle.seek(offset)
            return handle.read(length)

    def open(self, key: str, *, version_id: str | None = None) -> BinaryIO:
        try:
            return self._path(key).open("rb")
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise KeyError(key) from None

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str = "") -> Iterator[StoredObject]:
        if not self.root.is_dir():
            return
        found = []
        for folder, dirs, files in os.walk(self.root):
            dirs[:] = [name for name in dirs if not name.startswith(".")]
            rel = Path(folder).relative_to(self.root).as_posix()
            for name in files:
                if name.startswith(".tmp-"):
                    continue
                key = name if rel == "." else f"{rel}/{name}"
                if key.startswith(prefix):
                    found.append(key)
        for key in sorted(found):
            yield StoredObject(key, self._path(key).stat().st_size)

    def delete(self, key: str, *, version_id: str | None = None) -> None:
        try:
            self._path(key).unlink()
        except FileNotFoundError:
            raise KeyError(key) from None

    def ping(self) -> None:
        if self.root.exists() and not self.root.is_dir():
            raise SunshineError(f"object store {self.root} is not a folder")
