"""workflow-runs: records each io.time2bet.workflow.finished (Argo exit handlers) for GET /sources."""

import functions_framework.aio
from cloudevents.http import CloudEvent

from shared.events.contract import WORKFLOW_FINISHED, Envelope, EventData
from shared.function_spec import FunctionSpec, Resources, Scaling, Triggers
from shared.services import Services
from shared.tasks.handler import event_function_app, serve_event, typed_task
from shared.workflows.runs import record_finished

SPEC = FunctionSpec(
    name="workflow-runs",
    kind="event",
    description="Stores every finished Argo workflow run (status, failed step, duration) in workflow_runs.",
    queue="api",
    requirements="events",  # functions-framework, cloudevents, SQLAlchemy
    event_types=[WORKFLOW_FINISHED],
    resources=Resources(cpu="100m", memory="128Mi", cpu_limit="500m", memory_limit="256Mi"),
    scaling=Scaling(min_scale=0, max_scale=1, target_concurrency=10),
    triggers=Triggers(parallelism=1),
)


def record(envelope: Envelope[EventData], services: Services) -> str:
    return record_finished(envelope, services.engine)


task = typed_task(SPEC.name, record)


@functions_framework.aio.cloud_event
def handle(event: CloudEvent) -> None:
    serve_event(task, event)


app = event_function_app(SPEC, handle)
