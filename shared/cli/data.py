"""Data commands: migrations, imports, exports and their benchmark."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.table import Table

from shared.cli.console import console, error_console, progress
from shared.cli.errors import CommandError, ExitCode
from shared.competitions import KNOWN_COMPETITIONS
from shared.db import migrate
from shared.db.session import get_engine
from shared.export import ExportedObject, export_store
from shared.ingest.football_data import discover, import_file
from shared.ingest.football_data_store import FileResult
from shared.storage import get_store

db_app = typer.Typer(help="The store's schema.", no_args_is_help=True)
ingest_app = typer.Typer(help="Load outside data into the store.", no_args_is_help=True)
bench_app = typer.Typer(help="Benchmarks that print figures.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head", help="Alembic revision to upgrade to.")) -> None:
    """Apply migrations (the same ones on PostgreSQL and SQLite)."""
    migrate.upgrade(revision=revision)
    console.print(f"store at [bold]{get_engine().url.render_as_string(hide_password=True)}[/bold] is at {revision}")


def import_paths(paths: list[Path]) -> list[FileResult]:
    """Import every CSV under `paths`, one transaction per file, with a progress bar."""
    files = discover(paths)
    missing = [p for p in paths if not p.exists()]
    if missing:
        raise CommandError(f"no such file or folder: {', '.join(map(str, missing))}", ExitCode.BAD_INPUT)
    engine = get_engine()
    migrate.upgrade()
    results = []
    with progress(transient=True) as bar:
        task = bar.add_task("importing football-data", total=len(files))
        for path in files:
            bar.update(task, description=f"importing {path.parent.name}/{path.name}")
            results.append(import_file(engine, path))
            bar.advance(task)
    return results


@ingest_app.command("football-data")
def ingest_football_data(
    paths: list[Path] = typer.Argument(..., help="football-data.co.uk CSV files or folders of them."),
) -> None:
    """Load football-data.co.uk CSVs; re-running changes nothing. Exits 1 if any file was rejected."""
    results = import_paths(paths)
    table = Table("file", "league", "season", "added", "updated", "unchanged", "status")
    for result in results:
        status = "[green]ok[/green]" if result.ok else f"[red]rejected ({len(result.errors)} errors)[/red]"
        table.add_row(
            str(result.path),
            result.league or "-",
            result.season or "-",
            str(result.added),
            str(result.updated),
            str(result.unchanged),
            status,
        )
    console.print(table)
    added = sum(r.added for r in results)
    updated = sum(r.updated for r in results)
    console.print(f"{len(results)} files: {added} matches added, {updated} updated")
    failed = [r for r in results if not r.ok]
    for result in failed:
        for error in result.errors:
            error_console.print(error, markup=False)
    if failed:
        raise CommandError(f"{len(failed)} of {len(results)} files rejected")


def print_exports(exported: list[ExportedObject]) -> None:
    table = Table("league", "season", "matches", "odds rows", "matches file")
    odds = {(e.league, e.season): e.rows for e in exported if e.dataset == "odds"}
    for item in (e for e in exported if e.dataset == "matches"):
        table.add_row(
            item.league, item.season, str(item.rows), str(odds.get((item.league, item.season), 0)), item.location
        )
    console.print(table)


def export_command(
    leagues: str = typer.Option(
        "", help="Only these leagues, comma-separated football-data codes (E0,SP1); all when empty."
    ),
) -> None:
    """Write parquet snapshots of matches and odds, partitioned by league and season."""
    chosen = {code.strip().upper() for code in leagues.split(",") if code.strip()}
    unknown = sorted(chosen - KNOWN_COMPETITIONS.keys())
    if unknown:
        known = ", ".join(sorted(KNOWN_COMPETITIONS))
        raise CommandError(
            f"--leagues: unknown league code(s) {', '.join(unknown)}; known: {known}", ExitCode.BAD_INPUT
        )
    exported = export_store(get_engine(), get_store(), chosen)
    print_exports(exported)
    console.print(f"{len(exported)} objects written")


@bench_app.command("ingest")
def bench_ingest(
    paths: list[Path] = typer.Argument(..., help="CSV files or folders, e.g. ../shared/data/football-data"),
) -> None:
    """Time a full import into an empty store, a no-op re-import, and the export; print rows/s."""
    engine = get_engine()
    migrate.upgrade()
    files = discover(paths)
    table = Table("step", "rows", "seconds", "rows/s")
    for step in ("import (empty store)", "re-import (no change)"):
        started = time.perf_counter()
        results = [import_file(engine, path) for path in files]
        elapsed = time.perf_counter() - started
        rows = sum(r.added + r.updated + r.unchanged for r in results)
        table.add_row(step, str(rows), f"{elapsed:.2f}", f"{rows / elapsed:,.0f}")
    started = time.perf_counter()
    exported = export_store(engine, get_store())
    elapsed = time.perf_counter() - started
    rows = sum(e.rows for e in exported)
    table.add_row("export (matches + odds)", str(rows), f"{elapsed:.2f}", f"{rows / elapsed:,.0f}")
    console.print(f"store: {engine.url.render_as_string(hide_password=True)}")
    console.print(table)
