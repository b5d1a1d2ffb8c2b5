"""Async predictions: their job state, how predict-async submits one and how infer runs it.

A job goes queued → started → finished (with the PredictResponse) or failed (with the reason); a
retryable failure (model or features unavailable) puts it back to queued for the event's retry.
With Redis the jobs are rq jobs on the queue `<REDIS_KEY_PREFIX>predictions`, kept in rq's own keys,
registries and Result records so rq's tooling (`rq info`, dashboards) shows them. No rq worker runs:
the infer function is the worker and moves its job through rq's API itself. Without Redis (the local
runtime, one process) an in-process store has the same interface. A job and its outcome are kept
ASYNC_JOB_TTL seconds.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import datetime
from typing import TYPE_CHECKING, Literal, Protocol

import redis
from cloudevents.http import CloudEvent
from prometheus_client import Counter
from pydantic import BaseModel
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.executions import Execution
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry, FinishedJobRegistry, StartedJobRegistry
from rq.results import Result
from rq.serializers import JSONSerializer
from rq.utils import utcformat

from shared.clock import utcnow
from shared.config import Settings
from shared.events.contract import (
    PREDICTION_COMPLETED,
    PREDICTION_REQUESTED,
    Envelope,
    EventData,
    InvalidEvent,
    PredictionCompleted,
    PredictionRequested,
    make_event,
)
from shared.events.metrics import _metric
from shared.events.publisher import BrokerUnavailable, Publisher
from shared.serving.schemas import PredictRequest, PredictResponse
from shared.tasks.handler import RetryLater

if TYPE_CHECKING:
    from shared.serving.dataplane import DataPlane

STATUS_ROUTE = "/monitoring/task_status/{task_id}"
# What rq tooling lists as the job's function: the infer function performs it, on its event.
PERFORMED_BY = "functions.infer.main.handle"
WORKER_NAME = f"infer@{socket.gethostname()}"
# rq's started registry holds "<job id>:<execution id>". One id for every run of a job: the entry then
# says only that the job is started, and any replica ending or requeueing it removes it without a read.
EXECUTION_ID = "infer"
# Unlike the cache, job state is needed for correctness: wait a little longer before calling Redis down.
REDIS_TIMEOUT_SECONDS = 2.0

Status = Literal["queued", "started", "finished", "failed"]
# rq statuses after which a job is not run again (stopped and canceled: by someone through rq's tooling)
ENDED = frozenset({JobStatus.FINISHED, JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED})

JOBS = _metric(
    Counter,
    "t2b_async_jobs",
    "Async prediction jobs entering a state (queued again after a retryable failure)",
    ("state",),
)


class JobState(BaseModel):
    """What GET /monitoring/task_status/{task_id} answers."""

    task_id: str
    status: Status
    result: PredictResponse | None = None
    error: str | None = None
    enqueued_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None


class TaskAccepted(BaseModel):
    """What POST /predict/async answers (202)."""

    task_id: str
    status: Literal["queued"] = "queued"
    status_url: str


class UnknownJob(LookupError):
    pass


class JobStoreUnavailable(RuntimeError):
    """Redis cannot be reached: no job can be created, read or moved."""


class JobStore(Protocol):
    def create(self, task_id: str, request: PredictRequest) -> None: ...

    def get(self, task_id: str) -> JobState | None: ...

    def start(self, task_id: str) -> bool:
        """Mark it started; False, changing nothing, when it has already ended (the event is a repeat)."""

    def requeue(self, task_id: str) -> None: ...

    def finish(self, task_id: str, result: PredictResponse) -> None: ...

    def fail(self, task_id: str, reason: str) -> None: ...

    def close(self) -> None: ...


# --- rq ----------------------------------------------------------------------------------------


def describe(request: PredictRequest) -> str:
    if request.match_id is not None:
        return f"predict match {request.match_id}"
    return f"predict {request.home_team} v {request.away_team} at {request.kickoff.isoformat()}"


class RqJobStore:
    def __init__(self, connection: redis.Redis, queue_name: str, ttl_s: int) -> None:
        self._connection = connection
        self._queue = Queue(queue_name, connection=connection, serializer=JSONSerializer)
        self._ttl_s = ttl_s
        # rq builds a registry, resolving its serializer, on every job.<registry> access: built once here
        self._started_registry = StartedJobRegistry(queue=self._queue)
        self._finished_registry = FinishedJobRegistry(queue=self._queue)
        self._failed_registry = FailedJobRegistry(queue=self._queue)
        # The jobs this process started, kept until it ends them: ending one then needs no read of it.
        self._started: dict[str, Job] = {}

    def create(self, task_id: str, request: PredictRequest) -> None:
        job = Job.create(
            PERFORMED_BY,
            kwargs={"request": request.model_dump(mode="json")},
            id=task_id,
            connection=self._connection,
            serializer=JSONSerializer,
            description=describe(request),
            ttl=self._ttl_s,  # how long it may wait in the queue
            result_ttl=self._ttl_s,
            failure_ttl=self._ttl_s,
        )
        # in one pipeline: rq's own would send the queue registration and the job in two round trips
        with self._redis_errors(), self._connection.pipeline() as pipeline:
            self._queue.enqueue_job(job, pipeline=pipeline)
            pipeline.execute()

    def get(self, task_id: str) -> JobState | None:
        with self._redis_errors():
            try:
                job = self._job(task_id)
            except UnknownJob:
                return None
            status = job.get_status(refresh=False)
            latest = job.latest_result() if status in (JobStatus.FINISHED, JobStatus.FAILED) else None
        state = JobState(
            task_id=task_id,
            status="queued",
            enqueued_at=job.enqueued_at,
            started_at=job.started_at,
            ended_at=job.ended_at,
        )
        if status == JobStatus.FINISHED and latest is not None:
            result = PredictResponse.model_validate(latest.return_value)
            return state.model_copy(update={"status": "finished", "result": result})
        if status in (JobStatus.QUEUED, JobStatus.STARTED):
            return state.model_copy(update={"status": status.value})
        # failed, or stopped/canceled by someone through rq's tooling
        reason = latest.exc_string if latest is not None and latest.exc_string else f"rq status {status.value}"
        return state.model_copy(update={"status": "failed", "error": reason})

    def start(self, task_id: str) -> bool:
        with self._redis_errors(), self._connection.pipeline() as pipeline:
            job = self._job(task_id)
            if job.get_status(refresh=False) in ENDED:
                return False
            self._queue.remove(job, pipeline=pipeline)  # no rq worker pops it: the event delivered it
            self._started_registry.add_execution(self._execution(task_id), pipeline=pipeline, ttl=self._ttl_s)
            job.prepare_for_execution(WORKER_NAME, pipeline=pipeline)
            pipeline.execute()
        self._started[task_id] = job
        return True

    def requeue(self, task_id: str) -> None:
        self._started.pop(task_id, None)
        with self._redis_errors(), self._connection.pipeline() as pipeline:
            job = self._job(task_id)
            self._started_registry.remove_execution(self._execution(task_id), pipeline=pipeline)
            job.set_status(JobStatus.QUEUED, pipeline=pipeline)
            self._queue.push_job_id(job.id, pipeline=pipeline)
            pipeline.execute()

    def finish(self, task_id: str, result: PredictResponse) -> None:
        with self._redis_errors(), self._connection.pipeline() as pipeline:
            job = self._end(task_id, JobStatus.FINISHED, pipeline)
            Result.create(
                job,
                Result.Type.SUCCESSFUL,
                self._ttl_s,
                return_value=result.model_dump(mode="json"),
                worker_name=WORKER_NAME,
                pipeline=pipeline,
            )
            self._finished_registry.add(job, self._ttl_s, pipeline=pipeline)
            pipeline.execute()

    def fail(self, task_id: str, reason: str) -> None:
        with self._redis_errors(), self._connection.pipeline() as pipeline:
            job = self._end(task_id, JobStatus.FAILED, pipeline)
            Result.create_failure(job, self._ttl_s, exc_string=reason, worker_name=WORKER_NAME, pipeline=pipeline)
            self._failed_registry.add(job, ttl=self._ttl_s, exc_string=reason, pipeline=pipeline)
            pipeline.execute()

    def close(self) -> None:
        self._connection.close()

    def _end(self, task_id: str, status: JobStatus, pipeline: redis.client.Pipeline) -> Job:
        """Out of the queue and the started registry, in its final status, kept for the TTL from now."""
        job = self._started.pop(task_id, None)
        if job is None:  # started by another process, or never (failed before its event left): read it
            job = self._job(task_id)
            self._queue.remove(job, pipeline=pipeline)
        self._started_registry.remove_execution(self._execution(task_id), pipeline=pipeline)
        job.ended_at = utcnow()
        job.set_status(status, pipeline=pipeline)
        # The rest of the job's hash is as create and start wrote it: a full job.save would re-serialise
        # and re-compress all of it to change this one field.
        pipeline.hset(job.key, "ended_at", utcformat(job.ended_at))
        job.cleanup(self._ttl_s, pipeline=pipeline, remove_from_queue=False)
        return job

    def _execution(self, task_id: str) -> Execution:
        """The job's entry in rq's started registry. An rq worker also keeps an execution record and a
        per-job execution registry for its heartbeats; with no worker to heartbeat, the entry is all."""
        return Execution(id=EXECUTION_ID, job_id=task_id, connection=self._connection)

    def _job(self, task_id: str) -> Job:
        try:
            return Job.fetch(task_id, connection=self._connection, serializer=JSONSerializer)
        except NoSuchJobError:
            raise UnknownJob(task_id) from None

    @contextmanager
    def _redis_errors(self) -> Iterator[None]:
        try:
            yield
        except (redis.RedisError, OSError) as error:
            raise JobStoreUnavailable(f"job store (Redis) unavailable: {type(error).__name__}: {error}") from error


# --- in process --------------------------------------------------------------------------------


class LocalJobStore:
    """Jobs in this process's memory, each dropped ASYNC_JOB_TTL seconds after its last change."""

    def __init__(self, ttl_s: int) -> None:
        self._ttl_s = ttl_s
        self._jobs: dict[str, tuple[JobState, float]] = {}
        self._lock = threading.Lock()

    def create(self, task_id: str, request: PredictRequest) -> None:
        with self._lock:
            self._put(JobState(task_id=task_id, status="queued", enqueued_at=utcnow()))

    def get(self, task_id: str) -> JobState | None:
        with self._lock:
            self._drop_expired()
            entry = self._jobs.get(task_id)
            return entry[0] if entry else None

    def start(self, task_id: str) -> bool:
        with self._lock:
            state = self._current(task_id)
            if state.status in ("finished", "failed"):
                return False
            self._put(state.model_copy(update={"status": "started", "started_at": utcnow()}))
            return True

    def requeue(self, task_id: str) -> None:
        self._update(task_id, status="queued", started_at=None)

    def finish(self, task_id: str, result: PredictResponse) -> None:
        self._update(task_id, status="finished", result=result, ended_at=utcnow())

    def fail(self, task_id: str, reason: str) -> None:
        self._update(task_id, status="failed", error=reason, ended_at=utcnow())

    def close(self) -> None:
        """Nothing to release: the jobs live and die with the process."""

    def _update(self, task_id: str, **changes: object) -> None:
        with self._lock:
            self._put(self._current(task_id).model_copy(update=changes))

    def _current(self, task_id: str) -> JobState:
        self._drop_expired()
        if task_id not in self._jobs:
            raise UnknownJob(task_id)
        return self._jobs[task_id][0]

    def _put(self, state: JobState) -> None:
        self._jobs[state.task_id] = (state, time.monotonic() + self._ttl_s)

    def _drop_expired(self) -> None:
        now = time.monotonic()
        for task_id in [task_id for task_id, (_, expires) in self._jobs.items() if expires <= now]:
            del self._jobs[task_id]


