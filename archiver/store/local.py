"""The embedded object store: a folder, one file per key.

Writes go to a temporary file in the same folder, are fsynced and renamed into place, then read back
and re-hashed; only a matching hash makes the write count. That is the local equivalent of S3's
server-side checksum.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

from archiver.canonical import sha256_hex
from archiver.errors import IntegrityError, SunshineError
from archiver.store import PutItem, PutResult, StoredObject


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
        written = self._write(key, data, replace=replace, sync=True)
        return self._confirm(key, data) if written else PutResult(key, sha256_hex(data), len(data))

    def put_many(self, items: Sequence[PutItem]) -> list[PutResult]:
        """Write every file, make them all durable with one filesystem sync, then verify each.

        An fsync per small file costs milliseconds; one sync per batch costs about the same as one,
        and the catalog only records the batch after this returns.
        """
        written = [self._write(item.key, item.data, replace=False, sync=False) for item in items]
        if any(written):
            os.sync()
        return [self._confirm(item.key, item.data) if fresh else PutResult(item.key, sha256_hex(item.data),
                                                                              len(item.data))
                for item, fresh in zip(items, written, strict=True)]

    def _write(self, key: str, data: bytes, *, replace: bool, sync: bool) -> bool:
        """Write `data` atomically; False if an identical object is already there."""
        path = self._path(key)
        if path.exists() and not replace:
            if sha256_hex(path.read_bytes()) != sha256_hex(data):
                raise SunshineError(f"object {key} already exists with different content; not overwritten")
            return False
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                if sync:
                    handle.flush()
                    os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return True

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
