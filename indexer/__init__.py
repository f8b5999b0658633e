"""The search read model (DESIGN §1): derived from the store, rebuildable with `sunshine reindex`.

One `SearchIndex` protocol, two implementations behind it: SQLite FTS5 (embedded default) and
Elasticsearch (scale-out), with the same query semantics. The portal reads only this and the object
store, never the archiver's catalog, so several portal hosts can serve one archive.

Highlights: both backends mark matches in `SearchHit.highlight` with the private-use characters
`HIGHLIGHT_START` / `HIGHLIGHT_END` around raw (unescaped) text; the portal escapes the text first
and only then turns the markers into `<mark>`, so user content can never inject markup.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from archiver.model import RecordDoc

if TYPE_CHECKING:
    from archiver.config import SearchConfig
    from indexer.changes import ChangePage, ChangeQuery

HIGHLIGHT_START = "\ue000"
HIGHLIGHT_END = "\ue001"
FACET_FIELDS = ("platform", "account", "kind", "status")
MAX_PER_PAGE = 100
# How a page of hits is ordered. "relevance" (bm25, then newest) needs words to rank by; without any it
# is "newest". "oldest" is exactly the reverse of "newest" (created_at, then record_id descending), so
# both backends read it off their newest-first index backwards.
SORTS = ("relevance", "newest", "oldest")


@dataclass(frozen=True)
class SearchQuery:
    """A validated search request (build it with `indexer.query.parse_search_args`)."""

    text: str = ""
    platform: str | None = None
    account: str | None = None
    kind: str | None = None
    status: str | None = None
    date_from: str | None = None  # YYYY-MM-DD inclusive, on created_at
    date_to: str | None = None  # YYYY-MM-DD inclusive
    page: int = 1
    per_page: int = 20
    sort: str | None = None  # one of SORTS; None: relevance when there is text, else newest

    def order(self, ranked: bool) -> str:
        """The order the backend applies: `ranked` is whether the text has words to rank by."""
        if self.sort in (None, "relevance"):
            return "relevance" if ranked else "newest"
        return self.sort


@dataclass(frozen=True)
class SearchHit:
    record: RecordDoc
    highlight: str  # record text (or a fragment) with HIGHLIGHT_START/END around matches


@dataclass(frozen=True)
class SearchPage:
    total: int
    hits: list[SearchHit]
    facets: dict[str, dict[str, int]]  # field -> value -> count, over the whole filtered result
    page: int
    per_page: int
    timeline: dict[str, int] = field(default_factory=dict)  # "YYYY-MM" -> count


class SearchIndex(Protocol):
    def upsert(self, docs: Iterable[RecordDoc]) -> int:
        """Insert or replace records (by record_id); returns how many were written."""

    def delete(self, record_ids: Iterable[str]) -> int:
        """Remove records (retention disposal); returns how many were there. Unknown ids are ignored."""

    def rebuild(self, docs: Iterable[RecordDoc]) -> int:
        """Build a fresh index from `docs` and swap it in atomically (readers never see it half-built)."""

    def get(self, record_id: str) -> RecordDoc | None: ...

    def thread(self, thread_id: str) -> list[RecordDoc]:
        """Every record of a thread, oldest first (the portal nests them by parent_id)."""

    def search(self, query: SearchQuery) -> SearchPage: ...

    def counts(self) -> dict[str, int]:
        """Records per platform, for the home page."""

    def latest(self, limit: int = 10) -> list[RecordDoc]:
        """The newest department posts (kind "post"), newest first."""

    def changes(self, query: ChangeQuery) -> ChangePage:
        """One page of the change log (`indexer.changes`), most recently detected first."""

    def ping(self) -> None:
        """Raise `SunshineError` naming the problem if the index cannot answer."""

    def close(self) -> None: ...


def open_index(config: SearchConfig) -> SearchIndex:
    """The index the config selects."""
    if config.backend == "elasticsearch":
        from indexer.elastic import ElasticIndex

        return ElasticIndex(config.url or "", config.index)
    from indexer.sqlite_fts import SqliteIndex

    return SqliteIndex(config.path)
