"""Value report arithmetic against cases worked out by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from shared.ml.value import (
    ValueParams,
    bootstrap_roi,
    kelly_stakes,
    max_drawdown,
    select_bets,
    value_markdown,
    value_report,
)

PROBABILITIES = ["nomarket_p_home", "nomarket_p_draw", "nomarket_p_away"]


def _matches() -> pd.DataFrame:
    """Three matches, listed out of kick-off order on purpose.

    - 1 (first): p home 0.6 at 2.0 -> EV +0.20 (draw -0.125, away -0.10): bet home; home wins.
    - 3 (second): every EV below zero: no bet.
    - 2 (third): p draw 0.3 at 3.6 -> EV +0.08 > 0.05 (home -0.10, away -0.10): bet draw; away wins.
    """
    return pd.DataFrame(
        {
            "match_id": [2, 1, 3],
            "kickoff_utc": pd.to_datetime(["2021-08-21T14:00Z", "2021-08-14T14:00Z", "2021-08-15T14:00Z"]),
            "outcome": [2, 0, 1],
            "nomarket_p_home": [0.5, 0.6, 0.3],
            "nomarket_p_draw": [0.3, 0.25, 0.3],
            "nomarket_p_away": [0.2, 0.15, 0.4],
            "best_price_home": [1.8, 2.0, 3.0],
            "best_price_draw": [3.6, 3.5, 3.2],
            "best_price_away": [4.5, 6.0, 2.0],
            "closing_price_home": [1.7, 1.9, 3.1],
            "closing_price_draw": [3.7, 3.6, 3.3],
            "closing_price_away": [5.0, 6.5, 2.1],
            "closing_p_home": [0.55, 0.52, 0.31],
            "closing_p_draw": [0.27, 0.27, 0.29],
            "closing_p_away": [0.18, 0.21, 0.40],
        }
    )


def test_bets_only_where_probability_times_best_price_clears_the_edge() -> None:
    rows, outcomes = select_bets(
        np.array([[0.6, 0.25, 0.15], [0.3, 0.3, 0.4], [0.5, 0.3, 0.2]]),
        np.array([[2.0, 3.5, 6.0], [3.0, 3.2, 2.0], [1.8, 3.6, np.nan]]),
        edge=0.05,
    )
    assert rows.tolist() == [0, 2] and outcomes.tolist() == [0, 1]
    rows, _ = select_bets(np.array([[0.6, 0.25, 0.15]]), np.array([[2.0, 3.5, 6.0]]), edge=0.25)
    assert rows.size == 0  # EV +0.20 does not clear a 0.25 edge


def test_kelly_stakes_by_hand() -> None:
    # bet 1: 0.5 x (0.6*2.0 - 1)/(2.0 - 1) = 0.10 of 1.0, won at 2.0 -> bankroll 1.1
    # bet 2: 0.5 x (0.3*3.6 - 1)/(3.6 - 1) = 0.0153846 of 1.1 = 0.0169231, lost -> 1.0830769
    stakes, profits, bankroll = kelly_stakes(
        np.array([0.6, 0.3]), np.array([2.0, 3.6]), np.array([True, False]), fraction=0.5, cap=1.0
    )
    np.testing.assert_allclose(stakes, [0.1, 0.0169231], atol=1e-7)
    np.testing.assert_allclose(profits, [0.1, -0.0169231], atol=1e-7)
    np.testing.assert_allclose(bankroll, [1.1, 1.0830769], atol=1e-7)
    capped, _, _ = kelly_stakes(np.array([0.9]), np.array([3.0]), np.array([True]), fraction=1.0, cap=0.05)
    assert capped[0] == pytest.approx(0.05)  # full Kelly would stake 0.85


def test_drawdown_in_units_and_as_a_share_of_the_peak() -> None:
    assert max_drawdown(np.array([1.0, 0.0, 2.0, -1.0]), relative=False, start=0.0) == pytest.approx(3.0)
    assert max_drawdown(np.array([1.1, 1.0830769]), relative=True, start=1.0) == pytest.approx(0.0169231 / 1.1)
    assert max_drawdown(np.array([1.0, 2.0]), relative=False, start=0.0) == 0.0


def test_bootstrap_interval_brackets_the_roi_and_collapses_without_variance() -> None:
    low, high = bootstrap_roi(np.ones(4), np.array([1.0, -1.0, 0.5, -1.0]), draws=500, seed=1)
    assert low < -0.125 < high  # ROI = -0.5 / 4
    low, high = bootstrap_roi(np.ones(3), np.full(3, 0.4), draws=100, seed=1)
    assert low == pytest.approx(0.4) and high == pytest.approx(0.4)


def test_value_report_by_hand() -> None:
    params = ValueParams(edge=0.05, kelly_fraction=0.5, max_stake=1.0, bootstrap=200)
    report = value_report(_matches(), "nomarket", PROBABILITIES, params)
    assert report.bets["match_id"].tolist() == [1, 2]  # in kick-off order; match 3 has no value
    assert report.bets["outcome"].tolist() == ["home", "draw"]
    # flat: +1.0 (won at 2.0), -1.0 -> profit 0 on 2 staked; the peak 1 fell back to 0
    assert (report.flat.bets, report.flat.staked, report.flat.profit, report.flat.roi) == (2, 2.0, 0.0, 0.0)
    assert report.flat.max_drawdown == pytest.approx(1.0)
    # Kelly: stakes 0.1 and 0.0169231, profit 0.0830769
    assert report.kelly.staked == pytest.approx(0.1169231, abs=1e-7)
    assert report.kelly.roi == pytest.approx(0.0830769 / 0.1169231, abs=1e-6)
    assert report.kelly.final_bankroll == pytest.approx(1.0830769, abs=1e-7)
    # CLV: 2.0 beat the 1.9 close, 3.6 did not beat 3.7; EV at the close 2.0*0.52-1 = +0.04, 3.6*0.27-1 = -0.028
    assert report.beat_close_share == pytest.approx(0.5)
    assert report.mean_clv == pytest.approx(0.006)
    assert report.verdict.startswith("NO EDGE SHOWN")


def test_a_losing_forecaster_is_told_plainly_it_has_no_edge() -> None:
    matches = pd.concat([_matches()] * 40, ignore_index=True)
    matches["match_id"] = range(len(matches))
    matches["outcome"] = 2  # every backed home and draw loses
    report = value_report(matches, "nomarket", PROBABILITIES, ValueParams(bootstrap=200))
    assert report.flat.roi == -1.0 and report.verdict.startswith("NO EDGE: betting these forecasts loses money")
    assert "NO EDGE" in value_markdown([report], ValueParams())


def test_no_bet_at_all_says_so() -> None:
    matches = _matches().assign(best_price_home=1.01, best_price_draw=1.01, best_price_away=1.01)
    report = value_report(matches, "nomarket", PROBABILITIES, ValueParams(bootstrap=50))
    assert report.flat.bets == 0 and report.verdict.startswith("no bets")
