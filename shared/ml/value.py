"""Value report: would betting on the model's forecasts have made money, and did it beat the close?

A bet is placed where probability x best available pre-kickoff price > 1 + edge; of a match's
outcomes that qualify, only the one with the largest expected value is backed (one bet per match).
Bets are settled in kick-off order:

- flat stake: one unit per bet; the bankroll curve is the running profit in units;
- fractional Kelly: stake `kelly_fraction x (p*o - 1)/(o - 1)` of the current bankroll (starting
  at 1), capped at `max_stake`; bets of one kick-off are sized in turn, as if placed one after another.

ROI = profit / amount staked, with a percentile bootstrap 95% interval over bets. Closing-line
value compares each bet's price with the same outcome's closing price: the share of bets whose
price was higher, and mean CLV = mean(price x de-vigged closing probability - 1), the expected
return of the bet if the closing line is the truth.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from shared.ml.evaluate import SHORT_NAMES, BacktestReport, probability_columns
from shared.param_sections import from_section

OUTCOMES = ("home", "draw", "away")


@dataclass(frozen=True)
class ValueParams:
    """The `value` section of params.yaml."""

    edge: float = 0.05
    kelly_fraction: float = 0.25
    max_stake: float = 0.05  # of the bankroll: one mispriced favourite must not stake it all
    bootstrap: int = 2000
    seed: int = 7

    @classmethod
    def from_mapping(cls, values: dict[str, Any] | None) -> ValueParams:
        return from_section(cls, values, "value-report")


@dataclass(frozen=True)
class StakingResult:
    strategy: str  # "flat" | "kelly"
    bets: int
    staked: float
    profit: float
    roi: float
    roi_low: float
    roi_high: float
    max_drawdown: float  # flat: units below the running peak; Kelly: share of the running peak
    final_bankroll: float

    def to_dict(self) -> dict[str, float | int | str]:
        return asdict(self)


@dataclass(frozen=True)
class PathValue:
    path: str
    bets: pd.DataFrame  # one row per bet: kickoff, outcome, p, price, closing price, won, stakes, profits
    flat: StakingResult
    kelly: StakingResult
    beat_close_share: float
    mean_clv: float
    verdict: str


def select_bets(probabilities: np.ndarray, prices: np.ndarray, edge: float) -> tuple[np.ndarray, np.ndarray]:
    """(row indices, outcome indices) of the bets: per row, the outcome of largest p x price - 1
    when that exceeds `edge`. Rows with a missing price never bet on that outcome."""
    expected = np.where(np.isfinite(prices) & (prices > 1.0), probabilities * prices - 1.0, -np.inf)
    best = np.argmax(expected, axis=1)
    rows = np.flatnonzero(expected[np.arange(len(expected)), best] > edge)
    return rows, best[rows]


def flat_profits(prices: np.ndarray, won: np.ndarray) -> np.ndarray:
    return np.where(won, prices - 1.0, -1.0)


def kelly_stakes(
    probabilities: np.ndarray, prices: np.ndarray, won: np.ndarray, fraction: float, cap: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(stakes, profits, bankroll after each bet), bets settled in the given order from a bankroll of 1."""
    stakes, profits, bankroll_after = np.zeros(len(prices)), np.zeros(len(prices)), np.zeros(len(prices))
    bankroll = 1.0
    for index, (p, price, hit) in enumerate(zip(probabilities, prices, won, strict=True)):
        share = min(max(fraction * (p * price - 1.0) / (price - 1.0), 0.0), cap)
        stakes[index] = share * bankroll
        profits[index] = stakes[index] * (price - 1.0) if hit else -stakes[index]
        bankroll += profits[index]
        bankroll_after[index] = bankroll
    return stakes, profits, bankroll_after


def max_drawdown(curve: np.ndarray, relative: bool, start: float) -> float:
    """Largest fall below the running peak (the curve starts at `start`): in units, or as a share of the peak."""
    values = np.concatenate([[start], curve])
    peaks = np.maximum.accumulate(values)
    falls = (peaks - values) / peaks if relative else peaks - values
    return float(falls.max())


def bootstrap_roi(stakes: np.ndarray, profits: np.ndarray, draws: int, seed: int) -> tuple[float, float]:
    """Percentile 95% interval of profit / staked over bets resampled with replacement."""
    if len(stakes) == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(stakes), size=(draws, len(stakes)))
    rois = profits[picks].sum(axis=1) / stakes[picks].sum(axis=1)
    low, high = np.percentile(rois, [2.5, 97.5])
    return float(low), float(high)


def _result(strategy: str, stakes: np.ndarray, profits: np.ndarray, params: ValueParams) -> StakingResult:
    staked, profit = float(stakes.sum()), float(profits.sum())
    low, high = bootstrap_roi(stakes, profits, params.bootstrap, params.seed)
    relative = strategy == "kelly"
    start = 1.0 if relative else 0.0
    curve = start + np.cumsum(profits)
    return StakingResult(
        strategy=strategy,
        bets=len(stakes),
        staked=staked,
        profit=profit,
        roi=profit / staked if staked else float("nan"),
        roi_low=low,
        roi_high=high,
        max_drawdown=max_drawdown(curve, relative, start) if len(curve) else 0.0,
        final_bankroll=float(curve[-1]) if len(curve) else start,
    )


