"""Scrapy spiders that pull the department's accounts from each platform's API.

`spiders.registry.PLATFORMS[platform]` is the one table of platforms: its `.spider` is the class the
archive runner crawls with `crawl(cls, source=SourceConfig, known=frozenset, skip_threads=frozenset)`;
`spiders.settings` gives the Scrapy settings; `spiders.extract.native_object` re-derives a record's
`native` through the platform's registered rule.
"""

from __future__ import annotations

from spiders.base import ApiSpider
from spiders.platform import NativeRule, Platform
from spiders.registry import PLATFORMS

__all__ = ["PLATFORMS", "ApiSpider", "NativeRule", "Platform"]
