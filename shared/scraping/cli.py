"""`t2b scrape whoscored …` and `t2b teams unmatched` (registered by shared.cli)."""

from __future__ import annotations

from types import TracebackType

import typer
from pydantic import ValidationError
from rich.progress import BarColumn, MofNCompleteColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table
from selenium.common.exceptions import WebDriverException

from shared.cli.console import console, progress
from shared.cli.errors import CommandError, ExitCode
from shared.config import get_settings
from shared.db.session import get_engine
from shared.scraping.driver import remote_browser_factory
from shared.scraping.errors import PageShapeError
from shared.scraping.leagues import UnmappedCompetition
from shared.scraping.teams_report import unmatched_teams
from shared.scraping.whoscored import ScrapeInputError, ScrapeReport, ScrapeRequest, scrape_whoscored
from shared.storage import get_store

scrape_app = typer.Typer(help="Scrape data sources into the store.", no_args_is_help=True)
teams_app = typer.Typer(help="Inspect how teams from different sources were matched.", no_args_is_help=True)


class RichProgress:
    """A bar per stage (its months) and per month (its match pages)."""

    def __init__(self) -> None:
        self._progress = progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()
        )
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> RichProgress:
        self._progress.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._progress.stop()

    def start(self, task: str, description: str, total: int) -> None:
        self._tasks[task] = self._progress.add_task(description, total=total)

    def advance(self, task: str) -> None:
        self._progress.advance(self._tasks[task])


def _id_or_name(value: str) -> int | str:
    return int(value) if value.strip().isdigit() else value.strip()


@scrape_app.command("whoscored")
def whoscored(
    region: str = typer.Option(..., help="region id (252) or name (England)"),
    tournament: str = typer.Option(..., help="tournament id (2) or name (Premier League)"),
    season: str = typer.Option(..., help="season id (8228) or name (2020/2021)"),
    months: int | None = typer.Option(None, min=1, help="only the first N months of the season"),
    dry_run: bool = typer.Option(False, "--dry-run", help="print the changes a scrape would make, write nothing"),
    match_centre: bool = typer.Option(True, "--match-centre/--no-match-centre", help="also scrape match centres"),
    preview: bool = typer.Option(False, "--preview/--no-preview", help="also scrape previews of upcoming matches"),
) -> None:
    """Scrape one WhoScored league-season into the store."""
    try:
        request = ScrapeRequest(
            region=_id_or_name(region),
            tournament=_id_or_name(tournament),
            season=_id_or_name(season),
            months=months,
            include_match_centre=match_centre,
            include_preview=preview,
            dry_run=dry_run,
        )
        settings = get_settings()
        with RichProgress() as progress:
            report = scrape_whoscored(
                request,
                engine=get_engine(),
                store=get_store(),
                driver_factory=remote_browser_factory(settings),
                progress=progress,
                settings=settings,
            )
    except ValidationError as exc:
        raise CommandError(f"invalid request: {exc.errors()[0]['msg']}", ExitCode.BAD_INPUT) from None
    except (ScrapeInputError, UnmappedCompetition, PageShapeError, ValueError) as exc:
        raise CommandError(str(exc), ExitCode.BAD_INPUT) from None
    except WebDriverException as exc:
        raise CommandError(f"browser failed: {exc.msg or type(exc).__name__}") from None
    _print_report(report)
    if report.status == "blocked":
        raise CommandError(f"run ended blocked ({report.blocked}); pages stored before it are kept", ExitCode.BLOCKED)


def _print_report(report: ScrapeReport) -> None:
    if report.dry_run:
        table = Table(title=f"Would change ({report.league} {report.season}, dry run: nothing written)")
        for column in ("entity", "whoscored id", "action", "fields"):
            table.add_column(column)
        for change in report.changes:
            table.add_row(change.entity, change.key, change.action, ", ".join(change.fields))
        console.print(table)
    console.print(
        f"{report.league} {report.season}: {report.matches_seen} matches in {len(report.months)} "
        f"months; added {report.added}, updated {report.updated}, rejected {report.rejected} "
        f"({report.page_loads} page loads)"
    )


@teams_app.command("unmatched")
def unmatched() -> None:
    """Teams only one source knows (no alias joins them to the other): review for the alias table."""
    teams = unmatched_teams(get_engine())
    table = Table(title=f"{len(teams)} teams known to one source only")
    for column in ("team id", "name", "source", "source spellings"):
        table.add_column(column)
    for team in teams:
        table.add_row(str(team.team_id), team.name, team.source, ", ".join(team.source_names))
    console.print(table)
