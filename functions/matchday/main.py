"""matchday: the match-day tick, every minute from a PingSource: live pages of matches in progress and
previews of matches kicking off soon, stored with their fetch times; changes announced as events."""

import functions_framework.aio
from cloudevents.http import CloudEvent

from shared.events.contract import MATCHDAY_REQUESTED
from shared.function_spec import FunctionSpec, Resources, Scaling, Triggers
from shared.matchday.task import handle_matchday_event
from shared.tasks.handler import event_function_app, serve_event, typed_task

SPEC = FunctionSpec(
    name="matchday",
    kind="event",
    description="Match-day tick: live state of matches in progress and previews of the next 24 h from WhoScored.",
    queue="api",
    event_types=[MATCHDAY_REQUESTED],
    requirements="scrape",
    resources=Resources(cpu="250m", memory="256Mi", cpu_limit="1", memory_limit="512Mi"),
    # one tick at a time: ticks share WhoScored's rate limit, and a queued tick finds little left due
    scaling=Scaling(min_scale=0, max_scale=1, target_concurrency=1, container_concurrency=1),
    triggers=Triggers(parallelism=1, on_schedule=True),  # the PingSource matchday-tick
    timeout_seconds=300,  # MATCHDAY_MAX_PAGES rate-limited pages
)

task = typed_task(SPEC.name, handle_matchday_event)


@functions_framework.aio.cloud_event
def handle(event: CloudEvent) -> None:
    serve_event(task, event)


app = event_function_app(SPEC, handle)
