"""`t2b cache ...`: the serving caches around batch scoring."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from shared.cli.console import console

cache_app = typer.Typer(help="The serving caches: warm them after batch scoring.", no_args_is_help=True)


@cache_app.command("warm")
def warm_command(
    out: Path | None = typer.Option(None, "--out", help="Write the warm-up summary JSON here."),
) -> None:
    """After batch scoring: check the newest batch as prediction-lookup serves it, then (with REDIS_URL) put
    the fresh team state, which POST /predict's replicas read, in Redis.

    Exit 1 when the batch cannot be served (missing, unreadable, empty), 75 when Redis, the store, the
    object store or MLflow cannot be reached (a retry may pass)."""
    from shared.services import Services
    from shared.serving.warmup import warm

    with Services.from_environment() as services:
        result = warm(services)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result.summary(), indent=2, sort_keys=True) + "\n")
    redis = "team state warmed in Redis" if result.team_state_warmed else "REDIS_URL not set: nothing to warm"
    console.print(
        f"batch {result.batch_key}: {result.predictions} predictions of version {result.batch_model_version} "
        f"servable; {redis}",
        highlight=False,
        markup=False,
    )
