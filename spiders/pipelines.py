"""The one item pipeline: hands each Capture to the archiver's session (STYLE.md: spiders never
import a store).

Scrapy would log and drop an item whose pipeline raised; an archive must not lose a capture that
way, so a failure to store closes the crawl at once and the run reports it and exits non-zero.
"""

from __future__ import annotations

import logging

from archiver.model import Capture

log = logging.getLogger(__name__)


class SessionRef:
    """Carries the live session through Scrapy's settings, which deep-copy their values."""

    def __init__(self, session) -> None:
        self.session = session

    def __deepcopy__(self, memo) -> SessionRef:
        return self

    def __copy__(self) -> SessionRef:
        return self


class ArchivePipeline:
    """Reads the session from the `SUNSHINE_SESSION` setting the archive runner puts there."""

    def __init__(self, session) -> None:
        self.session = session

    @classmethod
    def from_crawler(cls, crawler):
        pipeline = cls(crawler.settings.get("SUNSHINE_SESSION").session)
        pipeline.crawler = crawler
        return pipeline

    def process_item(self, item):
        if not isinstance(item, Capture):
            raise TypeError(f"spiders must yield Capture items, got {type(item).__name__}")
        if self.session.fatal is not None:
            return item
        try:
            self.session.add(item)
        except Exception as exc:  # noqa: BLE001 - recorded and re-raised by the runner after the crawl
            self.session.fatal = exc
            log.error("archiving stopped: %s", exc)
            crawler = getattr(self, "crawler", None)
            if crawler is not None and crawler.engine is not None:
                crawler.engine.close_spider(crawler.spider, "archive_error")
        return item
