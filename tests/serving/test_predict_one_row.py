"""Predictor.predict_one, the scalar path serving uses for one request, against the matrix path every
batch uses: the same answer for every path a row can take (priced, unpriced, partly priced; with and
without a no-market fallback; trees kept, shrunk or dropped; a temperature), on LightGBM's own
booster and on the C API one serving loads."""

from __future__ import annotations

import math

import lightgbm as lgb
import numpy as np
import pytest

from shared.ml.predictor import MARKET_COLUMNS, LinearBaseline, Predictor, without_market
from shared.serving.booster import NativeBooster

FEATURES = ["elo_diff", "odds_supremacy", "form_home", *MARKET_COLUMNS]
# Both paths round differently (math.exp against numpy's vectorised exp, a dot product against a
# BLAS one) but never by more than a few units in the last place.
TOLERANCE = 1e-12


def synthetic(rows: int, names: list[str], seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    matrix = rng.normal(size=(rows, len(names)))
    for column in MARKET_COLUMNS[:3]:
        if column in names:
            matrix[:, names.index(column)] = rng.uniform(0.1, 0.6, rows)
    return matrix, rng.integers(0, 3, rows)


def trained(names: list[str], seed: int) -> lgb.Booster:
    matrix, outcomes = synthetic(600, names, seed)
    params = {"objective": "multiclass", "num_class": 3, "num_leaves": 4, "verbose": -1, "seed": seed}
    return lgb.train(params, lgb.Dataset(matrix, outcomes, feature_name=names), num_boost_round=15)


BASELINE = LinearBaseline(("odds_supremacy", "elo_diff"), ((0.8, 0.003), (0.0, 0.0), (-0.8, -0.003)), (0.2, 0.0, -0.1))


def predictor(
    native: bool, tree_weight: float, temperature: float, fallback: bool, use_market: bool = True
) -> Predictor:
    def booster(names: list[str], seed: int) -> lgb.Booster | NativeBooster:
        model = trained(names, seed)
        return NativeBooster(model.model_to_string()) if native else model

    no_market_names = without_market(FEATURES)
    no_market = Predictor(booster(no_market_names, 3), no_market_names, BASELINE, 1.05, use_market_margin=False)
    return Predictor(
        booster(FEATURES, 1),
        FEATURES,
        BASELINE,
        temperature,
        use_market_margin=use_market,
        no_market=no_market if fallback else None,
        tree_weight=tree_weight,
    )


def rows() -> list[dict[str, float]]:
    matrix, _ = synthetic(40, FEATURES, 11)
    examples = [dict(zip(FEATURES, map(float, values), strict=True)) for values in matrix]
    for index, row in enumerate(examples):
        if index % 4 == 1:  # no prices at all
            for column in MARKET_COLUMNS:
                row[column] = math.nan
        elif index % 4 == 2:  # one price missing: unpriced
            row[MARKET_COLUMNS[1]] = math.nan
        elif index % 4 == 3:  # a feature absent from the dict: NaN in the matrix too
            del row["form_home"]
    return examples


@pytest.mark.parametrize("native", [True, False], ids=["C API booster", "lightgbm booster"])
@pytest.mark.parametrize(
    ("tree_weight", "temperature", "fallback", "use_market"),
    [
        (1.0, 1.0, True, True),
        (0.5, 1.1, True, True),
        (0.0, 1.0, True, True),  # the market's own probabilities where priced
        (0.0, 0.9, False, True),  # unpriced rows fall back to the baseline margin
        (1.0, 1.0, False, True),
        (1.0, 1.2, False, False),  # a no-market model alone
    ],
)
def test_one_row_answers_as_the_matrix_path(
    native: bool, tree_weight: float, temperature: float, fallback: bool, use_market: bool
) -> None:
    model = predictor(native, tree_weight, temperature, fallback, use_market)
    examples = rows()
    expected = model.predict_proba(examples)
    answered = np.array([model.predict_one(row) for row in examples])
    np.testing.assert_allclose(answered, expected, rtol=0, atol=TOLERANCE)
    assert all(type(p) is float for p in model.predict_one(examples[0]))


def test_market_only_rows_are_the_market_bit_for_bit() -> None:
    model = predictor(True, 0.0, 1.0, fallback=True)
    priced = rows()[0]
    assert model.predict_one(priced) == [priced[column] for column in MARKET_COLUMNS[:3]]


# POST /predict with and without prices (the no-market path runs its trees) in a fresh interpreter, then
# the heavy modules it holds: one-row serving needs neither numpy (~12 MB resident, ~40 ms of a cold
# start) nor mlflow, the lightgbm package or pandas (issue #19: every HTTP function within 100 MB); by
# team names on the embedded defaults, neither SQLAlchemy (the team directory is the export's copy)
# nor redis (no REDIS_URL): a fifth of a cold start.
PREDICT_IN_A_FRESH_PROCESS = """
import json, sys
from fastapi.testclient import TestClient
from functions.predict.main import app
body = {"home_team": "Man United", "away_team": "Liverpool", "kickoff": "2022-04-19T19:00:00Z"}
priced = {**body, "odds": {"home": 2.9, "draw": 3.6, "away": 2.4}}
with TestClient(app) as client:
    answers = [client.post("/predict", json=request).json() for request in (body, priced, body)]
loaded = [m for m in ("numpy", "mlflow", "lightgbm", "pandas", "sqlalchemy", "redis") if m in sys.modules]
sums = [sum(a["probabilities"].values()) for a in answers]
print(json.dumps({"markets": [a.get("market") for a in answers], "sums": sums, "loaded": loaded}))
"""


def test_predict_serves_without_numpy_the_training_stack_or_a_database_layer(prepared_data) -> None:
    answer = prepared_data.run_fresh(PREDICT_IN_A_FRESH_PROCESS)
    assert answer["markets"] == ["none", "pre-kickoff", "none"] and answer["loaded"] == []
    assert all(abs(total - 1.0) < 1e-9 for total in answer["sums"])


# With REDIS_URL set the first request imports redis. From redis-py 7.2 on, `import redis` imports the
# OpenTelemetry SDK's metrics whenever it is installed (mlflow brings it into the ml image): 70-180 ms
# more on each such cold start, which is why requirements/serve.txt keeps redis below 7.2.
REDIS_IN_A_FRESH_PROCESS = """
import json, sys
import redis
print(json.dumps({"otel_sdk": sorted(m for m in sys.modules if m.startswith("opentelemetry.sdk"))}))
"""


def test_importing_redis_leaves_the_opentelemetry_sdk_alone(prepared_data) -> None:
    assert prepared_data.run_fresh(REDIS_IN_A_FRESH_PROCESS) == {"otel_sdk": []}
