"""Evaluation plots written as PNG files (logged to MLflow, declared as DVC plots)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # batch jobs have no display

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from shared.ml.evaluate import SHORT_NAMES, BacktestReport
from shared.ml.metrics import ranked_probability_score
from shared.ml.value import PathValue

OUTCOME_LABELS = ("home", "draw", "away")


def calibration_curves(report: BacktestReport, path: Path, bins: int = 10) -> Path:
    figure, axes = plt.subplots(1, 3, figsize=(13, 4), sharey=True)
    outcomes = report.matches["outcome"].astype(int).to_numpy()
    for axis, (index, label) in zip(axes, enumerate(OUTCOME_LABELS), strict=True):
        for forecaster in [SHORT_NAMES[name] for name in report.models] + ["market"]:
            predicted = report.matches[f"{forecaster}_p_{label}"].to_numpy()
            edges = np.quantile(predicted, np.linspace(0, 1, bins + 1))
            which = np.clip(np.searchsorted(edges, predicted, side="right") - 1, 0, bins - 1)
            mean_predicted = [predicted[which == b].mean() for b in range(bins) if (which == b).any()]
            observed = [(outcomes[which == b] == index).mean() for b in range(bins) if (which == b).any()]
            axis.plot(mean_predicted, observed, marker="o", label=forecaster)
        axis.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1)
        axis.set_title(f"P({label})")
        axis.set_xlabel("forecast")
    axes[0].set_ylabel("observed frequency")
    axes[0].legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def feature_importance(report: BacktestReport, path: Path) -> Path:
    importance = pd.Series(report.trained.feature_importance).sort_values()
    figure, axis = plt.subplots(figsize=(7, 8))
    axis.barh(importance.index, importance.to_numpy())
    axis.set_xlabel("total gain")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def rps_by_league_and_season(report: BacktestReport) -> pd.DataFrame:
    rows = []
    for (league, season), group in report.matches.groupby(["league", "season"]):
        outcomes = group["outcome"].astype(int).to_numpy()
        for forecaster in [SHORT_NAMES[name] for name in report.models] + ["market", "elo"]:
            probs = group[[f"{forecaster}_p_{label}" for label in OUTCOME_LABELS]].to_numpy()
            rows.append(
                {
                    "league": league,
                    "season": season,
                    "forecaster": forecaster,
                    "rps": ranked_probability_score(probs, outcomes),
                }
            )
    return pd.DataFrame(rows)


def rps_chart(table: pd.DataFrame, path: Path) -> Path:
    pivot = table.pivot_table(index=["league", "season"], columns="forecaster", values="rps")
    figure, axis = plt.subplots(figsize=(max(6, len(pivot) * 0.9), 4))
    pivot.plot.bar(ax=axis)
    axis.set_ylim(pivot.to_numpy().min() * 0.95, pivot.to_numpy().max() * 1.02)
    axis.set_ylabel("RPS (lower is better)")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def bankroll_curves(values: list[PathValue], path: Path) -> Path:
    """Flat-stake profit (units) and fractional-Kelly bankroll, bet by bet, per path."""
    figure, (flat_axis, kelly_axis) = plt.subplots(1, 2, figsize=(13, 4))
    for value in values:
        flat_axis.plot(np.cumsum(value.bets["flat_profit"].to_numpy()), label=value.path)
        kelly_axis.plot(value.bets["kelly_bankroll"].to_numpy(), label=value.path)
    flat_axis.axhline(0.0, color="grey", linestyle="--", linewidth=1)
    kelly_axis.axhline(1.0, color="grey", linestyle="--", linewidth=1)
    flat_axis.set(title="flat stake", xlabel="bet", ylabel="profit (units)")
    kelly_axis.set(title="fractional Kelly", xlabel="bet", ylabel="bankroll (start 1)")
    flat_axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def write_plots(report: BacktestReport, directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    table = rps_by_league_and_season(report)
    table.to_csv(directory / "rps_by_league_season.csv", index=False)
    return [
        calibration_curves(report, directory / "calibration.png"),
        feature_importance(report, directory / "feature_importance.png"),
        rps_chart(table, directory / "rps_by_league_season.png"),
        directory / "rps_by_league_season.csv",
    ]
