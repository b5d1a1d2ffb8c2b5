"""batch-features: rebuilds the feature table and the materialised team state, then drops stale caches."""

import functions_framework.aio
from cloudevents.http import CloudEvent

from shared.events.contract import FEATURES_REQUESTED
from shared.function_spec import FunctionSpec, Resources, Scaling, Triggers
from shared.tasks.batch import handle_features_event
from shared.tasks.handler import event_function_app, serve_event, typed_task

SPEC = FunctionSpec(
    name="batch-features",
    kind="event",
    description="Rebuilds the feature table and team state from a fresh export; invalidates the team-state cache.",
    queue="ml",
    requirements="ml",
    event_types=[FEATURES_REQUESTED],
    resources=Resources(cpu="500m", memory="1Gi", cpu_limit="2", memory_limit="2Gi"),
    # one rebuild at a time: each rewrites the same objects (the Trigger's parallelism is 1 too)
    scaling=Scaling(min_scale=0, max_scale=1, target_concurrency=1, container_concurrency=1),
    triggers=Triggers(parallelism=1),  # one rebuild at a time
    timeout_seconds=600,
)

task = typed_task(SPEC.name, handle_features_event)


@functions_framework.aio.cloud_event
def handle(event: CloudEvent) -> None:
    serve_event(task, event)


app = event_function_app(SPEC, handle)
