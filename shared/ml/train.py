"""Training: LightGBM multiclass boosted from the market margin, validated forward in time.

The last `validation_seasons` of the training range are the validation slice: early stopping
picks the number of trees there and a single temperature is fitted there (one parameter cannot
overfit a season of ~1,700 matches; isotonic per class could, and breaks the probabilities'
sum). The temperature is kept only if it lowers the validation log loss. The final trees are
then refitted on the whole range with the chosen size, so the latest season informs the model.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from scipy.optimize import minimize_scalar
from sklearn.linear_model import LogisticRegression

from shared.features.compute import FEATURE_NAMES
from shared.ml.metrics import log_loss, score_all
from shared.ml.predictor import ELO_COLUMN, EloBaseline, Predictor, base_margin, softmax

ProgressCallback = Callable[[str], None]


class TrainingError(ValueError):
    pass


@dataclass(frozen=True)
class TrainParams:
    learning_rate: float = 0.01
    num_leaves: int = 4
    min_data_in_leaf: int = 300
    feature_fraction: float = 0.7
    bagging_fraction: float = 0.8
    bagging_freq: int = 1
    lambda_l2: float = 10.0
    max_rounds: int = 2000
    early_stopping_rounds: int = 100
    validation_seasons: int = 2
    use_market_margin: bool = True
    refit_on_all: bool = True
    season_decay: float = 0.8  # weight of a row = season_decay ** (seasons before the last training one)
    num_threads: int = 2
    seed: int = 7

    @classmethod
    def from_mapping(cls, values: dict[str, Any] | None) -> TrainParams:
        unknown = set(values or {}) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown training parameter(s): {', '.join(sorted(unknown))}")
        return cls(**(values or {}))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def lightgbm_params(self) -> dict[str, Any]:
        return {
            "objective": "multiclass",
            "num_class": 3,
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_data_in_leaf": self.min_data_in_leaf,
            "feature_fraction": self.feature_fraction,
            "bagging_fraction": self.bagging_fraction,
            "bagging_freq": self.bagging_freq,
            "lambda_l2": self.lambda_l2,
            "num_threads": self.num_threads,
            "seed": self.seed,
            "deterministic": True,
            "force_row_wise": True,
            "verbose": -1,
        }


@dataclass
class TrainedModel:
    predictor: Predictor
    best_iteration: int
    train_seasons: list[str]
    validation_seasons: list[str]
    validation_metrics: dict[str, float]
    validation_metrics_uncalibrated: dict[str, float]
    feature_importance: dict[str, float]


MODEL_FILE = "booster.txt"
CONFIG_FILE = "predictor.json"
TRAINING_FILE = "training.json"


def save_trained(trained: TrainedModel, directory: Path) -> None:
    """A trained model as plain files (the DVC `train` stage's output)."""
    directory.mkdir(parents=True, exist_ok=True)
    trained.predictor.booster.save_model(str(directory / MODEL_FILE))
    (directory / CONFIG_FILE).write_text(trained.predictor.config_json())
    summary = {
        "best_iteration": trained.best_iteration,
        "train_seasons": trained.train_seasons,
        "validation_seasons": trained.validation_seasons,
        "validation_metrics": trained.validation_metrics,
        "validation_metrics_uncalibrated": trained.validation_metrics_uncalibrated,
        "feature_importance": trained.feature_importance,
    }
    (directory / TRAINING_FILE).write_text(json.dumps(summary, indent=2))


def load_trained(directory: Path) -> TrainedModel:
    if not (directory / MODEL_FILE).is_file():
        raise TrainingError(f"{directory} holds no trained model ({MODEL_FILE} missing)")
    booster = lgb.Booster(model_file=str(directory / MODEL_FILE))
    predictor = Predictor.from_config(booster, json.loads((directory / CONFIG_FILE).read_text()))
    return TrainedModel(predictor=predictor, **json.loads((directory / TRAINING_FILE).read_text()))


def labelled(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["outcome"].notna()]


def seasons_until(frame: pd.DataFrame, last_season: str) -> list[str]:
    return sorted(s for s in frame["season"].unique() if s <= last_season)


def fit_elo_baseline(frame: pd.DataFrame) -> EloBaseline:
    data = labelled(frame)
    model = LogisticRegression(C=1e4, max_iter=1000)
    model.fit((data[ELO_COLUMN].to_numpy() / 400.0).reshape(-1, 1), data["outcome"].astype(int).to_numpy())
    return EloBaseline(tuple(model.coef_[:, 0].tolist()), tuple(model.intercept_.tolist()))  # type: ignore[arg-type]


def fit_temperature(raw_scores: np.ndarray, outcomes: np.ndarray) -> float:
    result = minimize_scalar(lambda t: log_loss(softmax(raw_scores / t), outcomes), bounds=(0.5, 2.0), method="bounded")
    return float(result.x)


def season_weights(seasons: pd.Series, all_seasons: list[str], decay: float) -> np.ndarray | None:
    """`decay ** age` with age the number of seasons before the last of `all_seasons` (which weighs 1);
    None (unweighted) when decay is 1."""
    if not 0.0 < decay <= 1.0:
        raise TrainingError(f"season_decay must be in (0, 1], got {decay}")
    if decay == 1.0:
        return None
    order = {season: index for index, season in enumerate(sorted(all_seasons))}
    age = len(order) - 1 - seasons.map(order).to_numpy(dtype=np.float64)
    return decay**age


def _dataset(
    matrix: np.ndarray,
    outcomes: np.ndarray,
    margin: np.ndarray,
    reference: lgb.Dataset | None = None,
    weight: np.ndarray | None = None,
):
    # LightGBM wants a multiclass init score flattened class by class.
    return lgb.Dataset(
        matrix,
        outcomes,
        weight=weight,
        init_score=margin.ravel(order="F"),
        feature_name=list(FEATURE_NAMES),
        reference=reference,
        free_raw_data=False,
    )


def train_model(
    frame: pd.DataFrame, train_until: str, params: TrainParams, progress: ProgressCallback | None = None
) -> TrainedModel:
    notify = progress or (lambda _message: None)
    seasons = seasons_until(labelled(frame), train_until)
    if len(seasons) <= params.validation_seasons:
        raise TrainingError(
            f"need more than {params.validation_seasons} labelled season(s) up to {train_until}, found {len(seasons)}"
        )
    fit_seasons, validation_seasons = seasons[: -params.validation_seasons], seasons[-params.validation_seasons :]
    data = labelled(frame)
    fit_part = data[data["season"].isin(fit_seasons)]
    validation_part = data[data["season"].isin(validation_seasons)]
    all_part = data[data["season"].isin(seasons)]

    notify("fitting the Elo baseline")
    baseline = fit_elo_baseline(fit_part)

    def arrays(part: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        matrix = part[list(FEATURE_NAMES)].to_numpy(dtype=np.float64)
        margin = base_margin(matrix, FEATURE_NAMES, baseline, params.use_market_margin)
        return matrix, part["outcome"].astype(int).to_numpy(), margin

    fit_x, fit_y, fit_margin = arrays(fit_part)
    val_x, val_y, val_margin = arrays(validation_part)
    notify(f"boosting on {len(fit_part)} matches, validating on {', '.join(validation_seasons)}")
    train_set = _dataset(
        fit_x, fit_y, fit_margin, weight=season_weights(fit_part["season"], seasons, params.season_decay)
    )
    booster = lgb.train(
        params.lightgbm_params(),
        train_set,
        num_boost_round=params.max_rounds,
        valid_sets=[_dataset(val_x, val_y, val_margin, reference=train_set)],
        callbacks=[lgb.early_stopping(params.early_stopping_rounds, verbose=False)],
    )
    best_iteration = max(booster.best_iteration, 1)
    val_raw = booster.predict(val_x, raw_score=True, num_iteration=best_iteration) + val_margin
    uncalibrated = score_all(softmax(val_raw), val_y)
    temperature = fit_temperature(val_raw, val_y)
    calibrated = score_all(softmax(val_raw / temperature), val_y)
    if calibrated["log_loss"] >= uncalibrated["log_loss"] - 1e-4:
        temperature, calibrated = 1.0, uncalibrated
    notify(f"{best_iteration} trees per class, temperature {temperature:.3f}")

    if params.refit_on_all:
        notify(f"refitting on {len(all_part)} matches ({seasons[0]} .. {seasons[-1]})")
        all_x, all_y, all_margin = arrays(all_part)
        booster = lgb.train(
            params.lightgbm_params(),
            _dataset(all_x, all_y, all_margin, weight=season_weights(all_part["season"], seasons, params.season_decay)),
            num_boost_round=best_iteration,
        )
    else:
        booster = lgb.Booster(model_str=booster.model_to_string(num_iteration=best_iteration))

    importance = booster.feature_importance(importance_type="gain")
    return TrainedModel(
        predictor=Predictor(booster, list(FEATURE_NAMES), baseline, temperature, params.use_market_margin),
        best_iteration=best_iteration,
        train_seasons=seasons,
        validation_seasons=validation_seasons,
        validation_metrics=calibrated,
        validation_metrics_uncalibrated=uncalibrated,
        feature_importance=dict(zip(FEATURE_NAMES, importance.astype(float).tolist(), strict=True)),
    )
