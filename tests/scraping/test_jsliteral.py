from __future__ import annotations

from datetime import date, datetime

import pytest

from shared.scraping.jsliteral import (
    JsName,
    JsSyntaxError,
    find_all_literals,
    find_json_after,
    find_literal,
    key_marker,
    parse_js,
    parse_literal,
    require_param_marker,
    var_marker,
)


def test_unquoted_and_quoted_keys() -> None:
    assert parse_js("{matchId: 1, 'stageId': 2, \"x\": 3, 2020: 4, $a_b: 5}") == {
        "matchId": 1,
        "stageId": 2,
        "x": 3,
        "2020": 4,
        "$a_b": 5,
    }


def test_strings_with_escapes() -> None:
    assert parse_js(r"'Nottingham\'s Forest'") == "Nottingham's Forest"
    assert parse_js(r'"say \"hi\""') == 'say "hi"'
    assert parse_js(r"'a\\b\nc\tdA\x41é'") == "a\\b\nc\tdAAé"
    assert parse_js(r"'\/Date(1)\/'") == "/Date(1)/"
    assert parse_js(r"'\u{1F600}'") == "\U0001f600"


def test_elisions_become_none_and_one_trailing_comma_adds_nothing() -> None:
    assert parse_js("[1,,2]") == [1, None, 2]
    assert parse_js("['0 : 1',,,'0 : 1',]") == ["0 : 1", None, None, "0 : 1"]
    assert parse_js("[,]") == [None]
    assert parse_js("[]") == []


def test_numbers() -> None:
    assert parse_js("[0, -3, 2.5, -0.25, 1e3, .5, 0x1F]") == [0, -3, 2.5, -0.25, 1000.0, 0.5, 31]


def test_constants_and_references() -> None:
    assert parse_js("[true, false, null, undefined]") == [True, False, None, None]
    assert parse_js("{tournamentTables: tables}") == {"tournamentTables": JsName("tables")}


def test_dates_have_zero_based_months() -> None:
    assert parse_js("new Date(2020, 8, 12)") == date(2020, 9, 12)
    assert parse_js("(new Date(2021, 0, 31)).toString()") == date(2021, 1, 31)
    assert parse_js("new Date(2021, 11, 31, 20, 45)") == datetime(2021, 12, 31, 20, 45)


def test_json_parse_of_a_single_quoted_string() -> None:
    value = parse_js(r"""{homePlayers: JSON.parse('[{"Name":"Theo O\'Connor","Rating":7.1}]')}""")
    assert value == {"homePlayers": [{"Name": "Theo O'Connor", "Rating": 7.1}]}


def test_comments_and_whitespace_are_skipped() -> None:
    assert parse_js("{ // a comment\n a: /* inline */ 1 }") == {"a": 1}


@pytest.mark.parametrize("text", ["{a: 1", "[1 2]", "'unterminated", "{a 1}", "new Foo()", "JSON.parse('{x')"])
def test_malformed_literals_raise(text: str) -> None:
    with pytest.raises(JsSyntaxError):
        parse_js(text)


def test_parse_literal_returns_end_offset() -> None:
    assert parse_literal("x = [1, 2]; y", 4) == ([1, 2], 10)


def test_markers() -> None:
    source = """
      var allRegions = [{id: 252}];
      require.config.params['matchheader'] = {input: [1,,2]};
      require.config.params["args"] = {matchId:9, matchCentreData: {"a": [1, 2]}, other: 1};
      tables.push({"stageId": 1}); tables.push({"stageId": 2});
    """
    assert find_literal(source, var_marker("allRegions")) == [{"id": 252}]
    assert find_literal(source, require_param_marker("matchheader")) == {"input": [1, None, 2]}
    assert find_literal(source, require_param_marker("args"))["matchId"] == 9
    assert find_literal(source, var_marker("missing")) is None
    assert find_json_after(source, key_marker("matchCentreData")) == {"a": [1, 2]}
    assert find_all_literals(source, r"\btables\.push\(\s*") == [{"stageId": 1}, {"stageId": 2}]
    # `key:` markers do not match inside a longer name
    assert find_literal("{xmatchId: 1, matchId: 2}", key_marker("matchId")) == 2
