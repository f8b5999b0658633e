"""`indexer.query`: the portal's query string validated, and user text rendered safely for FTS5/ES."""

from __future__ import annotations

import re
import sqlite3

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archiver.errors import SunshineError
from indexer import SearchQuery
from indexer.query import (
    MAX_CLAUSES,
    MAX_PREFIX_CLAUSES,
    MAX_RESULT_WINDOW,
    MAX_WORDS,
    Clause,
    QueryError,
    TextQuery,
    bounded_text,
    fts5_match_expression,
    fts5_match_parts,
    parse_search_args,
    parse_text,
    simple_query_string,
    split_words,
)

# --- parse_search_args ---------------------------------------------------------------------------------


def test_empty_args_are_the_default_query() -> None:
    assert parse_search_args({}) == SearchQuery()
    blanks = dict.fromkeys(("q", "platform", "account", "kind", "status", "from", "to", "page", "per_page"), "")
    assert parse_search_args(blanks) == SearchQuery()


def test_every_parameter_is_read() -> None:
    args = {"q": "  stolen bicycle ", "platform": "facebook", "account": "123456789", "kind": "reply",
            "status": "deleted", "from": "2024-01-01", "to": "2024-01-31", "page": "3", "per_page": "50",
            "utm_source": "ignored"}
    assert parse_search_args(args) == SearchQuery(
        text="stolen bicycle", platform="facebook", account="123456789", kind="reply", status="deleted",
        date_from="2024-01-01", date_to="2024-01-31", page=3, per_page=50,
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"platform": "myspace"}, "platform must be one of bluesky, mastodon"),
        ({"kind": "story"}, "kind must be one of post, reply, media; got 'story'"),
        ({"status": "gone"}, "status must be one of active, edited, hidden, deleted"),
        ({"from": "2024-1-5"}, "'from' must be a date written YYYY-MM-DD; got '2024-1-5'"),
        ({"to": "yesterday"}, "'to' must be a date written YYYY-MM-DD"),
        ({"from": "2024-02-30"}, "'from' is not a real date: 2024-02-30"),
        ({"from": "2024-03-02", "to": "2024-03-01"}, "'from' (2024-03-02) must not be after 'to' (2024-03-01)"),
        ({"page": "0"}, "page must be a whole number between 1 and 500 (only the first 10000 results"),
        ({"page": "-1"}, "page must be a whole number between 1 and 500"),
        ({"page": "two"}, "page must be a whole number between 1 and 500"),
        ({"page": "1.5"}, "; got '1.5'"),
        # Too big for any range: the message names the range, not "not a whole number".
        ({"page": "9" * 20}, "page must be a whole number between 1 and 500 (only"),
        ({"page": "9" * 5000}, "page must be a whole number between 1 and 500"),
        ({"page": "１２"}, "page must be a whole number between 1 and 500 (only the first 10000 results can be "
                          "paged through, 20 a page; narrow the search with filters instead), written with the "
                          "digits 0-9; got '１２'"),
        ({"per_page": "٣"}, "per_page must be a whole number between 1 and 100, written with the digits 0-9"),
        ({"per_page": "0"}, "per_page must be a whole number between 1 and 100; got '0'"),
        ({"per_page": "101"}, "per_page must be a whole number between 1 and 100; got '101'"),
        ({"per_page": "9" * 30}, "per_page must be a whole number between 1 and 100; got '999"),
        ({"page": "101", "per_page": "100"}, "page must be a whole number between 1 and 100 (only the first 10000"),
        ({"to": "٢٠٢٦-٠١-٠١"}, "'to' must be a date written YYYY-MM-DD"),
        ({"q": "x" * 1001}, "q is too long: 1001 characters, at most 1000"),
        ({"q": "arrest\x00"}, "q contains a control character (U+0000)"),
        ({"q": "a\x1bb"}, "q contains a control character (U+001B)"),
        ({"q": "a\ud800"}, "q contains an invalid character (lone surrogate U+D800)"),
        ({"account": "a\nb"}, "account contains a control character (U+000A)"),
    ],
)
def test_bad_values_say_what_is_wrong(args: dict[str, str], message: str) -> None:
    with pytest.raises(QueryError) as caught:
        parse_search_args(args)
    assert message in str(caught.value)
    assert isinstance(caught.value, SunshineError)


