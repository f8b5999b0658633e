"""Run one spider crawl in this (fresh) process and pickle what it yielded.

Twisted's reactor cannot be restarted, so each test crawl runs here in its own interpreter:
`python tests/spiders/crawl_runner.py IN.pkl OUT.pkl`. IN holds the spider's arguments and any
settings overrides; OUT gets `{"captures": [Capture...], "stats": {...}}`.
"""

from __future__ import annotations

import pickle
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from scrapy import signals  # noqa: E402
from scrapy.crawler import CrawlerProcess  # noqa: E402

from spiders.registry import PLATFORMS  # noqa: E402
from spiders.settings import scrapy_settings  # noqa: E402


def main(in_path: str, out_path: str) -> None:
    job = pickle.loads(Path(in_path).read_bytes())
    captures: list = []
    process = CrawlerProcess(scrapy_settings(**job.get("settings", {})))
    crawler = process.create_crawler(PLATFORMS[job["source"].platform].spider)

    def collect(item: object, **_: object) -> None:
        captures.append(item)

    crawler.signals.connect(collect, signal=signals.item_scraped)  # weakly held: `collect` must outlive the crawl
    process.crawl(crawler, source=job["source"], known=job.get("known", frozenset()),
                  skip_threads=job.get("skip_threads", frozenset()))
    process.start()
    stats = dict(crawler.stats.get_stats())
    Path(out_path).write_bytes(pickle.dumps({"captures": captures, "stats": stats}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
