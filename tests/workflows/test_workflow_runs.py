"""io.time2bet.workflow.finished: the exit handler's event, its consumer (workflow_runs) and GET /sources."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pika
import pytest
from cloudevents.http import CloudEvent
from sqlalchemy import select

from shared.db.models import WorkflowRun
from shared.db.session import get_engine, transaction
from shared.events.amqp import attributes_from_amqp
from shared.events.contract import make_event, parse_event
from shared.events.rabbitmq import trigger_queue
from shared.queries.sources import data_sources
from shared.workflows.runs import WORKFLOW_FINISHED, finished_event, first_failure, publish_finished, record_finished

# What Argo puts in {{workflow.failures}}: the failed DAG node (named like the workflow) and the pods.
ARGO_FAILURES = json.dumps(
    [
        {"displayName": "training-x7k2p", "message": "child failed", "templateName": "main", "phase": "Failed",
         "podName": "training-x7k2p", "finishedAt": "2026-12-02T10:05:00Z"},
        {"displayName": "evaluate", "message": "Error (exit code 1)", "templateName": "evaluate", "phase": "Failed",
         "podName": "training-x7k2p-evaluate-1", "finishedAt": "2026-12-02T10:04:00Z"},
        {"displayName": "register", "message": "Error (exit code 2)", "templateName": "register", "phase": "Failed",
         "podName": "training-x7k2p-register-1", "finishedAt": "2026-12-02T10:04:30Z"},
    ]
)  # fmt: skip


def envelope(workflow: str, pipeline: str = "etl", status: str = "Succeeded", failures: str = "[]", when=None):
    event = make_event(WORKFLOW_FINISHED, finished_event(pipeline, workflow, status, 12.5, failures), source="/test")
    if when is not None:
        event["time"] = when.isoformat()
    return parse_event(event)


def test_the_failed_step_is_the_first_failed_pod() -> None:
    assert first_failure("training-x7k2p", ARGO_FAILURES) == ("evaluate", "Error (exit code 1)")
    assert first_failure("training-x7k2p", "[]") == (None, None)
    assert first_failure("training-x7k2p", "{{workflow.failures}}") == (None, None)  # never lose the event


def test_a_run_is_stored_once_whatever_the_redeliveries(sqlite_url: str) -> None:
    engine = get_engine(sqlite_url)
    failed = envelope("training-x7k2p", "training", "Failed", ARGO_FAILURES)
    assert record_finished(failed, engine) == "stored"
    assert record_finished(envelope("training-x7k2p", "training", "Failed", ARGO_FAILURES), engine) == "duplicate"
    with transaction(engine) as session:
        [run] = session.scalars(select(WorkflowRun)).all()
        assert (run.workflow, run.pipeline, run.status, run.failed_step, run.duration_s) == (
            "training-x7k2p",
            "training",
            "Failed",
            "evaluate",
            12.5,
        )
        assert run.event_id == failed.id


def test_sources_lists_the_latest_runs_of_each_pipeline(sqlite_url: str) -> None:
    engine = get_engine(sqlite_url)
    start = datetime(2026, 12, 1, tzinfo=UTC)
    for index in range(7):
        record_finished(envelope(f"etl-{index}", when=start + timedelta(hours=index)), engine)
    record_finished(envelope("training-1", "training", "Failed", ARGO_FAILURES, start), engine)
    with transaction(engine) as session:
        workflows = {entry.pipeline: entry.runs for entry in data_sources(session).workflows}
    assert [run.workflow for run in workflows["etl"]] == ["etl-6", "etl-5", "etl-4", "etl-3", "etl-2"]
    assert [(run.status, run.failed_step) for run in workflows["training"]] == [("Failed", "evaluate")]


@pytest.mark.rabbitmq
def test_the_exit_handler_publishes_to_the_api_broker(amqp_url: str, configure: Callable[..., None]) -> None:
    configure(AMQP_URL=amqp_url)
    failures = ARGO_FAILURES.replace("training-x7k2p", "etl-abcde")
    published = publish_finished("etl", "etl-abcde", "Failed", 3.25, failures)
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        method, properties, body = connection.channel().basic_get(trigger_queue("workflow-runs-on-workflow-finished"))
    finally:
        connection.close()
    assert method is not None, "nothing reached the workflow-runs Trigger's queue"
    received = parse_event(CloudEvent(attributes_from_amqp(properties.headers), json.loads(body)))
    assert received.type == WORKFLOW_FINISHED and received.data == published
    assert (received.data.failed_step, received.subject) == ("evaluate", "etl-abcde")
