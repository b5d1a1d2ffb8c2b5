"""Backtest: train up to a season, score later seasons match by match, compare with benchmarks.

Features of the test seasons come from the same point-in-time walk as the training rows, so a
test match only sees results published before it; the model itself is frozen.

Every forecaster is scored on the same matches: those with a closing price and a pre-kickoff
price. Pinnacle's closing line is the market benchmark; the few matches without it use the
market-average closing line (`closing_source` says which). The pre-kickoff line (the de-vigged
prices the model sees as features) shows what the market knew when the model's inputs were taken:
the model's fair comparison. A match without either price is left out of every row and counted in
`unpriced`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from shared.ml.metrics import score_all
from shared.ml.predictor import softmax
from shared.ml.train import ProgressCallback, TrainedModel, TrainParams, labelled, train_model

MARKET = "market (closing)"
PRE_KICKOFF_MARKET = "market (pre-kickoff)"
MODEL = "model"
ELO = "elo baseline"
FREQUENCIES = "class frequencies"
# Forecasters' names in metric keys and in the columns of BacktestReport.matches.
SHORT_NAMES = {MODEL: "model", MARKET: "market", PRE_KICKOFF_MARKET: "prekickoff", ELO: "elo", FREQUENCIES: "class"}
CLOSING_COLUMNS = ["closing_p_home", "closing_p_draw", "closing_p_away"]
PRE_KICKOFF_COLUMNS = ["market_p_home", "market_p_draw", "market_p_away"]
METRIC_NAMES = ("rps", "log_loss", "brier", "accuracy")


@dataclass
class BacktestReport:
    trained: TrainedModel
    train_until: str
    test_seasons: list[str]
    matches: pd.DataFrame  # test matches with every forecaster's probabilities
    features: pd.DataFrame  # the same matches' feature rows, in the same order
    scores: pd.DataFrame  # one row per (group, forecaster)
    unpriced: int
    closing_fallbacks: int

    def pooled(self, forecaster: str) -> dict[str, float]:
        row = self.scores[(self.scores["group"] == "all") & (self.scores["forecaster"] == forecaster)].iloc[0]
        return {name: float(row[name]) for name in METRIC_NAMES}

    def gap_to_market(self, market: str = MARKET) -> dict[str, float]:
        """Model minus `market`, pooled: below zero the model is the better forecaster."""
        model, benchmark = self.pooled(MODEL), self.pooled(market)
        return {"rps": model["rps"] - benchmark["rps"], "log_loss": model["log_loss"] - benchmark["log_loss"]}

    def metrics(self) -> dict[str, float]:
        """Flat metrics for MLflow and DVC: `test_<forecaster>_<metric>[_<league>]`."""
        flat: dict[str, float] = {"test_matches": float(len(self.matches)), "unpriced_matches": float(self.unpriced)}
        for row in self.scores.itertuples():
            suffix = "" if row.group == "all" else f"_{row.group}"
            name = SHORT_NAMES[row.forecaster]
            for metric in METRIC_NAMES:
                flat[f"test_{name}_{metric}{suffix}"] = float(getattr(row, metric))
        gap = self.gap_to_market()
        flat["gap_to_market_rps"], flat["gap_to_market_log_loss"] = gap["rps"], gap["log_loss"]
        gap = self.gap_to_market(PRE_KICKOFF_MARKET)
        flat["gap_to_prekickoff_market_rps"], flat["gap_to_prekickoff_market_log_loss"] = gap["rps"], gap["log_loss"]
        for metric, value in self.trained.validation_metrics.items():
            flat[f"validation_{metric}"] = value
        return flat

    def markdown(self) -> str:
        header = (
            "| League | Forecaster | Matches | RPS | Log loss | Brier | Accuracy |\n|---|---|---|---|---|---|---|\n"
        )
        lines = [
            f"| {r.group} | {r.forecaster} | {r.matches} | {r.rps:.4f} | {r.log_loss:.4f} | {r.brier:.4f} "
            f"| {r.accuracy:.3f} |"
            for r in self.scores.itertuples()
        ]
        gap, pre_kickoff_gap = self.gap_to_market(), self.gap_to_market(PRE_KICKOFF_MARKET)
        summary = (
            f"\n\nTrained on {self.trained.train_seasons[0]} .. {self.train_until}, tested on "
            f"{', '.join(self.test_seasons)} ({len(self.matches)} matches; {self.unpriced} without a closing or "
            f"pre-kickoff price left out; {self.closing_fallbacks} scored against the average closing line for "
            "want of Pinnacle's).\n"
            f"Gap to the market (model - Pinnacle closing, pooled): RPS {gap['rps']:+.4f}, "
            f"log loss {gap['log_loss']:+.4f}.\n"
            f"Gap to the pre-kickoff market (model - the line its features saw): RPS {pre_kickoff_gap['rps']:+.4f}, "
            f"log loss {pre_kickoff_gap['log_loss']:+.4f}.\n"
        )
        return header + "\n".join(lines) + summary


def forecasts(trained: TrainedModel, test: pd.DataFrame, train: pd.DataFrame) -> dict[str, np.ndarray]:
    matrix = test[trained.predictor.feature_names].to_numpy(dtype=np.float64)
    frequencies = np.bincount(train["outcome"].astype(int), minlength=3) / len(train)
    return {
        MODEL: trained.predictor.predict_matrix(matrix),
        MARKET: test[CLOSING_COLUMNS].to_numpy(dtype=np.float64),
        PRE_KICKOFF_MARKET: test[PRE_KICKOFF_COLUMNS].to_numpy(dtype=np.float64),
        ELO: softmax(trained.predictor.baseline.log_proba(test["elo_diff"].to_numpy())),
        FREQUENCIES: np.tile(frequencies, (len(test), 1)),
    }


def score_table(matches: pd.DataFrame, probabilities: dict[str, np.ndarray]) -> pd.DataFrame:
    outcomes = matches["outcome"].astype(int).to_numpy()
    groups = [("all", np.ones(len(matches), dtype=bool))] + [
        (league, (matches["league"] == league).to_numpy()) for league in sorted(matches["league"].unique())
    ]
    rows = [
        {"group": group, "forecaster": name, "matches": int(mask.sum()), **score_all(probs[mask], outcomes[mask])}
        for group, mask in groups
        for name, probs in probabilities.items()
    ]
    return pd.DataFrame(rows)


def evaluate_model(frame: pd.DataFrame, trained: TrainedModel, test_seasons: list[str]) -> BacktestReport:
    """Score a frozen model and the benchmarks on the finished matches of `test_seasons`."""
    data = labelled(frame)
    missing = sorted(set(test_seasons) - set(data["season"].unique()))
    if missing:
        raise ValueError(f"no finished matches in test season(s) {', '.join(missing)}")
    train_until = trained.train_seasons[-1]
    if any(season <= train_until for season in test_seasons):
        raise ValueError(f"test seasons must come after the training range (ends {train_until})")
    test = data[data["season"].isin(test_seasons)]
    priced = test[CLOSING_COLUMNS + PRE_KICKOFF_COLUMNS].notna().all(axis=1)
    test = test[priced].reset_index(drop=True)
    train = data[data["season"].isin(trained.train_seasons)]
    probabilities = forecasts(trained, test, train)
    matches = test[["match_id", "league", "season", "outcome", "closing_source"]].copy()
    for name, probs in probabilities.items():
        for index, outcome in enumerate(("home", "draw", "away")):
            matches[f"{SHORT_NAMES[name]}_p_{outcome}"] = probs[:, index]
    return BacktestReport(
        trained=trained,
        train_until=train_until,
        test_seasons=list(test_seasons),
        matches=matches,
        features=test[trained.predictor.feature_names],
        scores=score_table(test, probabilities),
        unpriced=int((~priced).sum()),
        closing_fallbacks=int((test["closing_source"] != "PS").sum()),
    )


def backtest(
    frame: pd.DataFrame,
    train_until: str,
    test_seasons: list[str],
    params: TrainParams,
    progress: ProgressCallback | None = None,
) -> BacktestReport:
    """Train on every season up to `train_until`, then score `test_seasons` with the model frozen."""
    if any(season <= train_until for season in test_seasons):
        raise ValueError(f"test seasons must come after the training range (ends {train_until})")
    return evaluate_model(frame, train_model(frame, train_until, params, progress), test_seasons)
