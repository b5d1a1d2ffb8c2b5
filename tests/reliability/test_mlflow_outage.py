"""The fault matrix, registry column: MLflow stopped after warm-up. POST /predict keeps answering with the
version it loaded (a model in memory never needs the registry), readiness stays ready and reports MLflow
down, the model card answers 503 with Retry-After and a JSON message, and no answer or log line shows the
tracking server's password; once MLflow is back on the same port the alias is followed again (a move is
picked up). The MLflow server is a private one this test starts and stops (see conftest.py); the
session's is never touched."""

from __future__ import annotations

import importlib
import logging
import uuid

import pytest
from mlflow import MlflowClient

from tests.reliability.conftest import PrivateServer
from tests.services import eventually
from tests.serving.test_model_cache import train_champion

SECRET = "mlflow-s3cr3t-pw"
BODY = {"home_team": "Man United", "away_team": "Liverpool", "kickoff": "2022-04-19T19:00:00Z"}
# an input no answer was remembered for: the model itself has to answer it during the outage
NEW_INPUT = {**BODY, "odds": {"home": 2.5, "draw": 3.3, "away": 2.9}}
FUNCTIONS = ("predict", "model_card", "health")


@pytest.mark.mlflow
@pytest.mark.slow
def test_a_loaded_model_serves_through_an_mlflow_outage_and_the_alias_is_followed_after(
    private_mlflow: PrivateServer, configure, client_for, caplog: pytest.LogCaptureFixture
) -> None:
    # The server runs without authentication, so the credentials are sent and ignored: they must never be
    # shown. MODEL_REFRESH_INTERVAL=0: every request has the alias re-checked in the background.
    tracking_uri = private_mlflow.url.replace("http://", f"http://t2b:{SECRET}@")
    configure(MLFLOW_TRACKING_URI=tracking_uri, T2B_MODEL_NAME=f"outcome-{uuid.uuid4().hex[:8]}")
    name = train_champion()
    configure(MODEL_REFRESH_INTERVAL="0")
    # from here on the functions' logs at INFO, whatever an earlier test left configured: httpx logs the
    # URL of every request it sends at INFO (training's own MLflow output is not the functions' to police)
    caplog.clear()
    caplog.set_level(logging.INFO)
    clients = {
        function: client_for(importlib.import_module(f"functions.{function}.main").app, raise_server_exceptions=False)
        for function in FUNCTIONS
    }
    predict, card, health = (clients[function] for function in FUNCTIONS)
    warm = predict.post("/predict", json=BODY)
    assert warm.status_code == 200 and warm.json()["model"] == {"name": name, "version": "1"}, warm.text
    assert card.get("/model/card").json()["champion"]["version"] == "1"
    mlflow_state = health.get("/health/ready").json()["dependencies"]["mlflow"]
    assert (mlflow_state["state"], mlflow_state["champion_version"]) == ("ok", "1")

    private_mlflow.stop()

    def refresh_failed() -> bool:  # the background alias check ran into the outage, and said so
        assert predict.post("/predict", json=BODY).json()["model"]["version"] == "1"
        return "keeping version 1" in caplog.text

    eventually(refresh_failed, 30, "a failed alias check is logged")
    for body in (BODY, NEW_INPUT):
        answer = predict.post("/predict", json=body)
        assert answer.status_code == 200 and answer.json()["model"]["version"] == "1", answer.text
    assert predict.get("/health/ready").status_code == 200  # following the alias: a loaded model serves

    # only the store decides readiness; MLflow degrades the model card and a cold start, and is reported
    ready = health.get("/health/ready")
    assert ready.status_code == 200 and ready.json()["ready"] is True, ready.text
    assert ready.json()["dependencies"]["mlflow"]["state"].startswith("down:"), ready.text
    for path in ("/model/card", "/model/card/plots/calibration"):
        answer = card.get(path)
        assert answer.status_code == 503, (path, answer.status_code, answer.text)
        assert int(answer.headers["retry-after"]) > 0 and "MLflow" in answer.json()["detail"]
        assert SECRET not in answer.text
    assert SECRET not in ready.text

    private_mlflow.start()
    registry = MlflowClient(tracking_uri)
    first = registry.get_model_version(name, "1")
    # version 1's logged model again as version 2: a server wants the model id its source (models:/<id>) names
    model_id = first.source.removeprefix("models:/")
    second = registry.create_model_version(name, first.source, first.run_id, model_id=model_id).version
    registry.set_registered_model_alias(name, "champion", second)

    def serving_second() -> bool:
        answer = predict.post("/predict", json=BODY)
        assert answer.status_code == 200, answer.text
        return answer.json()["model"]["version"] == str(second)

    eventually(serving_second, 60, f"the alias move to version {second} is picked up")
    assert card.get("/model/card").json()["champion"]["version"] == str(second)
    assert health.get("/health/ready").json()["dependencies"]["mlflow"]["champion_version"] == str(second)
    assert SECRET not in caplog.text  # the outage was logged, without the password