def job_store_from_settings(settings: Settings) -> JobStore:
    if settings.redis_url is None:
        return LocalJobStore(settings.async_job_ttl_seconds)
    connection = redis.Redis.from_url(
        settings.redis_url, socket_timeout=REDIS_TIMEOUT_SECONDS, socket_connect_timeout=REDIS_TIMEOUT_SECONDS
    )
    return RqJobStore(connection, f"{settings.redis_key_prefix}predictions", settings.async_job_ttl_seconds)


# --- submitting and running --------------------------------------------------------------------


def status_url(task_id: str) -> str:
    return STATUS_ROUTE.format(task_id=task_id)


def submit_prediction(request: PredictRequest, jobs: JobStore, publisher: Publisher, source: str) -> TaskAccepted:
    """Create the job, then publish prediction.requested; a job whose event never left is marked failed.

    Raises JobStoreUnavailable or BrokerUnavailable (both 503 to the caller).
    """
    task_id = str(uuid.uuid4())
    jobs.create(task_id, request)
    JOBS.labels("queued").inc()
    event = make_event(
        PREDICTION_REQUESTED,
        PredictionRequested(job_id=task_id, request=request),
        source=source,
        subject=f"task/{task_id}",
    )
    try:
        publisher.publish(event)
    except BrokerUnavailable as error:
        jobs.fail(task_id, f"not submitted: {error}")
        JOBS.labels("failed").inc()
        raise
    return TaskAccepted(task_id=task_id, status_url=status_url(task_id))


