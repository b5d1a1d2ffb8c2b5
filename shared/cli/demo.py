"""The README's main job: everything end to end on the embedded defaults."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pyarrow.parquet as pq
import typer
from rich.markdown import Markdown

from shared.cli.console import console
from shared.cli.data import import_paths, print_exports
from shared.cli.errors import CommandError
from shared.cli.ui import ui_url
from shared.config import Settings, get_settings
from shared.db.session import get_engine
from shared.export import export_store
from shared.ml.pipeline import run_ml_demo
from shared.runtime.cli import up_command
from shared.serving.batch_lookup import LATEST_POINTER
from shared.storage import get_store

DEMO_DATA = Path(__file__).resolve().parents[2] / "data" / "demo" / "football-data"


def demo_command(
    data: Path = typer.Option(DEMO_DATA, help="football-data CSVs to load (default: the bundled demo subset)."),
    serve: bool = typer.Option(True, help="End by running the local runtime, as `t2b up` (Ctrl-C stops)."),
) -> None:
    """Migrate, import, export, train, evaluate, promote, batch-score, then run everything with example calls."""
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

    console.rule("train, evaluate, register, promote, batch-score")
    console.print(Markdown(run_ml_demo(get_engine(), get_store(), console.print)))

    console.rule("local runtime")
    console.print(example_calls(settings))
    if serve:
        up_command(host=settings.serve_host, port=settings.serve_port, ping_now=False)


def example_calls(settings: Settings) -> str:
    base = f"http://{settings.serve_host}:{settings.serve_port}"
    pointer = json.loads(get_store().get_bytes(LATEST_POINTER))
    first = pq.read_table(io.BytesIO(get_store().get_bytes(pointer["key"])), columns=["match_id"]).to_pylist()[0]
    body = '{"home_team": "Man United", "away_team": "Liverpool", "kickoff": "2022-04-19T19:00:00Z"}'
    return "\n".join(
        [
            "Try (every function on one port; docs at /docs/<function>):",
            f"  curl -s -X POST {base}/predict -H 'content-type: application/json' -d '{body}'",
            f"  curl -s {base}/predict/{first['match_id']}",
            f"  curl -s '{base}/stats?league=E0'",
            f"  curl -s {base}/sources",
            f"  curl -s '{base}/teams?league=E0&q=man'",
            f"  curl -s '{base}/fixtures?league=E0&date_from=2022-01-01&date_to=2022-01-31'",
            f"  curl -s {base}/model/card",
            f"  curl -s {base}/health/ready",
            f"  curl -s {base}/metrics | grep t2b_",
            f"Web app (another terminal): t2b ui  ->  {ui_url()}  (Predict, Fixtures, Async batch, Tables, Model, "
            "Status)",
        ]
    )
