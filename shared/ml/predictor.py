"""The served model: LightGBM trees boosted from a base margin, then temperature-scaled.

The base margin is the log of the de-vigged pre-kickoff market probabilities; a match without
prices falls back to the Elo baseline's log-probabilities, so the trees only ever learn a
correction to a sensible forecast. Serving loads the booster directly (no pyfunc) for speed.
Any booster with `predict(matrix, raw_score=True)` will do: training passes a `lightgbm.Booster`,
serving a `shared.serving.booster.NativeBooster` on the same library.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # serving passes a shared.serving.booster.NativeBooster: lightgbm costs a cold start ~1 s
    import lightgbm as lgb

MARKET_COLUMNS = ("market_p_home", "market_p_draw", "market_p_away")
ELO_COLUMN = "elo_diff"


def softmax(scores: np.ndarray) -> np.ndarray:
    shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


@dataclass(frozen=True)
class EloBaseline:
    """Multinomial logit on the Elo difference: the Elo-only benchmark and the fallback margin."""

    coefficients: tuple[float, float, float]
    intercepts: tuple[float, float, float]
    scale: float = 400.0  # Elo points per unit of the logit's input

    def log_proba(self, elo_diff: np.ndarray) -> np.ndarray:
        scores = np.outer(elo_diff / self.scale, self.coefficients) + np.asarray(self.intercepts)
        return np.log(softmax(scores))

    def to_dict(self) -> dict[str, Any]:
        return {"coefficients": list(self.coefficients), "intercepts": list(self.intercepts), "scale": self.scale}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EloBaseline:
        return cls(tuple(data["coefficients"]), tuple(data["intercepts"]), float(data["scale"]))  # type: ignore[arg-type]


def base_margin(
    matrix: np.ndarray, feature_names: Sequence[str], baseline: EloBaseline, use_market: bool
) -> np.ndarray:
    """Log-probabilities the trees start from: the market where priced, else the Elo baseline."""
    margin = baseline.log_proba(matrix[:, list(feature_names).index(ELO_COLUMN)])
    if use_market:
        market = matrix[:, [list(feature_names).index(c) for c in MARKET_COLUMNS]]
        priced = ~np.isnan(market).any(axis=1)
        margin[priced] = np.log(np.clip(market[priced], 1e-6, 1.0))
    return margin


@dataclass
class Predictor:
    booster: lgb.Booster
    feature_names: list[str]
    baseline: EloBaseline
    temperature: float = 1.0
    use_market_margin: bool = True
    version: str | None = None

    def raw_scores(self, matrix: np.ndarray) -> np.ndarray:
        return self.booster.predict(matrix, raw_score=True) + base_margin(
            matrix, self.feature_names, self.baseline, self.use_market_margin
        )

    def predict_matrix(self, matrix: np.ndarray) -> np.ndarray:
        return softmax(self.raw_scores(matrix) / self.temperature)

    def matrix(self, rows: Sequence[dict[str, float]]) -> np.ndarray:
        return np.array([[row.get(name, np.nan) for name in self.feature_names] for row in rows], dtype=np.float64)

    def predict_proba(self, rows: Sequence[dict[str, float]]) -> np.ndarray:
        """(n, 3) probabilities of home win, draw, away win."""
        return self.predict_matrix(self.matrix(rows))

    def config(self) -> dict[str, Any]:
        """Everything but the trees: stored beside the booster in the registry."""
        return {
            "feature_names": self.feature_names,
            "baseline": self.baseline.to_dict(),
            "temperature": self.temperature,
            "use_market_margin": self.use_market_margin,
        }

    @classmethod
    def from_config(cls, booster: lgb.Booster, config: dict[str, Any], version: str | None = None) -> Predictor:
        return cls(
            booster=booster,
            feature_names=list(config["feature_names"]),
            baseline=EloBaseline.from_dict(config["baseline"]),
            temperature=float(config["temperature"]),
            use_market_margin=bool(config["use_market_margin"]),
            version=version,
        )

    def config_json(self) -> str:
        return json.dumps(self.config(), indent=2)
