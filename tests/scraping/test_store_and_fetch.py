"""The store writer's team matching across sources, the page fetcher's retries, and the CLI's bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
from selenium.common.exceptions import TimeoutException
from sqlalchemy import func, select

from shared.cli.app import run
from shared.cli.errors import ExitCode
from shared.config import Settings
from shared.db.models import Team
from shared.db.session import engine_for, transaction
from shared.scraping.errors import PageBlocked
from shared.scraping.fetch import PageFetcher
from shared.scraping.leagues import competition_for, store_season
from shared.scraping.parsers import parse_fixture_feed
from shared.scraping.store import LeagueSeason, StoreWriter
from shared.scraping.teams_report import unmatched_teams
from shared.storage import LocalObjectStore
from shared.teams import TeamResolver


def test_whoscored_names_join_football_data_teams(db_url: str, samples: Path, tmp_path: Path) -> None:
    engine = engine_for(db_url)
    with transaction(engine) as session:  # as the football-data importer would have left them
        resolver = TeamResolver(session)
        for name in ("Man United", "Man City", "West Brom", "Everton", "Nott'm Forest"):
            resolver.resolve("football-data", name, name)
    league = LeagueSeason(competition=competition_for(252, 2), season_name="2020-2021", start_year=2020)
    writer = StoreWriter(engine, LocalObjectStore(tmp_path), league, dry_run=False)
    writer.write_fixtures(parse_fixture_feed((samples / "fixtures_stage18685_2021-01.json").read_text()).matches)
    with transaction(engine) as session:
        assert session.scalar(select(func.count()).select_from(Team)) == 21  # 20 clubs + Forest
    unmatched = {(t.source, t.name) for t in unmatched_teams(engine)}
    assert ("football-data", "Nott'm Forest") in unmatched
    assert not {name for _, name in unmatched} & {"Man United", "Man City", "West Brom", "Everton"}


def test_season_and_competition_mapping() -> None:
    assert store_season("2020/2021") == ("2020-2021", 2020)
    assert [competition_for(*ids).code for ids in ((252, 2), (206, 4), (81, 3), (108, 5), (74, 22))] == [
        "E0",
        "SP1",
        "D1",
        "I1",
        "F1",
    ]
    with pytest.raises(ValueError, match="no competition code"):
        competition_for(252, 7)


class _FakeSession:
    def __init__(self, script: list[str]) -> None:
        self.script = script
        self.closed = False
        self.source = ""

    def open(self, url: str) -> None:
        outcome = self.script.pop(0)
        if outcome == "timeout":
            raise TimeoutException("slow")
        self.source = "Incapsula incident ID: 1" if outcome == "blocked" else "<html>ok</html>"

    def dismiss_consent(self) -> bool:
        return False

    def close(self) -> None:
        self.closed = True


def _fetcher(script: list[str], sessions: list[_FakeSession], sleeps: list[float]) -> PageFetcher:
    settings = Settings(SCRAPE_RATE_LIMIT=0, SCRAPE_RATE_JITTER=0, SCRAPE_MAX_RETRIES=2, SCRAPE_BACKOFF_BASE=1)

    def factory() -> _FakeSession:
        sessions.append(_FakeSession(script))
        return sessions[-1]

    return PageFetcher(settings, factory, sleep=sleeps.append)  # type: ignore[arg-type]


def test_fetch_retries_with_backoff_on_a_fresh_session() -> None:
    sessions: list[_FakeSession] = []
    sleeps: list[float] = []
    with _fetcher(["timeout", "blocked", "ok"], sessions, sleeps) as fetcher:
        assert fetcher.fetch("http://x/", lambda page: page.source) == "<html>ok</html>"
    assert sleeps == [1, 2]
    assert len(sessions) == 3 and all(s.closed for s in sessions)


def test_fetch_gives_up_blocked() -> None:
    sessions: list[_FakeSession] = []
    with pytest.raises(PageBlocked, match="Incapsula"), _fetcher(["blocked"] * 3, sessions, []) as fetcher:
        fetcher.fetch("http://x/", lambda page: page.source)
    assert all(s.closed for s in sessions)


def test_cli_bad_input_is_one_line(configure, capsys: pytest.CaptureFixture[str]) -> None:
    configure()
    code = run(["scrape", "whoscored", "--region", "252", "--tournament", "2", "--season", "2020/2021"])
    assert code == ExitCode.BAD_INPUT
    err = capsys.readouterr().err
    assert "SELENOID_URL is not set" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
