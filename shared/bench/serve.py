"""`t2b bench serve`: cold start, warm latency and throughput, memory and model loading of the HTTP
functions, side by side with MLServer serving the same booster. Everything runs on loopback in a
data dir of its own; every process it starts is stopped before it returns."""

from __future__ import annotations

import io
import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from shared.bench import functions, mlserver
from shared.bench.batch_scoring import REFERENCE_DATA, measure_batch_scoring
from shared.bench.environment import Fixture, drop_redis_keys, find_redis, prepare, tracking_server
from shared.bench.load import Body, Load, LoadGenerator, LoadResult, choose_generator
from shared.bench.model_loading import compare_loading
from shared.bench.report import ServeBenchReport, WarmRow
from shared.cli.console import console, progress
from shared.cli.errors import CommandError, ExitCode


@dataclass(frozen=True)
class Plan:
    concurrency: tuple[int, ...]
    seconds: float  # measured load per level
    warmup_seconds: float
    cold_runs: int
    loading_runs: int
    import_profile: bool
    batch_runs: int  # 0: batch scoring not measured

    @classmethod
    def choose(cls, quick: bool, seconds: float | None) -> Plan:
        if quick:
            return cls((8,), seconds or 2.0, 1.0, 1, 1, import_profile=False, batch_runs=0)
        return cls((1, 8, 32), seconds or 10.0, 2.0, 3, 3, import_profile=True, batch_runs=3)


@dataclass
class Loader:
    """The load generator, and the request numbers it has used: a cache-miss body is never sent twice."""

    name: str
    generate: LoadGenerator
    next_number: int = 0

    def run(self, url: str, body: Body, clients: int, plan: Plan) -> LoadResult:
        load = Load(url, body, clients, plan.seconds, plan.warmup_seconds, self.next_number)
        result = self.generate(load)
        self.next_number += result.numbers_used
        return result


def predict_bodies(fixture: Fixture) -> tuple[dict[str, Any], Body]:
    """The cache-hit body (always the same match) and a cache-miss body per request number: the
    odds move with the number, so each feature vector, and so each cache key, is new."""
    kickoff = fixture.kickoff.isoformat()
    home, away = fixture.team_pairs[0]
    hit = {"home_team": home, "away_team": away, "kickoff": kickoff, "odds": {"home": 2.1, "draw": 3.4, "away": 3.6}}

    def miss(number: int) -> dict[str, Any]:
        home, away = fixture.team_pairs[number % len(fixture.team_pairs)]
        odds = {"home": 1.5 + number * 1e-7, "draw": 3.4, "away": 3.6}  # distinct doubles, sane prices
        return {"home_team": home, "away_team": away, "kickoff": kickoff, "odds": odds}

    return hit, miss


def feature_rows(feature_names: list[str], limit: int = 1000) -> np.ndarray:
    """Real feature vectors without gaps (JSON tensors carry no NaN) for MLServer and the output check."""
    from shared.ml.data import read_stored_table
    from shared.storage import get_store

    frame = read_stored_table(get_store())[feature_names].dropna()
    return frame.head(limit).to_numpy(dtype=np.float64)


def scored_match_id() -> str:
    import pyarrow.parquet as pq

    from shared.serving.batch_lookup import LATEST_POINTER
    from shared.storage import get_store

    key = json.loads(get_store().get_bytes(LATEST_POINTER))["key"]
    table = pq.read_table(io.BytesIO(get_store().get_bytes(key)), columns=["match_id"])
    return str(table.column("match_id")[0].as_py())


@contextmanager
def data_dir(work_dir: Path | None) -> Iterator[Path]:
    if work_dir is not None:
        work_dir.mkdir(parents=True, exist_ok=True)
        yield work_dir
        return
    with tempfile.TemporaryDirectory(prefix="t2b-bench-serve-") as scratch:
        yield Path(scratch)


