"""scrape: one WhoScored league-season per scrape.requested event (or the daily PingSource ping)."""

import functions_framework
from cloudevents.http import CloudEvent

from shared.events.routing import PING_EVENT_TYPE
from shared.tasks.handler import install_http_handlers, typed_task
from shared.tasks.scrape import SCRAPE_REQUESTED, handle_scrape_event
from shared.web.spec import FunctionSpec, Resources, Scaling

SPEC = FunctionSpec(
    name="scrape",
    kind="event",
    description="Scrapes one WhoScored league-season into the store through the remote browser.",
    queue="api",
    event_types=[SCRAPE_REQUESTED, PING_EVENT_TYPE],  # the ping carries t2beventtype=scrape.requested
    requirements="scrape",
    resources=Resources(cpu="250m", memory="256Mi", cpu_limit="1", memory_limit="512Mi"),
    # one scrape at a time: the sources rate-limit us (the Trigger's parallelism is 1 too)
    scaling=Scaling(min_scale=0, max_scale=1, target_concurrency=1),
)

task = typed_task(SPEC.name, handle_scrape_event)
install_http_handlers()


@functions_framework.cloud_event
def handle(event: CloudEvent) -> None:
    task(event)
