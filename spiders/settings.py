"""Scrapy settings for pulling platform APIs: polite, fast, and byte-exact.

* `ROBOTSTXT_OBEY = False`: robots.txt governs crawlers of web pages; these are documented APIs we
  call with the platform's own rate limits (honoured by `spiders.middlewares.ApiRetryMiddleware`).
* `AUTOTHROTTLE_ENABLED = False`: against the local simulator it only slows runs down. Against a
  real platform, pass `AUTOTHROTTLE_ENABLED=True` (and perhaps lower `CONCURRENT_REQUESTS_PER_DOMAIN`)
  to adapt to latency; throttling answers are retried with backoff either way.
* `COMPRESSION_ENABLED = False`: no `Accept-Encoding` is sent and nothing is decoded, so the body
  the archive keeps is exactly the bytes the server sent.
* Cookies and redirects-for-API are off; the retry middleware replaces Scrapy's own.
* No item pipeline here: the archive runner adds `spiders.pipelines.ArchivePipeline` itself.
"""

from __future__ import annotations

from typing import Any

DEFAULTS: dict[str, Any] = {
    "BOT_NAME": "sunshine",
    "USER_AGENT": "Sunshine records archiver (+https://github.com/sunshine-archive)",
    "ROBOTSTXT_OBEY": False,
    "AUTOTHROTTLE_ENABLED": False,
    "CONCURRENT_REQUESTS": 16,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 16,
    # Scrapy starts CONCURRENT_ITEMS asyncio tasks for every callback's output; a callback here
    # yields one Capture and a few requests, so the default 100 is pure overhead (~40% of CPU).
    "CONCURRENT_ITEMS": 4,
    "DOWNLOAD_DELAY": 0,
    "DOWNLOAD_TIMEOUT": 60,
    "COMPRESSION_ENABLED": False,
    "COOKIES_ENABLED": False,
    "TELNETCONSOLE_ENABLED": False,
    "LOG_LEVEL": "WARNING",
    "DEFAULT_REQUEST_HEADERS": {"Accept": "application/json"},
    "RETRY_ENABLED": False,  # Scrapy's own retry; ours below does backoff and Graph codes
    "SUNSHINE_RETRY_TIMES": 5,
    "SUNSHINE_RETRY_BASE_DELAY": 0.5,
    "SUNSHINE_RETRY_MAX_DELAY": 5.0,
    "DOWNLOADER_MIDDLEWARES": {
        "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
        "spiders.middlewares.ApiRetryMiddleware": 550,
    },
    "ITEM_PIPELINES": {},
    "HTTPCACHE_ENABLED": False,
    "MEMUSAGE_ENABLED": False,
}


def scrapy_settings(**overrides: Any) -> dict[str, Any]:
    """The defaults above with `overrides` applied (dict-valued settings are replaced, not merged)."""
    settings = {key: (dict(value) if isinstance(value, dict) else value) for key, value in DEFAULTS.items()}
    settings.update(overrides)
    return settings
