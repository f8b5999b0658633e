"""Every record the search index matches for a hold's or request's text: the same matching residents
get, paged through to the end (used by `sunshine hold add`, `sunshine request`, and the clerk pages)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from archiver.errors import SunshineError
from indexer import MAX_PER_PAGE, SearchIndex, SearchQuery

if TYPE_CHECKING:
    from archiver.holds import HoldCriteria

# A search index will not page past this many hits (Elasticsearch's default result window).
HOLD_TEXT_LIMIT = 10_000


def hold_text_matcher(index: SearchIndex) -> Callable[[HoldCriteria], set[str]]:
    """Every record the search index matches for a hold's text (the same matching residents get)."""

    def matches(criteria: HoldCriteria) -> set[str]:
        found: set[str] = set()
        page = 1
        while True:
            result = index.search(SearchQuery(text=criteria.text or "", platform=criteria.platform,
                                              account=criteria.account, date_from=criteria.date_from,
                                              date_to=criteria.date_to, page=page, per_page=MAX_PER_PAGE))
            found |= {hit.record.record_id for hit in result.hits}
            if page * MAX_PER_PAGE >= result.total or not result.hits:
                return found
            if page * MAX_PER_PAGE >= HOLD_TEXT_LIMIT:
                raise SunshineError(f"the text {criteria.text!r} matches {result.total} records; narrow the hold "
                                    "with --platform, --account, --from or --to (at most 10,000 per hold)")
            page += 1

    return matches
