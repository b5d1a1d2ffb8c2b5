"""The `t2b` app: every command registered, and its exit policy.

Known failures end with one line on stderr and an exit code from shared.cli.errors (README "Exit
codes"); a traceback means a bug.
"""

from __future__ import annotations

import os
import sys

import typer
from rich.text import Text

from shared.bench.events import bench_events_command
from shared.bench.serve import bench_serve_command
from shared.bench.soak import bench_soak_command
from shared.bench.ui import bench_ui_command
from shared.cli.cache import cache_app
from shared.cli.console import error_console
from shared.cli.data import bench_app, db_app, export_command, ingest_app
from shared.cli.demo import demo_command
from shared.cli.errors import ExitCode, as_command_error
from shared.cli.predictions import predictions_app
from shared.cli.serve import manifests_command, serve_command
from shared.cli.ui import ui_command
from shared.matchday.cli import bench_matchday_command, matchday_app
from shared.ml.bench import bench_ml_command
from shared.ml.cli import backtest_command, evaluate_command, features_app, model_app, score_command, train_command
from shared.monitoring.cli import bench_drift_command, dashboards_app, drift_app
from shared.operator.cli import bench_operator_command, operator_app
from shared.runtime.cli import up_command
from shared.scraping.cli import scrape_app, teams_app
from shared.workflows.bench import bench_workflows_command
from shared.workflows.cli import workflows_app

NATIVE_POOLS = ("lightgbm", "pyarrow")  # modules whose native thread pools may abort at interpreter exit

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
app.add_typer(matchday_app, name="matchday")
app.add_typer(teams_app, name="teams")
app.add_typer(features_app, name="features")
app.add_typer(model_app, name="model")
app.add_typer(dashboards_app, name="dashboards")
app.add_typer(drift_app, name="drift")
app.add_typer(workflows_app, name="workflows")
app.add_typer(operator_app, name="operator")
app.add_typer(predictions_app, name="predictions")
app.add_typer(cache_app, name="cache")
app.command("train")(train_command)
app.command("evaluate")(evaluate_command)
app.command("backtest")(backtest_command)
app.command("score")(score_command)
bench_app.command("ml")(bench_ml_command)
bench_app.command("serve")(bench_serve_command)
bench_app.command("soak")(bench_soak_command)
bench_app.command("workflows")(bench_workflows_command)
bench_app.command("events")(bench_events_command)
bench_app.command("drift")(bench_drift_command)
bench_app.command("operator")(bench_operator_command)
bench_app.command("ui")(bench_ui_command)
bench_app.command("matchday")(bench_matchday_command)
app.command("export")(export_command)
app.command("demo")(demo_command)
app.command("serve")(serve_command)
app.command("up")(up_command)
app.command("manifests")(manifests_command)
app.command("ui")(ui_command)


def run(argv: list[str] | None = None) -> int:
    """Run `t2b` with these arguments; the exit code under the policy of shared.cli.errors.

    A known failure prints one line on stderr; anything else is a bug and keeps its traceback.
    """
    try:
        app(args=argv, prog_name="t2b")
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (ExitCode.OK if exc.code is None else ExitCode.FAILED)
    except Exception as exc:
        error = as_command_error(exc)
        if error is None:
            raise
        error_console.print(Text.assemble(("error: ", "red"), error.args[0]))
        return error.code
    return ExitCode.OK


def main() -> None:
    code = run()
    sys.stdout.flush()
    sys.stderr.flush()
    if any(module in sys.modules for module in NATIVE_POOLS):
        # Their thread pools (LightGBM's OpenMP, pyarrow's) sometimes abort with "terminate called without
        # an active exception" while the interpreter tears down; the work is done and flushed by now.
        os._exit(code)
    sys.exit(code)
