"""MLflow: log training runs, register versions, move aliases through the promotion gate.

A version carries the predictor's config (feature names, Elo baseline, temperature) as model
metadata next to the LightGBM booster, so serving loads the booster directly without pyfunc.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

import mlflow
import mlflow.lightgbm
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.models import get_model_info, infer_signature

from shared.config import get_settings
from shared.ml.evaluate import MARKET, NO_MARKET_MODEL, BacktestReport
from shared.ml.metrics import ranked_probability_score
from shared.ml.predictor import MARKET_COLUMNS, Predictor

__all__ = ["Predictor", "load_predictor", "resolve_alias"]
from shared.ml.train import labelled

log = logging.getLogger("time2bet.registry")

CHAMPION = "champion"
CHALLENGER = "challenger"
PREDICTOR_CONFIG = "predictor_config"


class RegistryError(RuntimeError):
    pass


def tracking_client() -> MlflowClient:
    uri = get_settings().resolved_mlflow_tracking_uri
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return MlflowClient(uri, uri)


def ensure_experiment(client: MlflowClient) -> str:
    settings = get_settings()
    experiment = client.get_experiment_by_name(settings.mlflow_experiment)
    if experiment is not None:
        return experiment.experiment_id
    # A local store keeps artifacts under the data dir; a tracking server decides for itself.
    local = settings.resolved_mlflow_tracking_uri.startswith("sqlite")
    location = settings.mlflow_artifacts_dir.as_uri() if local else None
    return client.create_experiment(settings.mlflow_experiment, artifact_location=location)


def _flatten(params: dict[str, object], prefix: str = "") -> dict[str, object]:
    flat: dict[str, object] = {}
    for key, value in params.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def log_and_register(
    report: BacktestReport,
    params: dict[str, object],
    artifacts: list[Path],
    extra_metrics: dict[str, float] | None = None,
) -> ModelVersion:
    """One run: params, metrics (the value report's among them), evaluation artifacts and the model,
    registered as challenger."""
    settings = get_settings()
    client = tracking_client()
    predictor = report.trained.predictor
    pooled = report.pooled("model")
    with mlflow.start_run(experiment_id=ensure_experiment(client)) as run:
        mlflow.log_params(_flatten(params))
        mlflow.log_params(
            {
                "train_seasons": ",".join(report.trained.train_seasons),
                "test_seasons": ",".join(report.test_seasons),
                "best_iteration": report.trained.best_iteration,
                "temperature": round(predictor.temperature, 4),
                "tree_weight": predictor.tree_weight,
            }
        )
        mlflow.log_metrics(report.metrics() | (extra_metrics or {}))
        with tempfile.TemporaryDirectory() as scratch:
            table = Path(scratch) / "evaluation.md"
            table.write_text(report.markdown())
            config = Path(scratch) / "predictor_config.json"
            config.write_text(predictor.config_json())
            for path in [table, config, *artifacts]:
                mlflow.log_artifact(str(path), artifact_path="evaluation")
        example = report.features.head(5).reset_index(drop=True)
        mlflow.lightgbm.log_model(
            predictor.booster,
            name="model",
            signature=infer_signature(
                example, pd.DataFrame(predictor.predict_matrix(example.to_numpy()), columns=["home", "draw", "away"])
            ),
            input_example=example,
            # serving loads the booster itself; inferring them, MLflow starts a Python importing the model (~20 s)
            pip_requirements=mlflow.lightgbm.get_default_pip_requirements(),
            metadata={PREDICTOR_CONFIG: predictor.config()},
        )
        source = f"runs:/{run.info.run_id}/model"
    registered = mlflow.register_model(source, settings.model_name)
    tags = {
        "train_until": report.train_until,
        "eval_seasons": ",".join(report.test_seasons),
        "eval_rps": f"{pooled['rps']:.6f}",
        "eval_log_loss": f"{pooled['log_loss']:.6f}",
        "gap_to_market_rps": f"{report.gap_to_market()['rps']:+.6f}",
        "paths": ",".join(report.models),
    }
    if NO_MARKET_MODEL in report.models:
        no_market = report.pooled(NO_MARKET_MODEL)
        tags["eval_rps_no_market"] = f"{no_market['rps']:.6f}"
        tags["gap_no_market_to_market_rps"] = f"{report.gap(NO_MARKET_MODEL, MARKET)['rps']:+.6f}"
    for key, value in tags.items():
        client.set_model_version_tag(settings.model_name, registered.version, key, value)
    client.set_registered_model_alias(settings.model_name, CHALLENGER, registered.version)
    version = client.get_model_version(settings.model_name, registered.version)
    cache_version(version, predictor)
    return version


def cache_version(version: ModelVersion, predictor: Predictor) -> None:
    """Copy a new version to the object store, where serving loads it without MLflow
    (shared/serving/model_cache.py). Best effort: a serving process copies a missing version itself."""
    from shared.serving.model_cache import VersionRef, write_version
    from shared.storage import get_store

    ref = VersionRef(version.name, str(version.version), version.run_id or "", version.source or "")
    try:
        write_version(get_store(), ref, predictor.booster.model_to_string(), predictor.config())
    except Exception as exc:
        log.warning("version %s of %s not cached in the object store: %s", ref.version, ref.name, exc)


def name_champion(client: MlflowClient, version: ModelVersion) -> None:
    """Move `champion` to the version, and leave the hint serving's next cold start loads without
    asking MLflow (shared/serving/champion.py; best effort: serving asks the registry anyway)."""
    from shared.serving.model_cache import VersionRef, write_alias_hint
    from shared.storage import get_store

    client.set_registered_model_alias(version.name, CHAMPION, version.version)
    ref = VersionRef(version.name, str(version.version), version.run_id or "", version.source or "")
    try:
        write_alias_hint(get_store(), CHAMPION, ref)
    except Exception as exc:
        log.warning("no %s hint for %s version %s: %s", CHAMPION, ref.name, ref.version, exc)


def resolve_alias(client: MlflowClient, name: str, alias: str) -> ModelVersion:
    """The version an alias names, through the platform's one alias resolver (shared.serving.aliases)."""
    from shared.serving.aliases import AliasUnresolved, resolve

    try:
        return get_version(client, name, resolve(client.tracking_uri, name, alias).version)
    except AliasUnresolved as exc:
        raise RegistryError(f"model {name!r} has no version with alias {alias!r}") from exc


def get_version(client: MlflowClient, name: str, version: str) -> ModelVersion:
    try:
        return client.get_model_version(name, str(version))
    except MlflowException as exc:
        raise RegistryError(f"model {name!r} has no version {version!r}") from exc


def load_predictor(
    version: ModelVersion | str, number: str | None = None, tracking_uri: str | None = None
) -> Predictor:
    """The booster and its calibration, without pyfunc: `load_predictor(model_version)` or
    `load_predictor(name, version, tracking_uri)`."""
    name, number = (version.name, str(version.version)) if isinstance(version, ModelVersion) else (version, number)
    if tracking_uri is not None:
        mlflow.set_tracking_uri(tracking_uri)
        mlflow.set_registry_uri(tracking_uri)
    uri = f"models:/{name}/{number}"
    booster = mlflow.lightgbm.load_model(uri)
    config = get_model_info(uri).metadata[PREDICTOR_CONFIG]
    return Predictor.from_config(booster, config, version=number)


def list_versions(client: MlflowClient, name: str) -> list[ModelVersion]:
    versions = client.search_model_versions(f"name = '{name}'")
    return sorted(versions, key=lambda v: int(v.version), reverse=True)


def aliases_of(client: MlflowClient, name: str) -> dict[str, str]:
    try:
        return {alias: str(v) for alias, v in client.get_registered_model(name).aliases.items()}
    except MlflowException:
        return {}


@dataclass(frozen=True)
class GateDecision:
    promoted: bool
    candidate: str
    champion: str | None
    candidate_rps: float  # the market path's (pre-kickoff prices given)
    champion_rps: float | None
    matches: int
    reason: str
    candidate_no_market_rps: float | None = None  # the same matches with every price removed
    champion_no_market_rps: float | None = None


def evaluation_matches(frame: pd.DataFrame, version: ModelVersion) -> pd.DataFrame:
    seasons = (version.tags.get("eval_seasons") or "").split(",")
    matches = labelled(frame)
    matches = matches[matches["season"].isin(seasons)]
    if matches.empty:
        raise RegistryError(f"the feature table has no finished matches in {version.tags.get('eval_seasons')!r}")
    return matches


def path_rps(predictor: Predictor, matches: pd.DataFrame) -> tuple[float, float]:
    """RPS of both paths on the same matches: with their pre-kickoff prices, then with none (the
    market columns blanked, so the predictor routes every row to its no-market path)."""
    outcomes = matches["outcome"].astype(int).to_numpy()
    matrix = matches[predictor.feature_names].to_numpy(dtype=np.float64)
    blank = matrix.copy()
    blank[:, [predictor.feature_names.index(c) for c in MARKET_COLUMNS if c in predictor.feature_names]] = np.nan
    return (
        ranked_probability_score(predictor.predict_matrix(matrix), outcomes),
        ranked_probability_score(predictor.predict_matrix(blank), outcomes),
    )


def promote(client: MlflowClient, name: str, candidate: ModelVersion, frame: pd.DataFrame) -> GateDecision:
    """Move `champion` to the candidate only if, on the same matches, neither path's RPS is worse than
    the champion's and at least one is lower."""
    matches = evaluation_matches(frame, candidate)

    def rps_of(version: ModelVersion) -> tuple[float, float]:
        predictor = load_predictor(version)
        missing = set(predictor.feature_names) - set(matches.columns)
        if missing:
            raise RegistryError(f"version {version.version} needs features the table lacks: {sorted(missing)}")
        return path_rps(predictor, matches)

    candidate_rps, candidate_none = rps_of(candidate)
    current = aliases_of(client, name).get(CHAMPION)
    if current is None:
        name_champion(client, candidate)
        return GateDecision(
            True, candidate.version, None, candidate_rps, None, len(matches), "first model", candidate_none
        )
    if current == str(candidate.version):
        return GateDecision(
            False, candidate.version, current, candidate_rps, candidate_rps, len(matches), "already",
            candidate_none, candidate_none,
        )  # fmt: skip
    champion_rps, champion_none = rps_of(get_version(client, name, current))
    not_worse = candidate_rps <= champion_rps and candidate_none <= champion_none
    better = not_worse and (candidate_rps < champion_rps or candidate_none < champion_none)
    if better:
        name_champion(client, candidate)
    reason = "lower RPS" if better else "RPS of a path not lower than the champion's"
    return GateDecision(
        better, candidate.version, current, candidate_rps, champion_rps, len(matches), reason,
        candidate_none, champion_none,
    )  # fmt: skip
