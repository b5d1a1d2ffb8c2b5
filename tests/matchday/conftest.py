"""Fixtures of the match-day tests: a store with one match day's fixtures and the fake WhoScored."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from shared.clock import utcnow
from shared.db.models import Competition, Match, MatchSourceId, MatchStatus, Season, Team
from tests.matchday.fake_site import PREVIEW_MATCH_ID, MatchDaySite
from tests.scraping.conftest import chromedriver_url  # noqa: F401 (the local remote WebDriver)
from tests.scraping.fake_site import serve

LIVE_MATCH_ID = 1900001  # WhoScored id of the match in progress
FAR_MATCH_ID = 1900002  # kicks off in three days
OLD_MATCH_ID = 1900003  # finished yesterday


@dataclass(frozen=True)
class MatchDay:
    """A Saturday in the store: a Premier League match kicked off 10' ago, a La Liga match in 3 h (its
    preview is due), one in three days and one finished yesterday (nothing due for either)."""

    kickoff: datetime  # of the live match
    live: int  # store ids
    preview: int
    far: int
    old: int


def add_match_day(engine: Engine, now: datetime) -> MatchDay:
    kickoff = now - timedelta(minutes=10)
    with Session(engine) as session, session.begin():
        premier = Competition(code="E0", name="Premier League", country="England")
        laliga = Competition(code="SP1", name="La Liga", country="Spain")
        e0 = Season(competition=premier, name="2025-2026", start_year=2025)
        sp1 = Season(competition=laliga, name="2025-2026", start_year=2025)
        names = ("Everton", "West Ham", "Tottenham", "Southampton", "Arsenal", "Chelsea", "Fulham", "Leeds")
        teams = {name: Team(name=name, country="England") for name in names}

        def match(season: Season, home: str, away: str, at: datetime, status: MatchStatus, whoscored: int) -> Match:
            goals = (0, 0) if status is MatchStatus.finished else (None, None)
            row = Match(
                season=season,
                home_team=teams[home],
                away_team=teams[away],
                kickoff_utc=at,
                status=status,
                ft_home_goals=goals[0],
                ft_away_goals=goals[1],
                updated_at=now,
            )
            session.add(row)
            session.flush()
            session.add(MatchSourceId(source="whoscored", source_id=str(whoscored), match_id=row.id))
            return row

        rows = (
            match(e0, "Everton", "West Ham", kickoff, MatchStatus.scheduled, LIVE_MATCH_ID),
            match(sp1, "Tottenham", "Southampton", now + timedelta(hours=3), MatchStatus.scheduled, PREVIEW_MATCH_ID),
            match(e0, "Arsenal", "Chelsea", now + timedelta(days=3), MatchStatus.scheduled, FAR_MATCH_ID),
            match(e0, "Fulham", "Leeds", now - timedelta(days=1), MatchStatus.finished, OLD_MATCH_ID),
        )
        session.flush()
        ids = [row.id for row in rows]
    return MatchDay(kickoff, *ids)


@pytest.fixture
def fake_matchday() -> Iterator[tuple[MatchDaySite, str]]:
    site = MatchDaySite(live_match=LIVE_MATCH_ID, home=(31, "Everton"), away=(29, "West Ham"))
    server, base_url = serve(site)
    yield site, base_url
    server.shutdown()
    server.server_close()


@pytest.fixture
def now() -> datetime:
    return utcnow().replace(microsecond=0)