def verdict(flat: StakingResult) -> str:
    """Plain words on whether the flat-stake ROI shows an edge."""
    if flat.bets == 0:
        return "no bets: no forecast beat the best price by the edge threshold"
    interval = f"ROI {flat.roi:+.1%} (95% CI {flat.roi_low:+.1%} .. {flat.roi_high:+.1%}) over {flat.bets} bets"
    if flat.roi_high < 0:
        return f"NO EDGE: betting these forecasts loses money, {interval}"
    if flat.roi_low <= 0:
        return f"NO EDGE SHOWN: the interval includes zero, {interval}"
    return f"EDGE: {interval}"


def value_report(matches: pd.DataFrame, path: str, probability_columns: list[str], params: ValueParams) -> PathValue:
    """`matches`: kickoff_utc, outcome (0/1/2), the path's probabilities, best_price_* and closing_price_*
    plus closing_p_* (de-vigged closing probabilities)."""
    ordered = matches.sort_values(["kickoff_utc", "match_id"]).reset_index(drop=True)
    probabilities = ordered[probability_columns].to_numpy(dtype=np.float64)
    prices = ordered[[f"best_price_{o}" for o in OUTCOMES]].to_numpy(dtype=np.float64)
    rows, picks = select_bets(probabilities, prices, params.edge)
    p, price = probabilities[rows, picks], prices[rows, picks]
    closing_price = ordered[[f"closing_price_{o}" for o in OUTCOMES]].to_numpy(dtype=np.float64)[rows, picks]
    closing_p = ordered[[f"closing_p_{o}" for o in OUTCOMES]].to_numpy(dtype=np.float64)[rows, picks]
    won = ordered["outcome"].astype(int).to_numpy()[rows] == picks
    flat = flat_profits(price, won)
    stakes, profits, bankroll = kelly_stakes(p, price, won, params.kelly_fraction, params.max_stake)
    bets = pd.DataFrame(
        {
            "kickoff_utc": ordered["kickoff_utc"].to_numpy()[rows],
            "match_id": ordered["match_id"].to_numpy()[rows],
            "outcome": [OUTCOMES[i] for i in picks],
            "probability": p,
            "price": price,
            "closing_price": closing_price,
            "won": won,
            "flat_profit": flat,
            "kelly_stake": stakes,
            "kelly_profit": profits,
            "kelly_bankroll": bankroll,
        }
    )
    flat_result = _result("flat", np.ones(len(flat)), flat, params)
    clv_known = np.isfinite(closing_price) & np.isfinite(closing_p)
    return PathValue(
        path=path,
        bets=bets,
        flat=flat_result,
        kelly=_result("kelly", stakes, profits, params),
        beat_close_share=float((price[clv_known] > closing_price[clv_known]).mean()) if clv_known.any() else np.nan,
        mean_clv=float((price * closing_p - 1.0)[clv_known].mean()) if clv_known.any() else np.nan,
        verdict=verdict(flat_result),
    )


def value_markdown(values: list[PathValue], params: ValueParams) -> str:
    lines = [
        f"Value report: bet where p x best pre-kickoff price > 1 + {params.edge:.2f}; Kelly fraction "
        f"{params.kelly_fraction:.2f} (stake cap {params.max_stake:.0%} of the bankroll).",
        "",
        "| Path | Staking | Bets | Staked | Profit | ROI | ROI 95% CI | Max drawdown | Beat close | Mean CLV |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for value in values:
        for result in (value.flat, value.kelly):
            drawdown = f"{result.max_drawdown:.1%}" if result.strategy == "kelly" else f"{result.max_drawdown:.1f} u"
            lines.append(
                f"| {value.path} | {result.strategy} | {result.bets} | {result.staked:.2f} | {result.profit:+.2f} "
                f"| {result.roi:+.2%} | {result.roi_low:+.2%} .. {result.roi_high:+.2%} | {drawdown} "
                f"| {value.beat_close_share:.1%} | {value.mean_clv:+.2%} |"
            )
    lines.append("")
    lines += [f"- {value.path}: {value.verdict}" for value in values]
    return "\n".join(lines) + "\n"


def value_metrics(values: list[PathValue]) -> dict[str, float]:
    flat: dict[str, float] = {}
    for value in values:
        for result in (value.flat, value.kelly):
            prefix = f"value_{value.path}_{result.strategy}"
            flat |= {f"{prefix}_bets": float(result.bets), f"{prefix}_roi": result.roi}
            flat |= {f"{prefix}_roi_low": result.roi_low, f"{prefix}_roi_high": result.roi_high}
            flat[f"{prefix}_max_drawdown"] = result.max_drawdown
        flat[f"value_{value.path}_beat_close_share"] = value.beat_close_share
        flat[f"value_{value.path}_mean_clv"] = value.mean_clv
    return flat


def path_values(report: BacktestReport, params: ValueParams) -> list[PathValue]:
    """The value report of every model path the backtest scored."""
    return [
        value_report(report.matches, SHORT_NAMES[model], probability_columns(model), params) for model in report.models
    ]
