"""infer: runs the prediction of a prediction.requested event and records it in its async job."""

import functions_framework
from cloudevents.http import CloudEvent

from shared.events.contract import Envelope, EventData
from shared.events.publisher import get_publisher
from shared.jobs import PREDICTION_REQUESTED, job_store, run_prediction
from shared.serving.runtime import predict_service
from shared.tasks.handler import install_http_handlers, typed_task
from shared.web.spec import FunctionSpec, Resources, Scaling

SPEC = FunctionSpec(
    name="infer",
    kind="event",
    description="Async predictions: the champion model's answer to prediction.requested, stored in the job.",
    queue="ml",
    event_types=[PREDICTION_REQUESTED],
    requirements="ml",
    resources=Resources(cpu="500m", memory="512Mi", cpu_limit="1", memory_limit="1Gi"),
    scaling=Scaling(min_scale=0, max_scale=10, target_concurrency=10),  # the Trigger's parallelism
)


def infer(envelope: Envelope[EventData]) -> str:
    return run_prediction(envelope, predict_service(), job_store(), get_publisher(), source=f"/{SPEC.name}")


task = typed_task(SPEC.name, infer)
install_http_handlers()


@functions_framework.cloud_event
def handle(event: CloudEvent) -> None:
    task(event)
