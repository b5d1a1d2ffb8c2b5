"""batch-score: the champion's predictions for a day's matches, written as the batch parquet + pointer."""

import functions_framework.aio
from cloudevents.http import CloudEvent

from shared.function_spec import FunctionSpec, Resources, Scaling, Triggers
from shared.tasks.batch import SCORING_EVENT_TYPES, handle_scoring_event
from shared.tasks.handler import event_function_app, serve_event, typed_task

SPEC = FunctionSpec(
    name="batch-score",
    kind="event",
    description=(
        "Batch-scores a day with the champion model (predictions/batch parquet and the latest pointer); "
        "re-scores on match-day news and on a new champion."
    ),
    queue="ml",
    requirements="ml",
    event_types=list(SCORING_EVENT_TYPES),  # a day's batch; re-scoring on match-day news and promotions
    resources=Resources(cpu="500m", memory="1Gi", cpu_limit="2", memory_limit="2Gi"),
    # one batch at a time: each moves the same latest pointer (the Trigger's parallelism is 1 too)
    scaling=Scaling(min_scale=0, max_scale=1, target_concurrency=1, container_concurrency=1),
    triggers=Triggers(parallelism=1),  # one batch at a time
    timeout_seconds=600,
)

task = typed_task(SPEC.name, handle_scoring_event)


@functions_framework.aio.cloud_event
def handle(event: CloudEvent) -> None:
    serve_event(task, event)


app = event_function_app(SPEC, handle)
