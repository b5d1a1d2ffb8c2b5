"""Scraping one WhoScored league-season into the store, in soccerdata's order (NOTES §4):
regions → tournament → season → stages → calendar → monthly fixture feeds → match centre → preview.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal, Protocol
from urllib.parse import urljoin

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine

from shared.config import Settings, get_settings
from shared.db.models import MatchStatus
from shared.ingest.runs import RunCounts, ingest_run
from shared.monitoring.quality import settle_results
from shared.scraping import pages
from shared.scraping.driver import DriverFactory
from shared.scraping.errors import PageBlocked, PageShapeError
from shared.scraping.fetch import PageFetcher
from shared.scraping.leagues import competition_for, store_season
from shared.scraping.records import FixtureMatch, Region, SeasonOption, TournamentLink
from shared.scraping.store import SOURCE, Change, LeagueSeason, StoreWriter
from shared.storage import ObjectStore

log = logging.getLogger(__name__)


class ScrapeInputError(ValueError):
    """The request names a region, tournament or season WhoScored does not list."""


class ScrapeRequest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    region: int | str = Field(description="WhoScored region id (252) or name ('England')")
    tournament: int | str = Field(description="tournament id (2) or name ('Premier League')")
    season: int | str = Field(description="season id (8228) or name ('2020/2021' or '2020-2021')")
    months: int | None = Field(default=None, ge=1, description="only the first N months of each stage")
    include_match_centre: bool = True
    include_preview: bool = False
    dry_run: bool = False


class ScrapeReport(BaseModel):
    status: Literal["succeeded", "blocked"]
    league: str
    season: str
    stage_ids: list[int]
    months: list[str]  # "2021-01", fixture feeds fully stored
    matches_seen: int
    added: int
    updated: int
    rejected: int
    page_loads: int
    dry_run: bool
    changes: list[Change]
    blocked: str | None = None  # what blocked us and where


class ScrapeProgress(Protocol):
    def start(self, task: str, description: str, total: int) -> None: ...
    def advance(self, task: str) -> None: ...


class NoProgress:
    def start(self, task: str, description: str, total: int) -> None:
        pass

    def advance(self, task: str) -> None:
        pass


class SiteUrls:
    def __init__(self, base_url: str) -> None:
        self.base = base_url.rstrip("/")

    def absolute(self, path: str) -> str:
        return urljoin(self.base + "/", path)

    def home(self) -> str:
        return self.base + "/"

    def tournament(self, region_id: int, tournament_id: int) -> str:
        return f"{self.base}/Regions/{region_id}/Tournaments/{tournament_id}"

    def stage(self, region_id: int, tournament_id: int, season_id: int, stage_id: int) -> str:
        return f"{self.tournament(region_id, tournament_id)}/Seasons/{season_id}/Stages/{stage_id}"

    def fixture_feed(self, stage_id: int, year: int, month: int) -> str:
        return f"{self.base}/tournaments/{stage_id}/data/?d={year}{month:02d}"

    def match_centre(self, match_id: int) -> str:
        return f"{self.base}/Matches/{match_id}/Live"

    def preview(self, match_id: int) -> str:
        return f"{self.base}/Matches/{match_id}/Preview"


def scrape_whoscored(
    request: ScrapeRequest,
    *,
    engine: Engine,
    store: ObjectStore,
    driver_factory: DriverFactory,
    progress: ScrapeProgress | None = None,
    settings: Settings | None = None,
) -> ScrapeReport:
    """Scrape one league-season; an ingest run records it (not in a dry run, which writes nothing).

    A block that outlasts the retries ends the run `blocked`: pages stored before it stay stored.
    """
    scrape = _Scrape(request, engine, store, driver_factory, progress or NoProgress(), settings or get_settings())
    target = f"region={request.region} tournament={request.tournament} season={request.season}"
    try:
        with _run(engine, target, request.dry_run) as counts, PageFetcher(scrape.settings, driver_factory) as fetcher:
            scrape.run(fetcher, counts)
    except PageBlocked as exc:
        scrape.blocked = str(exc)
    finally:
        if scrape.writer is not None and not request.dry_run:  # pages stored before a block or an error stay
            settle_results(engine, scrape.writer.match_ids)
    return scrape.report()


@contextmanager
def _run(engine: Engine, target: str, dry_run: bool) -> Iterator[RunCounts]:
    if dry_run:
        yield RunCounts()
        return
    with ingest_run(engine, SOURCE, target) as counts:
        yield counts


class _Scrape:
    def __init__(
        self,
        request: ScrapeRequest,
        engine: Engine,
        store: ObjectStore,
        driver_factory: DriverFactory,
        progress: ScrapeProgress,
        settings: Settings,
    ) -> None:
        self.request = request
        self.engine = engine
        self.store = store
        self.progress = progress
        self.settings = settings
        self.urls = SiteUrls(settings.whoscored_base_url)
        self.league: LeagueSeason | None = None
        self.writer: StoreWriter | None = None
        self.stage_ids: list[int] = []
        self.months_done: list[str] = []
        self.matches: dict[int, FixtureMatch] = {}
        self.rejected: list[str] = []
        self.blocked: str | None = None
        self.page_loads = 0

    def run(self, fetcher: PageFetcher, counts: RunCounts) -> None:
        try:
            self._scrape(fetcher)
        finally:
            self.page_loads = fetcher.page_loads
            counts.added, counts.updated, counts.rejected = (
                self._count("add"),
                self._count("update"),
                len(self.rejected),
            )
            counts.details = {
                "stages": self.stage_ids,
                "months": self.months_done,
                "matches_seen": len(self.matches),
                "rejected": self.rejected[:50],
            }

    def _scrape(self, fetcher: PageFetcher) -> None:
        region, tournament = _pick_tournament(fetcher.fetch(self.urls.home(), pages.read_regions), self.request)
        competition = competition_for(region.id, tournament.id)
        tournament_page = fetcher.fetch(self.urls.tournament(region.id, tournament.id), pages.read_tournament_page)
        season = _pick_season(tournament_page.seasons, self.request.season)
        season_name, start_year = store_season(season.name)
        self.league = LeagueSeason(competition=competition, season_name=season_name, start_year=start_year)
        self.writer = StoreWriter(self.engine, self.store, self.league, self.request.dry_run)

        season_page = fetcher.fetch(self.urls.absolute(season.url), pages.read_tournament_page)
        self.stage_ids = season_page.stage_ids
        for stage_id in self.stage_ids:
            self._scrape_stage(fetcher, region.id, tournament.id, season.season_id, stage_id)

    def _scrape_stage(
        self, fetcher: PageFetcher, region_id: int, tournament_id: int, season_id: int, stage_id: int
    ) -> None:
        calendar = fetcher.fetch(
            self.urls.stage(region_id, tournament_id, season_id, stage_id), pages.read_stage_calendar
        )
        months = calendar.months[: self.request.months]
        task = f"stage-{stage_id}"
        self.progress.start(task, f"stage {stage_id}: months", len(months))
        for year, month in months:
            feed = fetcher.fetch(self.urls.fixture_feed(stage_id, year, month), pages.read_fixture_feed)
            new_matches = [m for m in feed.matches if m.stage_id == stage_id and m.id not in self.matches]
            assert self.writer is not None
            self.writer.write_fixtures(new_matches)
            self.matches.update((m.id, m) for m in new_matches)
            self.months_done.append(f"{year}-{month:02d}")
            self._scrape_matches(fetcher, f"{year}-{month:02d}", new_matches)
            self.progress.advance(task)

    def _scrape_matches(self, fetcher: PageFetcher, month: str, matches: list[FixtureMatch]) -> None:
        assert self.writer is not None
        finished = [m for m in matches if m.state is MatchStatus.finished] if self.request.include_match_centre else []
        upcoming = (
            [m for m in matches if m.state is MatchStatus.scheduled and m.has_preview]
            if self.request.include_preview
            else []
        )
        if not finished and not upcoming:
            return
        task = f"matches-{month}"
        self.progress.start(task, f"{month}: match pages", len(finished) + len(upcoming))
        for match in finished:
            url = self.urls.match_centre(match.id)
            try:
                centre = fetcher.fetch(url, pages.read_match_centre)
            except PageShapeError as exc:  # one match's page, not the league's: skip it, keep going
                self._reject(url, exc)
            else:
                if not self.writer.write_match_centre(centre):
                    self._reject(url, "match centre for a match the fixture feed did not list")
            self.progress.advance(task)
        for match in upcoming:
            url = self.urls.preview(match.id)
            try:
                self.writer.write_preview(fetcher.fetch(url, pages.read_preview), match.id)
            except PageShapeError as exc:
                self._reject(url, exc)
            self.progress.advance(task)

    def _reject(self, url: str, reason: object) -> None:
        log.warning("rejected %s: %s", url, reason)
        self.rejected.append(f"{url}: {reason}")

    def _count(self, action: str) -> int:
        return sum(1 for c in self.writer.changes if c.action == action) if self.writer else 0

    def report(self) -> ScrapeReport:
        return ScrapeReport(
            status="blocked" if self.blocked else "succeeded",
            league=self.league.competition.code if self.league else "",
            season=self.league.season_name if self.league else "",
            stage_ids=self.stage_ids,
            months=self.months_done,
            matches_seen=len(self.matches),
            added=self._count("add"),
            updated=self._count("update"),
            rejected=len(self.rejected),
            page_loads=self.page_loads,
            dry_run=self.request.dry_run,
            changes=self.writer.changes if self.writer else [],
            blocked=self.blocked,
        )


def _matches_name(value: int | str, entity_id: int, name: str) -> bool:
    text = str(value).strip()
    return text == str(entity_id) if text.isdigit() else text.casefold() == name.casefold()


def _pick_tournament(regions: list[Region], request: ScrapeRequest) -> tuple[Region, TournamentLink]:
    region = next((r for r in regions if _matches_name(request.region, r.id, r.name)), None)
    if region is None:
        raise ScrapeInputError(f"WhoScored lists no region {request.region!r}")
    tournament = next((t for t in region.tournaments if _matches_name(request.tournament, t.id, t.name)), None)
    if tournament is None:
        names = ", ".join(f"{t.id} {t.name}" for t in region.tournaments)
        raise ScrapeInputError(f"region {region.name} has no tournament {request.tournament!r} (it has: {names})")
    return region, tournament


def _pick_season(seasons: list[SeasonOption], wanted: int | str) -> SeasonOption:
    text = str(wanted).strip().replace("-", "/")
    season = next((s for s in seasons if _matches_name(text, s.season_id, s.name)), None)
    if season is None:
        names = ", ".join(s.name for s in seasons)
        raise ScrapeInputError(f"no season {wanted!r} (WhoScored lists: {names})")
    return season
