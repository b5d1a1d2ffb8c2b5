"""`t2b dashboards render`: dashboards, alert rules and scrape configs from shared/monitoring/."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import typer

from shared.cli.errors import CommandError, ExitCode

dashboards_app = typer.Typer(help="Grafana dashboards, alert rules and scrape configs as code.", no_args_is_help=True)


@dashboards_app.command("render")
def render_command(
    check: bool = typer.Option(False, "--check", help="Write nothing; exit 1 if a committed file is stale."),
) -> None:
    """Render knative/base/monitoring/ and monitoring/ from the code."""
    from shared.monitoring import render

    if check:
        stale = render.stale()
        if stale:
            typer.echo(f"stale rendered files (run `t2b dashboards render`): {', '.join(map(str, stale))}", err=True)
            raise typer.Exit(1)
        typer.echo("rendered monitoring files are up to date")
        return
    for path in render.write():
        typer.echo(path)


# The window a report covers when --since is not given: a week of match days before --until.
DEFAULT_DRIFT_WINDOW = timedelta(days=7)

drift_app = typer.Typer(
    help="Drift of served features and probabilities from the training reference.", no_args_is_help=True
)


def _moment(text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise CommandError(f"{option} {text!r} is not an ISO 8601 date or time", ExitCode.BAD_INPUT) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


@drift_app.command("report")
def drift_report_command(
    since: str | None = typer.Option(
        None, "--since", help="First served_at included (ISO 8601, UTC by default); default: 7 days before --until."
    ),
    until: str | None = typer.Option(None, "--until", help="First served_at excluded (ISO 8601); default: now."),
) -> None:
    """Compare the logged predictions of [since, until) with the training reference; store HTML + JSON."""
    from shared.clock import utcnow
    from shared.monitoring.drift_job import run_drift_report

    end = _moment(until, "--until") or utcnow()
    start = _moment(since, "--since") or end - DEFAULT_DRIFT_WINDOW
    if start >= end:
        raise CommandError("--since must be before --until (default: now)", ExitCode.BAD_INPUT)
    summary = run_drift_report(start, end)
    drifted = sorted(name for name, column in summary.columns.items() if column.drifted)
    typer.echo(f"drift share {summary.drift_share:.2f} over {len(summary.columns)} columns "
               f"({summary.current_rows} logged vs {summary.reference_rows} training rows)")  # fmt: skip
    typer.echo(f"drifted: {', '.join(drifted) or 'none'}")
    typer.echo(f"report: {summary.html_key}")


def bench_drift_command(
    rows: int = typer.Option(100_000, "--rows", min=1_000, help="Logged predictions to report on."),
) -> None:
    """A drift report over ROWS synthetic logged predictions, timed step by step (goal: 100,000 in < 60 s)."""
    from shared.monitoring.bench import run_bench_drift

    run_bench_drift(rows)
