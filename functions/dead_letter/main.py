"""dead-letter: stores every event a Trigger gave up on, with why (knativeerror* extensions), once."""

import functions_framework.aio
from cloudevents.http import CloudEvent

from shared.events.contract import EVENT_TYPES
from shared.events.routing import PING_EVENT_TYPE
from shared.function_spec import FunctionSpec, Resources, Scaling
from shared.tasks.dead_letter import cloudevent_attributes, handle_dead_letter
from shared.tasks.handler import EventTask, event_function_app, serve_event

SPEC = FunctionSpec(
    name="dead-letter",
    kind="event",
    description="Dead-letter sink of every Trigger: stores failed events in dead_letters.",
    queue="api",
    requirements="events",  # functions-framework, cloudevents, redis, prometheus-client
    event_types=[*EVENT_TYPES, PING_EVENT_TYPE],  # whatever any Trigger dead-letters
    resources=Resources(cpu="100m", memory="128Mi", cpu_limit="500m", memory_limit="256Mi"),
    scaling=Scaling(min_scale=0, max_scale=2, target_concurrency=50),
)

task = EventTask(function=SPEC.name, process=handle_dead_letter, parse=cloudevent_attributes)


@functions_framework.aio.cloud_event
def handle(event: CloudEvent) -> None:
    serve_event(task, event)


app = event_function_app(SPEC, handle)
