"""POST /predict and GET /predict/{match_id} against real PostgreSQL, Redis and an MLflow server."""

from __future__ import annotations

import subprocess
import time
import uuid
from pathlib import Path

import pytest
from mlflow import MlflowClient
from sqlalchemy import func, select

from shared.config import get_settings
from shared.db.models import Match, PredictionLog
from shared.db.session import get_engine
from shared.ingest.football_data import discover, import_file
from shared.ml.pipeline import run_ml_demo
from shared.serving.schemas import PredictRequest
from shared.storage import get_store
from tests.services import REPO, free_port, listening, require, stop_process, wait_for_port

BODY = {"home_team": "Man United", "away_team": "Liverpool", "kickoff": "2022-04-19T19:00:00Z"}


@pytest.fixture
def private_redis(tmp_path: Path):
    """A Redis server of this test's own, so the test can stop it mid-way."""
    require(listening("127.0.0.1", 6379), "Redis is not installed here")
    port = free_port()
    process = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
    )
    wait_for_port(port, process)
    yield process, f"redis://127.0.0.1:{port}/0"
    stop_process(process)


@pytest.fixture
def served(configure, pg_url: str, mlflow_server: str, private_redis) -> tuple[str, subprocess.Popen]:
    process, redis_url = private_redis
    configure(
        DATABASE_URL=pg_url,
        MLFLOW_TRACKING_URI=mlflow_server,
        REDIS_URL=redis_url,
        T2B_MODEL_NAME=f"outcome-{uuid.uuid4().hex[:8]}",
        MODEL_REFRESH_INTERVAL="0",
        PREDICTION_LOG_FLUSH="0.1",
    )
    engine = get_engine()
    for path in discover([REPO / "data" / "demo" / "football-data"]):
        assert import_file(engine, path).ok
    run_ml_demo(engine, get_store())
    return get_settings().model_name, process


@pytest.mark.mlflow
@pytest.mark.slow
def test_predict_memory_redis_failure_alias_move_and_log(served, make_services, client_for) -> None:
    from functions.predict.main import app

    model_name, redis_process = served
    services = make_services()
    with client_for(app, services) as client:
        first = client.post("/predict", json=BODY)
        assert first.status_code == 200, first.text
        answer = first.json()
        assert answer["model"] == {"name": model_name, "version": "1"} and answer["cached"] is False
        assert abs(sum(answer["probabilities"].values()) - 1) < 1e-9
        assert answer["features_as_of"] is not None
        assert answer["market"] == "none"  # no odds: the no-market path served it (#18)
        again = client.post("/predict", json=BODY).json()  # from the process's memory
        assert again["cached"] is True and again["probabilities"] == answer["probabilities"]
        # another replica (its own memory) computes the same answer: no answer is shared, none goes stale
        other = make_services().predictions.predict(PredictRequest(**BODY))
        assert (other.cached, other.probabilities.model_dump()) == (False, answer["probabilities"])

        # bad input: a clear 4xx, never a traceback
        unknown = client.post("/predict", json={**BODY, "home_team": "Manchester Utd"})
        assert unknown.status_code == 422 and "Man United" in unknown.json()["detail"]
        assert client.post("/predict", json={"match_id": 10**9}).status_code == 404
        assert "match_id" in client.post("/predict", json={"home_team": "Arsenal"}).json()["detail"]

        # Redis stopped mid-test: still 200, a new input computed, a remembered one served from memory
        stop_process(redis_process)
        new_input = {**BODY, "odds": {"home": 2.5, "draw": 3.3, "away": 2.9}}
        down = client.post("/predict", json=new_input)
        assert down.status_code == 200 and down.json()["cached"] is False
        assert down.json()["market"] == "pre-kickoff"
        remembered = client.post("/predict", json=BODY)
        assert remembered.status_code == 200 and remembered.json()["cached"] is True
        assert remembered.json()["probabilities"] == answer["probabilities"]

        # a stored match by id uses its pre-kickoff odds
        with get_engine().connect() as connection:
            match_id = connection.scalar(select(func.max(Match.id)))
        assert client.post("/predict", json={"match_id": match_id}).json()["match_id"] == match_id

        # the alias moves: the process serves the new version without a restart
        mlflow = MlflowClient(get_settings().resolved_mlflow_tracking_uri)
        run_ml_demo(get_engine(), get_store())  # registers version 2
        mlflow.set_registered_model_alias(model_name, "champion", "2")
        deadline = time.monotonic() + 30
        while client.post("/predict", json=BODY).json()["model"]["version"] != "2":
            assert time.monotonic() < deadline, "alias move not picked up"
            time.sleep(0.2)

    services.close()  # what the app's lifespan does at shutdown: the prediction log flushed
    with get_engine().connect() as connection:
        logged = connection.scalar(select(func.count()).select_from(PredictionLog))
    assert logged >= 6


@pytest.mark.mlflow
@pytest.mark.slow
def test_precomputed_lookup(served, client_for) -> None:
    import io
    import json

    import pyarrow.parquet as pq

    from functions.prediction_lookup.main import app

    store = get_store()
    key = json.loads(store.get_bytes("predictions/batch/latest.json"))["key"]
    scored = pq.read_table(io.BytesIO(store.get_bytes(key))).to_pylist()[0]
    with client_for(app) as client:
        found = client.get(f"/predict/{scored['match_id']}")
        assert found.status_code == 200
        assert found.json()["probabilities"]["home"] == pytest.approx(scored["p_home"])
        missing = client.get("/predict/999999999")
        assert missing.status_code == 404 and "not in the latest batch" in missing.json()["detail"]
        assert client.get("/predict/abc").status_code == 422
