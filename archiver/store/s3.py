"""The scale-out object store: S3 (or MinIO) with Object Lock and server-verified SHA-256.

Why each write can be trusted: every upload carries our own SHA-256 (`ChecksumSHA256`), so the server
recomputes it over the bytes it received and refuses the write if they differ; we then compare the
checksum the server reports with ours. Multipart uploads do the same per part and for the composite.
Our hex digest also rides along as `x-amz-meta-sha256`, which lets a later put of the same key decide
"same bytes, nothing to do" from one HEAD and lets `get` re-check what it read.

Nothing is overwritten: the bucket is versioned, a put to an existing key with different bytes is
refused (and guarded server-side with `If-None-Match: *` against a concurrent writer), and with Object
Lock on, every object version is written in COMPLIANCE mode so not even the root account can delete
it before its retain-until date.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, BinaryIO

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError, NoCredentialsError
from botocore.exceptions import ConnectionError as BotoConnectionError

from archiver.canonical import sha256_hex
from archiver.errors import IntegrityError, StoreUnavailableError, SunshineError
from archiver.store import PutItem, PutResult, StoredObject
from archiver.store.rehash import hash_stream
from archiver.store.s3_direct import DirectS3

if TYPE_CHECKING:
    from archiver.config import StorageConfig

MiB = 1024 * 1024
DEFAULT_MULTIPART_THRESHOLD = 16 * MiB
DEFAULT_PART_SIZE = 8 * MiB
MIN_PART_SIZE = 5 * MiB  # S3's floor for every part but the last
_NOT_FOUND = {"404", "NoSuchKey", "NoSuchVersion", "NotFound"}
_CHECKSUM_REJECTED = {"XAmzContentChecksumMismatch", "BadDigest", "InvalidDigest",
                      "XAmzContentSHA256Mismatch"}
_UNAVAILABLE = {"ServiceUnavailable", "SlowDown", "InternalError", "RequestTimeout",
                "XMinioServerNotInitialized"}
_AWAY = (BotoConnectionError, HTTPClientError)  # refused, reset, timed out: the server is away
_CREDENTIALS = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken"}


def _put_headers(common: Mapping[str, Any], guard_args: Mapping[str, str], checksum: str) -> dict[str, str]:
    """The headers boto3 would send for `put_object(**common, **guard_args, ChecksumSHA256=checksum)`."""
    headers = {"x-amz-checksum-sha256": checksum, "x-amz-sdk-checksum-algorithm": common["ChecksumAlgorithm"]}
    headers.update({f"x-amz-meta-{name}": value for name, value in common["Metadata"].items()})
    if "ObjectLockMode" in common:
        headers["x-amz-object-lock-mode"] = common["ObjectLockMode"]
        until = common["ObjectLockRetainUntilDate"].astimezone(UTC)
        headers["x-amz-object-lock-retain-until-date"] = until.strftime("%Y-%m-%dT%H:%M:%SZ")
    if "IfNoneMatch" in guard_args:
        headers["if-none-match"] = guard_args["IfNoneMatch"]
    return headers


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def make_client(endpoint_url: str | None, region: str, *, access_key: str | None = None,
                secret_key: str | None = None, max_connections: int = 16, max_attempts: int = 3) -> Any:
    """A boto3 S3 client that fails fast when the server is away (short timeouts, few retries).

    botocore's automatic checksums are limited to "when required": we send SHA-256 ourselves on
    writes and verify reads against our own digest, so a second, automatic hash would only cost time.
    """
    config = BotoConfig(
        connect_timeout=3, read_timeout=20, retries={"mode": "standard", "max_attempts": max_attempts},
        s3={"addressing_style": "path"}, max_pool_connections=max_connections,
        request_checksum_calculation="when_required", response_checksum_validation="when_required",
    )
    try:
        session = boto3.session.Session(aws_access_key_id=access_key, aws_secret_access_key=secret_key,
                                         region_name=region)
        credentials = session.get_credentials()
    except BotoCoreError as exc:  # e.g. AWS_PROFILE names a profile that does not exist
        raise SunshineError(f"S3 session refused by botocore: {exc}") from None
    if credentials is None:
        raise SunshineError("no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
                            "(or configure an AWS profile)")
    try:
        return session.client("s3", endpoint_url=endpoint_url, config=config)
    except (BotoCoreError, ValueError) as exc:  # botocore raises a bare ValueError for a bad endpoint
        raise SunshineError(f"S3 client refused by botocore ([storage] endpoint_url = {endpoint_url!r}, "
                            f"region = {region!r}): {exc}") from None


class S3Store:
    """`ObjectStore` on an S3 bucket; keys live under `prefix` inside it."""

    def __init__(self, client: Any, bucket: str, *, prefix: str = "", object_lock: bool = False,
                 retention_days: int = 2555, multipart_threshold: int = DEFAULT_MULTIPART_THRESHOLD,
                 part_size: int = DEFAULT_PART_SIZE,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        if part_size < MIN_PART_SIZE:
            raise ValueError(f"part_size must be at least {MIN_PART_SIZE} bytes (S3's minimum)")
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.object_lock = object_lock
        self.retention_days = retention_days
        self.multipart_threshold = multipart_threshold
        self.part_size = part_size
        self.clock = clock
        self.endpoint = client.meta.endpoint_url
        self._direct = DirectS3.for_client(client)

    @classmethod
    def from_config(cls, config: StorageConfig, *, environ: Mapping[str, str] | None = None,
                    **options: Any) -> S3Store:
        """The store `[storage]` describes; credentials from the standard AWS variables.

        Does not touch the network (so an archive run can still spool when S3 is away): call `ping`
        to check the bucket answers.
        """
        environ = os.environ if environ is None else environ
        if not config.bucket:
            raise SunshineError("[storage] bucket: required for the s3 backend")
        client = make_client(config.endpoint_url, config.region,
                             access_key=environ.get("AWS_ACCESS_KEY_ID"),
                             secret_key=environ.get("AWS_SECRET_ACCESS_KEY"))
        return cls(client, config.bucket, prefix=config.prefix, object_lock=config.object_lock,
                   retention_days=config.retention_days, **options)

    # -- plumbing -------------------------------------------------------------------------------

    def _full(self, key: str) -> str:
        parts = key.split("/")
        if not key or key.startswith("/") or any(part in ("", ".", "..") for part in parts):
            raise ValueError(f"invalid object key: {key!r}")
        return self.prefix + key

    def _call(self, operation: str, **kwargs: Any) -> Any:
        """Call the client, with the errors a user can act on translated (see `_translated`)."""
        with self._translated():
            return getattr(self.client, operation)(Bucket=self.bucket, **kwargs)

    def _pages(self, operation: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
        with self._translated():
            yield from self.client.get_paginator(operation).paginate(Bucket=self.bucket, **kwargs)

    @contextlib.contextmanager
    def _translated(self) -> Iterator[None]:
        """Turn "server away" and "wrong credentials" into errors a user can act on.

        Other `ClientError`s pass through for the caller to interpret (not found, lock refusals).
        """
        try:
            yield
        except _AWAY as exc:
            raise StoreUnavailableError(f"S3 endpoint {self.endpoint} unreachable: {exc}") from None
        except NoCredentialsError:
            raise SunshineError("no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY") from None
        except ClientError as exc:
            code = _code(exc)
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if code in _UNAVAILABLE or status >= 500:
                raise StoreUnavailableError(f"S3 at {self.endpoint} answered {code or status}: "
                                            f"{exc}; try again later") from None
            if code in _CREDENTIALS:
                raise SunshineError(f"S3 at {self.endpoint} rejected the credentials ({code}): check "
                                    f"AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY") from None
            if code == "NoSuchBucket":
                raise SunshineError(f"S3 bucket {self.bucket} does not exist at {self.endpoint}") from None
            raise

    def _version_args(self, version_id: str | None) -> dict[str, str]:
        return {"VersionId": version_id} if version_id else {}

    def _lock_args(self, retain_days: int | None) -> dict[str, Any]:
        if not self.object_lock:
            return {}
        days = retain_days if retain_days is not None else self.retention_days
        until = (self.clock() + timedelta(days=days)).replace(microsecond=0)
        return {"ObjectLockMode": "COMPLIANCE", "ObjectLockRetainUntilDate": until}

    # -- setup and health -----------------------------------------------------------------------

    def ensure_bucket(self, object_lock: bool | None = None) -> None:
        """Create the bucket if missing (versioned; with Object Lock if asked), or check the one there."""
        lock = self.object_lock if object_lock is None else object_lock
        try:
            self._call("head_bucket")
        except ClientError as exc:
            if _code(exc) not in _NOT_FOUND:
                raise self._access_error(exc) from None
            self._create_bucket(lock)
            return
        except SunshineError as exc:
            if "does not exist" not in str(exc):
                raise
            self._create_bucket(lock)
            return
        if lock and not self._bucket_locked():
            raise SunshineError(f"S3 bucket {self.bucket} exists without Object Lock, which can only be "
                                f"enabled when a bucket is created: use a new bucket or set object_lock = false")

    def _create_bucket(self, lock: bool) -> None:
        args: dict[str, Any] = {"ObjectLockEnabledForBucket": lock}
        region = self.client.meta.region_name
        if region and region != "us-east-1":
            args["CreateBucketConfiguration"] = {"LocationConstraint": region}
        try:
            self._call("create_bucket", **args)
        except ClientError as exc:
            if _code(exc) != "BucketAlreadyOwnedByYou":
                raise SunshineError(f"cannot create S3 bucket {self.bucket}: {exc}") from None
        self._call("put_bucket_versioning", VersioningConfiguration={"Status": "Enabled"})

    def _bucket_locked(self) -> bool:
        try:
            found = self._call("get_object_lock_configuration")
        except ClientError:
            return False
        return found.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled") == "Enabled"

    def _access_error(self, exc: ClientError) -> SunshineError:
        return SunshineError(f"S3 bucket {self.bucket} at {self.endpoint} is not accessible "
                             f"({_code(exc)}): check the bucket name, and that the credentials in "
                             f"AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY are right and may use it")

    def ping(self) -> None:
        try:
            self._call("head_bucket")
        except ClientError as exc:
            if _code(exc) in _NOT_FOUND:
                raise SunshineError(f"S3 bucket {self.bucket} does not exist at {self.endpoint}") from None
            raise self._access_error(exc) from None

    # -- writes ---------------------------------------------------------------------------------

    def put(self, key: str, data: bytes, *, retain_days: int | None = None,
            replace: bool = False) -> PutResult:
        full = self._full(key)
        expected = sha256_hex(data)
        # A new key (the common case) costs one conditional PUT; only when the key exists already
        # (If-None-Match refused, or `replace`) do we look at what is there.
        current = self._current(full) if replace else None
        if current is not None:
            sha256, version_id = current
            if sha256 == expected:  # already there: idempotent, no second version
                return PutResult(key, expected, len(data), version_id)
        try:
            version_id = self._upload(full, data, expected, retain_days, guard=not replace)
        except ClientError as exc:
            if _code(exc) != "PreconditionFailed":
                raise
            # Another writer created the key between our HEAD and PUT: decide again on what it wrote.
            current = self._current(full)
            if current is not None and current[0] == expected:
                return PutResult(key, expected, len(data), current[1])
            raise SunshineError(f"object {key} already exists with different content; not overwritten") from None
        return PutResult(key, expected, len(data), version_id)

    def put_many(self, items: Sequence[PutItem], *, workers: int = 8) -> list[PutResult]:
        """`put` for a batch, uploaded concurrently (latency, not bandwidth, bounds small objects).

        Each item is verified as in `put`; results are in input order; the first failure is raised
        after the uploads already under way have finished.
        """
        if not items:
            return []
        with ThreadPoolExecutor(max_workers=min(workers, len(items)), thread_name_prefix="s3-put") as pool:
            futures = [pool.submit(self.put, item.key, item.data, retain_days=item.retain_days)
                       for item in items]
            return [future.result() for future in futures]

    def _current(self, full: str) -> tuple[str, str | None] | None:
        """(sha256 hex, version id) of the key's current version, or None if there is none."""
        try:
            head = self._call("head_object", Key=full)
        except ClientError as exc:
            if _code(exc) in _NOT_FOUND:
                return None
            raise
        sha256 = head.get("Metadata", {}).get("sha256")
        if not sha256:  # written by something else: hash it ourselves
            with self._open_full(full, head.get("VersionId")) as body:
                sha256 = hash_stream(body)[0]
        return sha256, head.get("VersionId")

    def _upload(self, full: str, data: bytes, sha256: str, retain_days: int | None, *, guard: bool) -> str | None:
        common: dict[str, Any] = {"Key": full, "ChecksumAlgorithm": "SHA256", "Metadata": {"sha256": sha256},
                                  **self._lock_args(retain_days)}
        guard_args = {"IfNoneMatch": "*"} if guard else {}
        if len(data) > self.multipart_threshold:
            return self._upload_multipart(full, data, common, guard_args)
        checksum = _b64(bytes.fromhex(sha256))
        if self._direct is not None:
            headers = self._direct.put(self.bucket, full, data, sha256, _put_headers(common, guard_args, checksum))
            if headers is not None:
                self._confirm(full, {"ChecksumSHA256": headers.get("x-amz-checksum-sha256")}, checksum)
                return headers.get("x-amz-version-id")
        try:  # anything unusual, or no direct path: boto3 again, which explains the error
            response = self._call("put_object", Body=data, ChecksumSHA256=checksum, **common, **guard_args)
        except ClientError as exc:
            raise self._checksum_error(exc, full) from None
        self._confirm(full, response, checksum)
        return response.get("VersionId")

    def _upload_multipart(self, full: str, data: bytes, common: dict[str, Any],
                          guard_args: dict[str, str]) -> str | None:
        upload_id = self._call("create_multipart_upload", **common)["UploadId"]
        try:
            view = memoryview(data)
            parts, digests = [], []
            for number, start in enumerate(range(0, len(data), self.part_size), start=1):
                chunk = view[start:start + self.part_size]
                digest = hashlib.sha256(chunk).digest()
                checksum = _b64(digest)
                try:
                    response = self._call("upload_part", Key=full, UploadId=upload_id, PartNumber=number,
                                          Body=bytes(chunk), ChecksumAlgorithm="SHA256", ChecksumSHA256=checksum)
                except ClientError as exc:
                    raise self._checksum_error(exc, f"{full} part {number}") from None
                self._confirm(f"{full} part {number}", response, checksum)
                parts.append({"ETag": response["ETag"], "PartNumber": number, "ChecksumSHA256": checksum})
                digests.append(digest)
            response = self._call("complete_multipart_upload", Key=full, UploadId=upload_id,
                                  MultipartUpload={"Parts": parts}, **guard_args)
        except BaseException:
            self._abort(full, upload_id)
            raise
        # The composite checksum: SHA-256 over the concatenated part digests, suffixed "-<parts>".
        composite = _b64(hashlib.sha256(b"".join(digests)).digest())
        self._confirm(full, response, composite, suffix=f"-{len(parts)}")
        return response.get("VersionId")

    def _abort(self, full: str, upload_id: str) -> None:
        # Best effort: if the server went away mid-upload, the bucket's lifecycle rules clean up.
        with contextlib.suppress(ClientError, SunshineError):
            self._call("abort_multipart_upload", Key=full, UploadId=upload_id)

    def _confirm(self, what: str, response: dict[str, Any], checksum: str, suffix: str = "") -> None:
        reported = response.get("ChecksumSHA256")
        if reported is None:
            raise IntegrityError(f"object {what}: S3 at {self.endpoint} did not confirm a SHA-256 checksum; "
                                 f"the store must support S3 additional checksums")
        if reported.removesuffix(suffix) != checksum:
            raise IntegrityError(f"object {what}: S3 stored checksum {reported}, we sent {checksum}{suffix}")

    def _checksum_error(self, exc: ClientError, what: str) -> Exception:
        if _code(exc) in _CHECKSUM_REJECTED:
            return IntegrityError(f"object {what}: S3 rejected the upload because the bytes it received "
                                  f"do not match our SHA-256 ({_code(exc)}); nothing was stored")
        return exc

    # -- reads ----------------------------------------------------------------------------------

    def get(self, key: str, *, version_id: str | None = None) -> bytes:
        response = self._get(key, version_id)
        data = response["Body"].read()
        expected = response.get("Metadata", {}).get("sha256")
        if expected and sha256_hex(data) != expected:
            raise IntegrityError(f"object {key}: read sha256 {sha256_hex(data)}, stored as {expected}")
        return data

    def _get(self, key: str, version_id: str | None, **extra: Any) -> dict[str, Any]:
        try:
            return self._call("get_object", Key=self._full(key), **self._version_args(version_id), **extra)
        except ClientError as exc:
            if _code(exc) in _NOT_FOUND:
                raise KeyError(key) from None
            raise

    def get_range(self, key: str, offset: int, length: int, *, version_id: str | None = None) -> bytes:
        if length <= 0:
            return b""
        try:
            response = self._get(key, version_id, Range=f"bytes={offset}-{offset + length - 1}")
        except ClientError as exc:
            if _code(exc) == "InvalidRange":  # past the end: like reading past EOF
                return b""
            raise
        return response["Body"].read()

    def open(self, key: str, *, version_id: str | None = None) -> BinaryIO:
        """A stream of the object's bytes (verify reads every object through this, so it is lean)."""
        if self._direct is not None:
            stream = self._direct.open(self.bucket, self._full(key), version_id)
            if stream is not None:
                return stream
        return self._get(key, version_id)["Body"]  # anything unusual: boto3 says what it is

    def _open_full(self, full: str, version_id: str | None) -> BinaryIO:
        return self._call("get_object", Key=full, **self._version_args(version_id))["Body"]

    def exists(self, key: str) -> bool:
        try:
            self._call("head_object", Key=self._full(key))
        except ClientError as exc:
            if _code(exc) in _NOT_FOUND:
                return False
            raise
        return True

    def list(self, prefix: str = "") -> Iterator[StoredObject]:
        for page in self._pages("list_objects_v2", Prefix=self.prefix + prefix):
            for item in page.get("Contents", []):
                yield StoredObject(item["Key"][len(self.prefix):], item["Size"])

    def versions(self, key: str) -> list[StoredObject]:
        """Every stored version of `key` (newest first), delete markers left out."""
        return [StoredObject(key, item["Size"], item["VersionId"]) for item in self._versions(self._full(key))
                if "Size" in item]

    def _versions(self, full: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for page in self._pages("list_object_versions", Prefix=full):
            found += [item for item in page.get("Versions", []) if item["Key"] == full]
            found += [item for item in page.get("DeleteMarkers", []) if item["Key"] == full]
        return found

    # -- retention, holds, disposal -------------------------------------------------------------

    def retention(self, key: str, version_id: str | None = None) -> tuple[str | None, datetime | None]:
        """(mode, retain-until) of a version; (None, None) if it has no retention."""
        try:
            found = self._call("get_object_retention", Key=self._full(key), **self._version_args(version_id))
        except ClientError as exc:
            if _code(exc) in _NOT_FOUND:
                raise KeyError(key) from None
            return None, None
        retention = found.get("Retention", {})
        return retention.get("Mode"), retention.get("RetainUntilDate")

    def legal_hold(self, key: str, version_id: str | None = None) -> bool:
        try:
            found = self._call("get_object_legal_hold", Key=self._full(key), **self._version_args(version_id))
        except ClientError as exc:
            if _code(exc) in _NOT_FOUND:
                raise KeyError(key) from None
            return False
        return found.get("LegalHold", {}).get("Status") == "ON"

    def set_legal_hold(self, key: str, version_id: str | None, on: bool) -> None:
        """Place or release an S3 legal hold (needs a bucket with Object Lock)."""
        try:
            self._call("put_object_legal_hold", Key=self._full(key), **self._version_args(version_id),
                       LegalHold={"Status": "ON" if on else "OFF"})
        except ClientError as exc:
            if _code(exc) in _NOT_FOUND:
                raise KeyError(key) from None
            raise SunshineError(f"cannot set legal hold on object {key}: {exc}") from None

    def delete(self, key: str, *, version_id: str | None = None) -> None:
        """Dispose of one version, or (without `version_id`) of every version of the key.

        Checked first and refused as a whole while any version is under retention or a legal hold,
        so a disposal never half-happens.
        """
        full = self._full(key)
        versions: set[str] = set()
        if version_id is not None:
            self._call_version_exists(key, version_id)
            targets = [version_id]
        else:
            found = self._versions(full)
            if not any("Size" in item for item in found):
                raise KeyError(key)
            targets = [item["VersionId"] for item in found]
            versions = {item["VersionId"] for item in found if "Size" in item}
        for target in targets:
            if version_id is not None or target in versions:  # delete markers carry no lock
                self._refuse_if_protected(key, target)
        for target in targets:
            try:
                self._call("delete_object", Key=full, VersionId=target)
            except ClientError as exc:
                if _code(exc) in ("AccessDenied", "InvalidRequest"):
                    raise SunshineError(self._protected_message(key, target) or
                                        f"S3 refused to delete object {key} version {target}: {exc}") from None
                raise

    def _call_version_exists(self, key: str, version_id: str) -> None:
        try:
            self._call("head_object", Key=self._full(key), VersionId=version_id)
        except ClientError as exc:
            if _code(exc) in _NOT_FOUND or _code(exc) in ("400", "405", "InvalidArgument"):
                raise KeyError(key) from None
            raise

    def _refuse_if_protected(self, key: str, version_id: str) -> None:
        message = self._protected_message(key, version_id)
        if message:
            raise SunshineError(message)

    def _protected_message(self, key: str, version_id: str) -> str | None:
        try:
            mode, until = self.retention(key, version_id)
            held = self.legal_hold(key, version_id)
        except KeyError:
            return None  # a delete marker: no lock applies
        if held:
            return f"object {key} version {version_id} is under a legal hold; not deleted"
        if mode and until and until > self.clock():
            return (f"object {key} version {version_id} is under {mode} retention until "
                    f"{until.astimezone(UTC).isoformat()}; not deleted")
        return None
