"""The PingSource schedules run locally, on a fake clock: the event reaches scrape through the in-process bus."""

from __future__ import annotations

from datetime import UTC, datetime

from cloudevents.http import CloudEvent
from sqlalchemy import select

from shared.db.models import DeadLetter, IngestRun, RunStatus
from shared.db.session import get_engine, transaction
from shared.events.bus import HANDLER_ERROR_CODE
from shared.events.contract import parse_event
from shared.events.routing import PING_EVENT_TYPE, PingSchedule, load_routing
from shared.runtime.functions import discover_functions, event_handlers
from shared.runtime.local import NAMESPACE
from shared.runtime.scheduler import PingScheduler, next_due
from shared.scraping.leagues import mapped_codes, whoscored_ids
from tests.services import free_port


def every_minute() -> PingSchedule:
    return PingSchedule(
        name="every-minute",
        schedule="* * * * *",
        timezone=None,
        content_type="application/json",
        data={"scope": "stats"},
        extensions={"t2beventtype": "io.time2bet.cache.invalidate"},
        sink_broker="api",
    )


def test_a_schedule_fires_once_at_each_due_time_and_never_early() -> None:
    published: list[CloudEvent] = []
    scheduler = PingScheduler(
        [every_minute()],
        published.append,
        NAMESPACE,
        clock=lambda: datetime(2024, 5, 1, 12, 0, 30, tzinfo=UTC),
    )
    assert scheduler.tick(datetime(2024, 5, 1, 12, 0, 59, tzinfo=UTC)) == []
    [fired] = scheduler.tick(datetime(2024, 5, 1, 12, 1, 0, tzinfo=UTC))
    assert scheduler.tick(datetime(2024, 5, 1, 12, 1, 30, tzinfo=UTC)) == []
    assert scheduler.due_times() == {"every-minute": datetime(2024, 5, 1, 12, 2, tzinfo=UTC)}

    [event] = published
    assert event is fired
    assert event["type"] == PING_EVENT_TYPE
    assert event["source"] == f"/apis/v1/namespaces/{NAMESPACE}/pingsources/every-minute"
    assert parse_event(event).data.scope == "stats"


def test_the_schedule_timezone_follows_daylight_saving() -> None:
    [daily] = [p for p in load_routing().pingsources if p.name == "scrape-schedule"]  # "0 6 * * *", Europe/London
    assert next_due(daily, datetime(2024, 1, 15, tzinfo=UTC)) == datetime(2024, 1, 15, 6, tzinfo=UTC)
    assert next_due(daily, datetime(2024, 7, 15, tzinfo=UTC)) == datetime(2024, 7, 15, 5, tzinfo=UTC)


def test_the_daily_scrape_ping_reaches_scrape_through_the_in_process_bus(configure, make_services, sqlite_url) -> None:
    closed = free_port()  # no browser: the scrape fails fast and is recorded as a failed run
    configure(
        DATABASE_URL=sqlite_url,
        SELENOID_URL=f"http://127.0.0.1:{closed}/wd/hub",
        WHOSCORED_BASE_URL=f"http://127.0.0.1:{closed}",
        SCRAPE_MAX_RETRIES="0",
        EVENTS_BACKOFF_SCALE="0",
    )
    services = make_services()
    services.host_event_functions(event_handlers(discover_functions(), services))  # as the local runtime does
    bus = services.publisher
    scheduler = PingScheduler(
        [p for p in load_routing().pingsources if p.name == "scrape-schedule"],  # not the every-minute tick
        bus.publish,
        NAMESPACE,
        clock=lambda: datetime(2024, 1, 15, 5, 59, 30, tzinfo=UTC),
    )
    assert scheduler.tick(datetime(2024, 1, 15, 5, 59, 59, tzinfo=UTC)) == []
    [ping] = scheduler.tick(datetime(2024, 1, 15, 6, 0, tzinfo=UTC))
    bus.close()  # waits for the background delivery

    with transaction(get_engine()) as session:
        runs = list(session.scalars(select(IngestRun)))
        letters = list(session.scalars(select(DeadLetter)))
    # every configured league (all mapped ones by default) tried on each delivery: the first + the Trigger's 3 retries
    assert len(runs) == 4 * len(mapped_codes())
    assert {run.status for run in runs} == {RunStatus.failed}
    assert {run.target.split(" season=")[0] for run in runs} == {
        f"region={region} tournament={tournament}" for region, tournament in map(whoscored_ids, mapped_codes())
    }
    [letter] = letters  # then the bus gave it to the dead-letter sink
    assert (letter.event_id, letter.trigger) == (ping["id"], "scrape-on-schedule")
    assert letter.error_code == HANDLER_ERROR_CODE
