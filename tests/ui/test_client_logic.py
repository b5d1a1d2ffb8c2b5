"""The web app's own arithmetic and parsing, without a server."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.features.market import devig, overround
from ui.api import Odds, Prediction
from ui.batch import MAX_MATCHES, parse_matches
from ui.market import comparison, margin


def prediction(home: float, draw: float, away: float) -> Prediction:
    return Prediction("A", "B", datetime(2022, 1, 1, tzinfo=UTC), home, draw, away, "m", "3", False, None)


def test_the_apps_devigging_is_the_platforms() -> None:
    odds = Odds(2.1, 3.4, 3.9)
    rows = comparison(prediction(0.5, 0.3, 0.2), odds)
    assert [r.market for r in rows] == pytest.approx(list(devig((2.1, 3.4, 3.9))))
    assert margin(odds) == pytest.approx(overround((2.1, 3.4, 3.9)))
    assert [r.edge for r in rows] == pytest.approx([0.5 - rows[0].market, 0.3 - rows[1].market, 0.2 - rows[2].market])
    assert rows[0].expected_value == pytest.approx(0.5 * 2.1 - 1)


def test_without_odds_only_fair_odds() -> None:
    rows = comparison(prediction(0.5, 0.25, 0.25), None)
    assert [r.fair_odds for r in rows] == pytest.approx([2.0, 4.0, 4.0])
    assert all(r.market is None and r.edge is None for r in rows)


def test_match_lists_parse_with_a_reason_per_bad_line() -> None:
    parsed = parse_matches(
        "home_team,away_team,kickoff\n"
        "Arsenal, Chelsea, 2022-05-01T19:45\n"
        "\n"
        "Valencia,Sevilla,2022-05-02,sp1\n"
        "Lyon,Nice,tomorrow\n"
        "Lyon,Nice\n"
    )
    assert [(m.home_team, m.away_team, m.kickoff, m.league) for m in parsed.matches] == [
        ("Arsenal", "Chelsea", datetime(2022, 5, 1, 19, 45, tzinfo=UTC), None),
        ("Valencia", "Sevilla", datetime(2022, 5, 2, 15, 0, tzinfo=UTC), "SP1"),
    ]
    assert parsed.problems == [
        "line 5: kick-off 'tomorrow' is not an ISO date or date-time",
        "line 6: expected `home, away, kick-off[, league]`, got 'Lyon,Nice'",
    ]


def test_long_lists_are_cut_with_a_word() -> None:
    parsed = parse_matches("".join(f"A{i},B{i},2022-01-01\n" for i in range(MAX_MATCHES + 5)))
    assert len(parsed.matches) == MAX_MATCHES
    assert parsed.problems == [f"{MAX_MATCHES + 5} matches: only the first {MAX_MATCHES} are sent"]
