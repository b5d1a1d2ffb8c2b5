"""A LightGBM booster for serving, on lib_lightgbm's C API through ctypes.

`import lightgbm` imports scikit-learn, pandas and scipy whenever they are installed
(lightgbm/compat.py), and importing `lightgbm.basic` runs the package's `__init__` first: import
time and memory that serving never uses (`t2b bench serve` prints the import costs). This class
loads the same shared library the lightgbm package ships (found without importing the package) and
calls the same C functions `lightgbm.Booster.predict` calls, so its raw scores are identical, bit
for bit.

Only what serving needs: load from a model string, raw scores of a dense float64 matrix, and of one
row given as floats (`raw_scores_of_row`, without numpy: ~12 MB and ~40 ms of a function's start).
Predictions run with `num_threads=1`: for the one-row requests of an online function, LightGBM's
OpenMP pool costs more than it saves and adds tail latency on small CPUs. A single row of raw scores
goes through LightGBM's fast single-row API (`LGBM_BoosterPredictForMatSingleRowFast`): the
prediction config is parsed once per booster instead of on every call, which was most of a one-row
prediction's cost. Other rows and output types take `LGBM_BoosterPredictForMat`.
"""

from __future__ import annotations

import ctypes
import importlib.util
import sys
import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy loads with the first matrix: one-row serving (raw_scores_of_row) needs none
    import numpy as np

C_API_DTYPE_FLOAT64 = 1
C_API_PREDICT_NORMAL = 0
C_API_PREDICT_RAW_SCORE = 1
ROW_MAJOR = 1
PREDICT_PARAMETERS = b"num_threads=1"


class BoosterError(RuntimeError):
    pass


def _library_names() -> list[str]:
    if sys.platform.startswith("win"):
        return ["lib_lightgbm.dll"]
    if sys.platform == "darwin":
        return ["lib_lightgbm.dylib"]
    return ["lib_lightgbm.so"]


@lru_cache(maxsize=1)
def library() -> ctypes.CDLL:
    """lib_lightgbm from the installed lightgbm package, located as lightgbm/libpath.py does."""
    spec = importlib.util.find_spec("lightgbm")  # finds the package without running its __init__
    if spec is None or spec.origin is None:
        raise BoosterError("the lightgbm package is not installed")
    package = Path(spec.origin).resolve().parent
    for folder in (package.parent, package / "bin", package / "lib"):
        for name in _library_names():
            if (folder / name).is_file():
                lib = ctypes.cdll.LoadLibrary(str(folder / name))
                lib.LGBM_GetLastError.restype = ctypes.c_char_p
                return lib
    raise BoosterError(f"no LightGBM library next to {package}")


def _check(ret: int) -> None:
    if ret != 0:
        raise BoosterError(library().LGBM_GetLastError().decode("utf-8", "replace"))


