"""The batch the lookups serve: its JSON rows answer as its parquet does, a same-day re-score is picked up
by both readers, and the lookup functions serve without a dataframe or parquet library."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from shared.ml.data import table_bytes
from shared.ml.score import batch_key, write_batch
from shared.queries.fixtures import LatestBatch, fixtures
from shared.serving.batch_lookup import LATEST_POINTER, SERVED_COLUMNS, BatchPointer, BatchPredictions
from shared.storage import LocalObjectStore

DAY = datetime(2022, 3, 1, tzinfo=UTC)


def scored(p_home: float) -> pd.DataFrame:
    """Two matches as shared.ml.score writes them: tz-aware kick-offs, a naive features date, one match
    without match-day inputs (NaT), and a feature column the lookups do not serve."""
    return pd.DataFrame(
        {
            "match_id": [11, 12],
            "league": ["E0", "SP1"],
            "season": ["2021-2022", "2021-2022"],
            "kickoff_utc": pd.to_datetime(["2022-03-05T15:00:00Z", "2022-03-04T20:00:00Z"], utc=True),
            "home_team_id": [1, 3],
            "home_team": ["Arsenal", "Betis"],
            "away_team_id": [2, 4],
            "away_team": ["Chelsea", "Sevilla"],
            "p_home": [p_home, 0.41],
            "p_draw": [0.25, 0.3],
            "p_away": [0.75 - p_home, 0.29],
            "model_name": ["outcome", "outcome"],
            "model_version": ["3", "3"],
            "features_as_of": pd.Timestamp("2022-02-28T22:00:00"),
            "inputs_fetched_at": pd.to_datetime([None, "2022-03-04T18:30:00Z"], utc=True),
            "scored_at": pd.Timestamp(DAY),
            "feature_elo_diff": [25.0, -10.0],
        }
    )


@pytest.fixture
def store(tmp_path: Path) -> LocalObjectStore:
    store = LocalObjectStore(tmp_path / "objects")
    write_batch(store, scored(0.5), DAY)
    return store


def without_rows_key(store: LocalObjectStore) -> None:
    """The pointer as batches written before the JSON rows had it."""
    pointer = json.loads(store.get_bytes(LATEST_POINTER))
    del pointer["rows_key"]
    store.put_bytes(LATEST_POINTER, json.dumps(pointer).encode())


def test_json_rows_answer_as_the_parquet(store: LocalObjectStore) -> None:
    from_json = BatchPointer.read(store).rows(store)
    json_lookup = [BatchPredictions(store).get(match_id) for match_id in (11, 12)]
    without_rows_key(store)
    pointer = BatchPointer.read(store)
    assert pointer.rows_key is None
    assert from_json == pointer.rows(store)
    assert [BatchPredictions(store).get(match_id) for match_id in (11, 12)] == json_lookup
    assert set(from_json[0]) == set(SERVED_COLUMNS)
    assert from_json[0]["inputs_fetched_at"] is None and from_json[0]["features_as_of"].tzinfo is None


def test_a_same_day_rescore_reaches_both_readers(store: LocalObjectStore) -> None:
    lookup, batch = BatchPredictions(store, refresh_s=0.0), LatestBatch(store, refresh_s=0.0)
    assert lookup.get(11).probabilities.home == 0.5
    assert [f.match_id for f in fixtures(batch, None, None, None, 10).fixtures] == [12, 11]  # by kick-off
    write_batch(store, scored(0.6), DAY)  # the same key, re-scored on match-day news
    assert lookup.get(11).probabilities.home == 0.6
    assert fixtures(batch, "E0", None, None, 10).fixtures[0].probabilities.home == 0.6


# Both lookup functions in a fresh interpreter, then what they hold: JSON rows need neither a parquet reader
# nor a dataframe library (issue #19: every HTTP function within 100 MB).
LOOKUPS_IN_A_FRESH_PROCESS = """
import json, sys
from fastapi.testclient import TestClient
from functions.fixtures.main import app as fixtures_app
from functions.prediction_lookup.main import app as lookup_app
with TestClient(fixtures_app) as client:
    listed = client.get("/fixtures", params={"limit": 1}).json()["fixtures"]
with TestClient(lookup_app) as client:
    looked_up = client.get(f"/predict/{listed[0]['match_id']}")
loaded = [m for m in ("pyarrow", "numpy", "pandas") if m in sys.modules]
print(json.dumps({"found": len(listed), "lookup": looked_up.status_code, "loaded": loaded}))
"""


def test_lookup_functions_serve_without_a_parquet_reader(prepared_data) -> None:
    assert prepared_data.run_fresh(LOOKUPS_IN_A_FRESH_PROCESS) == {"found": 1, "lookup": 200, "loaded": []}


def test_a_batch_older_than_a_served_column_is_still_served(tmp_path: Path) -> None:
    """Written before match day added inputs_fetched_at, and before the JSON rows: its parquet answers."""
    store = LocalObjectStore(tmp_path / "objects")
    key = batch_key(DAY)
    store.put_bytes(key, table_bytes(scored(0.5).drop(columns=["inputs_fetched_at"])))
    store.put_bytes(LATEST_POINTER, json.dumps({"key": key, "rows": 2, "written_at": DAY.isoformat()}).encode())
    served = BatchPredictions(store).get(12)
    assert served.probabilities.away == 0.29 and served.inputs_fetched_at is None
