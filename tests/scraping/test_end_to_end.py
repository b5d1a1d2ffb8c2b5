"""End to end through a real headless Chromium on a remote WebDriver (a local chromedriver) into PostgreSQL.

Only WhoScored itself is mocked: `fake_site.py` serves its pages on a local port.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select

from shared.config import get_settings
from shared.db.models import IngestRun, Match, MatchSourceId, MatchStats, MatchStatus, RunStatus, Team
from shared.db.session import engine_for
from shared.scraping.driver import remote_browser_factory
from shared.scraping.whoscored import ScrapeReport, ScrapeRequest, scrape_whoscored
from shared.storage import LocalObjectStore
from tests.scraping.conftest import FAST_SCRAPER_ENV
from tests.scraping.fake_site import FakeWhoScored

pytestmark = [pytest.mark.browser, pytest.mark.postgres]

REQUEST = ScrapeRequest(region="England", tournament="Premier League", season="2020/2021")
JANUARY_FEED = "/tournaments/18685/data/?d=202101"
DECEMBER_MATCH_CENTRE = "/Matches/1485170/Live"


@pytest.fixture
def scrape(
    configure: Callable[..., None],
    pg_url: str,
    chromedriver_url: str,
    fake_whoscored: tuple[FakeWhoScored, str],
    tmp_path: Path,
) -> Callable[[ScrapeRequest], ScrapeReport]:
    _, base_url = fake_whoscored
    configure(
        DATABASE_URL=pg_url,
        SELENOID_URL=chromedriver_url,
        WHOSCORED_BASE_URL=base_url,
        **FAST_SCRAPER_ENV,
    )
    settings = get_settings()
    store = LocalObjectStore(tmp_path / "objects")

    def run(request: ScrapeRequest) -> ScrapeReport:
        return scrape_whoscored(
            request,
            engine=engine_for(pg_url),
            store=store,
            driver_factory=remote_browser_factory(settings),
            settings=settings,
        )

    return run


def _count(pg_url: str, statement) -> int:
    with engine_for(pg_url).connect() as connection:
        return connection.scalar(statement)


def test_scrape_into_postgres_then_rescrape_changes_nothing(scrape, pg_url: str, tmp_path: Path) -> None:
    report = scrape(REQUEST)
    assert report.status == "succeeded", report
    assert (report.league, report.season, report.stage_ids, report.months) == (
        "E0",
        "2020-2021",
        [18685],
        ["2020-12", "2021-01"],
    )
    assert report.matches_seen == 52
    assert _count(pg_url, select(func.count()).select_from(Match)) == 52
    assert (
        _count(pg_url, select(func.count()).select_from(MatchSourceId).where(MatchSourceId.source == "whoscored")) == 52
    )
    # 51 finished matches, each with a home and an away stats row
    assert _count(pg_url, select(func.count()).select_from(MatchStats)) == 102
    assert report.added == 52 + 102 and report.rejected == 0

    with engine_for(pg_url).connect() as connection:
        everton_west_ham = connection.execute(
            select(Match)
            .join(MatchSourceId, MatchSourceId.match_id == Match.id)
            .where(MatchSourceId.source_id == "1485321")
        ).one()
        upcoming = connection.execute(
            select(Match.status, Match.ft_home_goals)
            .join(MatchSourceId, MatchSourceId.match_id == Match.id)
            .where(MatchSourceId.source_id == "1485171")
        ).one()
        stats = connection.execute(
            select(MatchStats).where(MatchStats.match_id == everton_west_ham.id, MatchStats.side == "home")
        ).one()
        team_names = set(connection.scalars(select(Team.name)))
    assert (everton_west_ham.ft_home_goals, everton_west_ham.ft_away_goals) == (0, 1)
    assert everton_west_ham.status == MatchStatus.finished
    assert everton_west_ham.kickoff_utc.isoformat() == "2021-01-01T17:30:00+00:00"
    assert (everton_west_ham.referee, everton_west_ham.venue) == ("Michael Oliver", "Test Stadium")
    assert everton_west_ham.attendance == 0  # behind closed doors: a fact, not unknown
    assert upcoming == (MatchStatus.scheduled, None)
    assert (stats.possession, stats.shots, stats.shots_on_target, stats.passes, stats.pass_accuracy) == (
        60.0,
        5,
        2,
        400,
        80.0,
    )
    assert (stats.corners, stats.fouls, stats.yellow_cards, stats.red_cards, stats.rating, stats.formation) == (
        4,
        9,
        2,
        0,
        6.91,
        "4231",
    )
    assert len(team_names) == 20
    events_key = tmp_path / "objects/raw/whoscored/events/league=E0/season=2020-2021/match=1485321.json"
    assert json.loads(events_key.read_text())[0]["type"]["displayName"] == "Start"

    again = scrape(REQUEST)
    assert (again.status, again.added, again.updated, again.changes) == ("succeeded", 0, 0, [])
    with engine_for(pg_url).connect() as connection:
        runs = connection.execute(
            select(IngestRun.status, IngestRun.rows_added, IngestRun.rows_updated).order_by(IngestRun.id)
        ).all()
    assert runs == [(RunStatus.succeeded, 154, 0), (RunStatus.succeeded, 0, 0)]


def test_block_mid_run_keeps_earlier_month(scrape, fake_whoscored: tuple[FakeWhoScored, str], pg_url: str) -> None:
    site, _ = fake_whoscored
    site.blocked_paths.add(JANUARY_FEED)
    report = scrape(REQUEST.model_copy(update={"include_match_centre": False}))
    assert report.status == "blocked" and "Incapsula" in (report.blocked or "")
    assert report.months == ["2020-12"]
    assert site.requests.count(JANUARY_FEED) == 2  # the first try and one retry
    assert _count(pg_url, select(func.count()).select_from(Match)) == 2  # December's; nothing from January
    with engine_for(pg_url).connect() as connection:
        run = connection.execute(select(IngestRun.status, IngestRun.rows_added, IngestRun.error)).one()
    assert run.status == RunStatus.blocked and run.rows_added == 2 and "Incapsula" in run.error


def test_consent_dialog_hidden_in_the_dom_blocks_nothing(scrape, fake_whoscored: tuple[FakeWhoScored, str]) -> None:
    site, _ = fake_whoscored
    site.consent = "hidden"
    report = scrape(REQUEST.model_copy(update={"months": 1}))
    assert report.status == "succeeded", report
    assert report.matches_seen == 2 and "/consent/agree" not in site.requests


def test_consent_given_once_survives_a_retry_on_a_fresh_browser(
    scrape, fake_whoscored: tuple[FakeWhoScored, str]
) -> None:
    site, _ = fake_whoscored
    site.consent = "until-agreed"
    site.blocked_once.add(DECEMBER_MATCH_CENTRE)  # the retry runs in a new browser without the cookie
    report = scrape(REQUEST.model_copy(update={"months": 1}))
    assert report.status == "succeeded", report
    assert site.requests.count(DECEMBER_MATCH_CENTRE) >= 2
    assert site.requests.count("/consent/agree") == 1  # the fresh browser got the run's consent cookie


def test_dry_run_writes_nothing(scrape, pg_url: str) -> None:
    report = scrape(REQUEST.model_copy(update={"dry_run": True, "months": 1, "include_match_centre": False}))
    assert report.status == "succeeded" and report.dry_run
    assert [c.key for c in report.changes] == ["1485170", "1485171"]
    assert _count(pg_url, select(func.count()).select_from(Match)) == 0
    assert _count(pg_url, select(func.count()).select_from(IngestRun)) == 0
