"""The portal's search query string, validated, and the user's search text, parsed once for both backends.

`parse_search_args` turns `?q=&platform=&account=&kind=&status=&from=&to=&sort=&page=&per_page=` into a
`SearchQuery` or raises `QueryError` saying exactly what is wrong (the portal shows it on a 400 page).

The search text language (the same on SQLite FTS5 and Elasticsearch)
--------------------------------------------------------------------
User text never reaches FTS5 or Lucene syntax as typed. `parse_text` reads it into a small
`TextQuery`; `fts5_match_expression` / `fts5_match_parts` render that for FTS5 (every word
double-quoted, quotes doubled, as Datasette's `escape_fts` does) and `simple_query_string` renders it
for Elasticsearch's `simple_query_string` with `default_operator: "and"` and
`flags: "AND|OR|NOT|PHRASE|PREFIX|WHITESPACE"`. The Elasticsearch backend must send that rendering,
not the raw text, or the two backends drift apart. The language is a subset of simple_query_string:

- words are all required: `arrest downtown` finds records containing both (in the text or the author);
- `"exact phrase"` matches the words next to each other; an unclosed quote runs to the end of the text;
- `OR` (upper case) or `|` between two clauses makes either enough; `AND` or `+` is the default made
  explicit. There is no precedence and there are no parentheses: clauses combine left to right,
  exactly as simple_query_string does without its PRECEDENCE flag, so `a b | c` is `(a AND b) OR c`
  and `a | b c` is `(a OR b) AND c`. An operator with nothing on one side is ignored (`a AND`, `OR a`).
- `-word`, `-"a phrase"` or `-pre*` (a minus right before the clause) excludes records matching it,
  wherever it appears in the text: `a | -b c` is `(a AND c) AND NOT b`. A text made only of
  exclusions matches every record except the excluded ones.
- `word*` matches words starting with `word` (a prefix of the indexed, stemmed form, so prefer short
  prefixes: `arr*` finds arrest, arrested, arrests).
- A "word" is a run of letters, digits and combining marks; any other character separates words. A
  bare token with punctuation inside (`foo-bar`, `title:(a`) becomes the phrase of its words
  (`"foo bar"`, `"title a"`), and then a trailing `*` is dropped. Tokens without any letter or digit
  (`*:*`, `\\`, `(`) are ignored; a text with no words at all searches like an empty text.
- Matching is case-insensitive, ignores diacritics (`cafe` finds `café`) and stems English words
  (`arrest` finds `arrested`); neither backend removes stop words.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from archiver.config import PLATFORMS
from archiver.errors import SunshineError
from archiver.model import KINDS, STATUSES
from indexer import MAX_PER_PAGE, SORTS, SearchQuery

MAX_QUERY_CHARS = 1000  # the search form's maxlength too (portal templates read it from here)
MAX_RESULT_WINDOW = 10_000  # page * per_page: deep pagination is bounded (as Elasticsearch's default)
MAX_ACCOUNT_CHARS = 200
DEFAULT_PER_PAGE = 20
# What one search may ask of a backend (after repeated clauses are dropped, see `parse_text`). Each
# clause is a term lookup (a prefix one expands to every indexed term it starts: the costliest), and
# FTS5 nests one parenthesis per clause, its parser giving up at about 97.
MAX_CLAUSES = 32
MAX_PREFIX_CLAUSES = 5
MAX_WORDS = 64  # words over all clauses, phrases included
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")  # ASCII digits only: `\d` would take any script's
_DIGITS = re.compile(r"[0-9]+")
_MAX_INT_CHARS = 9  # longer numbers are out of every range without being converted


class QueryError(SunshineError):
    """A search query string the portal cannot run; the message says what to change."""


class SearchTooCostly(QueryError):
    """A search a backend stopped at its time budget: the search's fault, never an outage."""

    def __init__(self, budget_seconds: float) -> None:
        super().__init__(f"the search was stopped after {budget_seconds:g} s, the most one search may take: "
                         "use fewer prefix searches (word*) or longer ones, more words, or filters")


# --- the query string -------------------------------------------------------------------------------


def parse_search_args(args: Mapping[str, str], *, max_per_page: int = MAX_PER_PAGE) -> SearchQuery:
    """Validate the portal's search parameters into a `SearchQuery` (empty values count as absent).

    Unknown parameters are ignored, so links carrying extra parameters still work.
    """
    text = _text_arg(args, "q", MAX_QUERY_CHARS).strip()
    platform = _choice_arg(args, "platform", PLATFORMS)
    kind = _choice_arg(args, "kind", KINDS)
    status = _choice_arg(args, "status", STATUSES)
    account = _text_arg(args, "account", MAX_ACCOUNT_CHARS).strip() or None
    date_from = _date_arg(args, "from")
    date_to = _date_arg(args, "to")
    if date_from and date_to and date_from > date_to:
        raise QueryError(f"'from' ({date_from}) must not be after 'to' ({date_to})")
    sort = _choice_arg(args, "sort", SORTS)
    per_page = _int_arg(args, "per_page", min(DEFAULT_PER_PAGE, max_per_page), max_per_page)
    last = MAX_RESULT_WINDOW // per_page
    page = _int_arg(args, "page", 1, last,
                    f" (only the first {MAX_RESULT_WINDOW} results can be paged through, {per_page} a page; "
                    "narrow the search with filters instead)")
    bounded_text(text)  # a search too big for the backends is refused here, with its limit
    return SearchQuery(
        text=text, platform=platform, account=account, kind=kind, status=status,
        date_from=date_from, date_to=date_to, page=page, per_page=per_page, sort=sort,
    )