class NativeBooster:
    """`lightgbm.Booster(model_str=...)`, for `predict(matrix, raw_score=True)` only."""

    def __init__(self, model_str: str) -> None:
        lib = library()
        self._lib = lib
        self._handle = ctypes.c_void_p()
        iterations = ctypes.c_int(0)
        model = model_str.encode()
        _check(lib.LGBM_BoosterLoadModelFromString(model, ctypes.byref(iterations), ctypes.byref(self._handle)))
        classes, features = ctypes.c_int(0), ctypes.c_int(0)
        _check(lib.LGBM_BoosterGetNumClasses(self._handle, ctypes.byref(classes)))
        _check(lib.LGBM_BoosterGetNumFeature(self._handle, ctypes.byref(features)))
        self.num_iterations = iterations.value
        self.num_classes = classes.value
        self.num_features = features.value
        self._model_str = model_str
        self._fast_config = ctypes.c_void_p()
        # one FastConfig holds one row's buffers: calls from several threads take turns
        self._fast_lock = threading.Lock()

    def model_to_string(self) -> str:
        return self._model_str

    def predict(self, matrix: np.ndarray, raw_score: bool = False) -> np.ndarray:
        """Scores of every row, (n,) for one class and (n, classes) otherwise; all iterations, as
        `lightgbm.Booster.predict` does for a booster loaded from a string."""
        import numpy as np

        data = np.ascontiguousarray(matrix, dtype=np.float64)
        if data.ndim != 2:
            raise ValueError(f"expected a 2-D matrix, got {data.ndim} dimensions")
        rows, columns = data.shape
        if columns != self.num_features:
            raise ValueError(f"the model expects {self.num_features} features, the matrix has {columns}")
        if rows == 1 and raw_score:
            return self._raw_scores_of_one_row(data)
        out = np.empty(rows * self.num_classes, dtype=np.float64)
        written = ctypes.c_int64(0)
        _check(
            self._lib.LGBM_BoosterPredictForMat(
                self._handle,
                data.ctypes.data_as(ctypes.c_void_p),
                ctypes.c_int(C_API_DTYPE_FLOAT64),
                ctypes.c_int32(rows),
                ctypes.c_int32(columns),
                ctypes.c_int(ROW_MAJOR),
                ctypes.c_int(C_API_PREDICT_RAW_SCORE if raw_score else C_API_PREDICT_NORMAL),
                ctypes.c_int(0),  # start iteration
                ctypes.c_int(-1),  # every iteration: the stored model holds the best ones only
                ctypes.c_char_p(PREDICT_PARAMETERS),
                ctypes.byref(written),
                out.ctypes.data_as(ctypes.POINTER(ctypes.c_double)),
            )
        )
        if written.value != out.size:
            raise BoosterError(f"LightGBM wrote {written.value} scores, expected {out.size}")
        return out.reshape(rows, self.num_classes) if self.num_classes > 1 else out

    def raw_scores_of_row(self, values: Sequence[float]) -> list[float]:
        """Raw scores of one row of `num_features` floats (NaN for a missing value), one per class."""
        if len(values) != self.num_features:
            raise ValueError(f"the model expects {self.num_features} features, the row has {len(values)}")
        row = (ctypes.c_double * self.num_features)(*values)
        out = (ctypes.c_double * self.num_classes)()
        self._predict_one_row(ctypes.cast(row, ctypes.c_void_p), out)
        return list(out)

    def _raw_scores_of_one_row(self, data: np.ndarray) -> np.ndarray:
        import numpy as np

        out = np.empty(self.num_classes, dtype=np.float64)
        self._predict_one_row(data.ctypes.data_as(ctypes.c_void_p), out.ctypes.data_as(ctypes.POINTER(ctypes.c_double)))
        return out.reshape(1, self.num_classes) if self.num_classes > 1 else out

    def _predict_one_row(self, row: ctypes.c_void_p, out: ctypes.Array | ctypes._Pointer) -> None:  # type: ignore[type-arg]
        written = ctypes.c_int64(0)
        with self._fast_lock:
            if not self._fast_config.value:
                _check(
                    self._lib.LGBM_BoosterPredictForMatSingleRowFastInit(
                        self._handle,
                        ctypes.c_int(C_API_PREDICT_RAW_SCORE),
                        ctypes.c_int(0),  # start iteration
                        ctypes.c_int(-1),  # every iteration, as predict()
                        ctypes.c_int(C_API_DTYPE_FLOAT64),
                        ctypes.c_int32(self.num_features),
                        ctypes.c_char_p(PREDICT_PARAMETERS),
                        ctypes.byref(self._fast_config),
                    )
                )
            _check(self._lib.LGBM_BoosterPredictForMatSingleRowFast(self._fast_config, row, ctypes.byref(written), out))
        if written.value != self.num_classes:
            raise BoosterError(f"LightGBM wrote {written.value} scores, expected {self.num_classes}")

    def __del__(self) -> None:
        fast_config = getattr(self, "_fast_config", None)
        if fast_config is not None and fast_config.value:
            self._lib.LGBM_FastConfigFree(fast_config)
            self._fast_config = ctypes.c_void_p()
        handle = getattr(self, "_handle", None)
        if handle is not None and handle.value:
            self._lib.LGBM_BoosterFree(handle)
            self._handle = ctypes.c_void_p()
