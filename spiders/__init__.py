"""Scrapy spiders that pull the department's accounts from each platform's API.

`SPIDERS[platform]` is the spider class the archive runner crawls with
`crawl(cls, source=SourceConfig, known=frozenset, skip_threads=frozenset)`; `spiders.settings`
gives the Scrapy settings; `spiders.extract.native_object` is the one rule for a record's `native`.
"""

from __future__ import annotations

from spiders.base import ApiSpider
from spiders.bluesky import BlueskySpider
from spiders.facebook import FacebookSpider

SPIDERS: dict[str, type[ApiSpider]] = {"bluesky": BlueskySpider, "facebook": FacebookSpider}

__all__ = ["SPIDERS", "ApiSpider", "BlueskySpider", "FacebookSpider"]
