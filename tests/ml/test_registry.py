"""Registry flow against a real MLflow tracking server: challenger, gate, champion."""

from __future__ import annotations

import dataclasses
import uuid

import numpy as np
import pytest

from shared.config import get_settings
from shared.features.offline import build_feature_table
from shared.features.params import FeatureParams
from shared.ml.evaluate import evaluate_model
from shared.ml.registry import (
    CHALLENGER,
    CHAMPION,
    aliases_of,
    load_predictor,
    log_and_register,
    promote,
    resolve_alias,
    tracking_client,
)
from shared.ml.train import TrainParams, train_model

pytestmark = [pytest.mark.mlflow, pytest.mark.slow]


@pytest.fixture(scope="module")
def frame(demo_tables):
    return build_feature_table(demo_tables.matches, demo_tables.odds, FeatureParams()).frame


def test_gate_promotes_first_refuses_worse_and_moves_for_better(frame, configure, mlflow_server) -> None:
    configure(MLFLOW_TRACKING_URI=mlflow_server, T2B_MODEL_NAME=f"outcome-{uuid.uuid4().hex[:8]}")
    name = get_settings().model_name
    client = tracking_client()
    trained = train_model(frame, "2020-2021", TrainParams())

    def register(temperature: float):
        # A higher temperature flattens the forecasts: the same model, measurably worse.
        predictor = dataclasses.replace(trained.predictor, temperature=temperature)
        report = evaluate_model(frame, dataclasses.replace(trained, predictor=predictor), ["2021-2022"])
        return log_and_register(report, {"temperature": temperature}, [])

    first = register(1.6)
    assert aliases_of(client, name) == {CHALLENGER: str(first.version)}
    decision = promote(client, name, first, frame)
    assert decision.promoted and decision.reason == "first model"

    worse = register(3.0)
    decision = promote(client, name, worse, frame)
    assert not decision.promoted and decision.candidate_rps > decision.champion_rps
    assert aliases_of(client, name) == {CHAMPION: str(first.version), CHALLENGER: str(worse.version)}

    better = register(trained.predictor.temperature)
    decision = promote(client, name, better, frame)
    assert decision.promoted and decision.candidate_rps < decision.champion_rps
    assert decision.matches == int((frame["season"] == "2021-2022").sum())
    assert resolve_alias(client, name, CHAMPION).version == better.version

    served = load_predictor(resolve_alias(client, name, CHAMPION))
    rows = frame[frame["season"] == "2021-2022"].head(20)[served.feature_names].to_dict("records")
    assert served.version == str(better.version)
    np.testing.assert_allclose(served.predict_proba(rows), trained.predictor.predict_proba(rows), rtol=1e-9)
