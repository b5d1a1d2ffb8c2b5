"""A scrape.requested event (or the daily PingSource ping standing for one) → WhoScored scrapes.

With a league, one league-season. Answers: bad request (unknown league, a source this function does
not scrape, a region/season WhoScored does not list) → InvalidEvent (400, never retried); blocked by
WhoScored, or the browser (Selenoid) or the site unreachable → RetryLater (503, the Trigger retries
with backoff).

Without a league (the daily ping), every configured league in turn, the match-day tick's list. A
league that fails is logged, kept in its ingest run (blocked or failed) and named in the answer; the
others are still scraped and kept, and it is tried again at the next daily scrape: a retry of the
whole event would read every league that succeeded again. Only when every league failed is the
event retried (RetryLater) or refused (InvalidEvent, when none failed for a reason a retry can fix).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from selenium.common.exceptions import WebDriverException
from urllib3.exceptions import HTTPError as Urllib3Error

from shared.clock import utcnow
from shared.competitions import season_of
from shared.events.contract import SCRAPE_REQUESTED, Envelope, EventData, InvalidEvent, ScrapeRequested
from shared.scraping.driver import remote_browser_factory
from shared.scraping.leagues import UnmappedCompetition, configured_leagues, mapped_codes, whoscored_ids
from shared.scraping.whoscored import ScrapeInputError, ScrapeReport, ScrapeRequest, scrape_whoscored
from shared.tasks.handler import RetryLater

if TYPE_CHECKING:
    from shared.services import Services

log = logging.getLogger("time2bet.tasks.scrape")


def scrape_request(data: ScrapeRequested, league: str, now: datetime | None = None) -> ScrapeRequest:
    """The scraper's request for one league of an event's data; the season defaults to the current one
    (the daily ping)."""
    if data.source != "whoscored":
        raise InvalidEvent(f"scrape: source {data.source!r} is not scraped here (it scrapes whoscored)")
    ids = whoscored_ids(league)
    if ids is None:
        raise InvalidEvent(f"scrape: league {league!r} has no WhoScored mapping (mapped: {', '.join(mapped_codes())})")
    region, tournament = ids
    return ScrapeRequest(
        region=region, tournament=tournament, season=data.season or season_of((now or utcnow()).date())
    )


def run_scrape(request: ScrapeRequest, services: Services) -> ScrapeReport:
    settings = services.settings
    try:
        factory = remote_browser_factory(settings)
    except ValueError as error:  # SELENOID_URL unset: a deployment problem a retry may see fixed
        raise RetryLater(f"scrape: {error}") from None
    try:
        return scrape_whoscored(
            request, engine=services.engine, store=services.store, driver_factory=factory, settings=settings
        )
    except (ScrapeInputError, UnmappedCompetition) as error:
        raise InvalidEvent(f"scrape: {error}") from None
    except (WebDriverException, Urllib3Error, OSError) as error:
        raise RetryLater(f"scrape: browser or site unreachable: {type(error).__name__}: {error}"[:1000]) from None


def scrape_league(data: ScrapeRequested, league: str, services: Services) -> ScrapeReport:
    """One league-season scraped; RetryLater when WhoScored blocked it (the pages before the block are kept)."""
    report = run_scrape(scrape_request(data, league), services)
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
    return report


def scrape_configured_leagues(data: ScrapeRequested, services: Services) -> str:
    """Every configured league in turn; "succeeded" or "partial" (the outcome is a metric label, so
    which leagues failed and why goes to the log and their ingest runs, not into it)."""
    leagues = configured_leagues(services.settings)
    failed: dict[str, RetryLater | InvalidEvent] = {}
    for league in leagues:
        try:
            scrape_league(data, league, services)
        except (RetryLater, InvalidEvent) as error:
            failed[league] = error
            log.error("scrape: %s failed, the other leagues go on: %s", league, error.reason)
        except Exception as error:  # a bug or an outage met in one league's pages must not cost the others
            log.exception("scrape: %s failed, the other leagues go on", league)
            failed[league] = RetryLater(f"scrape: {league}: {type(error).__name__}: {error}"[:1000])
    if not failed:
        return "succeeded"
    summary = "; ".join(f"{league}: {failed[league].reason.removeprefix('scrape: ')}" for league in sorted(failed))
    if len(failed) == len(leagues):
        if any(isinstance(error, RetryLater) for error in failed.values()):
            raise RetryLater(f"scrape: every configured league failed: {summary}"[:1000])
        raise InvalidEvent(f"scrape: every configured league was refused: {summary}"[:1000])
    scraped = [league for league in leagues if league not in failed]
    log.warning("scrape: scraped %s; failed %s", ", ".join(scraped), summary)
    return "partial"


def handle_scrape_event(envelope: Envelope[EventData], services: Services) -> str:
    data = envelope.data
    if not isinstance(data, ScrapeRequested):
        raise InvalidEvent(f"scrape handles {SCRAPE_REQUESTED} only, not {envelope.type}")
    if data.league is None:
        return scrape_configured_leagues(data, services)
    return scrape_league(data, data.league, services).status
