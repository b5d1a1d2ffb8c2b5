"""`t2b predictions ...`: maintenance of the prediction log."""

from __future__ import annotations

from datetime import UTC, datetime

import typer

from shared.cli.errors import CommandError, ExitCode
from shared.config import get_settings

predictions_app = typer.Typer(
    help="The prediction log: settle it against results, export settled days, keep the store bounded.",
    no_args_is_help=True,
)


@predictions_app.command("settle")
def settle_command() -> None:
    """Score every logged pre-kickoff prediction of a finished match not settled yet (live quality).

    Results writers settle what they wrote; this catches up whatever they could not (the
    `live-quality` CronWorkflow runs it hourly), so GET /monitoring/quality only reads."""
    from shared.db.session import get_engine
    from shared.monitoring.quality import settle

    typer.echo(f"{settle(get_engine())} predictions settled")


@predictions_app.command("compact")
def compact_command(
    retention_days: int | None = typer.Option(
        None, "--retention-days", help="days kept in the store (default PREDICTION_LOG_RETENTION_DAYS)"
    ),
) -> None:
    """Export settled (past UTC) days to parquet in the object store, then drop days older than the retention."""
    from shared.db.session import get_engine
    from shared.prediction_log_maintenance import compact
    from shared.storage import get_store

    days = get_settings().prediction_log_retention_days if retention_days is None else retention_days
    if days < 0:
        raise CommandError("--retention-days must be 0 or more", ExitCode.BAD_INPUT)
    report = compact(get_engine(), get_store(), datetime.now(UTC).date(), days)
    for day, rows in sorted(report.exported_rows.items()):
        typer.echo(f"exported {day}: {rows} rows")
    for day in report.removed_days:
        typer.echo(f"removed {day} from the store")
    typer.echo(
        f"{sum(report.exported_rows.values())} rows exported, {len(report.removed_days)} days removed, "
        f"{len(report.created_partitions)} partitions created"
    )
