"""The model's probabilities beside a bookmaker's prices: fair odds, the de-vigged market and the edge.

The UI image holds ui/ and its own requirements only (no shared/), so the proportional de-vigging
of shared.features.market is restated here; tests/ui/test_market.py checks both agree.
"""

from __future__ import annotations

from dataclasses import dataclass

from ui.api import Odds, Prediction

OUTCOMES = ("home", "draw", "away")


@dataclass(frozen=True)
class OutcomeRow:
    outcome: str
    model: float
    fair_odds: float
    price: float | None = None
    market: float | None = None  # de-vigged implied probability
    edge: float | None = None  # model minus market, in probability points
    expected_value: float | None = None  # per unit staked at `price`, by the model's probability


def comparison(prediction: Prediction, odds: Odds | None) -> list[OutcomeRow]:
    model = (prediction.home, prediction.draw, prediction.away)
    if odds is None:
        return [OutcomeRow(o, p, 1.0 / p) for o, p in zip(OUTCOMES, model, strict=True)]
    prices = (odds.home, odds.draw, odds.away)
    implied = [1.0 / price for price in prices]
    market = [share / sum(implied) for share in implied]
    return [
        OutcomeRow(o, p, 1.0 / p, price, q, p - q, p * price - 1.0)
        for o, p, price, q in zip(OUTCOMES, model, prices, market, strict=True)
    ]


def margin(odds: Odds) -> float:
    """The bookmaker's overround: how much the implied probabilities add up to beyond one."""
    return 1.0 / odds.home + 1.0 / odds.draw + 1.0 / odds.away - 1.0
