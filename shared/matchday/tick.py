"""One match-day tick: plan from the store, read the due pages through the scraper's fetcher (rate
limit, block detection, retries on a fresh session), write each page idempotently, export the days
touched to parquet, announce the changes.

A tick with nothing due makes no request and opens no browser: the plan is one query and the
outbox two more.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal, TypeVar

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shared.config import Settings
from shared.matchday import metrics
from shared.matchday.history import export_days
from shared.matchday.outbox import Publish, publish_pending
from shared.matchday.windows import DueMatch, TickPlan, plan_tick
from shared.matchday.writes import put_if_changed, record_live, record_preview
from shared.monitoring.quality import settle_results
from shared.scraping import pages
from shared.scraping.driver import BrowserSession, DriverFactory
from shared.scraping.errors import PageBlocked, PageShapeError
from shared.scraping.fetch import PageFetcher, PageReader
from shared.scraping.leagues import configured_leagues
from shared.scraping.records import MatchCentre, MatchPreview
from shared.scraping.whoscored import SiteUrls
from shared.storage import ObjectStore

log = logging.getLogger("time2bet.matchday")

T = TypeVar("T")
Outcome = Literal["idle", "done", "blocked", "no_browser"]
# Opening the browser is deferred to the first due page; it raises ValueError without SELENOID_URL.
BrowserFactoryProvider = Callable[[Settings], DriverFactory]


@dataclass
class TickReport:
    outcome: Outcome
    leagues: list[str]
    live_due: int = 0
    previews_due: int = 0
    live_changed: list[int] = field(default_factory=list)  # store match ids with an announced change
    previews_changed: list[int] = field(default_factory=list)
    page_loads: int = 0
    browser_sessions: int = 0
    rejected: list[str] = field(default_factory=list)
    exported: list[str] = field(default_factory=list)
    published: int = 0
    detail: str | None = None


class _CountingFactory:
    def __init__(self, factory: DriverFactory) -> None:
        self._factory = factory
        self.sessions = 0

    def __call__(self) -> BrowserSession:
        self.sessions += 1
        metrics.SELENOID_SESSIONS.inc()
        return self._factory()


def run_tick(
    engine: Engine,
    store: ObjectStore,
    settings: Settings,
    now: datetime,
    browser: BrowserFactoryProvider,
    publish: Publish,
    leagues: Collection[str] = (),
) -> TickReport:
    chosen = configured_leagues(settings, leagues)
    with Session(engine) as session:
        plan = plan_tick(session, now, settings, chosen)
    report = TickReport(outcome="idle" if plan.idle else "done", leagues=chosen)
    report.live_due, report.previews_due = len(plan.live), len(plan.previews)
    if not plan.idle:
        _read_due_pages(engine, store, settings, now, browser, plan, report)
        settle_results(engine, report.live_changed)  # a match read as finished settles its logged predictions
    report.published = publish_pending(engine, publish, now)
    metrics.TICKS.labels(report.outcome).inc()
    return report


def _read_due_pages(
    engine: Engine,
    store: ObjectStore,
    settings: Settings,
    now: datetime,
    browser: BrowserFactoryProvider,
    plan: TickPlan,
    report: TickReport,
) -> None:
    try:
        factory = _CountingFactory(browser(settings))
    except ValueError as error:  # SELENOID_URL unset: nothing can be read until it is configured
        report.outcome, report.detail = "no_browser", str(error)
        log.warning("matchday: %d page(s) due but no browser: %s", report.live_due + report.previews_due, error)
        return
    urls = SiteUrls(settings.whoscored_base_url)
    days: set[date] = set()
    try:
        with PageFetcher(settings, factory) as fetcher:
            for due in plan.live:
                centre = _fetch(fetcher, urls.match_centre(due.whoscored_id), pages.read_match_centre, "live", report)
                if centre is not None and _store_live(engine, store, due, centre, now, report):
                    days.add(now.date())
            for due in plan.previews:
                preview = _fetch(fetcher, urls.preview(due.whoscored_id), pages.read_preview, "preview", report)
                if preview is not None:
                    days.update(_store_preview(engine, due, preview, now, report))
    except PageBlocked as error:  # retries exhausted: stop here, the next tick tries again
        report.outcome, report.detail = "blocked", str(error)
        log.warning("matchday: blocked, tick ends early: %s", error)
    finally:
        report.browser_sessions = factory.sessions
    report.exported = export_days(engine, store, days)


def _fetch(fetcher: PageFetcher, url: str, read: PageReader[T], page: str, report: TickReport) -> T | None:
    loads_before = fetcher.page_loads
    try:
        return fetcher.fetch(url, read)
    except PageShapeError as error:  # one match's page, not the tick's: skip it, read the others
        log.warning("matchday: rejected %s: %s", url, error)
        report.rejected.append(f"{url}: {error}")
        metrics.CHANGES.labels("rejected").inc()
        return None
    finally:
        loads = fetcher.page_loads - loads_before
        report.page_loads += loads
        metrics.WHOSCORED_REQUESTS.labels(page).inc(loads)


def _store_live(
    engine: Engine, store: ObjectStore, due: DueMatch, centre: MatchCentre, now: datetime, report: TickReport
) -> bool:
    """True when a new live state was stored (its day's history partition changed)."""
    try:
        with Session(engine) as session, session.begin():
            changed = record_live(session, due, centre, now)
    except IntegrityError:  # a concurrent tick stored the same state first: nothing left to do
        changed = None
    if changed is None:
        metrics.CHANGES.labels("live_unchanged").inc()
        return False
    metrics.CHANGES.labels("live_state").inc()
    if changed:
        report.live_changed.append(due.match_id)
    put_if_changed(
        store,
        f"raw/whoscored/events/league={due.league}/season={due.season}/match={due.whoscored_id}.json",
        centre.events,
    )
    return True


def _store_preview(
    engine: Engine, due: DueMatch, preview: MatchPreview, now: datetime, report: TickReport
) -> set[date]:
    try:
        with Session(engine) as session, session.begin():
            changed, day = record_preview(session, due, preview, now)
    except IntegrityError:
        return set()
    metrics.CHANGES.labels("preview_unchanged" if changed is None else "preview_version").inc()
    if changed:
        report.previews_changed.append(due.match_id)
    return {day}