def bench_serve_command(
    json_path: Path | None = typer.Option(None, "--json", help="Also write the figures to this JSON file."),
    quick: bool = typer.Option(False, "--quick", help="Few requests, 8 clients only, one cold start, no MLServer."),
    with_mlserver: bool = typer.Option(True, "--mlserver/--no-mlserver", help="Run MLServer side by side."),
    seconds: float | None = typer.Option(
        None, "--seconds", min=1, help="Measured load per level, seconds (default 10; --quick: 2)."
    ),
    loader: str = typer.Option(
        "auto", "--loader", help="Load generator: wrk, aiohttp, or auto (wrk where installed).", case_sensitive=False
    ),
    work_dir: Path | None = typer.Option(
        None, "--work-dir", help="Keep the data dir, logs and MLServer repository here (default: a temp dir)."
    ),
    mlserver_venv: Path = typer.Option(
        mlserver.DEFAULT_VENV, "--mlserver-venv", help="MLServer's own virtualenv, built once from its requirements."
    ),
) -> None:
    """Benchmark POST /predict (cold, warm, memory, model loading) against MLServer on the same booster."""
    plan = Plan.choose(quick, seconds)
    try:
        load = Loader(*choose_generator(loader.lower()))
    except ValueError as exc:
        raise CommandError(f"--loader: {exc}", ExitCode.BAD_INPUT) from None
    report = ServeBenchReport(quick=quick, redis=find_redis(), loader=load.name)
    with data_dir(work_dir) as root, _progress() as progress:
        logs = root / "logs"
        logs.mkdir(exist_ok=True)
        setup = progress.add_task("preparing demo data and a champion", total=None)
        fixture = prepare(root / "var", report.redis, lambda line: progress.update(setup, description=line))
        progress.update(setup, description="champion ready", total=1, completed=1)
        try:
            _measure_functions(report, plan, load, fixture, logs, progress)
            if with_mlserver and not quick:
                _measure_mlserver(report, plan, load, fixture, root, logs, mlserver_venv, progress)
            else:
                report.mlserver_skipped = "--quick" if quick else "--no-mlserver"
        finally:
            if fixture.redis_url:
                drop_redis_keys(fixture.redis_url, fixture.redis_prefix)
    report.finish()
    report.print(console)
    if json_path is not None:
        report.write_json(json_path)
        console.print(f"figures written to {json_path}")


def _advancing(progress: Progress, task: TaskID, steps: int) -> Iterator[int]:
    for step in range(steps):
        yield step
        progress.advance(task)


def _progress() -> Progress:
    return progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        transient=True,
    )


def _measure_functions(
    report: ServeBenchReport, plan: Plan, load: Loader, fixture: Fixture, logs: Path, progress: Progress
) -> None:
    hit_body, miss_body = predict_bodies(fixture)

    task = progress.add_task("cold starts of predict", total=plan.cold_runs)
    report.cold_starts = functions.ColdStarts(
        [functions.cold_start(hit_body, logs) for _ in _advancing(progress, task, plan.cold_runs)]
    )
    task = progress.add_task("cold starts with an MLflow tracking server", total=plan.cold_runs)
    with tracking_server(logs) as tracking_uri:
        server = {"MLFLOW_TRACKING_URI": tracking_uri}
        runs = [functions.cold_start(hit_body, logs, server) for _ in _advancing(progress, task, plan.cold_runs)]
    report.cold_starts_tracking_server = functions.ColdStarts(runs)

    if plan.import_profile:
        task = progress.add_task("import costs in fresh interpreters", total=len(functions.IMPORT_PROFILE))
        for module in functions.IMPORT_PROFILE:
            report.import_seconds[module] = functions.import_seconds(module)
            progress.advance(task)

    task = progress.add_task("warm load on predict", total=len(plan.concurrency) * 2)
    process, base_url = functions.start_function(functions.PREDICT_APP, logs)
    try:
        url = f"{base_url}/predict"
        for clients in plan.concurrency:
            result = load.run(url, lambda _n: hit_body, clients, plan)  # answered from the process's memory
            report.warm.append(WarmRow("time2bet", "hit", clients, result))
            progress.advance(task)
            result = load.run(url, miss_body, clients, plan)
            report.warm.append(WarmRow("time2bet", "miss", clients, result))
            progress.advance(task)
    finally:
        functions.stop_process(process)

    _measure_memory(report, hit_body, logs, progress)

    if plan.batch_runs:
        _measure_batch_scoring(report, fixture, plan, progress)
    else:
        report.batch_scoring_skipped = "--quick"

    task = progress.add_task("model loading: pyfunc vs booster", total=None)
    from shared.config import get_settings

    settings = get_settings()
    report.model_loading = compare_loading(
        settings.resolved_mlflow_tracking_uri,
        fixture.model_name,
        fixture.model_version,
        feature_rows(_feature_names(fixture))[:200],
        plan.loading_runs,
    )
    progress.update(task, total=1, completed=1)


