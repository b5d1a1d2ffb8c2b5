"""Finished workflow runs: the exit handler's event and the consumer that stores it (history.py reads them)."""

from __future__ import annotations

import importlib
import json
import logging
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError

from shared.cli.errors import CommandError, ExitCode
from shared.clock import utcnow
from shared.db.models import WorkflowRun
from shared.db.session import get_engine, transaction
from shared.events.contract import WORKFLOW_FINISHED, Envelope, EventData, InvalidEvent, WorkflowFinished, make_event

if TYPE_CHECKING:
    from shared.events.bus import EventHandler
    from shared.services import Services

log = logging.getLogger("time2bet.workflows.runs")


def first_failure(workflow: str, failures: str) -> tuple[str | None, str | None]:
    """The step that failed first and its message, from Argo's `{{workflow.failures}}` JSON.

    Argo lists the failed DAG node (named like the workflow) beside the failed pods; the pod is the answer.
    Unreadable JSON names no step rather than losing the run's event.
    """
    try:
        nodes = [node for node in json.loads(failures) if isinstance(node, dict)]
    except (TypeError, ValueError):
        log.warning("workflow %s: unreadable failures %r", workflow, failures[:200])
        return None, None
    steps = [node for node in nodes if node.get("displayName") not in (None, workflow)]
    if not steps:
        return None, None
    first = min(steps, key=lambda node: str(node.get("finishedAt") or ""))
    return str(first["displayName"]), (str(first.get("message") or "") or None)


def finished_event(pipeline: str, workflow: str, status: str, duration_s: float, failures: str) -> WorkflowFinished:
    step, message = first_failure(workflow, failures) if status != "Succeeded" else (None, None)
    return WorkflowFinished(
        workflow=workflow,
        pipeline=pipeline,
        status=status,
        failed_step=step,
        message=message,
        duration_s=max(duration_s, 0.0),
    )


def publish_finished(pipeline: str, workflow: str, status: str, duration_s: float, failures: str) -> WorkflowFinished:
    """Publish io.time2bet.workflow.finished to the api broker; a broker outage is a temporary failure (75)."""
    from pydantic import ValidationError

    from shared.events.publisher import BrokerUnavailable
    from shared.services import Services

    try:
        data = finished_event(pipeline, workflow, status, duration_s, failures)
    except ValidationError as error:
        raise CommandError(f"not a workflow.finished event: {error.errors()[0]['msg']}", ExitCode.BAD_INPUT) from None
    event = make_event(WORKFLOW_FINISHED, data, source=f"/time2bet/workflows/{pipeline}", subject=workflow)
    with Services.from_environment() as services:
        in_process = not services.settings.amqp_url
        if in_process:
            services.host_event_functions(subscribers(WORKFLOW_FINISHED, services))
        publisher = services.publisher
        try:
            publisher.publish(event)
        except BrokerUnavailable as error:
            raise CommandError(str(error), ExitCode.TEMPORARY) from None
        if in_process:
            publisher.close()  # the in-process bus delivers in the background: wait while the services are open
    return data


def subscribers(event_type: str, services: Services) -> dict[str, EventHandler]:
    """Without a broker the in-process bus reaches only handlers of this process: a local run's exit handler
    hosts the functions the Triggers route its event to (and their dead-letter sink), as `t2b up` hosts all."""
    from shared.events.routing import load_routing

    triggers = [t for t in load_routing().triggers if t.filter_attributes.get("type") == event_type]
    names = {t.subscriber_service for t in triggers} | {t.delivery.dead_letter_service for t in triggers}
    modules = {name: importlib.import_module(f"functions.{name.replace('-', '_')}.main") for name in names if name}
    return {name: module.task.bound(services) for name, module in modules.items()}


def record_finished(envelope: Envelope[EventData], engine: Engine | None = None) -> str:
    """The consumer: one row per run (a redelivered event or a retried exit handler is stored once)."""
    data = envelope.data
    if not isinstance(data, WorkflowFinished):
        raise InvalidEvent(f"workflow-runs handles {WORKFLOW_FINISHED} only, not {envelope.type}")
    engine = engine or get_engine()
    try:
        with transaction(engine) as session:
            if session.scalar(select(WorkflowRun.id).where(WorkflowRun.workflow == data.workflow)) is not None:
                return "duplicate"
            session.add(
                WorkflowRun(
                    **data.model_dump(),
                    finished_at=_event_time(envelope.time),
                    event_id=envelope.id,
                )
            )
    except IntegrityError:
        return "duplicate"  # the same run, inserted concurrently between our check and insert
    return "stored"


def _event_time(value: str | None) -> datetime:
    if value:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return utcnow()
        return moment if moment.tzinfo else moment.replace(tzinfo=utcnow().tzinfo)
    return utcnow()
