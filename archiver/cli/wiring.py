"""Wiring the core to its edges: the search index, the Scrapy spiders.

The core (`archiver` outside `archiver.cli`) imports none of `spiders`, `indexer`, `portal` or
`infra` (an import-linter contract checks it); what it needs from them it is handed from here, as
plain callables and objects, so the core can be read, tested and reused on its own.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import partial

from archiver.catalog import Catalog
from archiver.config import ArchiveConfig, Config, SourceConfig
from archiver.errors import ConfigError
from archiver.incremental import SourceOutcome, SourceReport, finish_source, plan_source
from archiver.run import RunResult, run_archive
from archiver.session import ArchiveSession
from archiver.verify_deep import NativeExtractor
from indexer import SearchIndex, open_index
from indexer.matching import HOLD_TEXT_LIMIT, hold_text_matcher  # noqa: F401 - re-exported for the CLI


def open_search_index(config: Config) -> SearchIndex:
    return open_index(config.search)


def archive(config: Config, source_name: str | None = None,
            progress: Callable[[int], None] | None = None) -> RunResult:
    """`sunshine archive`: one run of the core over the Scrapy spiders into the configured index.

    The sources are checked against the platform registry first, so a source that cannot work stops
    the run with one line per problem before any network call.
    """
    check_sources(config, source_name)
    return run_archive(config, partial(crawl_sources, settings=config.archive), open_search_index(config),
                       source_name, progress)


def source_problems(config: Config, source_name: str | None = None,
                    environ: Mapping[str, str] | None = None) -> list[str]:
    """One line per problem of the sources a run would crawl (all, or the one named), each naming
    the config file, the `[[sources]]` entry and key, and what is expected.

    The core config knows platform names only (it cannot import `spiders`); whether a platform has a
    spider, what its accounts look like and whether it needs a token is the registry's to say.
    `environ` is the environment the crawl will run in (default: this process's).
    """
    from spiders.registry import PLATFORMS

    environ = os.environ if environ is None else environ
    problems: list[str] = []
    for index, source in enumerate(config.sources):
        if source_name is not None and source.name != source_name:
            continue
        where = f"{config.path}: sources[{index}].{{}} (source {source.name!r})"
        spec = PLATFORMS.get(source.platform)
        if spec is None:
            problems.append(f"{where.format('platform')}: no spider for platform {source.platform!r} yet; "
                            f"expected one of {', '.join(sorted(PLATFORMS))}")
            continue
        account_problem = spec.account_problem(source.account)
        if account_problem is not None:
            problems.append(f"{where.format('account')}: {account_problem}, got {source.account!r}")
        if spec.token_required and not source.token_env:
            problems.append(f"{where.format('token_env')}: {source.platform} needs {spec.token_description}; name the "
                            "environment variable that holds it (the token itself never goes in the file)")
        elif spec.token_required and not environ.get(source.token_env):
            problems.append(f"{where.format('token_env')}: environment variable {source.token_env} is not set "
                            f"(expected {spec.token_description})")
    return problems


def check_sources(config: Config, source_name: str | None = None,
                  environ: Mapping[str, str] | None = None) -> None:
    """Raise a `ConfigError` listing `source_problems`, if there are any."""
    problems = source_problems(config, source_name, environ)
    if problems:
        raise ConfigError("\n".join(problems))


def native_extractor() -> NativeExtractor:
    """`verify --deep`'s extractor: the platform's registered native-object rule, the very function
    the spiders' parsers are tested against (`spiders.extract.find_native`), so they cannot disagree."""
    from spiders.extract import find_native

    return find_native


def crawl_sources(session: ArchiveSession, catalog: Catalog, sources: tuple[SourceConfig, ...],
                  run_id: str, settings: ArchiveConfig | None = None) -> list[SourceOutcome]:
    """Crawl the sources one after another in one Scrapy process, every capture into `session`.

    Each source's crawl covers what `archiver.incremental.plan_source` says (the recent window, one
    slice of older threads, what failed last time); its end state is saved once its captures are
    committed. A source that pauses or is refused its credentials does not stop the others.
    """
    from scrapy.crawler import CrawlerProcess
    from twisted.internet import defer

    from spiders.base import CrawlPlan
    from spiders.pipelines import SessionRef
    from spiders.registry import platform
    from spiders.settings import scrapy_settings

    settings = settings or ArchiveConfig()
    scrapy = scrapy_settings()
    scrapy["ITEM_PIPELINES"] = {"spiders.pipelines.ArchivePipeline": 100}
    scrapy["SUNSHINE_SESSION"] = SessionRef(session)
    scrapy["SUNSHINE_PAUSE_AFTER"] = settings.pause_after_seconds
    scrapy["LOG_INSTALL_ROOT_HANDLER"] = False  # the CLI configured logging; Scrapy logs through it
    quiet = max(logging.WARNING, logging.getLogger().getEffectiveLevel())
    for name in ("scrapy", "twisted", "py.warnings"):
        logging.getLogger(name).setLevel(quiet)
    process = CrawlerProcess(scrapy)
    outcomes: list[SourceOutcome] = []

    @defer.inlineCallbacks
    def crawl_all():
        try:
            for source in sources:
                if session.fatal is not None:
                    break
                plan = plan_source(catalog, source, settings, run_id, datetime.now(UTC))
                crawler = process.create_crawler(platform(source.platform).spider)  # check_sources made sure
                yield process.crawl(crawler, source=source, known=plan.known, skip_threads=plan.skip_threads,
                                    plan=CrawlPlan(stop_before=plan.stop_before, revisit=plan.revisit,
                                                   changed_after=plan.state.high_water if not plan.full_walk else None,
                                                   quota_units=plan.quota_left,
                                                   media_max_bytes=settings.media_max_bytes,
                                                   media_known=catalog.has_media))
                session.flush()
                spider = crawler.spider
                if session.fatal is None and spider is not None:
                    outcomes.append(finish_source(catalog, plan, SourceReport(
                        walk_complete=spider.walk_complete, newest_seen=spider.newest_seen, halted=spider.halted,
                        token_refused=spider.token_refused, deferred=spider.deferred,
                        units_used=spider.units_used, broken=frozenset(spider.broken)), run_id))
        except Exception as exc:  # noqa: BLE001 - surfaced after the reactor stops
            session.fatal = session.fatal or exc

    def stop(_result):
        from twisted.internet import reactor

        if reactor.running:
            reactor.stop()

    process_deferred = crawl_all()
    process_deferred.addBoth(stop)
    process.start(stop_after_crawl=False, install_signal_handlers=True)
    return outcomes