def test_page_window_is_bounded_at_exactly_the_limit() -> None:
    assert parse_search_args({"page": "100", "per_page": "100"}).page == 100
    assert parse_search_args({"page": str(MAX_RESULT_WINDOW)}, max_per_page=1).per_page == 1
    with pytest.raises(QueryError, match="page must be a whole number between 1 and 500 "):
        parse_search_args({"page": "501"})  # 20 a page
    assert parse_search_args({"page": "000000000000500"}).page == 500  # leading zeros are not a big number


def test_max_per_page_is_the_callers() -> None:
    assert parse_search_args({"per_page": "20"}, max_per_page=20).per_page == 20
    with pytest.raises(QueryError, match="between 1 and 20"):
        parse_search_args({"per_page": "21"}, max_per_page=20)


KEYS = st.sampled_from(["q", "platform", "account", "kind", "status", "from", "to", "page", "per_page", "other"])
VALUES = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["", "bluesky", "post", "active", "2024-01-01", "2024-13-01", "1", "100", "10001", "-3"]),
    st.text(alphabet="0123456789-", max_size=12),
    st.text(min_size=990, max_size=1010, alphabet="ab \""),
)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(KEYS, VALUES, max_size=9))
def test_any_query_string_is_a_query_or_a_query_error(args: dict[str, str]) -> None:
    try:
        query = parse_search_args(args)
    except QueryError as error:
        assert str(error)
        return
    assert query.page >= 1 and 1 <= query.per_page <= 100 and query.page * query.per_page <= MAX_RESULT_WINDOW
    assert len(query.text) <= 1000
    if query.date_from and query.date_to:
        assert query.date_from <= query.date_to


# --- the text language ------------------------------------------------------------------------------------


def words(*items: str, prefix: bool = False) -> Clause:
    return Clause(tuple(items), prefix=prefix)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", TextQuery()),
        ("arrest downtown", TextQuery((("AND", words("arrest")), ("AND", words("downtown"))))),
        ('"city council" meeting', TextQuery((("AND", words("city", "council")), ("AND", words("meeting"))))),
        ('"unclosed phrase here', TextQuery((("AND", words("unclosed", "phrase", "here")),))),
        ("a OR b | c", TextQuery((("AND", words("a")), ("OR", words("b")), ("OR", words("c"))))),
        ("a or b", TextQuery((("AND", words("a")), ("AND", words("or")), ("AND", words("b"))))),
        ("a + b", TextQuery((("AND", words("a")), ("AND", words("b"))))),
        ("OR a AND", TextQuery((("AND", words("a")),))),
        ("a | -b c", TextQuery((("AND", words("a")), ("AND", words("c"))), (words("b"),))),
        ("-b -\"c d\" -e*", TextQuery((), (words("b"), words("c", "d"), words("e", prefix=True)))),
        ("- b", TextQuery((("AND", words("b")),))),
        ("arr* x*y", TextQuery((("AND", words("arr", prefix=True)), ("AND", words("x", "y"))))),
        ("foo-bar*", TextQuery((("AND", words("foo", "bar")),))),
        ("title:(a OR", TextQuery((("AND", words("title", "a")),))),
        ("*:* \\ ( ) ~ ^", TextQuery()),
        ("a | !!! b", TextQuery((("AND", words("a")), ("OR", words("b"))))),
        ("café e\u0301t\u00e9", TextQuery((("AND", words("café")), ("AND", words("e\u0301t\u00e9"))))),
    ],
)
def test_parse_text(text: str, expected: TextQuery) -> None:
    assert parse_text(text) == expected


