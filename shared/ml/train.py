"""Training: LightGBM multiclass boosted from the market margin, validated forward in time.

The last `validation_seasons` of the training range are the validation slice: early stopping
picks the number of trees there and a single temperature is fitted there (one parameter cannot
overfit a season of ~1,700 matches; isotonic per class could, and breaks the probabilities'
sum). The market path must not fall behind the pre-kickoff market it boosts from, so it keeps a
share of its trees and a temperature only when the validation shows them significantly better;
the no-market path keeps a temperature that lowers the validation log loss. The final trees are
then refitted on the whole range with the chosen size, so the latest season informs the model.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from shared.features.compute import FEATURE_NAMES
from shared.ml.metrics import log_losses, ranked_probability_scores, score_all
from shared.ml.predictor import (
    ELO_COLUMN,
    NO_MARKET_BASELINE_COLUMNS,
    LinearBaseline,
    Predictor,
    base_margin,
    priced_rows,
    softmax,
    without_market,
)
from shared.param_sections import from_section

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
    # The market path keeps a correction to the pre-kickoff market (a share of its trees, a temperature)
    # only when its validation gain on log loss and RPS exceeds this many standard errors.
    market_correction_se: float = 2.0
    num_threads: int = 2
    seed: int = 7

    @classmethod
    def from_mapping(cls, values: dict[str, Any] | None) -> TrainParams:
        return from_section(cls, values, "training")

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
    # The no-market path's own summary (trees, validation metrics, importance) when both paths were
    # trained; the fields above describe the top-level predictor's path.
    no_market: dict[str, Any] | None = None
    elo_baseline: dict[str, Any] = field(default_factory=dict)  # the Elo-only benchmark, fitted on the same rows

    @property
    def elo(self) -> LinearBaseline:
        return LinearBaseline.from_dict(self.elo_baseline)


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
        "no_market": trained.no_market,
        "elo_baseline": trained.elo_baseline,
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


def fit_baseline(frame: pd.DataFrame, columns: tuple[str, ...]) -> LinearBaseline:
    """Multinomial logit of the outcome on `columns`, fitted on standardised inputs (the solver
    converges on Elo points too) and returned on the raw ones."""
    data = labelled(frame).dropna(subset=list(columns))
    values = data[list(columns)].to_numpy(dtype=np.float64)
    mean, scale = values.mean(axis=0), values.std(axis=0) + 1e-12
    model = LogisticRegression(C=1e4, max_iter=1000)
    model.fit((values - mean) / scale, data["outcome"].astype(int).to_numpy())
    coefficients = model.coef_ / scale
    intercepts = model.intercept_ - coefficients @ mean
    return LinearBaseline(
        columns,
        tuple(tuple(float(v) for v in row) for row in coefficients),
        tuple(float(v) for v in intercepts),  # type: ignore[arg-type]
    )


def pessimistic_choice(
    candidates: np.ndarray, neutral: float, scores_of: Callable[[float], np.ndarray], outcomes: np.ndarray, se: float
) -> float:
    """The candidate c whose forecast softmax(scores_of(c)) minimises the mean per-match log-loss
    change against the neutral forecast softmax(scores_of(neutral)) plus `se` standard errors of
    that change, among the candidates whose per-match RPS change plus `se` standard errors is not
    above zero either (validation seasons). The neutral candidate scores exactly 0 on both, so
    another is chosen only when it is better on both scoring rules by more than `se` standard
    errors. Ties go to the candidate nearest `neutral`."""
    reference = softmax(scores_of(neutral))
    reference_ll, reference_rps = log_losses(reference, outcomes), ranked_probability_scores(reference, outcomes)

    def pessimistic(change: np.ndarray) -> float:
        return float(change.mean() + se * change.std(ddof=1) / np.sqrt(len(change)))

    def criterion(candidate: float) -> tuple[float, float]:
        forecast = softmax(scores_of(candidate))
        log_loss_change = pessimistic(log_losses(forecast, outcomes) - reference_ll)
        rps_change = pessimistic(ranked_probability_scores(forecast, outcomes) - reference_rps)
        return (log_loss_change if rps_change <= 0.0 else np.inf), abs(candidate - neutral)

    return float(min(candidates, key=criterion))


TREE_WEIGHTS = np.linspace(0.0, 1.0, 21)
TEMPERATURES = np.round(np.arange(0.5, 2.0001, 0.01), 2)


def market_tree_weight(tree_scores: np.ndarray, margin: np.ndarray, outcomes: np.ndarray, se: float) -> float:
    """The share w of the trees' correction kept, softmax(margin + w * trees): `pessimistic_choice`
    with neutral w = 0, the bare market."""
    return pessimistic_choice(TREE_WEIGHTS, 0.0, lambda weight: margin + weight * tree_scores, outcomes, se)


def fit_temperature(raw_scores: np.ndarray, outcomes: np.ndarray, se: float = 0.0) -> float:
    """The temperature t of softmax(raw / t): `pessimistic_choice` with neutral t = 1 (se = 0: the
    plain log-loss minimum among those not worse on RPS)."""
    return pessimistic_choice(TEMPERATURES, 1.0, lambda temperature: raw_scores / temperature, outcomes, se)


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
    feature_names: list[str],
    reference: lgb.Dataset | None = None,
    weight: np.ndarray | None = None,
):
    # LightGBM wants a multiclass init score flattened class by class.
    return lgb.Dataset(
        matrix,
        outcomes,
        weight=weight,
        init_score=margin.ravel(order="F"),
        feature_name=feature_names,
        reference=reference,
        free_raw_data=False,
    )


@dataclass
class PathFit:
    predictor: Predictor
    best_iteration: int
    validation_metrics: dict[str, float]
    validation_metrics_uncalibrated: dict[str, float]
    feature_importance: dict[str, float]

    def summary(self) -> dict[str, Any]:
        return {
            "best_iteration": self.best_iteration,
            "temperature": self.predictor.temperature,
            "tree_weight": self.predictor.tree_weight,
            "validation_metrics": self.validation_metrics,
            "validation_metrics_uncalibrated": self.validation_metrics_uncalibrated,
            "feature_importance": self.feature_importance,
        }


def fit_path(
    parts: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame],
    seasons: list[str],
    feature_names: list[str],
    baseline: LinearBaseline,
    use_market: bool,
    params: TrainParams,
    notify: ProgressCallback,
) -> PathFit:
    """Boost one path from its base margin: early stopping and a temperature on the validation
    seasons, then (refit_on_all) the same number of trees on every training season."""
    fit_part, validation_part, all_part = parts
    label = "market" if use_market else "no-market"

    def arrays(part: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        matrix = part[feature_names].to_numpy(dtype=np.float64)
        margin = base_margin(matrix, feature_names, baseline, use_market)
        return matrix, part["outcome"].astype(int).to_numpy(), margin

    def weights(part: pd.DataFrame) -> np.ndarray | None:
        return season_weights(part["season"], seasons, params.season_decay)

    fit_x, fit_y, fit_margin = arrays(fit_part)
    val_x, val_y, val_margin = arrays(validation_part)
    notify(f"{label} path: boosting on {len(fit_part)} matches")
    train_set = _dataset(fit_x, fit_y, fit_margin, feature_names, weight=weights(fit_part))
    booster = lgb.train(
        params.lightgbm_params(),
        train_set,
        num_boost_round=params.max_rounds,
        valid_sets=[_dataset(val_x, val_y, val_margin, feature_names, reference=train_set)],
        callbacks=[lgb.early_stopping(params.early_stopping_rounds, verbose=False)],
    )
    best_iteration = max(booster.best_iteration, 1)
    val_trees = booster.predict(val_x, raw_score=True, num_iteration=best_iteration)
    if use_market:
        # Its base margin is the benchmark it must not fall behind, so each correction (trees, then
        # temperature) is kept only as far as the validation shows it significantly better.
        tree_weight = market_tree_weight(val_trees, val_margin, val_y, params.market_correction_se)
        val_raw = tree_weight * val_trees + val_margin
        temperature = fit_temperature(val_raw, val_y, params.market_correction_se)
    else:
        tree_weight, val_raw = 1.0, val_trees + val_margin
        temperature = fit_temperature(val_raw, val_y)
    uncalibrated = score_all(softmax(val_raw), val_y)
    calibrated = score_all(softmax(val_raw / temperature), val_y)
    if not use_market and calibrated["log_loss"] >= uncalibrated["log_loss"] - 1e-4:
        temperature, calibrated = 1.0, uncalibrated
    notify(f"{label} path: {best_iteration} trees per class, weight {tree_weight:.2f}, temperature {temperature:.3f}")
    if params.refit_on_all:
        all_x, all_y, all_margin = arrays(all_part)
        booster = lgb.train(
            params.lightgbm_params(),
            _dataset(all_x, all_y, all_margin, feature_names, weight=weights(all_part)),
            num_boost_round=best_iteration,
        )
    else:
        booster = lgb.Booster(model_str=booster.model_to_string(num_iteration=best_iteration))
    importance = booster.feature_importance(importance_type="gain")
    return PathFit(
        predictor=Predictor(booster, feature_names, baseline, temperature, use_market, tree_weight=tree_weight),
        best_iteration=best_iteration,
        validation_metrics=calibrated,
        validation_metrics_uncalibrated=uncalibrated,
        feature_importance=dict(zip(feature_names, importance.astype(float).tolist(), strict=True)),
    )


def train_model(
    frame: pd.DataFrame,
    train_until: str,
    params: TrainParams,
    progress: ProgressCallback | None = None,
    market: bool = True,
) -> TrainedModel:
    """Both paths (market=True: the market path carrying the no-market one), or the no-market path alone."""
    notify = progress or (lambda _message: None)
    seasons = seasons_until(labelled(frame), train_until)
    if len(seasons) <= params.validation_seasons:
        raise TrainingError(
            f"need more than {params.validation_seasons} labelled season(s) up to {train_until}, found {len(seasons)}"
        )
    fit_seasons, validation_seasons = seasons[: -params.validation_seasons], seasons[-params.validation_seasons :]
    data = labelled(frame)
    parts = (
        data[data["season"].isin(fit_seasons)],
        data[data["season"].isin(validation_seasons)],
        data[data["season"].isin(seasons)],
    )
    notify("fitting the baselines")
    elo = fit_baseline(parts[0], (ELO_COLUMN,))
    no_market_baseline = fit_baseline(parts[0], NO_MARKET_BASELINE_COLUMNS)
    no_market = fit_path(parts, seasons, without_market(FEATURE_NAMES), no_market_baseline, False, params, notify)
    served = no_market
    if market:
        names = list(FEATURE_NAMES)

        def priced(part: pd.DataFrame) -> pd.DataFrame:
            return part[priced_rows(part[names].to_numpy(dtype=np.float64), names)]

        market_parts = (priced(parts[0]), priced(parts[1]), priced(parts[2]))
        served = fit_path(market_parts, seasons, names, no_market_baseline, params.use_market_margin, params, notify)
        served.predictor.no_market = no_market.predictor
    return TrainedModel(
        predictor=served.predictor,
        best_iteration=served.best_iteration,
        train_seasons=seasons,
        validation_seasons=validation_seasons,
        validation_metrics=served.validation_metrics,
        validation_metrics_uncalibrated=served.validation_metrics_uncalibrated,
        feature_importance=served.feature_importance,
        no_market=no_market.summary() if market else None,
        elo_baseline=elo.to_dict(),
    )
