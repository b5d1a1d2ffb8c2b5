"""cache-ops: drops caches whose inputs changed and keeps async prediction results for their requester."""

import functions_framework.aio
from cloudevents.http import CloudEvent

from shared.function_spec import FunctionSpec, Resources, Scaling, Triggers
from shared.tasks.cache_ops import EVENT_TYPES, handle_cache_event
from shared.tasks.handler import event_function_app, serve_event, typed_task

SPEC = FunctionSpec(
    name="cache-ops",
    kind="event",
    description="Cache invalidation on new matches, match news and explicit requests; stores async predictions.",
    queue="api",
    requirements="events",  # functions-framework, cloudevents, redis, prometheus-client
    event_types=list(EVENT_TYPES),
    resources=Resources(cpu="100m", memory="128Mi", cpu_limit="500m", memory_limit="256Mi"),
    scaling=Scaling(min_scale=0, max_scale=5, target_concurrency=50),
    triggers=Triggers(parallelism=10),
)

task = typed_task(SPEC.name, handle_cache_event)


@functions_framework.aio.cloud_event
def handle(event: CloudEvent) -> None:
    serve_event(task, event)


app = event_function_app(SPEC, handle)
