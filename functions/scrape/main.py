"""scrape: one WhoScored league-season per scrape.requested event (or the daily PingSource ping)."""

import functions_framework.aio
from cloudevents.http import CloudEvent

from shared.events.contract import SCRAPE_REQUESTED
from shared.function_spec import FunctionSpec, Resources, Scaling, Triggers
from shared.tasks.handler import event_function_app, serve_event, typed_task
from shared.tasks.scrape import handle_scrape_event

SPEC = FunctionSpec(
    name="scrape",
    kind="event",
    description="Scrapes one WhoScored league-season into the store through the remote browser.",
    queue="api",
    event_types=[SCRAPE_REQUESTED],
    requirements="scrape",
    resources=Resources(cpu="250m", memory="256Mi", cpu_limit="1", memory_limit="512Mi"),
    # one scrape at a time: the sources rate-limit us (the Trigger's parallelism is 1 too)
    scaling=Scaling(min_scale=0, max_scale=1, target_concurrency=1, container_concurrency=1),
    triggers=Triggers(parallelism=1, on_schedule=True),  # also the PingSource's scheduled scrapes
    timeout_seconds=600,  # a league-season is dozens of rate-limited pages
)

task = typed_task(SPEC.name, handle_scrape_event)


@functions_framework.aio.cloud_event
def handle(event: CloudEvent) -> None:
    serve_event(task, event)


app = event_function_app(SPEC, handle)
