"""The `t2b` command.

Known failures (bad input, an unreachable service) end with one line on stderr and exit code 2;
a traceback means a bug.
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from shared.cli.data import bench_app, db_app, export_command, ingest_app
from shared.cli.demo import demo_command
from shared.cli.errors import CommandError
from shared.cli.serve import manifests_command, serve_command
from shared.scraping.cli import scrape_app, teams_app

app = typer.Typer(
    name="t2b",
    help="Time2Bet: soccer match prediction platform.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(db_app, name="db")
app.add_typer(ingest_app, name="ingest")
app.add_typer(bench_app, name="bench")
app.add_typer(scrape_app, name="scrape")
app.add_typer(teams_app, name="teams")
app.command("export")(export_command)
app.command("demo")(demo_command)
app.command("serve")(serve_command)
app.command("manifests")(manifests_command)


def main() -> None:
    from minio.error import S3Error
    from sqlalchemy.exc import SQLAlchemyError

    try:
        app()
    except (CommandError, SQLAlchemyError, S3Error, ConnectionError, OSError) as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        Console(stderr=True).print(f"[red]error:[/red] {message}", highlight=False)
        sys.exit(2)
