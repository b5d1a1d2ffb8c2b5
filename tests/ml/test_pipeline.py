"""The main job's ML part on the embedded defaults: local MLflow store and local objects."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest

from shared.db.session import engine_for
from shared.ml.pipeline import run_ml_demo
from shared.ml.registry import CHAMPION, aliases_of, tracking_client
from shared.ml.score import LATEST_POINTER
from shared.storage import get_store

pytestmark = pytest.mark.slow


def test_run_ml_demo_trains_registers_promotes_and_scores(demo_tables, configure) -> None:
    configure()
    store = get_store()
    steps: list[str] = []
    table = run_ml_demo(engine_for(demo_tables.database_url), store, steps.append)

    assert "| all | model |" in table and "| model (no market) | market (closing) | pooled |" in table
    assert CHAMPION in aliases_of(tracking_client(), "time2bet-outcome")
    pointer = json.loads(store.get_bytes(LATEST_POINTER))
    assert pointer["key"] == "predictions/batch/date=2022-01-01/part-0.parquet"
    predictions = pd.read_parquet(io.BytesIO(store.get_bytes(pointer["key"])))
    assert len(predictions) == pointer["rows"] > 0
    assert (predictions["kickoff_utc"] > pd.Timestamp("2022-01-01", tz="UTC")).all()
    np.testing.assert_allclose(predictions[["p_home", "p_draw", "p_away"]].sum(axis=1), 1.0)
    assert (predictions["features_as_of"] <= pd.Timestamp("2022-01-01", tz="UTC")).all()
    assert any("promotion gate" in step for step in steps)