@pytest.mark.parametrize(
    ("text", "fts5", "sqs"),
    [
        ("arrest", '"arrest"', "arrest"),
        ('say "hello world"', '("say") AND "hello world"', 'say + "hello world"'),
        ("a b | c", '(("a") AND "b") OR "c"', "a + b | c"),
        ("arr* -x", '("arr"*) NOT ("x")', "arr* + -x"),
        ("-x -y", None, "-x + -y"),
        ("*:*", None, None),
    ],
)
def test_renderings(text: str, fts5: str | None, sqs: str | None) -> None:
    assert fts5_match_expression(text) == fts5
    assert simple_query_string(parse_text(text)) == sqs


def test_exclusion_only_text_has_only_an_excluded_part() -> None:
    assert fts5_match_parts(parse_text("-x -y")) == (None, '"x" OR "y"')


_FTS5_TOKEN = re.compile(r'\s+|\(|\)|AND|OR|NOT|"(?:[^"]|"")*"\*?')
_SQS_TOKEN = re.compile(r'\s+|\||\+|-?"[^"|+\-*\s]+(?: [^"|+\-*\s]+)+"|-?[^"|+\-*\s()\\~]+\*?')


def _only(pattern: re.Pattern[str], text: str) -> bool:
    position = 0
    while position < len(text):
        match = pattern.match(text, position)
        if not match or not match.group():
            return False
        position = match.end()
    return True


@pytest.fixture(scope="module")
def fts5_table() -> sqlite3.Connection:
    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE VIRTUAL TABLE t USING fts5 (text, author, tokenize = 'porter unicode61 remove_diacritics 2')")
    connection.executemany(
        "INSERT INTO t (text, author) VALUES (?, ?)",
        [("Officers arrested a suspect", "SPD"), ("Café opening NEAR the park", "x"), ('quote " and * star', "y")],
    )
    return connection


HOSTILE_TEXT = st.one_of(
    st.text(max_size=60),
    st.text(alphabet='ab "*-|+():^\\~{}[]NEAROTD\x00\ud800é\u0301 \t', max_size=40),
    st.lists(st.sampled_from(["NEAR(", "AND", "OR", "NOT", '"', "*", "-", "a:", "^", "+", "|", "(", ")", "x", "é"]),
             max_size=12).map(" ".join),
)


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(HOSTILE_TEXT)
def test_no_text_escapes_the_quoting_or_upsets_fts5(fts5_table: sqlite3.Connection, text: str) -> None:
    query = parse_text(text)
    positive, excluded = fts5_match_parts(query)
    for expression in (positive, excluded):
        if expression is None:
            continue
        assert _only(_FTS5_TOKEN, expression), expression
        fts5_table.execute("SELECT rowid, highlight(t, 0, '[', ']') FROM t WHERE t MATCH ?", (expression,)).fetchall()
    for _, clause in query.required:
        assert all(split_words(word) == (word,) for word in clause.words)
    rendered = simple_query_string(query)
    assert (rendered is None) == query.is_empty
    if rendered is not None:
        assert _only(_SQS_TOKEN, rendered), rendered


@given(st.text(max_size=80))
def test_words_are_runs_of_letters_digits_and_marks(text: str) -> None:
    for word in split_words(text):
        assert any(char.isalnum() for char in word)
        assert word in text
        assert not set(word) & set(' "*-|+():\\')


# --- repeated clauses and the limits of one search ------------------------------------------------------

VOCABULARY = ("a", "b", "c")
RECORDS = [frozenset(word for bit, word in enumerate(VOCABULARY) if mask >> bit & 1) for mask in range(8)]


def _reference(tokens: list[str], record: frozenset[str]) -> bool:
    """The language read naively (every clause kept), for records that are sets of whole words."""
    result: bool | None = None
    operator = "AND"
    excluded = False
    for token in tokens:
        if token in ("|", "OR", "+", "AND"):
            if result is not None:
                operator = "OR" if token in ("|", "OR") else "AND"
        elif token.startswith("-"):
            excluded = excluded or token[1:].casefold() in record
            operator = "AND"  # the operator before an exclusion goes with it
        else:
            found = token.casefold() in record
            result = found if result is None else (result or found) if operator == "OR" else (result and found)
            operator = "AND"
    return (True if result is None else result) and not excluded


