"""Rating updates: Elo with home advantage and a goal-margin factor, pi-ratings, market ratings.

Pi-ratings follow Constantinou & Fenton (2013): each team has a home and an away rating in goal
difference units; the error between the observed and the expected goal difference moves the
rating of the venue played at by the learning rate and the other venue's by the cross rate.
"""

from __future__ import annotations

import math

from shared.features.market import Prices, devig
from shared.features.params import FeatureParams


def elo_expected_home(home_elo: float, away_elo: float, params: FeatureParams) -> float:
    return 1.0 / (1.0 + 10.0 ** (-(home_elo + params.elo_home_advantage - away_elo) / 400.0))


def elo_margin_factor(goal_difference: int, favourite_gap: float) -> float:
    """FiveThirtyEight's factor: bigger wins count more, less so when the favourite won them
    (otherwise strong teams' ratings inflate from routine wins)."""
    return math.log(abs(goal_difference) + 1.0) * 2.2 / (favourite_gap * 0.001 + 2.2) if goal_difference else 1.0


def elo_delta(home_elo: float, away_elo: float, home_goals: int, away_goals: int, params: FeatureParams) -> float:
    """Points the home team gains (the away team loses the same)."""
    expected = elo_expected_home(home_elo, away_elo, params)
    score = 1.0 if home_goals > away_goals else 0.5 if home_goals == away_goals else 0.0
    winner_gap = home_elo + params.elo_home_advantage - away_elo
    favourite_gap = winner_gap if home_goals > away_goals else -winner_gap
    return params.elo_k * elo_margin_factor(home_goals - away_goals, favourite_gap) * (score - expected)


def pi_expected_goal_difference(rating: float, params: FeatureParams) -> float:
    magnitude = 10.0 ** (abs(rating) / params.pi_goal_scale) - 1.0
    return magnitude if rating >= 0 else -magnitude


def pi_match_expectation(home_rating_at_home: float, away_rating_away: float, params: FeatureParams) -> float:
    return pi_expected_goal_difference(home_rating_at_home, params) - pi_expected_goal_difference(
        away_rating_away, params
    )


def pi_error_weight(expected: float, observed: int, params: FeatureParams) -> float:
    """Diminishing weight of the prediction error, signed from the home side's point of view."""
    error = abs(observed - expected)
    weight = params.pi_goal_scale * math.log10(1.0 + error)
    return weight if observed > expected else -weight


def market_supremacy(prices: Prices) -> float:
    """log(p_home / p_away) of the de-vigged prices: the market's view of home minus away strength."""
    p_home, _p_draw, p_away = devig(prices)
    return math.log(p_home / p_away)


def market_rating_error(home_rating: float, away_rating: float, home_advantage: float, prices: Prices) -> float:
    """How far a match's closing line was from what the market ratings predicted for it.

    Odds-based Elo (Wunderlich & Memmert, PLoS ONE 2018): the ratings chase the market's own
    forecasts, not the noisy results, so they summarise what the market thought of every team.
    """
    return market_supremacy(prices) - (home_rating - away_rating + home_advantage)
