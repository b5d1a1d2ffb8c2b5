"""The daily fixture scrape covers every configured league: a scrape.requested without a league (what the
scrape-schedule PingSource sends) through the scrape function's handler, a real headless Chromium on a
remote WebDriver (a local chromedriver) and PostgreSQL. Only WhoScored is mocked (fake_site.py), and
it blocks the Bundesliga, the first league in the configured order.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from shared.db.models import IngestRun, Match, RunStatus
from shared.events.contract import SCRAPE_REQUESTED, ScrapeRequested, make_event, parse_event
from shared.events.routing import load_routing
from shared.services import Services
from shared.tasks.handler import RetryLater
from shared.tasks.scrape import handle_scrape_event
from tests.scraping.conftest import FAST_SCRAPER_ENV
from tests.scraping.fake_site import FakeWhoScored

pytestmark = [pytest.mark.browser, pytest.mark.postgres]

BUNDESLIGA_PAGE = "/Regions/81/Tournaments/3"  # D1's tournament page: the scrape's first page of its own
PREMIER_LEAGUE_PAGE = "/Regions/252/Tournaments/2"
D1_RUN = "region=81 tournament=3 season=2020-2021"
E0_RUN = "region=252 tournament=2 season=2020-2021"
# The fake site holds the Premier League's 2020/2021 only, so the request names that season; the
# daily ping names none (the current one), which is what the PingSource test below checks.
EVERY_LEAGUE = make_event(SCRAPE_REQUESTED, ScrapeRequested(season="2020-2021"), source="/t")


@pytest.fixture
def services(
    configure: Callable[..., None],
    make_services: Callable[[], Services],
    pg_url: str,
    chromedriver_url: str,
    fake_whoscored: tuple[FakeWhoScored, str],
) -> Services:
    _, base_url = fake_whoscored
    configure(
        DATABASE_URL=pg_url,
        SELENOID_URL=chromedriver_url,
        WHOSCORED_BASE_URL=base_url,
        MATCHDAY_LEAGUES="E0,D1",  # the match-day tick's list; sorted, D1 is scraped first
        **FAST_SCRAPER_ENV,
    )
    return make_services()


def runs(services: Services) -> list[tuple[str, RunStatus, int, bool]]:
    with services.engine.connect() as connection:
        rows = connection.execute(
            select(IngestRun.target, IngestRun.status, IngestRun.rows_added, IngestRun.error).order_by(IngestRun.id)
        ).all()
    # (what, how it ended, rows added, whether the error names the block page)
    return [(row.target, row.status, row.rows_added, "Incapsula" in (row.error or "")) for row in rows]


def stored_matches(services: Services) -> int:
    with services.engine.connect() as connection:
        return connection.scalar(select(func.count()).select_from(Match))


def test_the_daily_ping_asks_for_every_configured_league() -> None:
    [ping] = [ping for ping in load_routing().pingsources if ping.name == "scrape-schedule"]
    data = parse_event(ping.to_event("t2b")).data
    assert isinstance(data, ScrapeRequested)
    assert (data.league, data.season, data.source) == (None, None, "whoscored")


def test_a_blocked_league_is_reported_and_the_others_are_still_scraped(
    services: Services, fake_whoscored: tuple[FakeWhoScored, str]
) -> None:
    site, _ = fake_whoscored
    site.blocked_paths.add(BUNDESLIGA_PAGE)

    assert handle_scrape_event(parse_event(EVERY_LEAGUE), services) == "partial"
    assert site.requests.count(BUNDESLIGA_PAGE) == 2  # the scraper's first try and its one retry
    assert stored_matches(services) == 52  # the Premier League, scraped after the block
    assert runs(services) == [
        (D1_RUN, RunStatus.blocked, 0, True),
        (E0_RUN, RunStatus.succeeded, 154, False),  # 52 fixtures + 51 finished matches' 2 stats rows
    ]

    # The next day's scrape again: the same store, nothing added (each write idempotent).
    assert handle_scrape_event(parse_event(EVERY_LEAGUE), services) == "partial"
    assert stored_matches(services) == 52
    assert runs(services)[2:] == [(D1_RUN, RunStatus.blocked, 0, True), (E0_RUN, RunStatus.succeeded, 0, False)]


def test_every_league_blocked_is_retried(services: Services, fake_whoscored: tuple[FakeWhoScored, str]) -> None:
    site, _ = fake_whoscored
    site.blocked_paths.update({BUNDESLIGA_PAGE, PREMIER_LEAGUE_PAGE})

    with pytest.raises(RetryLater, match="every configured league failed") as failure:
        handle_scrape_event(parse_event(EVERY_LEAGUE), services)
    reason = failure.value.reason
    assert "D1: blocked:" in reason and "E0: blocked:" in reason and "Incapsula" in reason
    assert [run[:2] for run in runs(services)] == [(D1_RUN, RunStatus.blocked), (E0_RUN, RunStatus.blocked)]
    assert stored_matches(services) == 0
