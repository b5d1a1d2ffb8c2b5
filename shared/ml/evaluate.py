"""Backtest: train up to a season, score later seasons match by match, compare with benchmarks.

Features of the test seasons come from the same point-in-time walk as the training rows, so a
test match only sees results published before it; the model itself is frozen. Walk-forward
(no `train_until`) trains one model per test season on every season before it and pools the
folds' matches.

Every forecaster is scored on the same matches: those with a closing price and a pre-kickoff
price. Pinnacle's closing line is the market benchmark; the few matches without it use the
market-average closing line (`closing_source` says which). The pre-kickoff line (the de-vigged
prices the market path sees as features) shows what the market knew when the model's inputs were
taken: the market path's fair comparison. The no-market path sees no price of the match at all.
A match without either price is left out of every row and counted in `unpriced`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from shared.features.compute import FEATURE_NAMES
from shared.ml.forecasters import (
    ELO,
    FREQUENCIES,
    MARKET,
    METRIC_NAMES,
    MODEL,
    NO_MARKET_MODEL,
    PRE_KICKOFF_MARKET,
    SHORT_NAMES,
)
from shared.ml.metrics import score_all
from shared.ml.predictor import softmax
from shared.ml.train import ProgressCallback, TrainedModel, TrainParams, labelled, train_model

BENCHMARKS = (MARKET, PRE_KICKOFF_MARKET, ELO)
CLOSING_COLUMNS = ["closing_p_home", "closing_p_draw", "closing_p_away"]
PRE_KICKOFF_COLUMNS = ["market_p_home", "market_p_draw", "market_p_away"]
PRICE_COLUMNS = [f"{kind}_price_{outcome}" for kind in ("best", "closing") for outcome in ("home", "draw", "away")]
OUTCOME_LABELS = ("home", "draw", "away")


def probability_columns(forecaster: str) -> list[str]:
    return [f"{SHORT_NAMES[forecaster]}_p_{outcome}" for outcome in OUTCOME_LABELS]


@dataclass
class BacktestReport:
    trained: TrainedModel  # the last fold's model (the one registered)
    train_until: str
    test_seasons: list[str]
    matches: pd.DataFrame  # test matches with every forecaster's probabilities and the prices
    features: pd.DataFrame  # the same matches' feature rows, in the same order
    scores: pd.DataFrame  # one row per (group, forecaster)
    unpriced: int
    closing_fallbacks: int
    folds: list[tuple[str, str]]  # (last training season, test season) per model trained

    @property
    def forecasters(self) -> list[str]:
        return list(dict.fromkeys(self.scores["forecaster"]))

    @property
    def models(self) -> list[str]:
        """The paths this backtest scored, the served one first."""
        return [name for name in (MODEL, NO_MARKET_MODEL) if name in self.forecasters]

    def pooled(self, forecaster: str) -> dict[str, float]:
        row = self.scores[(self.scores["group"] == "all") & (self.scores["forecaster"] == forecaster)].iloc[0]
        return {name: float(row[name]) for name in METRIC_NAMES}

    def gap(self, model: str, benchmark: str, group: str = "all") -> dict[str, float]:
        """`model` minus `benchmark` on one group: below zero the model is the better forecaster."""
        rows = self.scores[self.scores["group"] == group].set_index("forecaster")
        return {metric: float(rows.at[model, metric] - rows.at[benchmark, metric]) for metric in ("rps", "log_loss")}

    def gap_to_market(self, market: str = MARKET) -> dict[str, float]:
        """The served path minus `market`, pooled."""
        return self.gap(self.models[0], market)

    def metrics(self) -> dict[str, float]:
        """Flat metrics for MLflow and DVC: `test_<forecaster>_<metric>[_<group>]`, gaps per path."""
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
        for model in self.models:
            for benchmark in BENCHMARKS:
                for metric, value in self.gap(model, benchmark).items():
                    flat[f"gap_{SHORT_NAMES[model]}_to_{SHORT_NAMES[benchmark]}_{metric}"] = value
        for metric, value in self.trained.validation_metrics.items():
            flat[f"validation_{metric}"] = value
        return flat

    def gap_table(self) -> str:
        """Each path against each benchmark, per fold and pooled (markdown)."""
        groups = [g for g in dict.fromkeys(self.scores["group"]) if g == "all" or g in self.test_seasons]
        lines = ["| Path | vs | Group | RPS gap | Log-loss gap |", "|---|---|---|---|---|"]
        for model in self.models:
            for benchmark in BENCHMARKS:
                for group in groups:
                    gap = self.gap(model, benchmark, group)
                    label = "pooled" if group == "all" else group
                    lines.append(f"| {model} | {benchmark} | {label} | {gap['rps']:+.4f} | {gap['log_loss']:+.4f} |")
        return "\n".join(lines)

    def markdown(self) -> str:
        header = "| Group | Forecaster | Matches | RPS | Log loss | Brier | Accuracy |\n|---|---|---|---|---|---|---|\n"
        lines = [
            f"| {r.group} | {r.forecaster} | {r.matches} | {r.rps:.4f} | {r.log_loss:.4f} | {r.brier:.4f} "
            f"| {r.accuracy:.3f} |"
            for r in self.scores.itertuples()
        ]
        folds = "; ".join(f"{test} trained on {self.trained.train_seasons[0]} .. {until}" for until, test in self.folds)
        summary = (
            f"\n\nFolds: {folds} ({len(self.matches)} matches; {self.unpriced} without a closing or "
            f"pre-kickoff price left out; {self.closing_fallbacks} scored against the average closing line for "
            "want of Pinnacle's).\n"
            "Gaps (model path minus benchmark; below zero the model is better). The market path sees the "
            "pre-kickoff prices; the no-market path sees no price of the match, only earlier matches' "
            "closing lines.\n\n"
        )
        return header + "\n".join(lines) + summary + self.gap_table() + "\n"


def forecasts(trained: TrainedModel, test: pd.DataFrame, train: pd.DataFrame) -> dict[str, np.ndarray]:
    predictor = trained.predictor
    frequencies = np.bincount(train["outcome"].astype(int), minlength=3) / len(train)
    elo = trained.elo if trained.elo_baseline else predictor.baseline

    def path_probabilities(path) -> np.ndarray:
        return path.predict_matrix(test[path.feature_names].to_numpy(dtype=np.float64))

    paths = {MODEL: predictor, NO_MARKET_MODEL: predictor.no_market} if predictor.use_market_margin else {}
    paths = paths or {NO_MARKET_MODEL: predictor}
    return {
        **{name: path_probabilities(path) for name, path in paths.items() if path is not None},
        MARKET: test[CLOSING_COLUMNS].to_numpy(dtype=np.float64),
        PRE_KICKOFF_MARKET: test[PRE_KICKOFF_COLUMNS].to_numpy(dtype=np.float64),
        ELO: softmax(elo.log_proba(test[list(elo.columns)].to_numpy(dtype=np.float64), elo.columns)),
        FREQUENCIES: np.tile(frequencies, (len(test), 1)),
    }


def score_table(matches: pd.DataFrame, forecasters: list[str]) -> pd.DataFrame:
    """Scores of every forecaster pooled, per season (when there are several) and per league."""
    outcomes = matches["outcome"].astype(int).to_numpy()
    groups = [("all", np.ones(len(matches), dtype=bool))]
    seasons = sorted(matches["season"].unique())
    if len(seasons) > 1:
        groups += [(season, (matches["season"] == season).to_numpy()) for season in seasons]
    groups += [(league, (matches["league"] == league).to_numpy()) for league in sorted(matches["league"].unique())]
    rows = [
        {
            "group": group,
            "forecaster": name,
            "matches": int(mask.sum()),
            **score_all(matches.loc[mask, probability_columns(name)].to_numpy(dtype=np.float64), outcomes[mask]),
        }
        for group, mask in groups
        for name in forecasters
    ]
    return pd.DataFrame(rows)


def _test_matches(
    frame: pd.DataFrame, train_until: str, test_seasons: list[str], leagues: list[str] | None
) -> tuple[pd.DataFrame, int]:
    data = labelled(frame)
    missing = sorted(set(test_seasons) - set(data["season"].unique()))
    if missing:
        raise ValueError(f"no finished matches in test season(s) {', '.join(missing)}")
    if any(season <= train_until for season in test_seasons):
        raise ValueError(f"test seasons must come after the training range (ends {train_until})")
    test = data[data["season"].isin(test_seasons)]
    if leagues:
        _check_leagues(test, leagues, test_seasons)
        test = test[test["league"].isin(leagues)]
    priced = test[CLOSING_COLUMNS + PRE_KICKOFF_COLUMNS].notna().all(axis=1)
    return test[priced].reset_index(drop=True), int((~priced).sum())


def _check_leagues(test: pd.DataFrame, leagues: list[str], test_seasons: list[str]) -> None:
    unknown = sorted(set(leagues) - set(test["league"].unique()))
    if unknown:
        raise ValueError(f"no finished matches of league(s) {', '.join(unknown)} in {', '.join(test_seasons)}")


def _scored_matches(frame: pd.DataFrame, trained: TrainedModel, test: pd.DataFrame) -> pd.DataFrame:
    data = labelled(frame)
    probabilities = forecasts(trained, test, data[data["season"].isin(trained.train_seasons)])
    identity = ["match_id", "kickoff_utc", "league", "season", "outcome", "closing_source"]
    matches = test[[*identity, *CLOSING_COLUMNS, *PRICE_COLUMNS]].copy()
    for name, probs in probabilities.items():
        matches[probability_columns(name)] = probs
    return matches


def _report(
    trained: TrainedModel,
    folds: list[tuple[str, str]],
    tests: list[pd.DataFrame],
    matches: list[pd.DataFrame],
    unpriced: int,
) -> BacktestReport:
    test, scored = pd.concat(tests, ignore_index=True), pd.concat(matches, ignore_index=True)
    forecasters = [name for name in SHORT_NAMES if probability_columns(name)[0] in scored.columns]
    return BacktestReport(
        trained=trained,
        train_until=trained.train_seasons[-1],
        test_seasons=[season for _until, season in folds],
        matches=scored,
        features=test[[name for name in FEATURE_NAMES if name in trained.predictor.feature_names]],
        scores=score_table(scored, forecasters),
        unpriced=unpriced,
        closing_fallbacks=int((test["closing_source"] != "PS").sum()),
        folds=folds,
    )


def evaluate_model(
    frame: pd.DataFrame, trained: TrainedModel, test_seasons: list[str], leagues: list[str] | None = None
) -> BacktestReport:
    """Score a frozen model and the benchmarks on the finished matches of `test_seasons`."""
    train_until = trained.train_seasons[-1]
    test, unpriced = _test_matches(frame, train_until, test_seasons, leagues)
    folds = [(train_until, season) for season in test_seasons]
    return _report(trained, folds, [test], [_scored_matches(frame, trained, test)], unpriced)


def backtest(
    frame: pd.DataFrame,
    train_until: str | None,
    test_seasons: list[str],
    params: TrainParams,
    progress: ProgressCallback | None = None,
    *,
    market: bool = True,
    leagues: list[str] | None = None,
) -> BacktestReport:
    """Train on every season up to `train_until`, then score `test_seasons` with the model frozen;
    without `train_until`, walk forward: one model per test season, trained on every season before it.
    `market=False` trains and scores only the no-market path; `leagues` limits the scored matches
    (training always uses every league: one model serves them all)."""
    if train_until is not None and any(season <= train_until for season in test_seasons):
        raise ValueError(f"test seasons must come after the training range (ends {train_until})")
    notify = progress or (lambda _message: None)
    data = labelled(frame)
    if leagues:  # before any training: a typo should not cost minutes
        _check_leagues(data[data["season"].isin(test_seasons)], leagues, test_seasons)
    all_seasons = sorted(data["season"].unique())
    folds = [
        (train_until or max([s for s in all_seasons if s < season], default=season), season) for season in test_seasons
    ]
    tests, matches, unpriced = [], [], 0
    trained: TrainedModel | None = None
    for until in dict.fromkeys(until for until, _season in folds):
        seasons = [season for fold_until, season in folds if fold_until == until]
        notify(f"fold {', '.join(seasons)}: training until {until}")
        trained = train_model(frame, until, params, notify, market=market)
        test, left_out = _test_matches(frame, until, seasons, leagues)
        tests.append(test)
        matches.append(_scored_matches(frame, trained, test))
        unpriced += left_out
    assert trained is not None  # test_seasons is never empty (parse_seasons)
    return _report(trained, folds, tests, matches, unpriced)