def _measure_batch_scoring(report: ServeBenchReport, fixture: Fixture, plan: Plan, progress: Progress) -> None:
    if not REFERENCE_DATA.is_dir():
        report.batch_scoring_skipped = f"no reference set at {REFERENCE_DATA}"
        return
    task = progress.add_task(f"batch scoring: {REFERENCE_DATA}", total=None)
    report.batch_scoring = measure_batch_scoring(
        _champion_predictor(fixture), fixture.model_name, REFERENCE_DATA, plan.batch_runs
    )
    progress.update(task, total=1, completed=1)


def _measure_memory(report: ServeBenchReport, predict_body: dict[str, Any], logs: Path, progress: Progress) -> None:
    from shared.runtime.functions import discover_functions

    http = [f for f in discover_functions() if f.spec.kind == "http"]
    task = progress.add_task("RSS per HTTP function", total=len(http))
    path_values = {"match_id": scored_match_id()}
    for function in http:
        calls = functions.route_calls(
            function.module.app, function.spec.routes, path_values, {"/predict": predict_body}
        )
        report.memory.append(functions.function_memory(function.spec.module, function.spec.name, calls, logs))
        progress.advance(task)


def _feature_names(fixture: Fixture) -> list[str]:
    return _champion_predictor(fixture).feature_names


def _champion_predictor(fixture: Fixture) -> Any:
    from shared.config import get_settings
    from shared.ml.registry import load_predictor

    return load_predictor(fixture.model_name, fixture.model_version, get_settings().resolved_mlflow_tracking_uri)


def _measure_mlserver(
    report: ServeBenchReport,
    plan: Plan,
    load: Loader,
    fixture: Fixture,
    root: Path,
    logs: Path,
    venv: Path,
    progress: Progress,
) -> None:
    task = progress.add_task(f"MLServer: virtualenv {venv}", total=None)
    try:
        executable = mlserver.ensure_virtualenv(venv)
        predictor = _champion_predictor(fixture)
        progress.update(task, description="MLServer: starting")
        server = mlserver.start(executable, predictor.booster, root / "mlserver-models", logs)
    except (mlserver.MLServerUnavailable, RuntimeError, httpx.HTTPError) as exc:
        report.mlserver_skipped = str(exc).splitlines()[0]
        console.print(f"[yellow]MLServer skipped:[/yellow] {exc}", highlight=False)
        return
    rows = feature_rows(predictor.feature_names)
    try:
        progress.update(task, description="MLServer: V2 infer load", total=len(plan.concurrency), completed=0)
        for clients in plan.concurrency:
            result = load.run(
                server.infer_url, lambda number: mlserver.v2_request(rows[number % len(rows)]), clients, plan
            )
            report.warm.append(WarmRow("mlserver", "none", clients, result))
            progress.advance(task)
    finally:
        server.stop()
