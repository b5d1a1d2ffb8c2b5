"""`features_for`: the only place a feature value is computed, offline and online alike."""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime

from shared.features.market import Prices, devig, overround, valid_prices
from shared.features.params import FeatureParams
from shared.features.ratings import elo_expected_home, pi_expected_goal_difference
from shared.features.team_state import FormEntry, TeamState

NAN = math.nan

FEATURE_NAMES: tuple[str, ...] = (
    "elo_home",
    "elo_away",
    "elo_diff",
    "elo_p_home",
    "pi_home_at_home",
    "pi_away_at_away",
    "pi_home_overall",
    "pi_away_overall",
    "pi_expected_gd",
    "form_home_goals_for",
    "form_home_goals_against",
    "form_home_points",
    "form_away_goals_for",
    "form_away_goals_against",
    "form_away_points",
    "venue_form_home_goals_for",
    "venue_form_home_goals_against",
    "venue_form_home_points",
    "venue_form_away_goals_for",
    "venue_form_away_goals_against",
    "venue_form_away_points",
    "rest_days_home",
    "rest_days_away",
    "rest_days_diff",
    "season_matches_home",
    "season_matches_away",
    "odds_rating_home",
    "odds_rating_away",
    "odds_home_advantage",
    "odds_supremacy",
    "market_p_home",
    "market_p_draw",
    "market_p_away",
    "market_overround",
)


def _form_means(entries: Iterable[FormEntry]) -> tuple[float, float, float]:
    entries = list(entries)
    if not entries:
        return NAN, NAN, NAN
    count = len(entries)
    goals_for, goals_against, points = zip(*entries, strict=True)
    return sum(goals_for) / count, sum(goals_against) / count, sum(points) / count


def _rest_days(state: TeamState, kickoff: datetime, params: FeatureParams) -> float:
    if state.last_kickoff is None:
        return params.rest_days_cap
    return min((kickoff - state.last_kickoff).total_seconds() / 86_400.0, params.rest_days_cap)


def features_for(
    home: TeamState,
    away: TeamState,
    home_advantage: float,
    kickoff: datetime,
    pre_match_odds: Prices | None,
    params: FeatureParams,
) -> dict[str, float]:
    """Features of home v away kicking off at `kickoff`, from the teams' states at that moment and
    the league's market home advantage.

    `pre_match_odds` are pre-kickoff 1X2 prices (never closing prices); None leaves the market
    features missing, which the model handles as such.
    """
    home_gf, home_ga, home_pts = _form_means(home.form)
    away_gf, away_ga, away_pts = _form_means(away.form)
    venue_home_gf, venue_home_ga, venue_home_pts = _form_means(home.home_form)
    venue_away_gf, venue_away_ga, venue_away_pts = _form_means(away.away_form)
    rest_home = _rest_days(home, kickoff, params)
    rest_away = _rest_days(away, kickoff, params)
    if valid_prices(pre_match_odds):
        p_home, p_draw, p_away = devig(pre_match_odds)  # type: ignore[arg-type]
        margin = overround(pre_match_odds)  # type: ignore[arg-type]
    else:
        p_home = p_draw = p_away = margin = NAN
    return {
        "elo_home": home.elo,
        "elo_away": away.elo,
        "elo_diff": home.elo - away.elo,
        "elo_p_home": elo_expected_home(home.elo, away.elo, params),
        "pi_home_at_home": home.pi_home,
        "pi_away_at_away": away.pi_away,
        "pi_home_overall": (home.pi_home + home.pi_away) / 2.0,
        "pi_away_overall": (away.pi_home + away.pi_away) / 2.0,
        "pi_expected_gd": pi_expected_goal_difference(home.pi_home, params)
        - pi_expected_goal_difference(away.pi_away, params),
        "form_home_goals_for": home_gf,
        "form_home_goals_against": home_ga,
        "form_home_points": home_pts,
        "form_away_goals_for": away_gf,
        "form_away_goals_against": away_ga,
        "form_away_points": away_pts,
        "venue_form_home_goals_for": venue_home_gf,
        "venue_form_home_goals_against": venue_home_ga,
        "venue_form_home_points": venue_home_pts,
        "venue_form_away_goals_for": venue_away_gf,
        "venue_form_away_goals_against": venue_away_ga,
        "venue_form_away_points": venue_away_pts,
        "rest_days_home": rest_home,
        "rest_days_away": rest_away,
        "rest_days_diff": rest_home - rest_away,
        "season_matches_home": float(home.season_matches),
        "season_matches_away": float(away.season_matches),
        "odds_rating_home": home.market,
        "odds_rating_away": away.market,
        "odds_home_advantage": home_advantage,
        "odds_supremacy": home.market - away.market + home_advantage,
        "market_p_home": p_home,
        "market_p_draw": p_draw,
        "market_p_away": p_away,
        "market_overround": margin,
    }
