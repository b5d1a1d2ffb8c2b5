"""The ML steps of the main job and the Argo workflow, each callable on its own.

Steps talk through the object store (raw export, feature table, team state, predictions) and
MLflow (runs, versions, aliases), so a workflow can run them as separate pods.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from mlflow.entities.model_registry import ModelVersion
from sqlalchemy import Engine

from shared.config import get_settings
from shared.export import export_store
from shared.features.offline import FeatureTable, build_feature_table
from shared.features.state import save_state
from shared.ml.data import FEATURE_TABLE_KEY, MLParams, raw_export, read_stored_table, table_bytes
from shared.ml.evaluate import BacktestReport, backtest
from shared.ml.plots import write_plots
from shared.ml.registry import CHAMPION, GateDecision, load_predictor, log_and_register, promote, resolve_alias
from shared.ml.registry import tracking_client as registry_client
from shared.ml.score import score_batch, write_batch
from shared.storage import ObjectStore

Notify = Callable[[str], None]
DEMO_AS_OF = datetime(2022, 1, 1, tzinfo=UTC)


def _quiet(_message: str) -> None:
    return None


def features_step(store: ObjectStore, params: MLParams, notify: Notify = _quiet) -> FeatureTable:
    """Build the feature table from the raw export; store it and the materialised team state."""
    matches, odds = raw_export(store)
    notify(f"features for {matches.num_rows} matches")
    table = build_feature_table(matches, odds, params.features)
    store.put_bytes(FEATURE_TABLE_KEY, table_bytes(table.frame), content_type="application/vnd.apache.parquet")
    notify(f"team state of {len(table.state.teams)} teams -> {save_state(store, table.state)}")
    return table


def train_evaluate_register_step(
    frame: pd.DataFrame, params: MLParams, notify: Notify = _quiet
) -> tuple[BacktestReport, ModelVersion]:
    report = backtest(frame, params.train_until, list(params.test_seasons), params.train, notify)
    with tempfile.TemporaryDirectory() as scratch:
        plots = write_plots(report, Path(scratch))
        version = log_and_register(report, params.to_dict(), plots)
    notify(f"registered {version.name} version {version.version} as challenger")
    return report, version


def promote_step(version: ModelVersion, frame: pd.DataFrame, notify: Notify = _quiet) -> GateDecision:
    decision = promote(registry_client(), version.name, version, frame)
    notify(f"promotion gate: {'promoted' if decision.promoted else 'kept champion'} ({decision.reason})")
    return decision


def score_step(
    store: ObjectStore,
    params: MLParams,
    as_of: datetime | None,
    notify: Notify = _quiet,
    inputs_fetched_at: Mapping[int, datetime] | None = None,
) -> str:
    settings = get_settings()
    version = resolve_alias(registry_client(), settings.model_name, CHAMPION)
    predictor = load_predictor(version)
    matches, odds = raw_export(store)
    predictions = score_batch(matches, odds, predictor, settings.model_name, params.features, as_of, inputs_fetched_at)
    key = write_batch(store, predictions, as_of or datetime.now(UTC))
    notify(f"{len(predictions)} predictions by version {version.version} -> {store.location(key)}")
    return key


def run_ml_demo(engine: Engine, store: ObjectStore, progress: Notify | None = None) -> str:
    """Train on the demo data up to 2020-2021, test on 2021-2022, register, promote, materialise
    the team state and batch-score as of 2022-01-01. Returns the evaluation table (markdown).

    `progress` receives one line per step. The raw export must be in `store` (`t2b export`); the
    engine is only used to export it when it is missing.
    """
    notify = progress or _quiet
    if next(iter(store.list_keys("raw/matches/")), None) is None:
        export_store(engine, store)
    params = MLParams.embedded()
    table = features_step(store, params, notify)
    report, version = train_evaluate_register_step(table.frame, params, notify)
    promote_step(version, read_stored_table(store), notify)
    score_step(store, params, DEMO_AS_OF, notify)
    return report.markdown()
