"""Typer commands of the ML pipeline; `shared.cli` mounts them as `t2b features|model|train|...`.

Known failures print one line and exit 2; long steps show a rich progress spinner.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import wraps
from pathlib import Path
from typing import Any

import typer
from mlflow.entities.model_registry import ModelVersion
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from shared.config import get_settings
from shared.features.state import save_state
from shared.ml.data import (
    InputError,
    MLParams,
    build_features,
    load_params,
    parse_seasons,
    read_table,
    write_table,
)
from shared.ml.evaluate import BacktestReport, backtest, evaluate_model
from shared.ml.plots import write_plots
from shared.ml.registry import (
    CHALLENGER,
    RegistryError,
    aliases_of,
    get_version,
    list_versions,
    log_and_register,
    promote,
    tracking_client,
)
from shared.ml.train import TrainingError, load_trained, save_trained, train_model
from shared.storage import LocalObjectStore, ObjectStore, get_store

console = Console()
err_console = Console(stderr=True)

features_app = typer.Typer(help="Point-in-time match features.", no_args_is_help=True)
model_app = typer.Typer(help="Registered outcome models (MLflow).", no_args_is_help=True)

PARAMS = typer.Option(None, "--params", help="params.yaml with features/train/evaluate sections (default: embedded).")
FEATURES = typer.Option(Path("var/features/features.parquet"), "--features", help="Feature table (parquet).")


def known_errors(command: Callable[..., None]) -> Callable[..., None]:
    """Bad input or an unreachable service: one line on stderr, exit code 2, no traceback."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            command(*args, **kwargs)
        except (InputError, TrainingError, RegistryError, ValueError, OSError) as exc:
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            err_console.print(f"[red]error:[/red] {message}", highlight=False)
            raise typer.Exit(2) from None

    return wrapper


@contextmanager
def spinner(description: str) -> Iterator[Callable[[str], None]]:
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console) as bar:
        task = bar.add_task(description)

        def notify(message: str) -> None:
            bar.update(task, description=f"{description}: {message}")

        yield notify


def _raw_store(raw_dir: Path | None) -> ObjectStore:
    if raw_dir is None:
        return get_store()
    if not raw_dir.is_dir():
        raise InputError(f"raw export folder {raw_dir} does not exist")
    return LocalObjectStore(raw_dir)


def _write_json(path: Path | None, values: dict[str, Any]) -> None:
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values, indent=2, sort_keys=True) + "\n")


def _print_report(report: BacktestReport) -> None:
    console.print(report.markdown(), markup=False, highlight=False)


@features_app.command("build")
@known_errors
def features_build(
    params_file: Path | None = PARAMS,
    raw_dir: Path | None = typer.Option(
        None, "--raw-dir", help="Local folder with the raw/ export (default: the configured object store)."
    ),
    out: Path = typer.Option(Path("var/features/features.parquet"), "--out", help="Where the feature table goes."),
    state_out: Path | None = typer.Option(None, "--state-out", help="Also write the team state JSON here."),
) -> None:
    """Walk every match in time order: the feature table and the materialised team state."""
    params = load_params(params_file)
    with spinner("features") as notify:
        table = build_features(_raw_store(raw_dir), params.features, lambda done, total: notify(f"{done}/{total}"))
    write_table(table.frame, out)
    location = save_state(get_store(), table.state)
    if state_out is not None:
        state_out.parent.mkdir(parents=True, exist_ok=True)
        state_out.write_bytes(table.state.to_json())
    console.print(f"{len(table.frame)} matches -> {out}; team state of {len(table.state.teams)} teams -> {location}")


