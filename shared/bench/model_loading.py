"""Loading the champion through pyfunc against loading its booster directly, and their outputs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shared.bench.timing import median_seconds


@dataclass(frozen=True)
class ModelLoading:
    pyfunc_median_s: float
    booster_median_s: float
    runs: int
    rows_compared: int
    max_abs_difference: float

    @property
    def same_outputs(self) -> bool:
        return self.max_abs_difference <= 1e-9


def compare_loading(tracking_uri: str, name: str, version: str, matrix: np.ndarray, runs: int) -> ModelLoading:
    """pyfunc returns the booster's own softmax, without the base margin or temperature the service
    adds, so the booster's predictions are what both must agree on."""
    import mlflow.pyfunc
    import pandas as pd

    from shared.ml.registry import load_predictor

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    alias_uri = f"models:/{name}@champion"
    pyfunc_s = median_seconds(lambda: mlflow.pyfunc.load_model(alias_uri), runs)
    booster_s = median_seconds(lambda: load_predictor(name, version, tracking_uri), runs)

    predictor = load_predictor(name, version, tracking_uri)
    frame = pd.DataFrame(matrix, columns=predictor.feature_names)
    through_pyfunc = np.asarray(mlflow.pyfunc.load_model(alias_uri).predict(frame), dtype=np.float64)
    direct = predictor.booster.predict(matrix)
    difference = float(np.max(np.abs(through_pyfunc - direct)))
    return ModelLoading(pyfunc_s, booster_s, runs, len(matrix), difference)
