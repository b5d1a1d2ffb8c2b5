"""The `t2b` command.

Known failures (bad input, an unreachable service) end with one line on stderr and exit code 2;
a traceback means a bug.
"""

from __future__ import annotations

import os
import sys

import typer
from rich.console import Console

from shared.bench.serve import bench_serve_command
from shared.cli.data import bench_app, db_app, export_command, ingest_app
from shared.cli.demo import demo_command
from shared.cli.errors import CommandError
from shared.cli.serve import manifests_command, serve_command
from shared.ml.bench import bench_ml_command
from shared.ml.cli import backtest_command, evaluate_command, features_app, model_app, score_command, train_command
from shared.runtime.cli import up_command
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
app.add_typer(features_app, name="features")
app.add_typer(model_app, name="model")
app.command("train")(train_command)
app.command("evaluate")(evaluate_command)
app.command("backtest")(backtest_command)
app.command("score")(score_command)
bench_app.command("ml")(bench_ml_command)
bench_app.command("serve")(bench_serve_command)
app.command("export")(export_command)
app.command("demo")(demo_command)
app.command("serve")(serve_command)
app.command("up")(up_command)
app.command("manifests")(manifests_command)


def main() -> None:
    from minio.error import S3Error
    from sqlalchemy.exc import SQLAlchemyError

    code = 0
    try:
        app()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except (CommandError, SQLAlchemyError, S3Error, ConnectionError, OSError) as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        Console(stderr=True).print(f"[red]error:[/red] {message}", highlight=False)
        code = 2
    # Native thread pools (pyarrow, LightGBM's OpenMP) sometimes abort with "terminate called without an
    # active exception" while the interpreter tears down after a training run; the work is done and
    # flushed by now, so leave without running that teardown.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
