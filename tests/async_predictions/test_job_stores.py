"""Both job stores move a job the same way, and an ended job is never started again.

The rq store runs against the real Redis on loopback, under a queue name of the test's own.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import redis
from rq import Queue
from rq.job import Job
from rq.results import Result
from rq.serializers import JSONSerializer

from shared.jobs import JobStore, LocalJobStore, RqJobStore, UnknownJob
from shared.serving.schemas import ModelRef, PredictRequest, PredictResponse, Probabilities

REQUEST = PredictRequest(home_team="Arsenal", away_team="Chelsea", kickoff=datetime(2022, 4, 19, 19, tzinfo=UTC))
RESPONSE = PredictResponse(
    match_id=None,
    home_team="Arsenal",
    away_team="Chelsea",
    kickoff=REQUEST.kickoff,
    probabilities=Probabilities(home=0.5, draw=0.3, away=0.2),
    model=ModelRef(name="outcome", version="3"),
    features_as_of=None,
    cached=False,
    market="none",
)


@pytest.fixture(params=["rq", "local"])
def store(request: pytest.FixtureRequest) -> Iterator[JobStore]:
    if request.param == "local":
        yield LocalJobStore(ttl_s=300)
        return
    queue = own_queue(request.getfixturevalue("redis_url"), request.getfixturevalue("redis_prefix"))
    jobs = RqJobStore(queue.connection, queue.name, ttl_s=300)
    yield jobs
    drop(queue)
    jobs.close()


def own_queue(redis_url: str, redis_prefix: str) -> Queue:
    return Queue(f"{redis_prefix}predictions", connection=redis.Redis.from_url(redis_url), serializer=JSONSerializer)


def drop(queue: Queue) -> None:
    """The queue and its registries (rq's keys carry the queue name, not our prefix); jobs expire on their own."""
    registries = (queue.started_job_registry, queue.finished_job_registry, queue.failed_job_registry)
    queue.connection.delete(queue.key, *(registry.key for registry in registries))
    queue.connection.srem("rq:queues", queue.key)


def new_job(store: JobStore) -> str:
    task_id = f"test-{uuid.uuid4().hex}"
    store.create(task_id, REQUEST)
    return task_id


def test_a_job_goes_queued_started_finished_with_its_times(store: JobStore) -> None:
    task_id = new_job(store)
    assert store.get(task_id).status == "queued"
    assert store.start(task_id) is True
    started = store.get(task_id)
    assert started.status == "started" and started.started_at is not None and started.ended_at is None
    store.finish(task_id, RESPONSE)
    finished = store.get(task_id)
    assert finished.status == "finished" and finished.result == RESPONSE
    assert finished.started_at is not None and finished.ended_at is not None
    assert finished.started_at <= finished.ended_at


def test_an_ended_job_is_not_started_again(store: JobStore) -> None:
    done = new_job(store)
    store.start(done)
    store.finish(done, RESPONSE)
    failed = new_job(store)
    store.fail(failed, "unknown team 'Arsenal FC'")

    assert store.start(done) is False and store.start(failed) is False
    assert store.get(done).status == "finished" and store.get(done).result == RESPONSE
    assert store.get(failed).status == "failed" and store.get(failed).error == "unknown team 'Arsenal FC'"


def test_a_job_started_and_requeued_starts_again(store: JobStore) -> None:
    """A retryable failure (model away) puts it back: the event's retry must run it."""
    task_id = new_job(store)
    store.start(task_id)
    store.requeue(task_id)
    assert store.get(task_id).status == "queued"
    assert store.start(task_id) is True


def test_an_unknown_job_cannot_start(store: JobStore) -> None:
    with pytest.raises(UnknownJob):
        store.start("no-such-job")


def test_rq_sees_the_ended_job_as_its_own_worker_would_leave_it(redis_url: str, redis_prefix: str) -> None:
    """rq's tooling reads the job hash, its registries and its Result: the store keeps them as a worker does."""
    queue = own_queue(redis_url, redis_prefix)
    connection = queue.connection
    store = RqJobStore(connection, queue.name, ttl_s=300)
    try:
        task_id = new_job(store)
        store.start(task_id)
        assert task_id in queue.started_job_registry.get_job_ids() and queue.count == 0
        store.finish(task_id, RESPONSE)

        job = Job.fetch(task_id, connection=connection, serializer=JSONSerializer)
        assert job.get_status() == "finished" and job.ended_at is not None and job.started_at <= job.ended_at
        assert job.kwargs == {"request": REQUEST.model_dump(mode="json")}  # the job's data, untouched
        assert Result.count(job) == 1 and job.latest_result().return_value == RESPONSE.model_dump(mode="json")
        assert task_id in queue.finished_job_registry.get_job_ids()
        assert queue.started_job_registry.count == 0 and not job.execution_registry.get_execution_ids()
        assert 0 < connection.ttl(job.key) <= 300
    finally:
        drop(queue)
        store.close()


def test_a_job_started_in_one_process_ends_in_another(redis_url: str, redis_prefix: str) -> None:
    """A retry may reach another replica: it ends the job without the first one's memory of it."""
    queue = own_queue(redis_url, redis_prefix)
    first, second = (RqJobStore(queue.connection, queue.name, ttl_s=300) for _ in range(2))
    try:
        task_id = new_job(first)
        first.start(task_id)
        second.fail(task_id, "model unavailable too long")
        assert queue.started_job_registry.count == 0 and queue.count == 0
        assert task_id in queue.failed_job_registry.get_job_ids()
        assert second.get(task_id).error == "model unavailable too long"
    finally:
        drop(queue)
        first.close()
        second.close()
