"""infer: runs the prediction of a prediction.requested event and records it in its async job."""

import functions_framework.aio
from cloudevents.http import CloudEvent

from shared.events.contract import PREDICTION_REQUESTED, Envelope, EventData
from shared.function_spec import FunctionSpec, Resources, Scaling, Triggers
from shared.jobs import run_prediction
from shared.services import Services
from shared.tasks.handler import event_function_app, serve_event, typed_task

SPEC = FunctionSpec(
    name="infer",
    kind="event",
    description="Async predictions: the champion model's answer to prediction.requested, stored in the job.",
    queue="ml",
    event_types=[PREDICTION_REQUESTED],
    requirements="ml",
    resources=Resources(cpu="500m", memory="512Mi", cpu_limit="1", memory_limit="1Gi"),
    scaling=Scaling(min_scale=0, max_scale=10, target_concurrency=10, container_concurrency=10),  # Trigger parallelism
    triggers=Triggers(parallelism=10),
)


def infer(envelope: Envelope[EventData], services: Services) -> str:
    return run_prediction(
        envelope,
        services.predictions,
        services.job_store,
        services.publisher,
        source=f"/{SPEC.name}",
        ttl_s=services.settings.async_job_ttl_seconds,
    )


task = typed_task(SPEC.name, infer, deduped_by_work=True)  # a job already ended is not run again


@functions_framework.aio.cloud_event
def handle(event: CloudEvent) -> None:
    serve_event(task, event)


app = event_function_app(SPEC, handle)
