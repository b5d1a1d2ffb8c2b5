"""PingSource schedules run locally: the same manifests, the same events, published at each due time.

Like PingSource, a tick missed while nothing ran (the machine slept, the runtime was down) is not
replayed: after each fire the next due time is computed from the current time.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo

from cloudevents.http import CloudEvent
from croniter import croniter

from shared.events.contract import InvalidEvent, contract_type, spec_for
from shared.events.routing import PingSchedule, RoutingError

log = logging.getLogger("time2bet.runtime.scheduler")

Publish = Callable[[CloudEvent], object]
Clock = Callable[[], datetime]
# Sleep at most this long between checks, so a changed system clock is noticed within a minute.
MAX_WAIT_SECONDS = 60.0


def utc_now() -> datetime:
    return datetime.now(UTC)


def _zone(schedule: PingSchedule) -> tzinfo:
    # PingSource reads the schedule in UTC unless spec.timezone names a zone.
    return ZoneInfo(schedule.timezone) if schedule.timezone else UTC


def next_due(schedule: PingSchedule, after: datetime) -> datetime:
    """The first due time of the schedule strictly after `after`, in UTC."""
    due = croniter(schedule.schedule, after.astimezone(_zone(schedule))).get_next(datetime)
    return due.astimezone(UTC)


@dataclass
class _Entry:
    schedule: PingSchedule
    due: datetime


class PingScheduler:
    def __init__(self, schedules: Iterable[PingSchedule], publish: Publish, namespace: str, clock: Clock = utc_now):
        self._publish = publish
        self._namespace = namespace
        self._clock = clock
        started = clock()
        self._entries = [_Entry(schedule, next_due(_valid(schedule), started)) for schedule in schedules]
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def due_times(self) -> dict[str, datetime]:
        return {entry.schedule.name: entry.due for entry in self._entries}

    def fire(self, schedule: PingSchedule) -> CloudEvent:
        event = schedule.to_event(self._namespace)
        log.info("PingSource %s: publishing %s to broker %s", schedule.name, event["id"], schedule.sink_broker)
        try:
            self._publish(event)
        except Exception:  # one failed publish must not end the schedules; the next tick tries again
            log.exception("PingSource %s: publishing failed", schedule.name)
        return event

    def fire_all(self) -> list[CloudEvent]:
        return [self.fire(entry.schedule) for entry in self._entries]

    def tick(self, now: datetime | None = None) -> list[CloudEvent]:
        """Fire every schedule that is due at `now` and move it to its next due time."""
        now = now or self._clock()
        fired = []
        for entry in self._entries:
            if entry.due <= now:
                fired.append(self.fire(entry.schedule))
                entry.due = next_due(entry.schedule, now)
        return fired

    def start(self, fire_at_start: bool = False) -> None:
        self._thread = threading.Thread(target=self._run, args=(fire_at_start,), name="ping-scheduler", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("the scheduler is still publishing after %.0f s; leaving it behind", timeout)

    def _run(self, fire_at_start: bool) -> None:
        # Firing here rather than in start() keeps a slow publish (a broker connection) off the start-up path.
        if fire_at_start:
            self.fire_all()
        while self._entries and not self._stop.is_set():
            self.tick()
            earliest = min(entry.due for entry in self._entries)
            self._stop.wait(min(max((earliest - self._clock()).total_seconds(), 0.0), MAX_WAIT_SECONDS))


def _valid(schedule: PingSchedule) -> PingSchedule:
    where = f"PingSource {schedule.name}"
    if not croniter.is_valid(schedule.schedule):
        raise RoutingError(f"{where}: schedule {schedule.schedule!r} is not a cron expression")
    # The publisher routes an event to the broker of the type it stands for, not to the PingSource's sink.
    try:
        broker = spec_for(contract_type(schedule.to_event("check"))).broker
    except InvalidEvent as error:
        raise RoutingError(f"{where}: {error.reason}") from None
    if broker != schedule.sink_broker:
        raise RoutingError(f"{where}: sinks to broker {schedule.sink_broker} but its events belong on {broker}")
    return schedule
