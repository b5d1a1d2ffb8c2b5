"""`t2b bench ml`: how long the ML steps take on the full history. Prints a table; asserts nothing."""

from __future__ import annotations

import statistics
import time
from datetime import timedelta
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from shared.features.offline import build_feature_table
from shared.features.state import FeatureState, online_features
from shared.ml.data import InputError, load_params, raw_export
from shared.ml.train import train_model
from shared.storage import get_store

console = Console()


def _online_latencies(state: FeatureState, calls: int) -> list[float]:
    teams = list(state.teams.values())
    pairs = [(home, away) for home in teams for away in teams if home.league == away.league and home is not away]
    if not pairs:
        raise InputError("the team state has no two teams of one league")
    latencies = []
    for index in range(calls):
        home, away = pairs[index % len(pairs)]
        kickoff = max(home.last_kickoff, away.last_kickoff) + timedelta(days=4)  # type: ignore[type-var]
        started = time.perf_counter()
        online_features(state, home.team_id, away.team_id, kickoff, (2.1, 3.4, 3.6))
        latencies.append(time.perf_counter() - started)
    return latencies


def bench_ml_command(
    params_file: Path | None = typer.Option(None, "--params", help="params.yaml (default: embedded)."),
    train_until: str = typer.Option("2020-2021", "--train-until", help="Last training season."),
    calls: int = typer.Option(20_000, "--calls", help="Online feature calls to time."),
) -> None:
    """Time feature building for every exported match, training, and online features for one match."""
    try:
        params = load_params(params_file)
        matches, odds = raw_export(get_store())
    except InputError as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None
    table = Table("step", "size", "time", "goal")

    started = time.perf_counter()
    features = build_feature_table(matches, odds, params.features)
    table.add_row(
        "features (offline table)", f"{matches.num_rows} matches", f"{time.perf_counter() - started:.2f} s", "< 15 s"
    )

    started = time.perf_counter()
    trained = train_model(features.frame, train_until, params.train)
    rows = int(features.frame["season"].le(train_until).sum())
    table.add_row(
        f"training ({params.train.num_threads} threads, {trained.best_iteration} trees/class)",
        f"{rows} matches",
        f"{time.perf_counter() - started:.2f} s",
        "< 60 s",
    )

    latencies = sorted(_online_latencies(features.state, calls))
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    table.add_row(
        "online features (one match)",
        f"{calls} calls",
        f"mean {statistics.fmean(latencies) * 1e6:.0f} µs, p99 {p99 * 1e6:.0f} µs",
        "< 1 ms",
    )
    console.print(table)
