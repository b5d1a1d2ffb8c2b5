"""`t2b bench ml`: how long the ML steps take. Prints a table beside each goal; asserts nothing.

Two speed goals of #18: the feature table for all matches under 15 s, timed on the full reference
set (../shared/data/football-data) when it is there; and a no-odds feature row online under 1 ms,
timed per request from the materialised team state the way POST /predict builds it (JSON state
loaded, `online_features`, the row in the model's column order) beside the offline walk's cost
per row. The CSVs are imported into a scratch SQLite store first, so the bench needs no export.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import typer
from rich.table import Table

from shared.bench.batch_scoring import REFERENCE_DATA
from shared.cli.console import console
from shared.cli.errors import CommandError, ExitCode
from shared.features.compute import FEATURE_NAMES
from shared.features.market import Prices
from shared.features.offline import FeatureTable, build_feature_table
from shared.features.state import FeatureState, online_features
from shared.ml.data import InputError, load_params
from shared.ml.predictor import without_market
from shared.ml.train import train_model

REPO = Path(__file__).resolve().parents[2]
DEMO_DATA = REPO / "data" / "demo" / "football-data"
FEATURES_GOAL_S = 15.0
ONLINE_GOAL_S = 1e-3
TRAINING_GOAL_S = 60.0
NO_MARKET_COLUMNS = without_market(FEATURE_NAMES)


@dataclass(frozen=True)
class Timed:
    median_s: float
    p99_s: float


def imported_tables(source: Path) -> tuple[pa.Table, pa.Table]:
    """Matches and odds of the CSVs under `source`, as `t2b export` writes them (via a scratch SQLite)."""
    from shared.db import migrate
    from shared.db.session import engine_for
    from shared.export import matches_table, odds_table
    from shared.ingest.football_data import discover, import_file

    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite:///{Path(scratch) / 'bench.db'}"
        migrate.upgrade(url)
        engine = engine_for(url)
        try:
            for path in discover([source]):
                result = import_file(engine, path)
                if not result.ok:
                    raise InputError(f"{path}: {result.errors[0]}")
            return matches_table(engine), odds_table(engine)
        finally:
            engine.dispose()


def _current_teams(state: FeatureState) -> list:
    """Teams of their league's latest season: the fixtures users ask about."""
    latest: dict[str, str] = {}
    for team in state.teams.values():
        latest[team.league] = max(latest.get(team.league, ""), team.season)
    return [team for team in state.teams.values() if team.season == latest[team.league]]


def online_row_latencies(state: FeatureState, calls: int, odds: Prices | None) -> Timed:
    """Per request: features of one upcoming match from the materialised state, as a row in the
    model's column order (what POST /predict hands the booster)."""
    teams = _current_teams(state)
    pairs = [(home, away) for home in teams for away in teams if home.league == away.league and home is not away]
    if not pairs:
        raise InputError("the team state has no two teams of one league")
    kickoff = max(team.last_kickoff for team in teams if team.last_kickoff is not None) + timedelta(days=4)
    columns = list(FEATURE_NAMES) if odds is not None else NO_MARKET_COLUMNS
    latencies, rows = [], []
    for index in range(calls):
        home, away = pairs[index % len(pairs)]
        started = time.perf_counter()
        features = online_features(state, home.team_id, away.team_id, kickoff, odds, league=home.league)
        rows.append(np.array([[features[name] for name in columns]], dtype=np.float64))
        latencies.append(time.perf_counter() - started)
    latencies.sort()
    return Timed(statistics.median(latencies), latencies[max(int(len(latencies) * 0.99) - 1, 0)])


def _built(source: Path, params) -> tuple[FeatureTable, int, float, str]:
    """The feature table, its size, wall seconds, and the wall and CPU figures as printed (the CPU
    time shows how much of the wall time other processes on a shared machine took)."""
    matches, odds = imported_tables(source)
    started, cpu_started = time.perf_counter(), time.process_time()
    table = build_feature_table(matches, odds, params.features)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    return table, matches.num_rows, wall, f"{wall:.2f} s (CPU {cpu:.2f} s)"


def _verdict(measured: float, goal: float) -> str:
    return "met" if measured < goal else "NOT MET"


def bench_ml_command(
    params_file: Path | None = typer.Option(None, "--params", help="params.yaml (default: embedded)."),
    reference: Path = typer.Option(REFERENCE_DATA, "--reference", help="The full football-data set, if present."),
    train_until: str = typer.Option("2020-2021", "--train-until", help="Last training season."),
    calls: int = typer.Option(20_000, "--calls", help="Online feature requests to time."),
    training: bool = typer.Option(True, "--training/--no-training", help="Also time training both paths."),
) -> None:
    """Feature table for all matches (full reference set, and the demo), online no-odds features per
    request beside the offline walk's cost per row, and training."""
    try:
        params = load_params(params_file)
        table = Table("step", "data", "size", "measured", "goal", "verdict")
        main, rows, seconds, shown = _built(DEMO_DATA, params)
        label = "demo"
        table.add_row("features (offline table)", label, f"{rows} matches", shown, "-", "-")
        if reference.is_dir():
            main, rows, seconds, shown = _built(reference, params)
            label = "reference"
            verdict = _verdict(seconds, FEATURES_GOAL_S)
            table.add_row("features (offline table)", label, f"{rows} matches", shown, "< 15 s", verdict)
        else:
            table.add_row("features (offline table)", "reference", "-", f"skipped: no {reference}", "< 15 s", "-")
        state = FeatureState.from_json(main.state.to_json())  # as serving reads the materialised state
        table.add_row(
            "offline walk, per row (batch alternative)",
            label,
            f"{rows} matches",
            f"{seconds / rows * 1e6:.0f} µs",
            "-",
            "-",
        )
        for odds_label, odds in (("no odds (no-market path)", None), ("with pre-kickoff odds", (2.1, 3.4, 3.6))):
            timed = online_row_latencies(state, calls, odds)
            goal = _verdict(timed.p99_s, ONLINE_GOAL_S) if odds is None else "-"
            table.add_row(
                f"online feature row, one request, {odds_label}",
                label,
                f"{calls} requests",
                f"median {timed.median_s * 1e6:.0f} µs, p99 {timed.p99_s * 1e6:.0f} µs",
                "p99 < 1 ms" if odds is None else "-",
                goal,
            )
        if training:
            started = time.perf_counter()
            trained = train_model(main.frame, train_until, params.train)
            elapsed = time.perf_counter() - started
            train_rows = int(main.frame["season"].le(train_until).sum())
            table.add_row(
                f"training both paths ({params.train.num_threads} threads, {trained.best_iteration} trees/class)",
                label,
                f"{train_rows} matches",
                f"{elapsed:.2f} s",
                "< 60 s",
                _verdict(elapsed, TRAINING_GOAL_S),
            )
    except InputError as exc:
        raise CommandError(str(exc), ExitCode.BAD_INPUT) from None
    console.print(table)
