"""The matchday function's work: one tick per matchday.requested event (the PingSource's ping).

Nothing here is retried by the Trigger: a blocked or browserless tick is an outcome (counted), and
the next tick, a minute later, is the retry. Only an outage of the store is RetryLater (via the
handler's mapping of backing-service errors).
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import TYPE_CHECKING

from shared.clock import utcnow
from shared.events.contract import MATCHDAY_REQUESTED, Envelope, EventData, InvalidEvent, MatchdayRequested
from shared.matchday.tick import TickReport, run_tick
from shared.scraping.driver import remote_browser_factory

if TYPE_CHECKING:
    from shared.services import Services

log = logging.getLogger("time2bet.matchday")


def tick_now(services: Services, leagues: Collection[str] = ()) -> TickReport:
    """A tick at the current time on the process's services, reading through the remote browser."""
    return run_tick(
        services.engine,
        services.store,
        services.settings,
        utcnow(),
        remote_browser_factory,
        services.publisher.publish,
        leagues,
    )


def handle_matchday_event(envelope: Envelope[EventData], services: Services) -> str:
    if not isinstance(envelope.data, MatchdayRequested):
        raise InvalidEvent(f"matchday handles {MATCHDAY_REQUESTED} only, not {envelope.type}")
    report = tick_now(services, envelope.data.leagues)
    if report.outcome != "idle":
        log.info(
            "matchday tick %s: %d live and %d previews due, %d page loads, %d changes announced%s",
            report.outcome,
            report.live_due,
            report.previews_due,
            report.page_loads,
            report.published,
            f" ({report.detail})" if report.detail else "",
        )
    return report.outcome
