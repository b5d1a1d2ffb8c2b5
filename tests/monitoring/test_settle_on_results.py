"""Results settle logged predictions as they are written: the football-data import (`t2b ingest
football-data`), the WhoScored scrape and the match-day tick each settle the matches they wrote,
with nothing else run (the live-quality job, `t2b predictions settle`, is not involved).

WhoScored is faked: its pages come from the scraping and match-day tests' fake sites, read in
process by a stand-in for the browser session (no JavaScript: the page readers parse the source,
as they do when a page's script values are missing). Everything else is real, on SQLite.

By hand: a home win 2-1 forecast (0.5, 0.3, 0.2): RPS ((0.5)^2 + (0.2)^2) / 2 = 0.145, log loss -ln 0.5;
Pinnacle opening 2.0 / 3.6 / 4.0 de-vigs to (0.486486, 0.270270, 0.243243), RPS
((0.513514)^2 + (0.243243)^2) / 2 = 0.161432. An away win forecast (0.2, 0.3, 0.5): RPS (0.04 + 0.25) / 2 = 0.145.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from shared.cli.app import run
from shared.config import get_settings
from shared.db.models import Match, MatchSourceId, MatchStatus, PredictionSettlement
from shared.db.session import engine_for, transaction
from shared.matchday.tick import run_tick
from shared.ml.metrics import log_loss, ranked_probability_score
from shared.monitoring import quality
from shared.scraping.whoscored import ScrapeRequest, scrape_whoscored
from shared.storage import LocalObjectStore
from tests.matchday.conftest import LIVE_MATCH_ID, add_match_day
from tests.matchday.fake_site import FULL_TIME, MatchDaySite
from tests.monitoring.store_rows import log_prediction
from tests.scraping.conftest import SAMPLES
from tests.scraping.fake_site import FakeWhoScored

CSV_HEADER = "Div,Date,Time,HomeTeam,AwayTeam,FTHG,FTAG,FTR,HTHG,HTAG,HTR,PSH,PSD,PSA\n"
KICKOFF = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)


class SiteSession:
    """The browser session's part the fetcher and the page readers use, over a fake site's pages."""

    def __init__(self, site: FakeWhoScored | MatchDaySite) -> None:
        self.site = site
        self.source = ""

    def open(self, url: str) -> None:
        parts = urlsplit(url)
        _, _, self.source = self.site.response(parts.path + (f"?{parts.query}" if parts.query else ""))

    def evaluate(self, expression: str) -> None:
        return None  # no JavaScript here: the readers parse the page source instead

    def consent_visible(self) -> bool:
        return False

    def close(self) -> None:
        pass


def settlements(engine) -> list[PredictionSettlement]:
    with transaction(engine) as session:
        return list(session.scalars(select(PredictionSettlement).order_by(PredictionSettlement.model_version)))


def test_the_pure_python_scores_are_the_metrics_modules() -> None:
    forecasts = np.random.default_rng(0).dirichlet((1.0, 1.0, 1.0), size=30)
    for forecast, outcome in zip(forecasts, [0, 1, 2] * 10, strict=True):
        rps, loss = quality.score(tuple(forecast), outcome)
        assert rps == pytest.approx(ranked_probability_score(forecast[None], np.array([outcome])))
        assert loss == pytest.approx(log_loss(forecast[None], np.array([outcome])))
    assert quality.score((1.0, 0.0, 0.0), 2)[1] == pytest.approx(-math.log(quality.EPSILON))


def test_an_import_of_results_settles_the_predictions_logged_before(
    configure: Callable[..., None], sqlite_url: str, tmp_path: Path
) -> None:
    configure(DATABASE_URL=sqlite_url)
    engine = engine_for(sqlite_url)
    day = KICKOFF.strftime("%d/%m/%Y")
    (tmp_path / "fixtures").mkdir()
    (tmp_path / "fixtures" / "E0.csv").write_text(CSV_HEADER + f"E0,{day},15:00,Arsenal,Chelsea,,,,,,,2.0,3.6,4.0\n")
    assert run(["ingest", "football-data", str(tmp_path / "fixtures")]) == 0
    with transaction(engine) as session:
        match = session.scalars(select(Match)).one()
    before = KICKOFF - timedelta(hours=2)
    log_prediction(engine, before, (0.5, 0.3, 0.2), "1", match.id, (match.home_team_id, match.away_team_id), KICKOFF)
    # version 2 named the match by teams and kick-off only, as POST /predict without a match id logs it
    log_prediction(engine, before, (0.5, 0.3, 0.2), "2", None, (match.home_team_id, match.away_team_id), KICKOFF)
    assert settlements(engine) == []  # scheduled: nothing to settle yet

    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "E0.csv").write_text(
        CSV_HEADER + f"E0,{day},15:00,Arsenal,Chelsea,2,1,H,1,0,H,2.0,3.6,4.0\n"
    )
    assert run(["ingest", "football-data", str(tmp_path / "results")]) == 0

    rows = settlements(engine)
    assert [(row.model_version, row.match_id, row.outcome) for row in rows] == [("1", match.id, 0), ("2", match.id, 0)]
    for row in rows:
        assert row.rps == pytest.approx(0.145) and row.log_loss == pytest.approx(math.log(2))
        assert row.market_bookmaker == "PS" and row.market_rps == pytest.approx(0.161432, abs=1e-6)
    with transaction(engine) as session:
        assert [(v.model_version, v.matches, v.with_market) for v in quality.summary(session)] == [
            ("1", 1, 1),
            ("2", 1, 1),
        ]


def test_a_scrape_writing_a_result_settles_it(configure: Callable[..., None], sqlite_url: str, tmp_path: Path) -> None:
    configure(DATABASE_URL=sqlite_url, SCRAPE_RATE_LIMIT="0", SCRAPE_RATE_JITTER="0")
    engine, site = engine_for(sqlite_url), FakeWhoScored(january_feed=SAMPLES / "fixtures_stage18685_2021-01.json")
    request = ScrapeRequest(
        region="England", tournament="Premier League", season="2020/2021", include_match_centre=False
    )

    def scrape() -> None:
        report = scrape_whoscored(request, engine=engine, store=LocalObjectStore(tmp_path / "objects"),
                                  driver_factory=lambda: SiteSession(site), settings=get_settings())  # fmt: skip
        assert report.status == "succeeded", report

    scrape()
    # Everton v West Ham (1 January 2021, 0-1) as it stood before kick-off, with a prediction logged then
    with transaction(engine) as session:
        match = session.scalars(
            select(Match)
            .join(MatchSourceId, MatchSourceId.match_id == Match.id)
            .where(MatchSourceId.source_id == "1485321")
        ).one()
        session.execute(
            update(Match)
            .where(Match.id == match.id)
            .values(status=MatchStatus.scheduled, ft_home_goals=None, ft_away_goals=None)
        )
    teams = (match.home_team_id, match.away_team_id)
    log_prediction(
        engine, match.kickoff_utc - timedelta(hours=1), (0.2, 0.3, 0.5), "1", match.id, teams, match.kickoff_utc
    )

    scrape()  # the fixture feed has the result again

    (row,) = settlements(engine)
    assert (row.match_id, row.outcome, row.market_bookmaker) == (match.id, 2, None)
    assert row.rps == pytest.approx(0.145) and row.log_loss == pytest.approx(math.log(2))


def test_the_match_day_tick_reading_full_time_settles_it(
    configure: Callable[..., None], sqlite_url: str, tmp_path: Path
) -> None:
    configure(DATABASE_URL=sqlite_url, SCRAPE_RATE_LIMIT="0", SCRAPE_RATE_JITTER="0")
    engine, now = engine_for(sqlite_url), datetime.now(UTC).replace(microsecond=0)
    day = add_match_day(engine, now)
    with Session(engine) as session:
        live = session.get(Match, day.live)
    site = MatchDaySite(live_match=LIVE_MATCH_ID, home=(31, "Everton"), away=(29, "West Ham"), moment=FULL_TIME)
    teams = (live.home_team_id, live.away_team_id)
    log_prediction(engine, day.kickoff - timedelta(hours=1), (0.5, 0.3, 0.2), "1", day.live, teams, day.kickoff)

    report = run_tick(engine, LocalObjectStore(tmp_path / "objects"), get_settings(), now + timedelta(minutes=100),
                      lambda settings: lambda: SiteSession(site), lambda event: None)  # fmt: skip

    assert day.live in report.live_changed
    (row,) = settlements(engine)
    assert (row.match_id, row.outcome) == (day.live, 0)  # 2-1 at full time
    assert row.rps == pytest.approx(0.145)
