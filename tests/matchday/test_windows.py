"""Which matches a tick reads, on the embedded SQLite store: no browser is involved (the provider
given to the tick fails the test if it is asked), so these need nothing but the store."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from shared.config import Settings
from shared.db.session import engine_for
from shared.matchday.tick import run_tick
from shared.matchday.windows import plan_tick
from shared.scraping.driver import DriverFactory, remote_browser_factory
from shared.scraping.leagues import configured_leagues
from shared.storage import LocalObjectStore
from tests.matchday.conftest import add_match_day


def no_browser(settings: Settings) -> DriverFactory:
    raise AssertionError("the tick asked for a browser")


def plan(url: str, at: datetime, **env: str):  # type: ignore[no-untyped-def]
    settings = Settings(DATABASE_URL=url, **env)
    with Session(engine_for(url)) as session:
        return plan_tick(session, at, settings, configured_leagues(settings))


def test_only_matches_inside_their_windows_are_due(sqlite_url: str, now: datetime) -> None:
    day = add_match_day(engine_for(sqlite_url), now)
    due = plan(sqlite_url, now)
    assert [m.match_id for m in due.live] == [day.live] and [m.match_id for m in due.previews] == [day.preview]
    assert due.live[0].whoscored_id == 1900001 and due.previews[0].league == "SP1"
    # 2.5 h after kick-off a match never seen live is out of its window
    assert plan(sqlite_url, day.kickoff + timedelta(minutes=151)).live == []
    # the leagues configured: only E0 leaves La Liga's preview alone
    only_e0 = plan(sqlite_url, now, MATCHDAY_LEAGUES="E0")
    assert (len(only_e0.live), only_e0.previews) == (1, [])
    # the page budget goes to live matches first
    assert (len(plan(sqlite_url, now, MATCHDAY_MAX_PAGES="1").live), plan(sqlite_url, now).idle) == (1, False)
    assert plan(sqlite_url, now, MATCHDAY_MAX_PAGES="1").previews == []


def test_a_tick_outside_every_window_asks_for_no_browser(sqlite_url: str, now: datetime, tmp_path: Path) -> None:
    add_match_day(engine_for(sqlite_url), now)
    published: list[object] = []
    report = run_tick(
        engine_for(sqlite_url),
        LocalObjectStore(tmp_path / "objects"),
        Settings(DATABASE_URL=sqlite_url),
        now + timedelta(days=5),
        no_browser,
        published.append,
    )
    assert (report.outcome, report.page_loads, report.browser_sessions, published) == ("idle", 0, 0, [])
    assert not (tmp_path / "objects").exists()


def test_pages_due_without_a_browser_configured_is_an_outcome_not_a_failure(
    sqlite_url: str, now: datetime, tmp_path: Path
) -> None:
    add_match_day(engine_for(sqlite_url), now)
    report = run_tick(
        engine_for(sqlite_url),
        LocalObjectStore(tmp_path / "objects"),
        Settings(DATABASE_URL=sqlite_url),  # no SELENOID_URL
        now,
        remote_browser_factory,
        pytest.fail,
    )
    assert report.outcome == "no_browser" and "SELENOID_URL" in (report.detail or "")
    assert (report.live_due, report.previews_due, report.page_loads) == (1, 1, 0)


def test_configured_leagues() -> None:
    assert configured_leagues(Settings(), ["SP1"]) == ["SP1"]
    assert configured_leagues(Settings(MATCHDAY_LEAGUES="I1,E0")) == ["E0", "I1"]
    assert configured_leagues(Settings()) == ["D1", "E0", "F1", "I1", "SP1"]
