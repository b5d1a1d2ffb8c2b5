"""A prediction request the Trigger gave up on fails its async job instead of leaving it queued."""

from __future__ import annotations

import uuid

from shared.events.contract import make_event
from shared.events.delivery import ATTEMPTS_EXTENSION, ERROR_CODE_EXTENSION, ERROR_DATA_EXTENSION
from shared.serving.schemas import PredictRequest
from shared.tasks.dead_letter import handle_dead_letter

REQUEST = {"home_team": "Arsenal", "away_team": "Chelsea", "kickoff": "2022-04-19T19:00:00Z"}


def test_dead_lettered_prediction_fails_its_job(
    configure, make_services, pg_url: str, redis_url: str, redis_prefix: str
) -> None:
    configure(DATABASE_URL=pg_url, REDIS_URL=redis_url, REDIS_KEY_PREFIX=redis_prefix)
    services = make_services()
    task_id = uuid.uuid4().hex
    services.job_store.create(task_id, PredictRequest(**REQUEST))
    event = make_event(
        "io.time2bet.prediction.requested",
        {"job_id": task_id, "request": REQUEST},
        source="/tests",
        extensions={ATTEMPTS_EXTENSION: "4", ERROR_CODE_EXTENSION: "503", ERROR_DATA_EXTENSION: "model unavailable"},
    )
    assert handle_dead_letter(event, services) == "stored"
    state = services.job_store.get(task_id)
    assert state is not None and state.status == "failed"
    assert "after 4 attempts" in state.error and "model unavailable" in state.error
    assert handle_dead_letter(event, services) == "duplicate"
