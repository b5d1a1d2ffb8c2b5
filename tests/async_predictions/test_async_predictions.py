"""Async predictions: POST /predict/async → prediction.requested → infer → the job's result.

Against real RabbitMQ, Redis (rq job state), PostgreSQL and the MLflow server, with infer as its own
uvicorn process behind the RabbitMQ dispatcher; and on the embedded defaults through
the in-process bus.
"""

from __future__ import annotations

import uuid

import pytest
import redis
from fastapi.testclient import TestClient
from rq import Queue
from rq.job import Job
from rq.results import Result
from rq.serializers import JSONSerializer

from functions.predict.main import app as predict_app
from functions.predict_async.main import app as predict_async_app
from functions.task_status.main import app as task_status_app
from shared.events.contract import PREDICTION_REQUESTED, PredictionRequested, make_event, parse_event
from shared.events.dispatcher import RabbitDispatcher
from shared.events.routing import load_routing
from shared.jobs import JobState
from shared.serving.schemas import PredictRequest
from tests.async_predictions.conftest import BODY, poll_until_done
from tests.events.subscriber import running_subscribers
from tests.services import free_port
from tests.tasks.conftest import post_event

pytestmark = pytest.mark.slow
UNKNOWN_TEAM = {**BODY, "home_team": "Manchester Utd"}


def submit(client: TestClient, body: dict) -> str:
    answer = client.post("/predict/async", json=body)
    assert answer.status_code == 202, answer.text
    accepted = answer.json()
    assert accepted["status"] == "queued"
    assert accepted["status_url"] == f"/monitoring/task_status/{accepted['task_id']}" == answer.headers["location"]
    return accepted["status_url"]


def rq_queue(env: dict[str, str]) -> Queue:
    return Queue(f"{env['REDIS_KEY_PREFIX']}predictions", connection=redis.Redis.from_url(env["REDIS_URL"]))


def the_same_prediction(result: dict, sync: dict) -> bool:
    return (result["probabilities"], result["model"]) == (sync["probabilities"], sync["model"])


@pytest.mark.rabbitmq
@pytest.mark.mlflow
def test_async_round_trip_through_rabbitmq(served, configure, hosting, client_for, amqp_url, start_function) -> None:
    infer_url = start_function("infer", {**served, "AMQP_URL": amqp_url})
    configure(AMQP_URL=amqp_url)
    here = hosting()
    routing = load_routing()
    with (
        client_for(predict_async_app, here) as submitter,
        client_for(task_status_app, here) as status,
        client_for(predict_app, here) as sync,
        running_subscribers() as others,
    ):
        # published before any consumer runs: the event waits in its Trigger queue, the job is queued
        finished_url = submit(submitter, BODY)
        failed_url = submit(submitter, UNKNOWN_TEAM)
        assert status.get(finished_url).json()["status"] == "queued"

        services = {**others.urls(routing.services), "infer": infer_url}
        with RabbitDispatcher(amqp_url, routing, services, recent_capacity=100, backoff_scale=0.01):
            finished = poll_until_done(status, finished_url)
            failed = poll_until_done(status, failed_url)
            [completed] = others.wait_for(1, "cache-ops", timeout=30)

        # queued → (started) → finished, with what sync /predict answers for the same body
        assert [s["status"] for s in finished] in (["queued", "finished"], ["queued", "started", "finished"])
        result = JobState.model_validate(finished[-1])
        answer = sync.post("/predict", json=BODY)
        assert answer.status_code == 200
        assert result.result is not None and the_same_prediction(result.result.model_dump(mode="json"), answer.json())
        assert result.error is None and result.ended_at is not None

        # infer announced it (prediction.completed, to cache-ops)
        data = parse_event(completed.event).data
        assert data.job_id == result.task_id and data.model_version == result.result.model.version
        assert data.home_win == result.result.probabilities.home

        # a request sync /predict answers 422 to is a failed job with the reason, not an event retry
        assert failed[-1]["status"] == "failed" and failed[-1]["result"] is None
        assert "unknown team 'Manchester Utd'" in failed[-1]["error"] and "Man United" in failed[-1]["error"]
        assert len(others.to("dead-letter")) == 0

        # bad input is refused at once; an unknown task is a 404 with a message
        invalid = submitter.post("/predict/async", json={"home_team": "Arsenal"})
        assert invalid.status_code == 422 and "match_id" in invalid.json()["detail"]
        unknown = status.get("/monitoring/task_status/no-such-task")
        assert unknown.status_code == 404 and "no task 'no-such-task'" in unknown.json()["detail"]

    # rq's own registries hold them, as `rq info` and dashboards read them
    queue = rq_queue(served)
    assert result.task_id in queue.finished_job_registry.get_job_ids()
    assert failed[-1]["task_id"] in queue.failed_job_registry.get_job_ids()
    assert queue.count == 0 and queue.started_job_registry.count == 0

    # the same event delivered twice (at least once delivery) has one effect: one rq Result; so does
    # another event for the job (a publisher's retry under a new id): the job, not the id, is the record
    jobs = here.job_store
    request = PredictRequest.model_validate(BODY)
    task_id = f"duplicate-{uuid.uuid4().hex}"
    jobs.create(task_id, request)
    requested = PredictionRequested(job_id=task_id, request=request)
    event = make_event(PREDICTION_REQUESTED, requested, source="/tests")
    assert post_event(infer_url, event).status_code == 200
    assert post_event(infer_url, event, "structured").status_code == 200
    assert post_event(infer_url, make_event(PREDICTION_REQUESTED, requested, source="/tests")).status_code == 200
    job = Job.fetch(task_id, connection=queue.connection, serializer=JSONSerializer)
    assert job.get_status() == "finished" and Result.count(job) == 1
    assert not list(queue.connection.scan_iter(match=f"{served['REDIS_KEY_PREFIX']}events:seen:infer|*"))


@pytest.mark.mlflow
def test_rabbitmq_unreachable_fails_async_with_503_while_sync_answers(served, configure, hosting, client_for) -> None:
    configure(AMQP_URL=f"amqp://guest:guest@127.0.0.1:{free_port()}/%2F")
    here = hosting()
    with client_for(predict_async_app, here) as submitter, client_for(predict_app, here) as sync:
        refused = submitter.post("/predict/async", json=BODY)
        assert refused.status_code == 503, refused.text
        assert "RabbitMQ at 127.0.0.1" in refused.json()["detail"] and "guest" not in refused.json()["detail"]
        assert sync.post("/predict", json=BODY).status_code == 200

    # the job whose event never left is not left queued: it is failed with why
    queue = rq_queue(served)
    assert queue.count == 0
    [orphan] = queue.failed_job_registry.get_job_ids()
    assert here.job_store.get(orphan).error.startswith("not submitted: RabbitMQ at 127.0.0.1")


def test_in_process_path_finishes_a_job_on_the_embedded_defaults(embedded, hosting, client_for) -> None:
    here = hosting()
    assert here.settings.redis_url is None and here.settings.amqp_url is None
    with (
        client_for(predict_async_app, here) as submitter,
        client_for(task_status_app, here) as status,
        client_for(predict_app, here) as sync,
    ):
        seen = poll_until_done(status, submit(submitter, BODY))
        assert seen[-1]["status"] == "finished"
        assert the_same_prediction(seen[-1]["result"], sync.post("/predict", json=BODY).json())
        failed = poll_until_done(status, submit(submitter, UNKNOWN_TEAM))
        assert failed[-1]["status"] == "failed" and "unknown team" in failed[-1]["error"]
