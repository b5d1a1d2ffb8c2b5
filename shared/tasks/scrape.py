"""A scrape.requested event (or the daily PingSource ping standing for one) → one WhoScored scrape.

Answers: bad request (unknown league, a source this function does not scrape, a region/season
WhoScored does not list) → InvalidEvent (400, never retried); blocked by WhoScored, or the browser
(Selenoid) or the site unreachable → RetryLater (503, the Trigger retries with backoff).
"""

from __future__ import annotations

import logging
from datetime import datetime

from selenium.common.exceptions import WebDriverException
from urllib3.exceptions import HTTPError as Urllib3Error

from shared.clock import utcnow
from shared.competitions import season_of
from shared.config import get_settings
from shared.db.session import get_engine
from shared.events.contract import Envelope, EventData, InvalidEvent, ScrapeRequested
from shared.scraping.driver import remote_browser_factory
from shared.scraping.leagues import UnmappedCompetition, mapped_codes, whoscored_ids
from shared.scraping.whoscored import ScrapeInputError, ScrapeReport, ScrapeRequest, scrape_whoscored
from shared.storage import get_store
from shared.tasks.handler import RetryLater

log = logging.getLogger("time2bet.tasks.scrape")

SCRAPE_REQUESTED = "io.time2bet.scrape.requested"


def scrape_request(data: ScrapeRequested, now: datetime | None = None) -> ScrapeRequest:
    """The scraper's request for an event's data; the season defaults to the current one (the daily ping)."""
    if data.source != "whoscored":
        raise InvalidEvent(f"scrape: source {data.source!r} is not scraped here (it scrapes whoscored)")
    ids = whoscored_ids(data.league)
    if ids is None:
        raise InvalidEvent(
            f"scrape: league {data.league!r} has no WhoScored mapping (mapped: {', '.join(mapped_codes())})"
        )
    region, tournament = ids
    return ScrapeRequest(
        region=region, tournament=tournament, season=data.season or season_of((now or utcnow()).date())
    )


def run_scrape(request: ScrapeRequest) -> ScrapeReport:
    settings = get_settings()
    try:
        factory = remote_browser_factory(settings)
    except ValueError as error:  # SELENOID_URL unset: a deployment problem a retry may see fixed
        raise RetryLater(f"scrape: {error}") from None
    try:
        return scrape_whoscored(
            request, engine=get_engine(), store=get_store(), driver_factory=factory, settings=settings
        )
    except (ScrapeInputError, UnmappedCompetition) as error:
        raise InvalidEvent(f"scrape: {error}") from None
    except (WebDriverException, Urllib3Error, OSError) as error:
        raise RetryLater(f"scrape: browser or site unreachable: {type(error).__name__}: {error}"[:1000]) from None


def handle_scrape_event(envelope: Envelope[EventData]) -> str:
    if not isinstance(envelope.data, ScrapeRequested):
        raise InvalidEvent(f"scrape handles {SCRAPE_REQUESTED} only, not {envelope.type}")
    request = scrape_request(envelope.data)
    report = run_scrape(request)
    if report.status == "blocked":
        raise RetryLater(f"scrape: blocked: {report.blocked}")
    log.info(
        "scraped %s %s: %d matches seen, %d added, %d updated, %d rejected",
        report.league,
        report.season,
        report.matches_seen,
        report.added,
        report.updated,
        report.rejected,
    )
    return report.status