@known_errors
def train_command(
    params_file: Path | None = PARAMS,
    features: Path = FEATURES,
    train_until: str | None = typer.Option(None, "--train-until", help="Last training season (default: params)."),
    out: Path = typer.Option(Path("var/model"), "--out", help="Folder for the trained model."),
    metrics: Path | None = typer.Option(None, "--metrics", help="Write validation metrics JSON here."),
) -> None:
    """Train the outcome model on every season up to --train-until (validated forward in time)."""
    params = load_params(params_file)
    until = parse_seasons(train_until)[0] if train_until else params.train_until
    frame = read_table(features)
    with spinner("training") as notify:
        trained = train_model(frame, until, params.train, notify)
    save_trained(trained, out)
    _write_json(
        metrics,
        {
            "best_iteration": trained.best_iteration,
            **{f"validation_{k}": v for k, v in trained.validation_metrics.items()},
            "temperature": trained.predictor.temperature,
        },
    )
    console.print(
        f"trained on {trained.train_seasons[0]}..{until}: {trained.best_iteration} trees/class, "
        f"temperature {trained.predictor.temperature:.3f}, "
        f"validation RPS {trained.validation_metrics['rps']:.4f} -> {out}"
    )


def _evaluate(frame, model_dir: Path, test_seasons: str | None, params: MLParams) -> BacktestReport:
    seasons = parse_seasons(test_seasons) if test_seasons else list(params.test_seasons)
    return evaluate_model(frame, load_trained(model_dir), seasons)


@known_errors
def evaluate_command(
    params_file: Path | None = PARAMS,
    features: Path = FEATURES,
    model: Path = typer.Option(Path("var/model"), "--model", help="Folder of a trained model (`t2b train`)."),
    test_seasons: str | None = typer.Option(None, "--test-seasons", help="Comma-separated seasons (default: params)."),
    metrics: Path | None = typer.Option(None, "--metrics", help="Write the test metrics JSON here."),
    plots_dir: Path | None = typer.Option(None, "--plots-dir", help="Write the evaluation plots here."),
    report_out: Path | None = typer.Option(None, "--report", help="Write the markdown table here."),
) -> None:
    """Score a trained model and the benchmarks (closing market, Elo, class frequencies)."""
    params = load_params(params_file)
    report = _evaluate(read_table(features), model, test_seasons, params)
    _write_json(metrics, report.metrics())
    if plots_dir is not None:
        write_plots(report, plots_dir)
    if report_out is not None:
        report_out.parent.mkdir(parents=True, exist_ok=True)
        report_out.write_text(report.markdown())
    _print_report(report)


@known_errors
def backtest_command(
    train_until: str = typer.Option(..., "--train-until", help="Last training season, e.g. 2020-2021."),
    test_seasons: str = typer.Option(..., "--test-seasons", help="Comma-separated later seasons."),
    params_file: Path | None = PARAMS,
    features: Path | None = typer.Option(
        None, "--features", help="Feature table (default: built now from the object store's raw export)."
    ),
    register: bool = typer.Option(False, "--register/--no-register", help="Log to MLflow and register a challenger."),
) -> None:
    """Train up to a season, score later seasons match by match with the model frozen."""
    params = load_params(params_file)
    until, seasons = parse_seasons(train_until)[0], parse_seasons(test_seasons)
    with spinner("backtest") as notify:
        frame = read_table(features) if features else build_features(get_store(), params.features).frame
        report = backtest(frame, until, seasons, params.train, notify)
        version = _register(report, params) if register else None
    _print_report(report)
    if version is not None:
        console.print(f"registered {version.name} version {version.version} as {CHALLENGER}")


def _register(report: BacktestReport, params: MLParams) -> ModelVersion:
    with tempfile.TemporaryDirectory() as scratch:
        return log_and_register(report, params.to_dict(), write_plots(report, Path(scratch)))


@model_app.command("register")
@known_errors
def model_register(
    params_file: Path | None = PARAMS,
    features: Path = FEATURES,
    model: Path = typer.Option(Path("var/model"), "--model", help="Folder of a trained model."),
    test_seasons: str | None = typer.Option(None, "--test-seasons", help="Evaluation seasons (default: params)."),
    promote_now: bool = typer.Option(True, "--promote/--no-promote", help="Run the promotion gate afterwards."),
    out: Path | None = typer.Option(None, "--out", help="Write the version and gate decision JSON here."),
) -> None:
    """Log a trained model with its evaluation to MLflow, alias it challenger, then run the gate."""
    params = load_params(params_file)
    frame = read_table(features)
    report = _evaluate(frame, model, test_seasons, params)
    with spinner("registering") as notify:
        version = _register(report, params)
        notify(f"version {version.version}")
        decision = promote(tracking_client(), version.name, version, frame) if promote_now else None
    summary: dict[str, Any] = {"version": int(version.version), "eval_rps": report.pooled("model")["rps"]}
    if decision is not None:
        summary |= {"promoted": decision.promoted, "champion_rps": decision.champion_rps, "reason": decision.reason}
    _write_json(out, summary)
    console.print(f"{version.name} version {version.version} registered as {CHALLENGER}")
    if decision is not None:
        console.print(_decision_line(decision))


