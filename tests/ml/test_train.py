"""Training options: recency weighting of seasons."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from shared.features.offline import build_feature_table
from shared.features.params import FeatureParams
from shared.ml.train import TrainingError, TrainParams, season_weights, train_model

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


def test_training_with_season_decay_gives_probabilities(demo_tables) -> None:
    frame = build_feature_table(demo_tables.matches, demo_tables.odds, FeatureParams()).frame
    params = TrainParams(season_decay=0.8, max_rounds=50, early_stopping_rounds=10)
    trained = train_model(frame, "2020-2021", params)
    test = frame[frame["season"] == "2021-2022"]
    probabilities = trained.predictor.predict_matrix(test[trained.predictor.feature_names].to_numpy(dtype=float))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)
    assert TrainParams.from_mapping({"season_decay": 0.8}).season_decay == 0.8
