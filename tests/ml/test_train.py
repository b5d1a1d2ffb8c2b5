"""Training options (recency weighting of seasons) and the two paths of a trained model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from shared.features.offline import build_feature_table
from shared.features.params import FeatureParams
from shared.ml.metrics import log_losses, ranked_probability_scores
from shared.ml.predictor import MARKET_COLUMNS, NO_MARKET, PRE_KICKOFF, Predictor, softmax, without_market
from shared.ml.train import (
    TREE_WEIGHTS,
    TrainingError,
    TrainParams,
    fit_temperature,
    market_tree_weight,
    season_weights,
    train_model,
)
from shared.serving.booster import NativeBooster

SEASONS = ["2018-2019", "2019-2020", "2020-2021"]


def test_season_weights_decay_with_age_from_the_last_training_season() -> None:
    rows = pd.Series(["2018-2019", "2020-2021", "2019-2020", "2018-2019"])
    np.testing.assert_allclose(season_weights(rows, SEASONS, 0.5), [0.25, 1.0, 0.5, 0.25])
    # The early-stopping fit leaves out the last seasons, but ages still count from the last one.
    np.testing.assert_allclose(season_weights(rows[rows != "2020-2021"], SEASONS, 0.5), [0.25, 0.5, 0.25])
    assert season_weights(rows, SEASONS, 1.0) is None


@pytest.mark.parametrize("decay", [0.0, 1.5])
def test_season_decay_outside_the_unit_interval_is_refused(decay: float) -> None:
    with pytest.raises(TrainingError):
        season_weights(pd.Series(SEASONS), SEASONS, decay)


def _market_and_outcomes(truth_shift: np.ndarray, rows: int = 20_000) -> tuple[np.ndarray, np.ndarray]:
    """Market log-probabilities and outcomes drawn from softmax(market + truth_shift)."""
    rng = np.random.default_rng(11)
    margin = np.log(softmax(rng.normal(0.0, 0.5, size=(rows, 3))))
    truth = softmax(margin + truth_shift)
    outcomes = (rng.random(rows)[:, None] > truth.cumsum(axis=1)).sum(axis=1)
    return margin, outcomes


def test_a_correction_the_validation_cannot_tell_from_noise_is_dropped() -> None:
    margin, outcomes = _market_and_outcomes(np.zeros(3))  # the market is the truth
    noise = np.random.default_rng(12).normal(0.0, 0.3, size=margin.shape)
    assert market_tree_weight(noise, margin, outcomes, se=1.0) == 0.0


def test_a_real_correction_is_mostly_kept() -> None:
    """The standard error grows with the weight, so even a true correction is shrunk a little."""
    rng = np.random.default_rng(13)
    correction = rng.normal(0.0, 0.6, size=(20_000, 3))
    margin, outcomes = _market_and_outcomes(correction)
    assert market_tree_weight(correction, margin, outcomes, se=1.0) >= 0.9
    assert market_tree_weight(correction, margin, outcomes, se=0.0) == 1.0


def test_more_standard_errors_never_keep_more_of_the_correction() -> None:
    rng = np.random.default_rng(14)
    correction = rng.normal(0.0, 0.15, size=(3_000, 3))
    margin, outcomes = _market_and_outcomes(correction, rows=3_000)
    weights = [market_tree_weight(correction, margin, outcomes, se=se) for se in (0.0, 1.0, 2.0, 4.0)]
    assert weights == sorted(weights, reverse=True)


def test_a_correction_worse_on_rps_is_dropped_even_where_log_loss_alone_would_keep_it() -> None:
    """The market misses a few away wins it prices at 0.1 % (log loss pays dearly for those); the
    correction fixes them but adds noise everywhere else, which RPS pays for."""
    rng = np.random.default_rng(15)
    rows = 20_000
    truth = softmax(rng.normal(0.0, 0.5, size=(rows, 3)))
    blind = rng.random(rows) < 0.1
    market = truth.copy()
    market[blind, 2] = 0.001
    margin = np.log(market / market.sum(axis=1, keepdims=True))
    outcomes = (rng.random(rows)[:, None] > truth.cumsum(axis=1)).sum(axis=1)
    correction = np.where(blind[:, None], np.log(truth) - margin, rng.normal(0.0, 0.6, size=(rows, 3)))

    def change(weight: float, score) -> np.ndarray:
        return score(softmax(margin + weight * correction), outcomes) - score(softmax(margin), outcomes)

    def log_loss_only(weight: float) -> float:
        loss = change(weight, log_losses)
        return loss.mean() + 2.0 * loss.std(ddof=1) / np.sqrt(rows)

    greedy = min(TREE_WEIGHTS, key=log_loss_only)
    assert greedy > 0.0 and change(greedy, ranked_probability_scores).mean() > 0.0  # the case is what it claims
    assert market_tree_weight(correction, margin, outcomes, se=2.0) == 0.0


def test_a_temperature_the_validation_cannot_tell_from_noise_is_not_applied() -> None:
    margin, outcomes = _market_and_outcomes(np.zeros(3), rows=2_000)  # the market is the truth
    assert fit_temperature(margin, outcomes) != 1.0  # the plain minimum fits the noise
    assert fit_temperature(margin, outcomes, se=2.0) == 1.0


def test_a_real_miscalibration_is_still_corrected() -> None:
    rng = np.random.default_rng(16)
    margin = np.log(softmax(rng.normal(0.0, 0.5, size=(20_000, 3))))
    truth = softmax(margin / 1.3)  # the market is overconfident
    outcomes = (rng.random(len(truth))[:, None] > truth.cumsum(axis=1)).sum(axis=1)
    assert 1.15 <= fit_temperature(margin, outcomes, se=2.0) <= fit_temperature(margin, outcomes) <= 1.4


def test_without_a_significant_correction_the_market_path_is_the_pre_kickoff_market(demo_tables) -> None:
    frame = build_feature_table(demo_tables.matches, demo_tables.odds, FeatureParams()).frame
    trained = train_model(frame, "2020-2021", TrainParams(learning_rate=0.1, max_rounds=40, early_stopping_rounds=10))
    predictor = trained.predictor
    assert (predictor.tree_weight, predictor.temperature) == (0.0, 1.0)
    test = frame[(frame["season"] == "2021-2022") & frame["market_p_home"].notna()]
    probabilities = predictor.predict_matrix(test[predictor.feature_names].to_numpy(dtype=float))
    np.testing.assert_array_equal(probabilities, test[list(MARKET_COLUMNS[:3])].to_numpy(dtype=float))  # not just close


def test_the_tree_weight_travels_in_the_config_and_scales_the_correction(demo_tables) -> None:
    frame = build_feature_table(demo_tables.matches, demo_tables.odds, FeatureParams()).frame
    trained = train_model(frame, "2020-2021", TrainParams(learning_rate=0.1, max_rounds=40, early_stopping_rounds=10))
    whole = trained.predictor
    config = whole.config() | {"tree_weight": 0.5}
    half = Predictor.from_config(NativeBooster(whole.booster.model_to_string()), config)
    assert half.tree_weight == 0.5
    legacy = {key: value for key, value in whole.config().items() if key != "tree_weight"}
    assert Predictor.from_config(whole.booster, legacy).tree_weight == 1.0  # versions from before the weight
    test = frame[(frame["season"] == "2021-2022") & frame["market_p_home"].notna()].head(20)
    matrix = test[whole.feature_names].to_numpy(dtype=float)
    market = np.log(test[list(MARKET_COLUMNS[:3])].to_numpy(dtype=float))
    trees = whole.booster.predict(matrix, raw_score=True)
    expected = softmax((market + 0.5 * trees) / whole.temperature)
    np.testing.assert_allclose(half.predict_matrix(matrix), expected, atol=1e-9)


def test_training_with_season_decay_gives_probabilities(demo_tables) -> None:
    frame = build_feature_table(demo_tables.matches, demo_tables.odds, FeatureParams()).frame
    params = TrainParams(season_decay=0.8, max_rounds=50, early_stopping_rounds=10)
    trained = train_model(frame, "2020-2021", params)
    test = frame[frame["season"] == "2021-2022"]
    probabilities = trained.predictor.predict_matrix(test[trained.predictor.feature_names].to_numpy(dtype=float))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)
    assert TrainParams.from_mapping({"season_decay": 0.8}).season_decay == 0.8


def test_both_paths_travel_in_one_config_and_serve_alike_on_the_serving_booster(demo_tables) -> None:
    frame = build_feature_table(demo_tables.matches, demo_tables.odds, FeatureParams()).frame
    trained = train_model(frame, "2020-2021", TrainParams(learning_rate=0.1, max_rounds=60, early_stopping_rounds=10))
    predictor = trained.predictor
    assert predictor.no_market is not None
    assert predictor.no_market.feature_names == without_market(predictor.feature_names)
    assert trained.no_market is not None and trained.no_market["best_iteration"] >= 1
    test = frame[frame["season"] == "2021-2022"].head(40)
    matrix = test[predictor.feature_names].to_numpy(dtype=float, copy=True)
    matrix[::2, [predictor.feature_names.index(c) for c in MARKET_COLUMNS]] = np.nan  # half the rows unpriced

    served = Predictor.from_config(NativeBooster(predictor.booster.model_to_string()), predictor.config())
    assert isinstance(served.no_market.booster, NativeBooster)  # type: ignore[union-attr]
    np.testing.assert_allclose(served.predict_matrix(matrix), predictor.predict_matrix(matrix), atol=1e-12)
    assert served.paths(matrix) == [NO_MARKET, PRE_KICKOFF] * 20
    no_market = predictor.no_market.predict_matrix(test[predictor.no_market.feature_names].to_numpy(dtype=float))
    np.testing.assert_allclose(predictor.predict_matrix(matrix)[::2], no_market[::2], atol=1e-12)