def run_prediction(
    envelope: Envelope[EventData], plane: DataPlane, jobs: JobStore, publisher: Publisher, source: str, ttl_s: int
) -> str:
    """infer's work on a prediction.requested event: the job's outcome, as the task handler's outcome label.

    A request sync /predict answers with a 4xx (unknown team, unknown match...) is a failed job, not a
    bad event; a 5xx (model or features unavailable), Redis or the broker away → the job back to
    queued and RetryLater, so the Trigger retries. A bug propagates (500, retried) likewise.
    """
    if not isinstance(envelope.data, PredictionRequested):
        raise InvalidEvent(f"infer handles {PREDICTION_REQUESTED} only, not {envelope.type}")
    task_id = envelope.data.job_id
    try:
        started = jobs.start(task_id)
    except UnknownJob:
        raise InvalidEvent(f"no job {task_id!r}: never created, or expired (jobs are kept {ttl_s} s)") from None
    except JobStoreUnavailable as error:
        raise RetryLater(str(error)) from error
    if not started:  # the job is the record of what was done: a repeated event has no second effect
        return "duplicate"
    JOBS.labels("started").inc()
    try:
        return _predict_and_record(envelope.data, plane, jobs, publisher, source)
    except Exception:
        # With Redis away the job stays started until the event's retry starts it again.
        with suppress(JobStoreUnavailable):
            jobs.requeue(task_id)
            JOBS.labels("queued").inc()
        raise


