"""What the archive knows about one platform: its spider, its native-object rule, its account shape.

Each platform module (`spiders/<platform>.py`) ends with one `SPEC = Platform(...)`, and
`spiders/registry.py` lists those specs; nothing else in the code names a platform.

The `NativeRule` is part of the archive format (docs/archive-format.md, "Native object"):
`content_sha256` of a record version is the sha256 of `canonical_json(rule.native_object(raw))`,
and an auditor must get the same bytes by re-extracting the object from the WARC response. So the
spider's parser and `extract.find_native` both go through the same rule value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from spiders.base import ApiSpider


@dataclass(frozen=True)
class NativeRule:
    """Where a platform's record objects sit in a payload, their native id, and their volatile keys.

    `volatile`: top-level keys that change without the record changing (counters, viewer state,
    bookkeeping); they are dropped, so a new like never makes a new version while an edit does.
    `iter_raw_objects(payload)`: every record object a parsed JSON payload carries, in the places the
    spider reads them from; malformed parts are skipped (the spider is the one that reports them).
    `native_id_of(obj)`: the native id a raw object is recorded under, or None.
    `decode(body)`: the payload an archived response body carries (ValueError when it does not
    parse); JSON unless the platform answers in another format (the spider's `decode_payload`).
    """

    volatile: frozenset[str]
    iter_raw_objects: Callable[[Any], Iterator[dict[str, Any]]]
    native_id_of: Callable[[dict[str, Any]], str | None]
    decode: Callable[[bytes], Any] = json.loads

    def native_object(self, raw_obj: dict[str, Any]) -> dict[str, Any]:
        """The record's `native` object: `raw_obj` minus the volatile top-level keys.

        A shallow copy: nested values are shared with `raw_obj`, which callers never mutate.
        """
        return {key: value for key, value in raw_obj.items() if key not in self.volatile}


@dataclass(frozen=True)
class Platform:
    """One platform as the archiver and its config checks see it.

    `account_pattern` must match a source's whole `account` (`re.fullmatch`); `account_description`
    says what is expected, for the config error. `token_required`: the API refuses anonymous calls,
    so a source must name a `token_env` whose variable is set; `token_description` says what kind of
    token (empty when none is needed). `default_base_url` (the spider's) is used when a source has no
    `base_url`.
    """

    name: str
    spider: type[ApiSpider]
    native: NativeRule
    account_pattern: re.Pattern[str]
    account_description: str
    token_required: bool
    token_description: str = ""

    @property
    def default_base_url(self) -> str:
        return self.spider.default_base_url

    def account_problem(self, account: str) -> str | None:
        """None when `account` is well-formed for this platform, else what was expected."""
        return None if self.account_pattern.fullmatch(account) else f"expected {self.account_description}"