def _evaluate(query: TextQuery, record: frozenset[str]) -> bool:
    result: bool | None = None
    for operator, clause in query.required:
        found = clause.words[0].casefold() in record
        result = found if result is None else (result or found) if operator == "OR" else (result and found)
    excluded = any(clause.words[0].casefold() in record for clause in query.excluded)
    return (True if result is None else result) and not excluded


@settings(max_examples=1500)
@given(st.lists(st.sampled_from(["a", "b", "c", "A", "-a", "-b", "|", "OR", "+", "AND"]), max_size=14))
def test_dropping_repeated_clauses_never_changes_what_matches(tokens: list[str]) -> None:
    query = parse_text(" ".join(tokens))
    for record in RECORDS:
        assert _evaluate(query, record) == _reference(tokens, record), (tokens, query, record)
    assert len(query.excluded) == len({clause.words[0].casefold() for clause in query.excluded})
    if not {"|", "OR"} & set(tokens):  # only AND: no clause twice
        assert len(query.required) == len({clause.words[0].casefold() for _, clause in query.required})


def test_repeated_prefixes_and_words_are_one_clause() -> None:
    assert parse_text(" ".join(["t*"] * 96)) == TextQuery((("AND", words("t", prefix=True)),))
    assert parse_text("T* | t* | t*") == TextQuery((("AND", words("T", prefix=True)),))
    assert parse_text("-x -X -x arrest arrest") == TextQuery((("AND", words("arrest")),), (words("x"),))
    # `t` and `t*` are different clauses, as are a word and a phrase holding it.
    assert len(parse_text('t t* "t u" t').required) == 3


def test_limits_of_one_search_are_refused_naming_the_limit() -> None:
    distinct = [f"w{number}" for number in range(200)]
    assert len(bounded_text(" ".join(distinct[:MAX_CLAUSES])).required) == MAX_CLAUSES
    with pytest.raises(QueryError, match=f"q has {MAX_CLAUSES + 1} different words and phrases; at most {MAX_CLAUSES}"):
        bounded_text(" ".join(distinct[:MAX_CLAUSES + 1]))
    with pytest.raises(QueryError, match=f"q has 98 words; at most {MAX_WORDS} are allowed"):
        bounded_text(" ".join(distinct[:98]))
    phrase = '"' + " ".join(distinct[:MAX_WORDS]) + '"'
    assert bounded_text(phrase).required[0][1].words == tuple(distinct[:MAX_WORDS])
    with pytest.raises(QueryError, match=f"at most {MAX_WORDS}"):
        bounded_text(phrase + " -extra")
    prefixes = " ".join(f"{word}*" for word in distinct[:MAX_PREFIX_CLAUSES])
    assert bounded_text(prefixes + " " + prefixes)  # repeated, so still within the limit
    with pytest.raises(QueryError, match=f"q has {MAX_PREFIX_CLAUSES + 1} prefix searches .*at most "
                                         f"{MAX_PREFIX_CLAUSES}"):
        bounded_text(prefixes + " -z*")
    with pytest.raises(QueryError, match="at most"):
        parse_search_args({"q": " ".join(distinct[:98])})  # the portal's parser refuses it too


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(["w", "x*", "y", "|", "-z", '"p q"', "OR", "v*"]) | st.from_regex(r"[a-e]{1,3}\*?",
                                                                                            fullmatch=True),
                max_size=300))
def test_every_bounded_text_is_accepted_by_fts5(fts5_table: sqlite3.Connection, tokens: list[str]) -> None:
    """Whatever passes the limits parses in FTS5 (its parser stack holds about 97 nested clauses)."""
    try:
        query = bounded_text(" ".join(tokens))
    except QueryError:
        return
    for expression in fts5_match_parts(query):
        if expression is not None:
            fts5_table.execute("SELECT count(*) FROM t WHERE t MATCH ?", (expression,)).fetchall()
