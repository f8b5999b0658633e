"""The monitor's HTTP client: bounded, polite GETs of a remote portal (no portal code involved).

Every request has a timeout and a response size cap; a 429 or 503 is retried a few times after
the `Retry-After` the portal asks for (capped), so a monitor never hammers a portal whose rate
limiter is on. Only `http` and `https` URLs are fetched. Failures the user can act on (the portal
is down, a URL is wrong) are `PortalFetchError`, a `SunshineError` naming the URL.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

from archiver.errors import SunshineError

USER_AGENT = "sunshine-monitor/1 (+https://c2sp.org/tlog-tiles)"


@dataclass(frozen=True)
class Limits:
    """How hard a monitor may lean on a portal."""

    timeout: float = 20.0  # seconds per request
    max_response_bytes: int = 64 * 1024 * 1024  # a raw record version; entries and tiles are far smaller
    retries: int = 4  # on 429 / 503
    max_retry_after: float = 60.0  # seconds; a portal asking for longer is treated as down
    delay: float = 0.0  # seconds between requests (be gentle with small portals)
    max_entries: int = 1_000_000  # new log entries read in one run
    max_raw: int = 10_000  # raw versions re-hashed in one run; the rest wait for the next run


class PortalFetchError(SunshineError):
    """A request to the portal failed (unreachable, refused, too big, or an unexpected status)."""

    def __init__(self, url: str, detail: str, status: int | None = None) -> None:
        super().__init__(f"GET {url}: {detail}")
        self.url, self.status = url, status


class PortalClient:
    """GETs below one portal base URL."""

    def __init__(self, base_url: str, limits: Limits, *, sleep: Callable[[float], None] = time.sleep) -> None:
        parsed = urllib.parse.urlsplit(base_url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise SunshineError(f"portal URL {base_url!r} must be an http:// or https:// address")
        self.base = base_url.rstrip("/")
        self.limits = limits
        self.requests = 0
        self._sleep = sleep

    def url(self, path: str) -> str:
        return self.base + path

    def get(self, path: str, *, missing_ok: bool = False) -> bytes | None:
        """The body of `path` (beginning with `/`); None for a 404 when `missing_ok`."""
        url = self.url(path)
        for attempt in range(self.limits.retries + 1):
            if self.requests and self.limits.delay:
                self._sleep(self.limits.delay)
            self.requests += 1
            request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
            try:
                with urllib.request.urlopen(request, timeout=self.limits.timeout) as response:
                    return self._read(url, response)
            except urllib.error.HTTPError as exc:
                if exc.code == 404 and missing_ok:
                    return None
                wait = _retry_after(exc.headers.get("Retry-After"))
                if exc.code in (429, 503) and attempt < self.limits.retries and wait <= self.limits.max_retry_after:
                    self._sleep(wait)
                    continue
                raise PortalFetchError(url, f"HTTP {exc.code} {exc.reason}", exc.code) from None
            except (urllib.error.URLError, TimeoutError, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                raise PortalFetchError(url, f"cannot reach the portal ({reason})") from None
        raise AssertionError("unreachable: the last attempt returns or raises")

    def text(self, path: str, *, missing_ok: bool = False) -> str | None:
        data = self.get(path, missing_ok=missing_ok)
        if data is None:
            return None
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise PortalFetchError(self.url(path), "the answer is not UTF-8 text") from None

    def _read(self, url: str, response) -> bytes:
        cap = self.limits.max_response_bytes
        data = response.read(cap + 1)
        if len(data) > cap:
            raise PortalFetchError(url, f"the answer is larger than the {cap:,}-byte limit")
        return data


def _retry_after(value: str | None) -> float:
    """Seconds from a `Retry-After` header (delta-seconds form); 1 s when absent or a date."""
    if value and value.strip().isdigit():
        return float(value.strip())
    return 1.0