def _predict_and_record(
    data: PredictionRequested, plane: DataPlane, jobs: JobStore, publisher: Publisher, source: str
) -> str:
    from shared.serving.dataplane import as_http_error  # the ML stack: only infer, not predict-async, loads it

    try:
        response = plane.predict(data.request)
    except Exception as error:
        answer = as_http_error(error)  # re-raises what sync /predict would answer 500 to
        if answer.status_code >= 500:
            raise RetryLater(str(answer.detail), answer.status_code) from error
        jobs.fail(data.job_id, str(answer.detail))
        JOBS.labels("failed").inc()
        return "job_failed"
    try:
        publisher.publish(completed_event(data.job_id, response, source))
        jobs.finish(data.job_id, response)
    except (BrokerUnavailable, JobStoreUnavailable) as error:
        raise RetryLater(str(error)) from error
    JOBS.labels("finished").inc()
    return "job_finished"


def completed_event(task_id: str, response: PredictResponse, source: str) -> CloudEvent:
    probabilities = response.probabilities
    data = PredictionCompleted(
        job_id=task_id,
        model_version=response.model.version,
        home_win=probabilities.home,
        draw=probabilities.draw,
        away_win=probabilities.away,
        match_id=response.match_id,
    )
    return make_event(PREDICTION_COMPLETED, data, source=source, subject=f"task/{task_id}")
