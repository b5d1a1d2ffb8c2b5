"""Batch scoring for `t2b bench serve`: `t2b score`'s own code on every match of the full reference set,
features included, beside LightGBM's own `predict` on the same feature matrix.

Every match is scored as of the day before the first one, so the whole set is the batch: per match,
its features from the team state (`FeatureState.many_match_features`), its row of the matrix, the
champion's probabilities (base margin, trees, temperature) and its row of the batch frame. Reading the
CSVs and the raw export (`imported_tables`) is not timed: `t2b score` reads a parquet export.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from shared.bench.timing import median_seconds
from shared.processes import REPO

BATCH_GOAL_MATCHES_PER_S = 50_000
# The team's full football-data set beside the repository (30,941 matches); benchmarks only, never tests.
REFERENCE_DATA = REPO.parent / "shared" / "data" / "football-data"


@dataclass(frozen=True)
class BatchScoring:
    data: str  # what was scored
    matches: int
    seconds: float  # median of the runs
    lightgbm_rows_per_s: float  # lightgbm.Booster.predict on the same matrix, probabilities only

    @property
    def matches_per_s(self) -> float:
        return self.matches / self.seconds


def measure_batch_scoring(predictor: Any, model_name: str, source: Path, runs: int) -> BatchScoring:
    import lightgbm
    import numpy as np
    import pyarrow.compute as pc

    from shared.ml.bench import imported_tables
    from shared.ml.data import MLParams
    from shared.ml.score import score_batch

    matches, odds = imported_tables(source)
    as_of = pc.min(matches.column("kickoff_utc")).as_py() - timedelta(days=1)
    features = MLParams.embedded().features
    seconds = median_seconds(lambda: score_batch(matches, odds, predictor, model_name, features, as_of), runs)
    batch = score_batch(matches, odds, predictor, model_name, features, as_of)
    matrix = batch[[f"feature_{name}" for name in predictor.feature_names]].to_numpy(dtype=np.float64)
    booster = lightgbm.Booster(model_str=predictor.booster.model_to_string())
    predict_seconds = median_seconds(lambda: booster.predict(matrix), runs)
    return BatchScoring(
        f"{source.name} ({matches.num_rows:,} matches)", len(batch), seconds, len(matrix) / predict_seconds
    )