def _decision_line(decision) -> str:
    champion = "none" if decision.champion_rps is None else f"{decision.champion_rps:.5f}"
    verdict = "promoted to champion" if decision.promoted else "champion kept"
    return (
        f"gate on {decision.matches} matches: candidate {decision.candidate} RPS {decision.candidate_rps:.5f}, "
        f"champion {decision.champion or '-'} RPS {champion}: {verdict} ({decision.reason})"
    )


@model_app.command("list")
@known_errors
def model_list() -> None:
    """Every registered version with its aliases and evaluation."""
    name = get_settings().model_name
    client = tracking_client()
    by_version: dict[str, list[str]] = {}
    for alias, version in aliases_of(client, name).items():
        by_version.setdefault(version, []).append(alias)
    table = Table("version", "aliases", "train until", "eval seasons", "RPS", "gap to market", "created")
    for version in list_versions(client, name):
        tags = version.tags
        table.add_row(
            str(version.version),
            ",".join(sorted(by_version.get(str(version.version), []))) or "-",
            tags.get("train_until", "-"),
            tags.get("eval_seasons", "-"),
            tags.get("eval_rps", "-"),
            tags.get("gap_to_market_rps", "-"),
            datetime.fromtimestamp(version.creation_timestamp / 1000, UTC).strftime("%Y-%m-%d %H:%M"),
        )
    console.print(f"{name} at {get_settings().resolved_mlflow_tracking_uri}")
    console.print(table)


@model_app.command("show")
@known_errors
def model_show(version: str = typer.Argument(..., help="Version number or alias (champion, challenger).")) -> None:
    """One version: run, source, tags, aliases."""
    name = get_settings().model_name
    client = tracking_client()
    aliases = aliases_of(client, name)
    found = get_version(client, name, aliases.get(version, version))
    console.print(f"{name} version {found.version} (aliases: {', '.join(sorted(found.aliases)) or '-'})")
    console.print(f"run {found.run_id}, source {found.source}, status {found.status}")
    for key, value in sorted(found.tags.items()):
        console.print(f"  {key}: {value}")


@model_app.command("promote")
@known_errors
def model_promote(
    version: str = typer.Argument(CHALLENGER, help="Version number or alias to promote."),
    features: Path = FEATURES,
) -> None:
    """Run the gate: champion moves only if this version's RPS beats it on the same matches."""
    name = get_settings().model_name
    client = tracking_client()
    candidate = get_version(client, name, aliases_of(client, name).get(version, version))
    decision = promote(client, name, candidate, read_table(features))
    console.print(_decision_line(decision))
    if not decision.promoted and decision.champion is not None and decision.champion != decision.candidate:
        raise typer.Exit(1)


@known_errors
def score_command(
    as_of: str | None = typer.Option(
        None, "--as-of", help="YYYY-MM-DD: score every match after this date as if unplayed (default: scheduled only)."
    ),
    params_file: Path | None = PARAMS,
) -> None:
    """Batch predictions of the champion to predictions/batch/date=…/part-0.parquet."""
    from shared.ml.pipeline import score_step

    moment = None
    if as_of is not None:
        try:
            moment = datetime.fromisoformat(as_of).replace(tzinfo=UTC)
        except ValueError:
            raise InputError(f"--as-of {as_of!r} is not a date like 2022-01-01") from None
    with spinner("scoring") as notify:
        key = score_step(get_store(), load_params(params_file), moment, notify)
    console.print(f"predictions -> {get_store().location(key)}")
