"""`t2b bench matchday`: what a tick with nothing to do costs, and what opening a browser would add.

A scratch SQLite store gets a season of fixtures for every mapped league (WhoScored ids, kick-offs
spread over the season), then the clock is set to a moment between match windows. Timed: whole
idle ticks (plan query, outbox queries), with a browser provider that fails the bench if it is ever
called. Beside them: starting and quitting one headless Chromium session through a local
chromedriver (what Selenoid does per session), when chromedriver and chromium are installed.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.table import Table
from sqlalchemy import insert
from sqlalchemy.orm import Session

from shared.cli.console import console
from shared.config import Settings
from shared.db import migrate
from shared.db.models import Competition, Match, MatchSourceId, MatchStatus, Season, Team
from shared.db.session import engine_for
from shared.matchday.tick import run_tick
from shared.processes import free_port, wait_for_port
from shared.scraping.driver import DriverFactory, remote_browser_factory
from shared.scraping.leagues import mapped_codes
from shared.storage import LocalObjectStore

GOAL_MS = 50.0
SEASON_START = datetime(2026, 8, 15, 15, 0, tzinfo=UTC)
IDLE_MOMENT = datetime(2026, 10, 1, 4, 0, tzinfo=UTC)  # a Thursday night: every match days away


def fill_store(url: str, matches: int) -> int:
    """Up to `matches` fixtures (a double round robin of 20 teams per league at most), spread over the
    season's weekends and away from IDLE_MOMENT; how many were stored."""
    leagues = mapped_codes()
    pairings = [(home, away) for home in range(20) for away in range(20) if home != away]
    per_league = min(len(pairings), matches // len(leagues))
    rows, links = [], []
    with Session(engine_for(url)) as session, session.begin():
        for code in leagues:
            season = Season(
                competition=Competition(code=code, name=code, country="-"), name="2026-2027", start_year=2026
            )
            teams = [Team(name=f"{code} team {n}", country="-") for n in range(20)]
            session.add_all([season, *teams])
            session.flush()
            for n, (home, away) in enumerate(pairings[:per_league]):
                kickoff = SEASON_START + timedelta(days=7 * (n // 10), hours=2 * (n % 5))
                if abs(kickoff - IDLE_MOMENT) < timedelta(days=2):
                    kickoff += timedelta(days=3)
                rows.append(
                    {
                        "id": len(rows) + 1,
                        "season_id": season.id,
                        "home_team_id": teams[home].id,
                        "away_team_id": teams[away].id,
                        "kickoff_utc": kickoff,
                        "status": MatchStatus.finished if kickoff < IDLE_MOMENT else MatchStatus.scheduled,
                        "updated_at": IDLE_MOMENT,
                    }
                )
                links.append({"source": "whoscored", "source_id": str(1_900_000 + len(rows)), "match_id": len(rows)})
        session.execute(insert(Match), rows)
        session.execute(insert(MatchSourceId), links)
    return len(rows)


def _no_browser(settings: Settings) -> DriverFactory:
    raise AssertionError("an idle tick asked for a browser")


def _idle_ticks(url: str, store_dir: Path, ticks: int) -> list[float]:
    engine = engine_for(url)
    store = LocalObjectStore(store_dir)
    settings = Settings(DATABASE_URL=url)
    published: list[object] = []
    timings = []
    for n in range(ticks + 5):
        began = time.perf_counter()
        report = run_tick(engine, store, settings, IDLE_MOMENT + timedelta(minutes=n), _no_browser, published.append)
        elapsed = (time.perf_counter() - began) * 1000
        assert report.outcome == "idle" and report.page_loads == 0 and not published, report
        if n >= 5:  # the first ticks warm SQLAlchemy's statement cache
            timings.append(elapsed)
    return timings


def _browser_session_ms(samples: int = 3) -> list[float] | None:
    binary = shutil.which("chromedriver")
    if binary is None or shutil.which("chromium") is None:
        return None
    port = free_port()
    process = subprocess.Popen([binary, f"--port={port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, process, 20)
        factory = remote_browser_factory(Settings(SELENOID_URL=f"http://127.0.0.1:{port}"))
        timings = []
        for _ in range(samples):
            began = time.perf_counter()
            factory().close()
            timings.append((time.perf_counter() - began) * 1000)
        return timings
    finally:
        process.terminate()
        process.wait(10)


def run_bench_matchday(ticks: int, matches: int) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite:///{Path(scratch) / 'bench.db'}"
        migrate.upgrade(url)
        stored = fill_store(url, matches)
        console.print(f"{stored:,} fixtures of {len(mapped_codes())} leagues; the clock between match windows")
        idle = sorted(_idle_ticks(url, Path(scratch) / "objects", ticks))
        engine_for(url).dispose()
    browser = _browser_session_ms()
    table = Table("", "p50 ms", "p99 ms", "max ms", title=f"one idle match-day tick ({ticks} ticks, SQLite)")
    p99 = idle[min(len(idle) - 1, int(len(idle) * 0.99))]
    table.add_row("idle tick: plan + outbox, no request, no browser", *_figures(idle, p99))
    if browser is None:
        table.add_row("baseline: one browser session (chromedriver not installed)", "-", "-", "-")
    else:
        table.add_row("baseline: one browser session started and quit", *_figures(sorted(browser), max(browser)))
    console.print(table)
    verdict = "[green]met" if p99 < GOAL_MS else "[red]missed"
    console.print(f"goal: an idle tick < {GOAL_MS:.0f} ms without the browser -> p99 {p99:.1f} ms: {verdict}")


def _figures(sorted_ms: list[float], p99: float) -> tuple[str, str, str]:
    return f"{statistics.median(sorted_ms):.2f}", f"{p99:.2f}", f"{sorted_ms[-1]:.2f}"