def _raw_arg(args: Mapping[str, str], name: str) -> str:
    value = args.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise QueryError(f"{name} must be text")
    return value


def _text_arg(args: Mapping[str, str], name: str, limit: int) -> str:
    value = _raw_arg(args, name)
    if len(value) > limit:
        raise QueryError(f"{name} is too long: {len(value)} characters, at most {limit} are allowed")
    for char in value:
        category = unicodedata.category(char)
        if category == "Cc":
            raise QueryError(f"{name} contains a control character (U+{ord(char):04X}); remove it")
        if category == "Cs":
            raise QueryError(f"{name} contains an invalid character (lone surrogate U+{ord(char):04X})")
    return value


def _shown(value: str) -> str:
    """The user's value, short and unambiguous, for an error message."""
    return repr(value if len(value) <= 40 else value[:40] + "…")


def _choice_arg(args: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str | None:
    value = _raw_arg(args, name)
    if not value:
        return None
    if value not in choices:
        raise QueryError(f"{name} must be one of {', '.join(choices)}; got {_shown(value)}")
    return value


def _date_arg(args: Mapping[str, str], name: str) -> str | None:
    value = _raw_arg(args, name).strip()
    if not value:
        return None
    if not _DATE.fullmatch(value):
        raise QueryError(f"'{name}' must be a date written YYYY-MM-DD; got {_shown(value)}")
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        raise QueryError(f"'{name}' is not a real date: {value}") from None
    return value


def _int_arg(args: Mapping[str, str], name: str, default: int, highest: int, why: str = "") -> int:
    """A whole number from 1 to `highest`, written with ASCII digits; every refusal names the range."""
    value = _raw_arg(args, name).strip()
    if not value:
        return default
    accepted = f"{name} must be a whole number between 1 and {highest}{why}"
    if not _DIGITS.fullmatch(value):
        if value.isdigit():  # digits of another script (full-width １２, Arabic-Indic...)
            raise QueryError(f"{accepted}, written with the digits 0-9; got {_shown(value)}")
        raise QueryError(f"{accepted}; got {_shown(value)}")
    number = int(value) if len(value.lstrip("0")) <= _MAX_INT_CHARS else highest + 1
    if not 1 <= number <= highest:
        raise QueryError(f"{accepted}; got {_shown(value)}")
    return number


# --- the search text --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Clause:
    """One searchable unit: a word, a phrase (words next to each other) or a prefix."""

    words: tuple[str, ...]  # never empty; each a run of letters/digits/marks
    prefix: bool = False  # only for a single word


@dataclass(frozen=True)
class TextQuery:
    """Parsed search text: `required` folds left to right; `excluded` clauses are subtracted."""

    required: tuple[tuple[str, Clause], ...] = ()  # ("AND" | "OR", clause); the first operator is unused
    excluded: tuple[Clause, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not self.required and not self.excluded


_TOKEN_END = frozenset(' \t\n\r"|+')


def _is_word_char(char: str) -> bool:
    return char.isalnum() or unicodedata.category(char).startswith("M")


def split_words(text: str) -> tuple[str, ...]:
    """The words of `text`: runs of letters, digits and combining marks that hold a letter or digit."""
    words: list[str] = []
    current: list[str] = []
    for char in text + " ":
        if _is_word_char(char):
            current.append(char)
            continue
        if current and any(c.isalnum() for c in current):
            words.append("".join(current))
        current = []
    return tuple(words)


def parse_text(text: str) -> TextQuery:
    """Parse user search text (see the module docstring for the language). Never raises.

    A clause that cannot change the result is dropped as it is read, so `t* t* t*…` costs one lookup:
    `F AND c` when F already requires c, `F OR c` when c already satisfies F, and a repeated
    exclusion. Clauses compare case-insensitively, as they match.
    """
    required: list[tuple[str, Clause]] = []
    excluded: list[Clause] = []
    required_by_fold: set[Clause] = set()  # clauses every record the fold matches must match
    enough_for_fold: set[Clause] = set()  # clauses that on their own satisfy the fold
    operator: str | None = None
    negate = False
    index, length = 0, len(text)

    def emit(clause: Clause | None) -> None:
        nonlocal operator, required_by_fold, enough_for_fold
        if clause is None:  # nothing searchable: a pending operator waits for the next clause
            return
        key = _clause_key(clause)
        if negate:  # the operator before an exclusion is dropped with it
            if all(_clause_key(other) != key for other in excluded):
                excluded.append(clause)
        elif not required:
            required.append(("AND", clause))
            required_by_fold, enough_for_fold = {key}, {key}
        elif (operator or "AND") == "AND":
            if key not in required_by_fold:
                required.append(("AND", clause))
                required_by_fold, enough_for_fold = required_by_fold | {key}, enough_for_fold & {key}
        elif key not in enough_for_fold:
            required.append(("OR", clause))
            required_by_fold, enough_for_fold = required_by_fold & {key}, enough_for_fold | {key}
        operator = None

    while index < length:
        char = text[index]
        if char == '"':
            end = text.find('"', index + 1)
            end = length if end < 0 else end
            words = split_words(text[index + 1:end])
            emit(Clause(words) if words else None)
            index = end + 1
        elif char in "|+":
            if required:
                operator = "OR" if char == "|" else "AND"
            index += 1
        elif char == "-":
            negate = True
            index += 1
            continue  # the minus applies to the clause right after it
        elif char in " \t\n\r":
            index += 1
        else:
            end = index
            while end < length and text[end] not in _TOKEN_END:
                end += 1
            token = text[index:end]
            index = end
            if token in ("OR", "AND"):
                if required:
                    operator = token
            else:
                words = split_words(token)
                is_prefix = token.endswith("*") and len(words) == 1 and token.rstrip("*").endswith(words[0])
                emit(Clause(words, prefix=is_prefix) if words else None)
        negate = False
    return TextQuery(tuple(required), tuple(excluded))


def _clause_key(clause: Clause) -> Clause:
    """The clause as it matches: case does not matter."""
    return Clause(tuple(word.casefold() for word in clause.words), clause.prefix)


def bounded_text(text: str) -> TextQuery:
    """`parse_text(text)`, refused with a `QueryError` naming the limit if it asks too much of a backend."""
    query = parse_text(text)
    clauses = [clause for _, clause in query.required] + list(query.excluded)
    prefixes = sum(clause.prefix for clause in clauses)
    words = sum(len(clause.words) for clause in clauses)
    if words > MAX_WORDS:
        raise QueryError(f"q has {words} words; at most {MAX_WORDS} are allowed: search for fewer words")
    if len(clauses) > MAX_CLAUSES:
        raise QueryError(f"q has {len(clauses)} different words and phrases; at most {MAX_CLAUSES} are allowed: "
                         "search for fewer, or put words that belong together in a \"phrase\"")
    if prefixes > MAX_PREFIX_CLAUSES:
        raise QueryError(f"q has {prefixes} prefix searches (word*); at most {MAX_PREFIX_CLAUSES} are allowed")
    return query


# --- FTS5 ---------------------------------------------------------------------------------------------


def _fts5_quote(word: str) -> str:
    return '"' + word.replace('"', '""') + '"'


def fts5_clause(clause: Clause) -> str:
    """One clause as FTS5 syntax: a quoted word or phrase, `*` after it for a prefix."""
    quoted = _fts5_quote(" ".join(clause.words))
    return quoted + "*" if clause.prefix else quoted


def fts5_match_parts(query: TextQuery) -> tuple[str | None, str | None]:
    """(positive, excluded) FTS5 MATCH expressions; either may be None.

    FTS5 has no "match everything", so a query made only of exclusions cannot be one MATCH: the
    caller subtracts the `excluded` matches from all records instead.
    """
    positive: str | None = None
    for operator, clause in query.required:
        rendered = fts5_clause(clause)
        positive = rendered if positive is None else f"({positive}) {operator} {rendered}"
    excluded = " OR ".join(fts5_clause(clause) for clause in query.excluded) or None
    if positive is not None and excluded is not None:
        positive = f"({positive}) NOT ({excluded})"
    return positive, excluded


def fts5_match_expression(text: str) -> str | None:
    """An FTS5 MATCH expression for user `text`, or None if it has no positive clause to match.

    Every word is double-quoted with quotes doubled, so nothing the user types is FTS5 syntax; only
    the operators of the module's language are produced. Exclusions are folded in with NOT.
    """
    positive, _ = fts5_match_parts(parse_text(text))
    return positive


# --- Elasticsearch -----------------------------------------------------------------------------------

SIMPLE_QUERY_STRING_FLAGS = "AND|OR|NOT|PHRASE|PREFIX|WHITESPACE"


def _sqs_clause(clause: Clause) -> str:
    if len(clause.words) > 1:
        return '"' + " ".join(clause.words) + '"'
    return clause.words[0] + ("*" if clause.prefix else "")


def simple_query_string(query: TextQuery) -> str | None:
    """The query for Elasticsearch `simple_query_string` (default_operator "and", the flags above).

    Words hold only letters, digits and marks, none of which simple_query_string treats as syntax,
    and its left-to-right evaluation is the language's. Exclusions go last, each AND-ed: `+ -b`.
    None when the query is empty (match every record).
    """
    parts: list[str] = []
    for operator, clause in query.required:
        if parts:
            parts.append("|" if operator == "OR" else "+")
        parts.append(_sqs_clause(clause))
    for clause in query.excluded:
        if parts:
            parts.append("+")
        parts.append("-" + _sqs_clause(clause))
    return " ".join(parts) or None
