"""Typer commands of the ML pipeline; `shared.cli` mounts them as `t2b features|model|train|...`.

Known failures raise CommandError (exit codes in shared.cli.errors); long steps show a spinner on a terminal.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps
from pathlib import Path
from typing import Any

import typer
from mlflow.entities.model_registry import ModelVersion
from rich.table import Table

from shared.cli.console import console, spinner
from shared.cli.errors import CommandError, ExitCode, one_line, outage_behind
from shared.config import get_settings
from shared.features.state import save_state
from shared.ml.data import (
    InputError,
    MLParams,
    build_features,
    ensure_export,
    load_params,
    parse_seasons,
    read_table,
    write_table,
)
from shared.ml.evaluate import BacktestReport, backtest, evaluate_model
from shared.ml.plots import bankroll_curves, write_plots
from shared.ml.registry import (
    CHALLENGER,
    CHAMPION,
    RegistryError,
    aliases_of,
    get_version,
    list_versions,
    log_and_register,
    promote,
    tracking_client,
)
from shared.ml.train import TrainingError, load_trained, save_trained, train_model
from shared.ml.value import PathValue, path_values, value_markdown, value_metrics
from shared.storage import LocalObjectStore, ObjectStore, get_store

features_app = typer.Typer(help="Point-in-time match features.", no_args_is_help=True)
model_app = typer.Typer(help="Registered outcome models (MLflow).", no_args_is_help=True)

PARAMS = typer.Option(None, "--params", help="params.yaml with features/train/evaluate sections (default: embedded).")
FEATURES = typer.Option(Path("var/features/features.parquet"), "--features", help="Feature table (parquet).")
MODEL = typer.Option(Path("var/model"), "--model", help="Folder of a trained model (`t2b train`).")
TEST_SEASONS = typer.Option(None, "--test-seasons", help="Comma-separated evaluation seasons (default: params).")


def known_errors(command: Callable[..., None]) -> Callable[..., None]:
    """Bad input: one line on stderr, exit code 2, no traceback; an unreachable service (also behind a
    RegistryError, or an OSError that is a refused connection) exits 75, so a workflow step is retried."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            command(*args, **kwargs)
        except (InputError, TrainingError, RegistryError, ValueError, OSError) as exc:
            unavailable = outage_behind(exc)
            if unavailable is not None:
                raise CommandError(f"{one_line(exc)}: {unavailable}", ExitCode.TEMPORARY) from None
            raise CommandError(one_line(exc), ExitCode.BAD_INPUT) from None

    return wrapper


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
    model: Path = MODEL,
    test_seasons: str | None = TEST_SEASONS,
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
    test_seasons: str = typer.Option(..., "--test-seasons", help="Comma-separated test seasons (the folds)."),
    train_until: str | None = typer.Option(
        None,
        "--train-until",
        help="One model trained up to this season for every test season (default: walk forward, each test "
        "season trained on every season before it).",
    ),
    no_market: bool = typer.Option(False, "--no-market", help="Only the no-market path (no pre-kickoff prices)."),
    leagues: str | None = typer.Option(None, "--leagues", help="Comma-separated league codes to score, e.g. E0,D1."),
    params_file: Path | None = PARAMS,
    features: Path | None = typer.Option(
        None, "--features", help="Feature table (default: built now from the raw export, exported first if missing)."
    ),
    report_dir: Path | None = typer.Option(
        None, "--report-dir", help="Also write the tables, the value report's bets and the plots here."
    ),
    register: bool = typer.Option(False, "--register/--no-register", help="Log to MLflow and register a challenger."),
) -> None:
    """Train, then score later seasons match by match with the model frozen: both paths against the
    closing line, the pre-kickoff market and Elo, then the value report (flat stake, fractional Kelly, CLV)."""
    params = load_params(params_file)
    seasons = parse_seasons(test_seasons)
    until = parse_seasons(train_until)[0] if train_until else None
    league_codes = [code.strip() for code in leagues.split(",") if code.strip()] if leagues else None
    with spinner("backtest") as notify:
        frame = read_table(features) if features else _built_table(params, notify)
        report = backtest(
            frame,
            until,
            seasons,
            params.train,
            notify,
            market=not no_market,
            leagues=league_codes,
        )
        values = path_values(report, params.value)
        version = _register(report, params, values) if register else None
    _print_report(report)
    console.print(value_markdown(values, params.value), markup=False, highlight=False)
    if report_dir is not None:
        _write_report_dir(report, values, params, report_dir)
    if version is not None:
        console.print(f"registered {version.name} version {version.version} as {CHALLENGER}")


