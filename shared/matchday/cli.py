"""`t2b matchday tick|export` and `t2b bench matchday` (registered by shared.cli)."""

from __future__ import annotations

from datetime import date, timedelta

import typer
from rich.table import Table

from shared.cli.console import console
from shared.cli.errors import CommandError, ExitCode
from shared.clock import utcnow
from shared.scraping.leagues import mapped_codes

matchday_app = typer.Typer(help="Match day: live scores and previews from WhoScored.", no_args_is_help=True)


@matchday_app.command("tick")
def tick_command(
    leagues: str = typer.Option("", help="competition codes, comma-separated; default: MATCHDAY_LEAGUES or all"),
) -> None:
    """One match-day tick now, as the PingSource's ping runs it: read what is due, store it, announce it."""
    from shared.matchday.task import tick_now
    from shared.services import Services

    chosen = [code.strip().upper() for code in leagues.split(",") if code.strip()]
    unknown = sorted(set(chosen) - set(mapped_codes()))
    if unknown:
        mapped = ", ".join(mapped_codes())
        raise CommandError(f"no WhoScored mapping for {', '.join(unknown)} (mapped: {mapped})", ExitCode.BAD_INPUT)
    with Services.from_environment() as services:
        report = tick_now(services, chosen)
    table = Table("", "", title=f"match-day tick: {report.outcome}", show_header=False)
    table.add_row("leagues", ", ".join(report.leagues))
    table.add_row("due", f"{report.live_due} live, {report.previews_due} previews")
    table.add_row("changes", f"{len(report.live_changed)} live, {len(report.previews_changed)} previews")
    table.add_row("WhoScored page loads / browser sessions", f"{report.page_loads} / {report.browser_sessions}")
    table.add_row("events published", str(report.published))
    for key in report.exported:
        table.add_row("history", key)
    for rejected in report.rejected:
        table.add_row("rejected", rejected)
    if report.detail:
        table.add_row("detail", report.detail)
    console.print(table)


@matchday_app.command("export")
def export_command(
    since: str = typer.Option(None, help="first day (YYYY-MM-DD, UTC); default: yesterday"),
    until: str = typer.Option(None, help="last day (YYYY-MM-DD, UTC); default: today"),
) -> None:
    """Rewrite the history parquet (matchday/{live,previews}/date=…) of each day in the range."""
    from shared.db.session import get_engine
    from shared.matchday.history import export_days
    from shared.storage import get_store

    today = utcnow().date()
    first, last = _day(since, today - timedelta(days=1), "--since"), _day(until, today, "--until")
    if first > last:
        raise CommandError(f"--since {first} is after --until {last}", ExitCode.BAD_INPUT)
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    for key in export_days(get_engine(), get_store(), days) or ["(nothing read on those days)"]:
        console.print(key)


def _day(text: str | None, default: date, option: str) -> date:
    if text is None:
        return default
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"{option} {text!r} is not a date like 2026-12-05", ExitCode.BAD_INPUT) from None


def bench_matchday_command(
    ticks: int = typer.Option(200, "--ticks", min=10, help="idle ticks to time"),
    matches: int = typer.Option(1_900, "--matches", min=10, help="fixtures in the scratch store (5 leagues' season)"),
) -> None:
    """An idle match-day tick (nothing in any window) timed against the goal (< 50 ms, no browser),
    beside a browser session's start, what the tick would pay if it opened one anyway."""
    from shared.matchday.bench import run_bench_matchday

    run_bench_matchday(ticks, matches)
