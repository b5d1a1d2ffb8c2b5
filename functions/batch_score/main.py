"""batch-score: the champion's predictions for a day's matches, written as the batch parquet + pointer."""

import functions_framework
from cloudevents.http import CloudEvent

from shared.tasks.batch import SCORING_REQUESTED, handle_scoring_event
from shared.tasks.handler import install_http_handlers, typed_task
from shared.web.spec import FunctionSpec, Resources, Scaling

SPEC = FunctionSpec(
    name="batch-score",
    kind="event",
    description="Batch-scores a day with the champion model: predictions/batch parquet and the latest pointer.",
    queue="ml",
    requirements="ml",
    event_types=[SCORING_REQUESTED],
    resources=Resources(cpu="500m", memory="1Gi", cpu_limit="2", memory_limit="2Gi"),
    # one batch at a time: each moves the same latest pointer (the Trigger's parallelism is 1 too)
    scaling=Scaling(min_scale=0, max_scale=1, target_concurrency=1),
)

task = typed_task(SPEC.name, handle_scoring_event)
install_http_handlers()


@functions_framework.cloud_event
def handle(event: CloudEvent) -> None:
    task(event)
