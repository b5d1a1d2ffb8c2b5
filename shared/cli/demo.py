"""The README's main job: everything end to end on the embedded defaults."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from shared.cli.data import import_paths, print_exports
from shared.cli.errors import CommandError
from shared.config import get_settings
from shared.db.session import get_engine
from shared.export import export_store
from shared.storage import get_store

DEMO_DATA = Path(__file__).resolve().parents[2] / "data" / "demo" / "football-data"

console = Console()


def demo_command(
    data: Path = typer.Option(DEMO_DATA, help="football-data CSVs to load (default: the bundled demo subset)."),
) -> None:
    """Migrate, import the demo data, export parquet, and show what went where."""
    settings = get_settings()
    console.rule("[bold]Time2Bet main job")
    console.print(f"store: {get_engine().url.render_as_string(hide_password=True)}")
    console.print(f"objects: {get_store().location('')}")
    console.print(f"MLflow: {settings.resolved_mlflow_tracking_uri}")

    console.rule("import")
    results = import_paths([data])
    failed = [error for result in results for error in result.errors]
    if failed:
        raise CommandError(failed[0])
    console.print(
        f"{len(results)} files: {sum(r.added for r in results)} matches added, "
        f"{sum(r.updated for r in results)} updated, {sum(r.unchanged for r in results)} unchanged"
    )

    console.rule("export")
    print_exports(export_store(get_engine(), get_store()))
