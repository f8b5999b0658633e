"""The two S3 requests an archive makes by the thousand, plain object GET and PUT, signed here (SigV4)
and sent over kept-alive `http.client` connections.

Why: botocore spends about a millisecond of CPU per request on endpoint rules, events, serialising
and parsing, as much as hashing a MiB costs; `sunshine archive` makes one PUT per object and `sunshine
verify` one GET, so on a small machine that overhead halved their throughput (measured in `bench/`).
`http.client` also reads a body straight from the socket into the caller's buffer.

Only the happy path is handled here. Any answer but 200 (missing, refused, exists already, checksum
mismatch, server trouble) or a failed connection returns None, and `S3Store` repeats the request
through boto3, which retries, and whose answer `S3Store` turns into the usual errors and messages.
Repeating a PUT is safe: it carries `If-None-Match: *` (and the same bytes) whenever it may not
overwrite.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import io
import os
import ssl
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, BinaryIO
from urllib.parse import quote, urlsplit

from archiver.errors import StoreUnavailableError

_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


class DirectS3:
    """Signed GET/PUT of whole objects, path-style, on one endpoint; safe to share between threads."""

    def __init__(self, endpoint: str, region: str, credentials: Any, max_connections: int,
                 connect_timeout: float, read_timeout: float) -> None:
        url = urlsplit(endpoint)
        self.base_path = url.path.rstrip("/")
        self.host = url.netloc
        https = url.scheme == "https"
        self.address = (url.hostname or "", url.port or (443 if https else 80))
        self._tls = ssl.create_default_context(cafile=os.environ.get("AWS_CA_BUNDLE")) if https else None  # as botocore
        self.region = region
        self.credentials = credentials
        self.max_idle = max_connections
        self.connect_timeout, self.read_timeout = connect_timeout, read_timeout
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        self.connections_opened = 0  # how many were ever made: the rest of the requests reused one

    @classmethod
    def for_client(cls, client: Any) -> DirectS3 | None:
        """Requests for the client's endpoint, or None where only boto3 knows the URL (virtual hosts).

        The credentials are botocore's own resolved (and refreshed) ones, read from its signer.
        """
        config, meta = client.meta.config, client.meta
        credentials = getattr(getattr(client, "_request_signer", None), "_credentials", None)
        if (config.s3 or {}).get("addressing_style") != "path" or credentials is None or not meta.endpoint_url:
            return None
        return cls(meta.endpoint_url, meta.region_name or "us-east-1", credentials,
                   config.max_pool_connections or 10, config.connect_timeout or 60, config.read_timeout or 60)

    def open(self, bucket: str, full_key: str, version_id: str | None) -> BinaryIO | None:
        """A stream of the object's bytes, or None: ask boto3."""
        query = f"versionId={quote(version_id, safe='-_.~')}" if version_id else ""
        sent = self._send("GET", self._path(bucket, full_key), query, {}, None, _EMPTY_SHA256)
        if sent is None:
            return None
        connection, response = sent
        length = response.getheader("Content-Length")
        if response.status != 200 or length is None:
            connection.close()
            return None
        return _Body(response, int(length), lambda: self._give_back(connection, response))

    def put(self, bucket: str, full_key: str, data: bytes, sha256: str,
            headers: Mapping[str, str]) -> Mapping[str, str] | None:
        """PUT `data` (whose hex SHA-256 is `sha256`) with these extra headers; the response headers
        on 200, else None: ask boto3. The payload hash is signed, so the server checks it too."""
        sent = self._send("PUT", self._path(bucket, full_key), "", headers, data, sha256)
        if sent is None:
            return None
        connection, response = sent
        try:
            response.read()
        except (OSError, http.client.HTTPException):
            connection.close()
            return None
        if response.status != 200:
            connection.close()
            return None
        self._give_back(connection, response)
        return response.headers

    def _path(self, bucket: str, full_key: str) -> str:
        return f"{self.base_path}/{quote(bucket, safe='')}/{quote(full_key, safe='/-_.~')}"

    def _send(self, method: str, path: str, query: str, headers: Mapping[str, str], body: bytes | None,
              payload_sha256: str) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse] | None:
        target = f"{path}?{query}" if query else path
        while True:
            connection, reused = self._take()
            try:
                connection.request(method, target, body=body,
                                   headers=self._sign(method, path, query, headers, payload_sha256))
                if connection.sock is not None:  # connected within connect_timeout; now reading
                    connection.sock.settimeout(self.read_timeout)
                return connection, connection.getresponse()
            except (OSError, http.client.HTTPException):
                connection.close()
                if reused:  # a kept-alive connection the server closed meanwhile: try another
                    continue
                return None

    def _take(self) -> tuple[http.client.HTTPConnection, bool]:
        with self._lock:
            if self._idle:
                return self._idle.pop(), True
            self.connections_opened += 1
        if self._tls is not None:
            connection: http.client.HTTPConnection = http.client.HTTPSConnection(
                *self.address, timeout=self.connect_timeout, context=self._tls)
        else:
            connection = http.client.HTTPConnection(*self.address, timeout=self.connect_timeout)
        return connection, False

    def _give_back(self, connection: http.client.HTTPConnection, response: http.client.HTTPResponse) -> None:
        """Keep a connection whose response was read to the end, unless the server is closing it."""
        if response.will_close or not response.isclosed():
            connection.close()
            return
        with self._lock:
            if len(self._idle) < self.max_idle:
                self._idle.append(connection)
                return
        connection.close()

    def _sign(self, method: str, path: str, query: str, extra: Mapping[str, str], payload_sha256: str,
              now: datetime | None = None) -> dict[str, str]:
        """The request's headers with an AWS Signature Version 4 over all of them."""
        frozen = self.credentials.get_frozen_credentials()
        amz_date = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
        headers = {name.lower(): " ".join(value.split()) for name, value in extra.items()}  # SigV4 "Trimall"
        headers.update({"host": self.host, "x-amz-content-sha256": payload_sha256, "x-amz-date": amz_date})
        if frozen.token:
            headers["x-amz-security-token"] = frozen.token
        names = sorted(headers)
        canonical = "\n".join([method, path, query, *(f"{name}:{headers[name]}" for name in names), "",
                               ";".join(names), payload_sha256])
        scope = f"{amz_date[:8]}/{self.region}/s3/aws4_request"
        to_sign = f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
        key = ("AWS4" + frozen.secret_key).encode("utf-8")
        for part in (amz_date[:8], self.region, "s3", "aws4_request"):
            key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
        signature = hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
        headers["Authorization"] = (f"AWS4-HMAC-SHA256 Credential={frozen.access_key}/{scope}, "
                                    f"SignedHeaders={';'.join(names)}, Signature={signature}")
        del headers["host"]  # http.client sends it
        return headers


class _Body(io.RawIOBase):
    """An object's body: `readinto` straight from the socket, every byte of Content-Length or an error
    (a cut connection must not look like a shorter, "damaged" object), and the connection back to the
    pool once it was read to the end."""

    def __init__(self, response: http.client.HTTPResponse, length: int, give_back: Callable[[], None]) -> None:
        super().__init__()
        self._response = response
        self._remaining = length
        self._give_back = give_back

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._remaining <= 0:
            return 0
        try:
            count = self._response.readinto(buffer)
        except (OSError, http.client.HTTPException) as exc:
            raise StoreUnavailableError(f"S3 connection lost while reading an object: {exc!r}") from None
        if count == 0 and len(memoryview(buffer)) > 0:
            raise StoreUnavailableError(f"S3 connection closed with {self._remaining} bytes of the object unread")
        self._remaining -= count
        return count

    def close(self) -> None:
        if not self.closed:
            if self._remaining <= 0:
                self._give_back()
            else:  # unread bytes on the wire: this connection cannot serve another request
                self._response.close()
        super().close()
