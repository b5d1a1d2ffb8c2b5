import math

import numpy as np
import pytest

from shared.ml.metrics import accuracy, brier_score, log_loss, ranked_probability_score, score_all

FORECASTS = np.array([[0.5, 0.3, 0.2], [0.5, 0.3, 0.2]])
OUTCOMES = np.array([0, 2])  # a home win, then an away win


def test_rps_orders_outcomes_home_draw_away() -> None:
    # home win: ((0.5-1)^2 + (0.8-1)^2) / 2 = 0.145; away win: (0.5^2 + 0.8^2) / 2 = 0.445
    assert ranked_probability_score(FORECASTS[:1], OUTCOMES[:1]) == pytest.approx(0.145)
    assert ranked_probability_score(FORECASTS[1:], OUTCOMES[1:]) == pytest.approx(0.445)
    assert ranked_probability_score(FORECASTS, OUTCOMES) == pytest.approx(0.295)


def test_rps_rewards_near_misses() -> None:
    draw_heavy = np.array([[0.1, 0.8, 0.1]])
    away_heavy = np.array([[0.1, 0.1, 0.8]])
    # Both give the home win 0.1, but the draw is "closer" to a home win than an away win.
    assert ranked_probability_score(draw_heavy, np.array([0])) < ranked_probability_score(away_heavy, np.array([0]))


def test_log_loss_brier_accuracy_by_hand() -> None:
    assert log_loss(FORECASTS, OUTCOMES) == pytest.approx((math.log(2) + math.log(5)) / 2)
    assert brier_score(FORECASTS, OUTCOMES) == pytest.approx((0.38 + 0.98) / 2)
    assert accuracy(FORECASTS, OUTCOMES) == pytest.approx(0.5)


def test_perfect_forecast_scores_zero() -> None:
    perfect = np.eye(3)
    scores = score_all(perfect, np.array([0, 1, 2]))
    assert scores["rps"] == 0 and scores["brier"] == 0 and scores["accuracy"] == 1
    assert scores["log_loss"] == pytest.approx(0, abs=1e-12)