def _built_table(params: MLParams, notify: Callable[[str], None]):
    """The feature table from the object store's raw export, exporting the database first if needed."""
    from shared.db.session import get_engine

    store = get_store()
    if ensure_export(store, get_engine()):
        notify("exported the database to parquet (no export yet)")
    return build_features(store, params.features, lambda done, total: notify(f"features {done}/{total}")).frame


def _evaluation_files(report: BacktestReport, values: list[PathValue], params: MLParams, directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "evaluation.md").write_text(report.markdown())
    (directory / "value_report.md").write_text(value_markdown(values, params.value))
    bets = [directory / f"value_bets_{value.path}.csv" for value in values]
    for value, path in zip(values, bets, strict=True):
        value.bets.to_csv(path, index=False)
    return [
        directory / "evaluation.md",
        directory / "value_report.md",
        *bets,
        bankroll_curves(values, directory / "bankroll.png"),
        *write_plots(report, directory),
    ]


def _write_report_dir(report: BacktestReport, values: list[PathValue], params: MLParams, directory: Path) -> None:
    console.print(f"report files -> {directory}: {len(_evaluation_files(report, values, params, directory))} files")


def _register(report: BacktestReport, params: MLParams, values: list[PathValue] | None = None) -> ModelVersion:
    values = path_values(report, params.value) if values is None else values
    with tempfile.TemporaryDirectory() as scratch:
        files = _evaluation_files(report, values, params, Path(scratch))
        return log_and_register(report, params.to_dict(), files, value_metrics(values))


@model_app.command("register")
@known_errors
def model_register(
    params_file: Path | None = PARAMS,
    features: Path = FEATURES,
    model: Path = MODEL,
    test_seasons: str | None = TEST_SEASONS,
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
        raise CommandError("the gate kept the champion", ExitCode.FAILED)


@model_app.command("gate")
@known_errors
def model_gate(
    version: str | None = typer.Argument(None, help="Version number or alias to gate (default: challenger)."),
    features: Path = FEATURES,
    registered: Path | None = typer.Option(
        None, "--registered", help="`t2b model register --out` JSON: gate exactly the version it registered."
    ),
    out: Path | None = typer.Option(None, "--out", help="Write the gate decision JSON here."),
) -> None:
    """The promotion gate as a pipeline step: champion moves to the candidate only if neither path's RPS is
    worse than the champion's on the same matches and one is lower.

    Exit 0 whether it promoted or kept the champion (the verdict is `promoted` in --out: a weekly run
    whose challenger loses is not a failed run); 2 for an unknown version or unusable input; 75 when
    MLflow or the object store cannot be reached. `t2b model promote` is the by-hand form that exits 1
    when the champion is kept."""
    if registered is not None and version is not None:
        raise InputError("give a VERSION or --registered, not both")
    wanted = _registered_version(registered) if registered is not None else version or CHALLENGER
    name = get_settings().model_name
    client = tracking_client()
    candidate = get_version(client, name, aliases_of(client, name).get(wanted, wanted))
    decision = promote(client, name, candidate, read_table(features))
    _write_json(
        out,
        {
            "version": int(decision.candidate),
            "promoted": decision.promoted,
            "champion": int(aliases_of(client, name)[CHAMPION]),
            "previous_champion": None if decision.champion is None else int(decision.champion),
            "candidate_rps": decision.candidate_rps,
            "champion_rps": decision.champion_rps,
            "matches": decision.matches,
            "reason": decision.reason,
        },
    )
    console.print(_decision_line(decision))


def _registered_version(path: Path) -> str:
    try:
        return str(json.loads(path.read_text())["version"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"--registered {path}: no version in it ({one_line(exc)})") from None


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
