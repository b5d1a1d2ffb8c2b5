"""Bookmaker prices -> probabilities. Pre-kickoff prices are features; closing prices only a benchmark."""

from __future__ import annotations

import math

Prices = tuple[float, float, float]
Probabilities = tuple[float, float, float]

# Pinnacle's pre-match line is the sharpest; the market average is the fallback of last resort.
PRE_MATCH_PREFERENCE: tuple[str, ...] = ("PS", "B365", "Avg", "BbAv")
CLOSING_BENCHMARK = "PS"


def devig(prices: Prices) -> Probabilities:
    """Proportional de-vigging: implied probabilities 1/odds normalised to sum to one."""
    inverse = [1.0 / price for price in prices]
    total = sum(inverse)
    return (inverse[0] / total, inverse[1] / total, inverse[2] / total)


def overround(prices: Prices) -> float:
    return sum(1.0 / price for price in prices) - 1.0


def valid_prices(prices: Prices | None) -> bool:
    return prices is not None and all(p is not None and math.isfinite(p) and p > 1.0 for p in prices)


def choose_pre_match(by_bookmaker: dict[str, Prices]) -> tuple[str, Prices] | None:
    """The preferred bookmaker quoting all three prices, for a single match (the online path)."""
    for bookmaker in PRE_MATCH_PREFERENCE:
        prices = by_bookmaker.get(bookmaker)
        if valid_prices(prices):
            return bookmaker, prices  # type: ignore[return-value]
    return None
