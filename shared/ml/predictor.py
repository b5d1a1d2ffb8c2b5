"""The served model: LightGBM trees boosted from a base margin, then temperature-scaled.

Two paths (issue #18). The market path's base margin is the log of the de-vigged pre-kickoff
market probabilities. A match without prices goes to the no-market path: its own trees, boosted
from a logit on the ratings past closing lines imply, with no market column at all. Either way
the trees only ever learn a correction to a sensible forecast. Serving loads the booster directly (no pyfunc) for speed.
Any booster with `predict(matrix, raw_score=True)` will do: training passes a `lightgbm.Booster`,
serving a `shared.serving.booster.NativeBooster` on the same library.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain
from operator import itemgetter
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    # serving passes a shared.serving.booster.NativeBooster: lightgbm costs a cold start ~1 s. numpy
    # loads with the first matrix: serving one row at a time (predict_one) never needs it.
    import lightgbm as lgb
    import numpy as np

MARKET_COLUMNS = ("market_p_home", "market_p_draw", "market_p_away", "market_overround")
ELO_COLUMN = "elo_diff"
# The no-market path's starting forecast: a logit on the ratings that past closing lines imply.
NO_MARKET_BASELINE_COLUMNS = ("odds_supremacy", "elo_diff")
PRE_KICKOFF, NO_MARKET = "pre-kickoff", "none"  # which path served a forecast (`"market"` in answers)


def softmax(scores: np.ndarray) -> np.ndarray:
    import numpy as np

    shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def _softmax_row(scores: list[float]) -> list[float]:
    top = max(scores)
    shifted = [math.exp(score - top) for score in scores]
    total = sum(shifted)
    return [value / total for value in shifted]


def without_market(feature_names: Sequence[str]) -> list[str]:
    return [name for name in feature_names if name not in MARKET_COLUMNS]


def priced_rows(matrix: np.ndarray, feature_names: Sequence[str]) -> np.ndarray:
    """Rows with all three pre-kickoff probabilities: the market path serves them."""
    import numpy as np

    market = matrix[:, [list(feature_names).index(c) for c in MARKET_COLUMNS[:3]]]
    return ~np.isnan(market).any(axis=1)


@dataclass(frozen=True)
class LinearBaseline:
    """Multinomial logit on a few feature columns: the Elo-only benchmark, the no-market path's
    starting forecast, and the market path's fallback for a row without prices."""

    columns: tuple[str, ...]
    coefficients: tuple[tuple[float, ...], ...]  # one row per class (home, draw, away), one value per column
    intercepts: tuple[float, float, float]

    def log_proba_of(self, values: np.ndarray) -> np.ndarray:
        """`values`: (n, len(columns)) in the order of `columns`."""
        import numpy as np

        scores = values @ np.asarray(self.coefficients).T + np.asarray(self.intercepts)
        return np.log(softmax(scores))

    def log_proba_of_row(self, row: dict[str, float]) -> list[float]:
        """`log_proba_of` for one feature dict, in plain floats (see Predictor.predict_one)."""
        values = [row.get(column, math.nan) for column in self.columns]
        scores = [
            sum(c * v for c, v in zip(coefficients, values, strict=True)) + intercept
            for coefficients, intercept in zip(self.coefficients, self.intercepts, strict=True)
        ]
        return [math.log(p) for p in _softmax_row(scores)]

    def log_proba(self, matrix: np.ndarray, feature_names: Sequence[str]) -> np.ndarray:
        names = list(feature_names)
        return self.log_proba_of(matrix[:, [names.index(column) for column in self.columns]])

    def to_dict(self) -> dict[str, Any]:
        return {
            "columns": list(self.columns),
            "coefficients": [list(row) for row in self.coefficients],
            "intercepts": list(self.intercepts),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LinearBaseline:
        if "columns" not in data:  # versions registered before #18: an Elo logit with inputs scaled by 1/scale
            scale = float(data["scale"])
            return cls((ELO_COLUMN,), tuple((c / scale,) for c in data["coefficients"]), tuple(data["intercepts"]))  # type: ignore[arg-type]
        return cls(
            tuple(data["columns"]),
            tuple(tuple(float(v) for v in row) for row in data["coefficients"]),
            tuple(data["intercepts"]),  # type: ignore[arg-type]
        )


def base_margin(
    matrix: np.ndarray, feature_names: Sequence[str], baseline: LinearBaseline, use_market: bool
) -> np.ndarray:
    """Log-probabilities the trees start from: the market where priced, else the baseline (computed
    for the unpriced rows only: a served request is one row, and usually priced)."""
    import numpy as np

    if not use_market:
        return baseline.log_proba(matrix, feature_names)
    market = matrix[:, [list(feature_names).index(c) for c in MARKET_COLUMNS[:3]]]
    priced = priced_rows(matrix, feature_names)
    margin = np.empty((len(matrix), 3))
    margin[priced] = np.log(np.clip(market[priced], 1e-6, 1.0))
    if not priced.all():
        margin[~priced] = baseline.log_proba(matrix[~priced], feature_names)
    return margin


def _booster_like(booster: Any, model_str: str) -> Any:
    """A booster of the same kind (lightgbm's in training, the C API one in serving) from a model string."""
    if type(booster).__module__.startswith("lightgbm"):
        import lightgbm

        return lightgbm.Booster(model_str=model_str)
    return type(booster)(model_str)


@dataclass
class Predictor:
    """One path's model; the market path carries the no-market path as `no_market` and hands it
    every row without pre-kickoff prices."""

    booster: lgb.Booster
    feature_names: list[str]
    baseline: LinearBaseline
    temperature: float = 1.0
    use_market_margin: bool = True
    version: str | None = None
    no_market: Predictor | None = None
    # Share of the trees' correction kept (1: all of it); below 1 the forecast leans toward the base margin.
    tree_weight: float = 1.0

    @property
    def _market_only(self) -> bool:
        """Nothing kept beyond the market: its priced rows get the market's own probabilities, which
        softmax(log p) reproduces only to the last bit."""
        return self.use_market_margin and self.tree_weight == 0.0 and self.temperature == 1.0

    def _own_scores(self, matrix: np.ndarray) -> np.ndarray:
        margin = base_margin(matrix, self.feature_names, self.baseline, self.use_market_margin)
        if self.tree_weight == 0.0:  # the trees' correction was shrunk away: the forecast is the margin
            return margin
        return self.tree_weight * self.booster.predict(matrix, raw_score=True) + margin

    def _own_probabilities(self, matrix: np.ndarray) -> np.ndarray:
        import numpy as np

        probabilities = softmax(self._own_scores(matrix) / self.temperature)
        if self._market_only:
            priced = priced_rows(matrix, self.feature_names)
            market = [self.feature_names.index(c) for c in MARKET_COLUMNS[:3]]
            probabilities[priced] = matrix[np.ix_(priced, market)]
        return probabilities

    def predict_matrix(self, matrix: np.ndarray) -> np.ndarray:
        """(n, 3) probabilities of home win, draw, away win for rows in `feature_names` order."""
        import numpy as np

        if self.no_market is None or not self.use_market_margin:
            return self._own_probabilities(matrix)
        priced = priced_rows(matrix, self.feature_names)
        probabilities = np.empty((len(matrix), 3))
        if priced.any():
            probabilities[priced] = self._own_probabilities(matrix[priced])
        if not priced.all():
            columns = [self.feature_names.index(name) for name in self.no_market.feature_names]
            probabilities[~priced] = self.no_market.predict_matrix(matrix[~priced][:, columns])
        return probabilities

    def predict_one(self, row: dict[str, float]) -> list[float]:
        """`predict_proba([row])[0]` as plain floats, for serving one request: the same steps in
        scalar arithmetic, without the per-call costs numpy has on a one-row matrix (fancy indexing,
        masks, reductions), which were most of a request's model time. Equal to the matrix path to
        within float rounding (tests/serving/test_predict_one_row.py)."""
        market = [row.get(column, math.nan) for column in MARKET_COLUMNS[:3]]
        priced = not any(math.isnan(p) for p in market)
        if self.use_market_margin and not priced and self.no_market is not None:
            return self.no_market.predict_one(row)
        if self.use_market_margin and priced:
            if self._market_only:
                return market
            margin = [math.log(min(max(p, 1e-6), 1.0)) for p in market]
        else:
            margin = self.baseline.log_proba_of_row(row)
        if self.tree_weight == 0.0:
            scores = margin
        else:
            trees = self._tree_scores_of_row([row.get(name, math.nan) for name in self.feature_names])
            scores = [self.tree_weight * tree + m for tree, m in zip(trees, margin, strict=True)]
        return _softmax_row([score / self.temperature for score in scores])

    def _tree_scores_of_row(self, values: list[float]) -> list[float]:
        if hasattr(self.booster, "raw_scores_of_row"):  # serving's C API booster: no numpy
            return self.booster.raw_scores_of_row(values)
        import numpy as np

        return self.booster.predict(np.array([values], dtype=np.float64), raw_score=True)[0].tolist()

    def paths(self, matrix: np.ndarray) -> list[str]:
        """Which path serves each row: `pre-kickoff` (priced) or `none`."""
        if not self.use_market_margin:
            return [NO_MARKET] * len(matrix)
        return [PRE_KICKOFF if priced else NO_MARKET for priced in priced_rows(matrix, self.feature_names)]

    def matrix(self, rows: Sequence[dict[str, float]]) -> np.ndarray:
        """Rows in the model's column order; a feature a row lacks is NaN (a gap to LightGBM)."""
        import numpy as np

        names = self.feature_names
        if len(names) > 1:  # itemgetter of one name gives a float, not a tuple
            try:  # one pass of C iteration: half the time of a list of lists on 30,941 rows
                flat = chain.from_iterable(map(itemgetter(*names), rows))
                return np.fromiter(flat, np.float64, count=len(rows) * len(names)).reshape(len(rows), len(names))
            except KeyError:
                pass
        return np.array([[row.get(name, np.nan) for name in names] for row in rows], dtype=np.float64)

    def predict_proba(self, rows: Sequence[dict[str, float]]) -> np.ndarray:
        """(n, 3) probabilities of home win, draw, away win."""
        return self.predict_matrix(self.matrix(rows))

    def config(self) -> dict[str, Any]:
        """Everything but the trees: stored beside the booster in the registry. The no-market path's
        trees travel inside it as a model string, so a version stays one booster plus one config."""
        config: dict[str, Any] = {
            "feature_names": self.feature_names,
            "baseline": self.baseline.to_dict(),
            "temperature": self.temperature,
            "use_market_margin": self.use_market_margin,
            "tree_weight": self.tree_weight,
        }
        if self.no_market is not None:
            config["no_market"] = self.no_market.config() | {"model": self.no_market.booster.model_to_string()}
        return config

    @classmethod
    def from_config(cls, booster: lgb.Booster, config: dict[str, Any], version: str | None = None) -> Predictor:
        fallback = config.get("no_market")
        return cls(
            booster=booster,
            feature_names=list(config["feature_names"]),
            baseline=LinearBaseline.from_dict(config["baseline"]),
            temperature=float(config["temperature"]),
            use_market_margin=bool(config["use_market_margin"]),
            version=version,
            tree_weight=float(config.get("tree_weight", 1.0)),  # versions registered before it: all trees
            no_market=None
            if fallback is None
            else cls.from_config(_booster_like(booster, fallback["model"]), fallback, version),
        )

    def config_json(self) -> str:
        return json.dumps(self.config(), indent=2)
